//! `_security_login_failures` and `_security_account_lockouts`: failed logins and the
//! lockouts they cause, keyed by username string (sessions §1.5, sessions §1.6).

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{exists, max, not};
use diesel::prelude::*;

use crate::db::schema::{
    _security_account_lockouts as lk, _security_login_failures as lf, _security_users,
};
use crate::db::DbConnection;

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// Failures now stored for the username.
    pub failures: i64,
    /// Minutes of the lockout this failure started, if any.
    pub locked_for_minutes: Option<i64>,
}

/// Records one failure and, at every `threshold`-th failure, a lockout of
/// `k × increment` minutes where k = failures / threshold (sessions §1.6).
pub fn record_failure(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
    threshold: i64,
    increment_minutes: i64,
) -> QueryResult<FailureOutcome> {
    diesel::insert_into(lf::table)
        .values((lf::username.eq(username), lf::login_failure_at.eq(now)))
        .execute(conn)?;
    let failures: i64 = lf::table
        .filter(lf::username.eq(username))
        .count()
        .get_result(conn)?;
    let threshold = threshold.max(1);
    let (k, r) = (failures / threshold, failures % threshold);
    let mut locked_for_minutes = None;
    if k >= 1 && r == 0 {
        let minutes = k * increment_minutes;
        diesel::insert_into(lk::table)
            .values((
                lk::username.eq(username),
                lk::locked_until.eq(now + Duration::minutes(minutes)),
            ))
            .execute(conn)?;
        locked_for_minutes = Some(minutes);
    }
    Ok(FailureOutcome {
        failures,
        locked_for_minutes,
    })
}

/// The end of the username's current lockout, if locked at `now`.
pub fn locked_until(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    lk::table
        .filter(lk::username.eq(username))
        .filter(lk::locked_until.gt(now))
        .select(max(lk::locked_until))
        .get_result(conn)
}

/// The end of the current lockout of each of `usernames` that is locked at `now` (admin page).
pub fn locked_until_many(
    conn: &mut DbConnection,
    usernames: &[String],
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
    lk::table
        .filter(lk::username.eq_any(usernames))
        .filter(lk::locked_until.gt(now))
        .group_by(lk::username)
        .select((lk::username, max(lk::locked_until)))
        .load(conn)
}

/// Stored failures of each of `usernames` that has any (admin page).
pub fn failure_counts(
    conn: &mut DbConnection,
    usernames: &[String],
) -> QueryResult<Vec<(String, i64)>> {
    lf::table
        .filter(lf::username.eq_any(usernames))
        .group_by(lf::username)
        .select((lf::username, diesel::dsl::count_star()))
        .load(conn)
}

/// Number of stored failures for the username.
pub fn failure_count(conn: &mut DbConnection, username: &str) -> QueryResult<i64> {
    lf::table
        .filter(lf::username.eq(username))
        .count()
        .get_result(conn)
}

/// Clears the username's failures (successful login).
pub fn clear_failures(conn: &mut DbConnection, username: &str) -> QueryResult<usize> {
    diesel::delete(lf::table.filter(lf::username.eq(username))).execute(conn)
}

/// Unlocks: deletes the username's lockouts and failures (`enable_user`).
pub fn enable_user(conn: &mut DbConnection, username: &str) -> QueryResult<usize> {
    let a = diesel::delete(lk::table.filter(lk::username.eq(username))).execute(conn)?;
    let b = clear_failures(conn, username)?;
    Ok(a + b)
}

/// Housekeeping: deletes lockouts that have ended.
pub fn delete_expired_lockouts(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(lk::table.filter(lk::locked_until.le(now))).execute(conn)
}

/// Housekeeping: deletes failures recorded for usernames that do not exist.
pub fn delete_dummy_failures(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::delete(lf::table.filter(not(exists(
        _security_users::table.filter(_security_users::username.eq(lf::username)),
    ))))
    .execute(conn)
}
