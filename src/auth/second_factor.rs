//! The one check of a second-factor code, used by every code step (login, change own
//! password, edit own MFA, an administrator's own code on admin pages). Every attempt is a
//! login attempt: the lockout is checked first, a wrong or expired code is recorded through
//! the shared failed-login path (audited, counted towards the lockout), and an accepted code
//! can never be accepted again (TOTP: the time step is claimed in `cw_totp_last_step`; HOTP:
//! the shared `hotp_counter` moves on).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::login;
use super::mfa;
use super::own_account::audit_own;
use crate::db::schema::_security_audit;
use crate::db::{run_db, run_db_conn, run_db_read};
use crate::error::AppError;
use crate::messaging::{self, Channel};
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

/// Checks `code` as `user`'s second factor, for their own method (`totp`, `hotp_email`,
/// `hotp_sms`). `issued_at`: when the code step began (unix seconds), for the timeout.
pub async fn check_code(
    state: &AppState,
    user: &User,
    code: &str,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Checked, AppError> {
    let now = match before_check(state, user, issued_at, remote_addr).await? {
        Ok(now) => now,
        Err(refused) => return Ok(refused),
    };
    let ok = match user.mfa_method.as_str() {
        "totp" => check_totp(state, user, code, now).await?,
        "hotp_email" | "hotp_sms" => check_hotp(state, user.id, code).await?,
        _ => false,
    };
    verdict(state, user, remote_addr, now, ok).await
}

/// What every code check does before looking at the code: a locked account tries nothing
/// (not even the right code gets in), and a step that began at `issued_at` and has expired is
/// a failed login. `Ok(now)` when the code is to be checked, else the outcome.
async fn before_check(
    state: &AppState,
    user: &User,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Result<NaiveDateTime, Checked>, AppError> {
    if let Some(locked) = login::reauth_locked(state, &user.username).await? {
        return Ok(Err(Checked::Locked(locked)));
    }
    let now = state.clock.now();
    if expired(state.settings.mfa_timeout_s, issued_at, now) {
        let locked = fail(state, user, remote_addr, now).await?;
        return Ok(Err(Checked::Expired(locked)));
    }
    Ok(Ok(now))
}

/// The outcome of a checked code: accepted, or a failed login ([`Checked::Wrong`]).
async fn verdict(
    state: &AppState,
    user: &User,
    remote_addr: &str,
    now: NaiveDateTime,
    ok: bool,
) -> Result<Checked, AppError> {
    if ok {
        return Ok(Checked::Accepted);
    }
    let locked = fail(state, user, remote_addr, now).await?;
    Ok(Checked::Wrong(locked))
}

/// The login's code step: a recovery code (see `auth::recovery`; twelve letters and digits,
/// never six digits) is accepted once in place of the method's code, with the same rules as a
/// code (lockout first, a wrong one is a failed login); anything else goes to [`check_code`].
/// Step-up pages take only the method's code.
pub async fn check_login_code(
    state: &AppState,
    user: &User,
    code: &str,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Checked, AppError> {
    if !super::recovery::looks_like_code(code) {
        return check_code(state, user, code, issued_at, remote_addr).await;
    }
    // A recovery code does not expire with the step: only the lockout comes first.
    let now = match before_check(state, user, None, remote_addr).await? {
        Ok(now) => now,
        Err(refused) => return Ok(refused),
    };
    let (uid, name, ip, typed) = (
        user.id,
        user.username.clone(),
        remote_addr.to_owned(),
        code.to_owned(),
    );
    let used = run_db(&state.pool, move |conn| {
        if !super::recovery::consume(conn, uid, &typed, now)? {
            return Ok(false);
        }
        let left = super::recovery::remaining(conn, uid)?;
        let details = format!("Login with an MFA recovery code by user {name} ({left} left)");
        audit_own(conn, now, &ip, uid, &details)?;
        Ok(true)
    })
    .await?;
    if used {
        return Ok(Checked::Recovered);
    }
    verdict(state, user, remote_addr, now, false).await
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

/// Codes sent for one login (or one step-up page visit): the first and two new ones.
pub const MAX_SENDS_PER_STEP: u32 = 3;
/// Codes sent to one user in any hour, by every page together (each attempt counts, sent or
/// not): e-mails and text messages cost money and can be used to flood someone.
pub const MAX_SENDS_PER_HOUR: i64 = 10;
/// The start of the audit text of every code send (the hourly limit counts these rows).
const SEND_AUDIT_PREFIX: &str = "Second-factor code";

/// The code could not be sent (mail server or SMS provider down, slow or refusing).
pub const NOT_SENT: &str = "The code could not be sent. Please try again, or contact your \
                            administrator if this keeps happening.";
/// Too many codes asked for.
pub const TOO_MANY: &str = "Too many codes have been sent. Please wait a while before asking \
                            for another, or contact your administrator.";
/// An e-mail user without an address.
pub const NO_EMAIL: &str = "Your account has no e-mail address to send a code to. Please ask \
                            your administrator to add one or to change your authentication \
                            method.";
/// A text-message user without a phone number.
pub const NO_PHONE: &str = "Your account has no phone number to send a code to. Please ask \
                            your administrator to change your authentication method.";

/// Whether the user's method sends codes (e-mail or text message).
pub fn sends_codes(method: &str) -> bool {
    matches!(method, "hotp_email" | "hotp_sms")
}

/// What sending a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Sent at `at` (unix seconds); `instructions` says where (CamCOPS' wording).
    Sent {
        /// When (the code step's start, for `MFA_TIMEOUT_S`).
        at: i64,
        /// "We've sent a code by email to a*****e@example.org." and the like.
        instructions: String,
    },
    /// Nothing to send to, or too many sends: the message says which.
    Refused(&'static str),
    /// The mail server or provider failed: show [`NOT_SENT`] (a 503); audited, not a failed
    /// login.
    Failed,
}

/// CamCOPS' partial e-mail address: first and last character of the local part (before
/// the last `@`) around five asterisks, then the domain.
pub fn partial_email(email: &str) -> String {
    let Some(at) = email.rfind('@').filter(|&i| i > 0) else {
        return "*****".into();
    };
    let (local, domain) = (&email[..at], &email[at + 1..]);
    let first = local.chars().next().unwrap_or('*');
    let last = local.chars().last().unwrap_or('*');
    format!("{first}*****{last}@{domain}")
}

/// CamCOPS' partial phone number: ten asterisks and the last two characters.
pub fn partial_phone(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
    format!("**********{tail}")
}

/// Sends `user` a new code by their method, as CamCOPS: the counter is incremented (in the
/// database, atomically) and the code of the new counter goes out. At most
/// [`MAX_SENDS_PER_HOUR`] attempts per user per hour; every attempt is audited.
pub async fn send_code(state: &AppState, user: &User, remote_addr: &str) -> Result<Sent, AppError> {
    let (channel, to) = match user.mfa_method.as_str() {
        "hotp_email" => (Channel::Email, user.email.as_deref()),
        "hotp_sms" => (Channel::Sms, user.phone_number.as_deref()),
        _ => return Ok(Sent::Refused(BAD_CODE)),
    };
    let Some(to) = to
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
    else {
        return Ok(Sent::Refused(match channel {
            Channel::Email => NO_EMAIL,
            Channel::Sms => NO_PHONE,
        }));
    };
    let now = state.clock.now();
    let uid = user.id;
    if hourly_limit_reached(state, uid, now).await? {
        return Ok(Sent::Refused(TOO_MANY));
    }
    let code = run_db(&state.pool, move |conn| {
        let Some(fresh) = User::find(conn, uid)? else {
            return Ok(None);
        };
        // As CamCOPS' ensure_mfa_info: a missing (or unusable) secret is replaced, counting
        // from 0 again; the user has seen no code of it.
        let usable = fresh
            .mfa_secret_key
            .as_deref()
            .filter(|s| mfa::hotp(s, 0).is_some())
            .map(str::to_owned);
        let secret = match usable {
            Some(s) => s,
            None => {
                let s = mfa::new_secret();
                User::set_mfa(conn, uid, &fresh.mfa_method, Some(&s), 0)?;
                s
            }
        };
        let Some(counter) = User::increment_hotp_counter(conn, uid)? else {
            return Ok(None);
        };
        Ok(mfa::hotp(&secret, i64::from(counter)))
    })
    .await?;
    let Some(code) = code else {
        return Ok(Sent::Refused(NO_EMAIL));
    };
    deliver(state, user, channel, &to, &code, remote_addr, now).await
}

/// Whether `user_id` has had [`MAX_SENDS_PER_HOUR`] send attempts in the last hour.
async fn hourly_limit_reached(
    state: &AppState,
    user_id: i32,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let recent = run_db_read(&state.pool, move |conn| {
        Ok(_security_audit::table
            .filter(_security_audit::user_id.eq(user_id))
            .filter(_security_audit::when_access_utc.gt(now - Duration::hours(1)))
            .filter(_security_audit::details.like(format!("{SEND_AUDIT_PREFIX}%")))
            .count()
            .get_result::<i64>(conn)?)
    })
    .await?;
    Ok(recent >= MAX_SENDS_PER_HOUR)
}

/// Sends `code` to `to` and audits the attempt (sent or not).
async fn deliver(
    state: &AppState,
    user: &User,
    channel: Channel,
    to: &str,
    code: &str,
    remote_addr: &str,
    now: NaiveDateTime,
) -> Result<Sent, AppError> {
    let uid = user.id;
    let result = messaging::send_code(state, channel, to, code).await;
    let (username, ip) = (user.username.clone(), remote_addr.to_owned());
    let details = match &result {
        Ok(()) => format!("{SEND_AUDIT_PREFIX} sent by {channel} to user {username}"),
        Err(e) => format!("{SEND_AUDIT_PREFIX} could not be sent to user {username}: {e}"),
    };
    run_db(&state.pool, move |conn| {
        Ok(audit_own(conn, now, &ip, uid, &details)?)
    })
    .await?;
    if result.is_err() {
        return Ok(Sent::Failed);
    }
    let instructions = match channel {
        Channel::Email => format!("We've sent a code by email to {}.", partial_email(to)),
        Channel::Sms => format!("We've sent a code by text message to {}", partial_phone(to)),
    };
    Ok(Sent::Sent {
        at: now.and_utc().timestamp(),
        instructions,
    })
}

/// A method being set up (not yet stored on the user): its secret, where it sends, and the
/// counter of the last code sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// E-mail or text message.
    pub channel: Channel,
    /// The address or E.164 number.
    pub to: String,
    /// The new secret (server-side only).
    pub secret: String,
    /// The counter of the last code sent (0 before the first, as CamCOPS' set_mfa_method).
    pub counter: i32,
}

/// Sends the code of `pending.counter + 1` for a method being set up, within the hourly
/// limit shared with every other send; audited. On `Sent`, the caller keeps the new counter.
pub async fn send_pending_code(
    state: &AppState,
    user: &User,
    pending: &Pending,
    remote_addr: &str,
) -> Result<(Sent, i32), AppError> {
    let now = state.clock.now();
    if hourly_limit_reached(state, user.id, now).await? {
        return Ok((Sent::Refused(TOO_MANY), pending.counter));
    }
    let counter = pending.counter + 1;
    let Some(code) = mfa::hotp(&pending.secret, i64::from(counter)) else {
        return Err(AppError::Unexpected(anyhow::anyhow!(
            "unusable new HOTP secret"
        )));
    };
    let sent = deliver(
        state,
        user,
        pending.channel,
        &pending.to,
        &code,
        remote_addr,
        now,
    )
    .await?;
    Ok((sent, counter))
}

/// Checks a code for a method being set up: as [`check_code`] (lockout first; a wrong or
/// expired code is a failed login), against the pending secret and counter.
pub async fn check_pending_code(
    state: &AppState,
    user: &User,
    pending: &Pending,
    code: &str,
    issued_at: Option<i64>,
    remote_addr: &str,
) -> Result<Checked, AppError> {
    let now = match before_check(state, user, issued_at, remote_addr).await? {
        Ok(now) => now,
        Err(refused) => return Ok(refused),
    };
    let ok = mfa::verify_hotp(&pending.secret, code, i64::from(pending.counter));
    verdict(state, user, remote_addr, now, ok).await
}

/// The 503 page when a code could not be sent: try again later (`Retry-After`).
pub fn not_sent_response() -> actix_web::HttpResponse {
    crate::error::error_page(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, NOT_SENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn partial_forms_as_camcops() {
        assert_eq!(partial_email("alice@example.org"), "a*****e@example.org");
        assert_eq!(partial_email("x@example.com"), "x*****x@example.com");
        assert_eq!(
            partial_email("\"a@b\"@example.com"),
            "\"*****\"@example.com"
        );
        assert_eq!(partial_phone("+447700900123"), "**********23");
    }

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
