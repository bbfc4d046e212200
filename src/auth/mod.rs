//! Authentication: passwords, lockout, MFA, and the permissions of a logged-in user.

pub mod password;
pub mod principal;
