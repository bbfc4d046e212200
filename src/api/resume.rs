//! Resuming the session a call presents (sessions §5.3 steps 1–3): resolve the id and token as the web
//! does, accept API sessions only, reuse the session for the same username (running the
//! operation in the same unit), log out a session of another username.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use super::fields::ApiRequest;
use super::ops::{self, Ctx};
use super::outcome::Outcome;
use crate::auth::principal::AuthUser;
use crate::db::{Backend, DbConnection};
use crate::session::model::Miss;
use crate::session::{CamcopsSession, SessionPolicy};

/// What resuming led to.
pub enum Resumed {
    /// The session was reused and the operation has run.
    Done(Outcome),
    /// Carry on: with this anonymous API session, or with none.
    Continue(Option<CamcopsSession>),
}

/// Whether the unit may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read-only: gives up (`None`) as soon as something would have to be written.
    ReadOnly,
    /// Read-write: always decides.
    ReadWrite,
}

/// Resolves the presented id/token and acts on it. `None` only in [`Mode::ReadOnly`], when a
/// write is needed (activity time due, another username to log out): run again read-write.
pub fn resume(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    req: &ApiRequest,
    ip: &str,
    now: NaiveDateTime,
    mode: Mode,
) -> QueryResult<Option<Resumed>> {
    let read_only = mode == Mode::ReadOnly;
    // Read-only: an interval longer than the idle timeout, so `resolve` never writes.
    let used = if read_only {
        SessionPolicy {
            write_interval: policy.timeout + Duration::days(1),
            ..*policy
        }
    } else {
        *policy
    };
    let r = CamcopsSession::resolve(
        conn,
        &used,
        req.session_id,
        req.session_token.expose(),
        ip,
        now,
    )?;
    if let Some(miss) = r.miss {
        if miss != Miss::NoCredentials {
            log::debug!(
                "API session {:?} not resumed from {ip}: {miss:?}",
                req.session_id
            );
        }
        return Ok(Some(Resumed::Continue(None)));
    }
    let mut s = r.session;
    if !s.is_api_session {
        // Only API sessions are API credentials; a web session's row is left alone.
        log::warn!("API: web session {:?} presented from {ip}; ignored", s.id);
        return Ok(Some(Resumed::Continue(None)));
    }
    if read_only && activity_write_due(policy, s.last_activity_utc, now) {
        return Ok(None);
    }
    let Some(uid) = s.user_id else {
        return Ok(Some(Resumed::Continue(Some(s))));
    };
    let user = AuthUser::load(conn, uid)?;
    let backend = conn.backend();
    if let (Some(u), Some(name)) = (&user, &req.username) {
        if same_username(&u.user.username, name, backend) {
            let ctx = Ctx {
                req,
                user: Some(u),
                now,
                ip,
            };
            let reply = ops::run(conn, &ctx)?;
            return Ok(Some(Resumed::Done(Outcome::with(reply, &s))));
        }
    }
    if read_only {
        return Ok(None);
    }
    s.logout(conn)?;
    log::info!(
        "API: session {:?} of user id {uid} logged out: request from {ip} names another user",
        s.id
    );
    Ok(Some(Resumed::Continue(None)))
}

/// The session model's coalescing rule: `last_activity_utc` is rewritten when older than the
/// write interval (always when the interval is zero).
fn activity_write_due(policy: &SessionPolicy, last: NaiveDateTime, now: NaiveDateTime) -> bool {
    policy.write_interval <= Duration::zero() || last < now - policy.write_interval
}

/// Usernames compare as the database does: MariaDB/MySQL's collation ignores case (the
/// username characters are ASCII only).
fn same_username(stored: &str, given: &str, backend: Backend) -> bool {
    stored == given || (backend == Backend::Mysql && stored.eq_ignore_ascii_case(given))
}
