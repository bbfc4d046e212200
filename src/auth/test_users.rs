//! Test-only: the plain `_security_users` row the unit tests of `auth` build their users from
//! (`User { superuser: Some(true), ..user(1, "u") }`).

use crate::models::user::User;

/// A user with every optional column empty, `no_mfa`, not a superuser (`Some(false)`).
pub fn user(id: i32, username: &str) -> User {
    User {
        id,
        username: username.into(),
        fullname: None,
        email: None,
        phone_number: None,
        hashedpw: String::new(),
        mfa_secret_key: None,
        mfa_method: "no_mfa".into(),
        hotp_counter: 0,
        last_login_at_utc: None,
        last_password_change_utc: None,
        superuser: Some(false),
        must_change_password: None,
        when_agreed_terms_of_use: None,
        upload_group_id: None,
        language: None,
        auto_generated: false,
        single_patient_pk: None,
    }
}
