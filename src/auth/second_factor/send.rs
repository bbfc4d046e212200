//! Sending second-factor codes (by e-mail or text message): to a user by their own method
//! (`send_code`), or for a method being set up (`send_pending_code`); the per-step and hourly
//! limits, CamCOPS' partial addresses, and the audit row of every attempt.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::BAD_CODE;
use crate::auth::mfa;
use crate::auth::own_account::audit_own;
use crate::db::schema::_security_audit;
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::messaging::{self, Channel};
use crate::models::user::User;
use crate::state::AppState;

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

/// The 503 page when a code could not be sent: try again later (`Retry-After`).
pub fn not_sent_response() -> actix_web::HttpResponse {
    crate::error::error_page(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, NOT_SENT)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
