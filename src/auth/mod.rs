//! Authentication: passwords, lockout, MFA, and the permissions of a logged-in user.

pub mod capability;
pub mod fresh;
pub mod group_admin;
pub mod login;
pub mod mfa;
pub mod own_account;
pub mod password;
pub mod principal;
pub mod readiness;
pub mod recovery;
pub mod second_factor;
pub mod terms;
#[cfg(test)]
mod test_users;
pub mod throttle;
pub mod user_admin;
pub mod user_commands;
