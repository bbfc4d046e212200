//! Housekeeping (sessions §2.9): expired sessions with their filters (in batches), orphan filters,
//! ended lockouts, and the weekly clearing of failures for non-existent usernames.

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::model::{delete_sessions, SessionPolicy};
use crate::db::schema::{_security_webviewer_sessions as sess, _task_filters};
use crate::db::{transaction, DbConnection};
use crate::error::AppError;
use crate::models::{lockout, server_settings};

/// Rows deleted per batch, so no lock is held for long.
pub const BATCH: i64 = 1000;

/// How often failures of non-existent usernames are cleared.
pub const CLEAR_DUMMY_LOGIN_FREQUENCY_DAYS: i64 = 7;

/// What one housekeeping run deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Expired sessions.
    pub sessions: usize,
    /// Task filters (of expired sessions and orphans).
    pub filters: usize,
    /// Ended lockouts.
    pub lockouts: usize,
    /// Failures of non-existent usernames.
    pub dummy_failures: usize,
}

/// `delete_old_sessions`: sessions idle past the timeout or older than the absolute lifetime,
/// each batch in its own transaction, then filters no session refers to (`NOT EXISTS`).
/// Returns (sessions, filters) deleted.
pub fn delete_old_sessions(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    now: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let idle_cutoff = now - policy.timeout;
    let mut sessions = 0;
    let mut filters = 0;
    loop {
        let (n, f) = transaction(conn, |conn| {
            let mut q = sess::table
                .filter(
                    sess::last_activity_utc
                        .lt(idle_cutoff)
                        .or(sess::last_activity_utc.is_null()),
                )
                .select((sess::id, sess::task_filter_id))
                .limit(BATCH)
                .into_boxed();
            if let Some(max) = policy.max_lifetime {
                q = sess::table
                    .filter(
                        sess::last_activity_utc
                            .lt(idle_cutoff)
                            .or(sess::last_activity_utc.is_null())
                            .or(sess::created_at_utc.lt(now - max)),
                    )
                    .select((sess::id, sess::task_filter_id))
                    .limit(BATCH)
                    .into_boxed();
            }
            let rows: Vec<(i32, Option<i32>)> = q.load(conn)?;
            let f = rows.iter().filter(|(_, f)| f.is_some()).count();
            Ok((delete_sessions(conn, &rows)?, f))
        })?;
        sessions += n;
        filters += f;
        if n < BATCH as usize {
            break;
        }
    }
    filters += transaction(conn, |conn| Ok(delete_orphan_filters(conn)?))?;
    Ok((sessions, filters))
}

/// Deletes task filters that no session refers to. `NOT EXISTS`, unlike the original's
/// `NOT IN`, is not defeated by sessions whose `task_filter_id` is NULL (sessions §7.3 item 1).
pub fn delete_orphan_filters(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::delete(_task_filters::table.filter(not(exists(
        sess::table.filter(sess::task_filter_id.eq(_task_filters::id.nullable())),
    ))))
    .execute(conn)
}

/// One full housekeeping run, as the background task and the `housekeeping` command do it.
pub fn run(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    now: NaiveDateTime,
) -> Result<HousekeepingReport, AppError> {
    let (sessions, filters) = delete_old_sessions(conn, policy, now)?;
    let (lockouts, dummy_failures) = transaction(conn, |conn| {
        let lockouts = lockout::delete_expired_lockouts(conn, now)?;
        let due = match server_settings::last_dummy_clearance(conn)? {
            None => true,
            Some(t) => now - t >= Duration::days(CLEAR_DUMMY_LOGIN_FREQUENCY_DAYS),
        };
        let dummy = if due {
            let n = lockout::delete_dummy_failures(conn)?;
            server_settings::set_last_dummy_clearance(conn, now)?;
            n
        } else {
            0
        };
        Ok((lockouts, dummy))
    })?;
    Ok(HousekeepingReport {
        sessions,
        filters,
        lockouts,
        dummy_failures,
    })
}
