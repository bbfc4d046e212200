//! The one check of a second-factor code, used by every code step (login, change own
//! password, edit own MFA, an administrator's own code on admin pages). Every attempt is a
//! login attempt: the lockout is checked first, a wrong or expired code is recorded through
//! the shared failed-login path (audited, counted towards the lockout), and an accepted code
//! can never be accepted again (TOTP: the time step is claimed in `cw_totp_last_step`; HOTP:
//! the shared `hotp_counter` moves on). Sending codes lives in `send.rs`.

use chrono::NaiveDateTime;

mod send;

pub use self::send::{
    not_sent_response, partial_email, partial_phone, send_code, send_pending_code, sends_codes,
    Pending, Sent, MAX_SENDS_PER_HOUR, MAX_SENDS_PER_STEP, NOT_SENT, NO_EMAIL, NO_PHONE, TOO_MANY,
};
use super::login;
use super::mfa;
use super::own_account::audit_own;
use crate::db::{run_db, run_db_conn};
use crate::error::AppError;
use crate::messaging;
use crate::models::audit::AuditSource;
use crate::models::totp_step;
use crate::models::user::User;
use crate::state::AppState;

/// A wrong code (CamCOPS' wording).
pub const BAD_CODE: &str = "You entered an invalid code. Please try again.";
/// A code entered more than `MFA_TIMEOUT_S` after it was issued (CamCOPS' wording).
pub const CODE_EXPIRED: &str = "Your code expired. Please try again.";

/// What a code check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The code was right, and is now used up.
    Accepted,
    /// The account was locked before the attempt: nothing was tried (the message says until
    /// when).
    Locked(String),
    /// A wrong code (or a used one); recorded as a failed login. `Some(message)` when this
    /// failure locked the account.
    Wrong(Option<String>),
    /// The code step had expired; recorded as a failed login, like a wrong code.
    Expired(Option<String>),
    /// One of the user's recovery codes was given at the login's code step instead, and is
    /// now used up (audited; the caller sends the user a notice).
    Recovered,
}

impl Checked {
    /// Whether the code was accepted.
    pub fn accepted(&self) -> bool {
        matches!(self, Checked::Accepted | Checked::Recovered)
    }

    /// Whether the account is (now) locked: a code step must go back to the password step.
    pub fn locked(&self) -> bool {
        matches!(
            self,
            Checked::Locked(_) | Checked::Wrong(Some(_)) | Checked::Expired(Some(_))
        )
    }

    /// The message for the user (`None` when accepted).
    pub fn message(&self) -> Option<&str> {
        match self {
            Checked::Accepted | Checked::Recovered => None,
            Checked::Locked(m) | Checked::Wrong(Some(m)) | Checked::Expired(Some(m)) => Some(m),
            Checked::Wrong(None) => Some(BAD_CODE),
            Checked::Expired(None) => Some(CODE_EXPIRED),
        }
    }
}

/// Whether a code step that began at unix time `issued_at` has expired at `now`
/// (`MFA_TIMEOUT_S`; 0 = never; strictly later than issue + timeout, as CamCOPS).
pub fn expired(timeout_s: i64, issued_at: Option<i64>, now: NaiveDateTime) -> bool {
    timeout_s > 0 && issued_at.is_some_and(|t| now.and_utc().timestamp() > t + timeout_s)
}

/// What a code is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Against<'a> {
    /// The user's own method (`totp`, `hotp_email`, `hotp_sms`): the step-up pages and an
    /// administrator's own code take only this.
    Method,
    /// The login's code step: the user's own method, or one of their recovery codes (see
    /// `auth::recovery`; twelve letters and digits, never six digits), accepted once in its
    /// place with the same rules (lockout first, a wrong one is a failed login) except that it
    /// does not expire with the step; its use is audited.
    MethodOrRecovery,
    /// A method being set up: its pending secret and counter.
    Pending(&'a Pending),
}

/// The one code check: `code` as `user`'s second factor, checked `against` what the step
/// takes. A locked account tries nothing (not even the right code gets in); a step that began
/// at `issued_at` (unix seconds) and has expired, or a wrong code, is a failed login; a right
/// code is used up.
pub async fn check_code(
    state: &AppState,
    user: &User,
    against: Against<'_>,
    code: &str,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Checked, AppError> {
    let recovery =
        matches!(against, Against::MethodOrRecovery) && super::recovery::looks_like_code(code);
    let issued_at = if recovery { None } else { issued_at };
    if let Some(locked) = login::reauth_locked(state, &user.username).await? {
        return Ok(Checked::Locked(locked));
    }
    let now = state.clock.now();
    if expired(state.settings.mfa_timeout_s, issued_at, now) {
        let locked = fail(state, user, remote_addr, now).await?;
        return Ok(Checked::Expired(locked));
    }
    let ok = match (against, user.mfa_method.as_str()) {
        _ if recovery => use_recovery_code(state, user, code, remote_addr, now).await?,
        (Against::Pending(p), _) => mfa::verify_hotp(&p.secret, code, i64::from(p.counter)),
        (_, "totp") => check_totp(state, user, code, now).await?,
        (_, "hotp_email" | "hotp_sms") => check_hotp(state, user.id, code).await?,
        (_, _) => false,
    };
    match (ok, recovery) {
        (true, true) => Ok(Checked::Recovered),
        (true, false) => Ok(Checked::Accepted),
        (false, _) => Ok(Checked::Wrong(fail(state, user, remote_addr, now).await?)),
    }
}

/// Uses up one of the user's recovery codes, if `typed` is one, with its audit row.
async fn use_recovery_code(
    state: &AppState,
    user: &User,
    typed: &str,
    remote_addr: &str,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let (uid, name, ip, typed) = (
        user.id,
        user.username.clone(),
        remote_addr.to_owned(),
        typed.to_owned(),
    );
    run_db(&state.pool, move |conn| {
        if !super::recovery::consume(conn, uid, &typed, now)? {
            return Ok(false);
        }
        let left = super::recovery::remaining(conn, uid)?;
        let details = format!("Login with an MFA recovery code by user {name} ({left} left)");
        audit_own(conn, now, &ip, uid, &details)?;
        Ok(true)
    })
    .await
}

async fn fail(
    state: &AppState,
    user: &User,
    remote_addr: &str,
    now: NaiveDateTime,
) -> Result<Option<String>, AppError> {
    let locked = login::failed_login(
        state,
        &user.username,
        remote_addr,
        AuditSource::Webviewer,
        now,
    )
    .await?;
    if locked.is_some() {
        messaging::send_notice(
            state,
            user.email.as_deref(),
            &user.username,
            messaging::Notice::AccountLocked,
        )
        .await;
    }
    Ok(locked)
}

/// A TOTP code of the current step (±1) whose step was not used before; the step is then
/// claimed, so the same code (or an earlier one) is refused from now on.
async fn check_totp(
    state: &AppState,
    user: &User,
    code: &str,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let Some(secret) = user.mfa_secret_key.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let Some(step) = mfa::totp_matching_step(secret, code, now.and_utc().timestamp()) else {
        return Ok(false);
    };
    let uid = user.id;
    run_db_conn(&state.pool, move |conn| {
        Ok(totp_step::claim(conn, uid, step)?)
    })
    .await
}

/// An HOTP code: the code of the counter as it is in the database now (a newer code sent
/// by either server replaces it). Accepting it moves the counter on by one, only if nobody
/// moved it meanwhile, so the code is used up here and in CamCOPS alike; the next code
/// either server sends uses a later counter.
async fn check_hotp(state: &AppState, user_id: i32, code: &str) -> Result<bool, AppError> {
    let code = code.to_owned();
    run_db(&state.pool, move |conn| {
        let Some(fresh) = User::find(conn, user_id)? else {
            return Ok(false);
        };
        let Some(secret) = fresh.mfa_secret_key.as_deref() else {
            return Ok(false);
        };
        let counter = i64::from(fresh.hotp_counter);
        if !mfa::verify_hotp(secret, &code, counter) {
            return Ok(false);
        }
        Ok(User::advance_hotp_counter(conn, user_id, fresh.hotp_counter)? == 1)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rule() {
        let now = chrono::DateTime::from_timestamp(1_000_600, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default();
        assert!(!expired(600, Some(1_000_000), now), "exactly at the limit");
        assert!(expired(599, Some(1_000_000), now));
        assert!(!expired(0, Some(0), now), "0 = never");
        assert!(!expired(600, None, now));
    }

    #[test]
    fn locked_outcomes_say_so() {
        assert!(Checked::Wrong(Some("x".into())).locked());
        assert!(!Checked::Wrong(None).locked());
        assert_eq!(Checked::Wrong(None).message(), Some(BAD_CODE));
        assert_eq!(Checked::Expired(None).message(), Some(CODE_EXPIRED));
        assert_eq!(Checked::Accepted.message(), None);
    }
}
