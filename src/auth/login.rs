//! The login service (sessions §4.2, sessions §2.7): lockout check, password check, failure recording, and the
//! successful-login writes. No HTTP in here; the page handler calls these.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use super::own_account::{audit_own, audit_web};
use super::password;
use super::principal::AuthUser;
use super::readiness::{self, Reason};
use super::throttle;
use crate::blocking::run_hashing;
use crate::config::Settings;
use crate::db::{run_db, run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::audit::{audit, AuditSource};
use crate::models::lockout;
use crate::models::user::User;
use crate::session::CamcopsSession;
use crate::state::AppState;

/// The generic failure message (same for unknown user, wrong password, not authorised).
pub const GENERIC_FAILURE: &str = "Invalid username/password (or user not authorized).";

/// Characters allowed in a username (login and tablet validator).
pub fn valid_username(username: &str) -> bool {
    let n = username.chars().count();
    (1..=191).contains(&n)
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | '_' | '-' | '{' | '}'))
}

/// The password check of a login (web or tablet): bcrypt in a hashing slot, off the async
/// workers; an unknown user still costs one hash. Returns whether the password matched and,
/// if the stored hash is weaker than `BCRYPT_COST`, a stronger one.
pub async fn check_password(
    state: &AppState,
    user: Option<&AuthUser>,
    password: &str,
) -> Result<(bool, Option<String>), AppError> {
    let cost = state.settings.bcrypt_cost;
    let counter = state.bcrypt_verifications.clone();
    let stored = user.map(|u| u.user.hashedpw.clone());
    let pw = password.to_string();
    let checked =
        run_hashing(move || password::check_login_password(&pw, stored.as_deref(), cost, &counter))
            .await??;
    Ok(checked)
}

/// Before a logged-in user re-authenticates (old password to change it, current code to
/// change MFA): such checks count like logins (sessions §1.6), so that a session left open is no
/// guessing oracle. `Some(message)` while the account is locked: then try nothing.
pub async fn reauth_locked(state: &AppState, username: &str) -> Result<Option<String>, AppError> {
    let (name, now) = (username.to_owned(), state.clock.now());
    let until = run_db_read(&state.pool, move |conn| {
        Ok(lockout::locked_until(conn, &name, now)?)
    })
    .await?;
    Ok(until.map(locked_message))
}

/// A failed login or re-authentication, in a unit of its own: recorded and audited as a
/// failed login (see [`record_failure`]) and counted towards the failure budget of the
/// client's address ([`record_address_failure`]). `Some(message)` when it locked the
/// account.
pub async fn failed_login(
    state: &AppState,
    username: &str,
    remote_addr: &str,
    source: AuditSource,
    now: NaiveDateTime,
) -> Result<Option<String>, AppError> {
    let (name, ip) = (username.to_owned(), remote_addr.to_owned());
    let policy = LockoutPolicy::of(&state.settings);
    let outcome = run_db(&state.pool, move |conn| {
        Ok(record_failure(conn, &name, now, policy, source, &ip)?)
    })
    .await?;
    state
        .metrics
        .login_failed(outcome.locked_for_minutes.is_some());
    // Every failure kind also counts towards the budget of the client's address.
    record_address_failure(state, remote_addr, source).await?;
    Ok(outcome
        .locked_for_minutes
        .map(|m| locked_message(now + Duration::minutes(m))))
}

/// The lockout message with its time (server local time, as the original).
pub fn locked_message(until: NaiveDateTime) -> String {
    let local = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(until, chrono::Utc)
        .with_timezone(&chrono::Local);
    format!(
        "Account locked until {} due to multiple login failures. Try again later or contact your administrator.",
        local.format("%a %d %B %Y, %H:%M %z")
    )
}

/// What the first read of a login needs: the lockout state and the user (with memberships).
pub struct LoginLookup {
    /// End of a current lockout.
    pub locked_until: Option<NaiveDateTime>,
    /// The user, if the name exists.
    pub user: Option<AuthUser>,
}

/// Reads lockout state and the user for `username`.
pub fn lookup(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
) -> QueryResult<LoginLookup> {
    let locked_until = lockout::locked_until(conn, username, now)?;
    let user = match User::find_by_username(conn, username)? {
        Some(u) => Some(AuthUser::with_memberships(conn, u)?),
        None => None,
    };
    Ok(LoginLookup { locked_until, user })
}

/// The lockout settings: every `threshold`-th failure locks the username for k ×
/// `increment_minutes` (`LOCKOUT_THRESHOLD`, `LOCKOUT_DURATION_INCREMENT_MINUTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures per lockout step.
    pub threshold: i64,
    /// Minutes added per lockout step.
    pub increment_minutes: i64,
}

impl LockoutPolicy {
    /// The policy of these settings.
    pub fn of(settings: &Settings) -> LockoutPolicy {
        LockoutPolicy {
            threshold: settings.lockout_threshold,
            increment_minutes: settings.lockout_duration_increment_minutes,
        }
    }
}

/// Records a failed login (audit, failure row, maybe a lockout, and its audit).
pub fn record_failure(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
    policy: LockoutPolicy,
    source: AuditSource,
    remote_addr: &str,
) -> QueryResult<lockout::FailureOutcome> {
    let note = |conn: &mut DbConnection, details: &str| {
        audit(conn, now, source, Some(remote_addr), None, None, details)
    };
    note(conn, &format!("Failed login as user: {username}"))?;
    let LockoutPolicy {
        threshold,
        increment_minutes,
    } = policy;
    let outcome = lockout::record_failure(conn, username, now, threshold, increment_minutes)?;
    if let Some(minutes) = outcome.locked_for_minutes {
        note(
            conn,
            &format!("Account {username} locked out for {minutes} minutes"),
        )?;
        log::warn!("Account {username} locked out for {minutes} minutes");
    }
    Ok(outcome)
}

/// A web login refused for a reason other than a wrong password (see
/// [`super::readiness::web_login`]): one audit row naming the reasons, for administrators; the
/// user sees only the usual message. No failure is counted (only wrong passwords count).
pub fn record_refusal(
    conn: &mut DbConnection,
    username: &str,
    reasons: &[&Reason],
    now: NaiveDateTime,
    remote_addr: &str,
) -> QueryResult<()> {
    let details = readiness::refusal_audit_text(username, reasons);
    audit_web(conn, now, remote_addr, None, &details)
}

/// Everything a successful web login writes, in the caller's transaction: failures cleared,
/// expiry rule, last login, optional upgraded hash, the session logged in (new token, other
/// human sessions ended) and the audit row.
#[allow(clippy::too_many_arguments)]
pub fn complete_web_login(
    conn: &mut DbConnection,
    session: &mut CamcopsSession,
    user: &User,
    upgraded_hash: Option<&str>,
    password_change_frequency_days: i64,
    now: NaiveDateTime,
    remote_addr: &str,
) -> QueryResult<()> {
    lockout::clear_failures(conn, &user.username)?;
    if password::expired(user, password_change_frequency_days, now) {
        User::set_must_change_password(conn, user.id, true)?;
    }
    User::set_last_login(conn, user.id, now)?;
    if let Some(h) = upgraded_hash {
        User::upgrade_hash(conn, user.id, h)?;
    }
    session.form_state.finish();
    session.login(conn, user.id, now)?;
    audit_own(conn, now, remote_addr, user.id, "Login")
}

/// Refuses (429 with `Retry-After`) a login attempt from an address that has used up its
/// failure budget. Call before a password or code is checked.
pub fn check_address(state: &AppState, ip: &str) -> Result<(), AppError> {
    match state.login_throttle.blocked_for(ip, state.clock.now()) {
        Some(retry_after_s) => Err(AppError::TooManyRequests(retry_after_s)),
        None => Ok(()),
    }
}

/// Counts a failed login (or wrong code) from `ip`. The failure that uses up the budget
/// writes one audit row for the blocked window (refused attempts write none, so a flood
/// cannot fill the audit table).
pub async fn record_address_failure(
    state: &AppState,
    ip: &str,
    source: AuditSource,
) -> Result<(), AppError> {
    let now = state.clock.now();
    if let throttle::Recorded::Exhausted(seconds) = state.login_throttle.note_failure(ip, now) {
        let addr = ip.to_owned();
        let limit = state.settings.login_failures_per_address;
        let minutes = state.settings.login_failures_per_address_window_minutes;
        log::warn!("Too many failed logins from {addr}: logins refused for {seconds} s");
        run_db(&state.pool, move |conn| {
            Ok(audit(
                conn,
                now,
                source,
                Some(&addr),
                None,
                None,
                &format!(
                    "Too many failed logins from address {addr} ({limit} in {minutes} minutes): logins from it refused for {seconds} s"
                ),
            )?)
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(valid_username("alice_1-{x},y"));
        assert!(!valid_username(""));
        assert!(!valid_username("a b"));
        assert!(!valid_username("x'; DROP TABLE _security_users; --"));
        assert!(!valid_username(&"a".repeat(192)));
    }
}
