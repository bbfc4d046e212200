//! Authentication: passwords, lockout, MFA, and the permissions of a logged-in user.

pub mod capability;
pub mod login;
pub mod mfa;
pub mod password;
pub mod principal;
pub mod second_factor;
pub mod terms;
pub mod user_admin;
pub mod users;
