//! The one check of a second-factor code, used by every code step (login, change own
//! password, edit own MFA, an administrator's own code on admin pages). Every attempt is a
//! login attempt: the lockout is checked first, a wrong or expired code is recorded through
//! the shared failed-login path (audited, counted towards the lockout), and an accepted code
//! can never be accepted again (TOTP: the time step is claimed in `cw_totp_last_step`; HOTP:
//! the shared `hotp_counter` moves on).

use chrono::NaiveDateTime;

use super::login;
use super::mfa;
use crate::db::{run_db, run_db_conn};
use crate::error::AppError;
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
}

impl Checked {
    /// Whether the code was accepted.
    pub fn accepted(&self) -> bool {
        matches!(self, Checked::Accepted)
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
            Checked::Accepted => None,
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

/// Checks `code` as `user`'s second factor, for their own method (`totp`, `hotp_email`,
/// `hotp_sms`). `issued_at`: when the code step began (unix seconds), for the timeout.
pub async fn check_code(
    state: &AppState,
    user: &User,
    code: &str,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Checked, AppError> {
    // A locked account tries nothing: not even the right code gets in.
    if let Some(locked) = login::reauth_locked(state, &user.username).await? {
        return Ok(Checked::Locked(locked));
    }
    let now = state.clock.now();
    if expired(state.settings.mfa_timeout_s, issued_at, now) {
        let locked = fail(state, user, remote_addr, now).await?;
        return Ok(Checked::Expired(locked));
    }
    // RECOVERY CODES: a one-time recovery code is tried here, before the method's code
    // (`crate::auth::recovery::consume(conn, user.id, code, now)`; `Ok(true)` → Accepted).
    let ok = match user.mfa_method.as_str() {
        "totp" => check_totp(state, user, code, now).await?,
        "hotp_email" | "hotp_sms" => check_hotp(state, user.id, code).await?,
        _ => false,
    };
    if ok {
        return Ok(Checked::Accepted);
    }
    let locked = fail(state, user, remote_addr, now).await?;
    Ok(Checked::Wrong(locked))
}

async fn fail(
    state: &AppState,
    user: &User,
    remote_addr: &str,
    now: NaiveDateTime,
) -> Result<Option<String>, AppError> {
    login::failed_login(
        state,
        &user.username,
        remote_addr,
        AuditSource::Webviewer,
        now,
    )
    .await
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
