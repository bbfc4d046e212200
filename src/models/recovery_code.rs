//! `cw_mfa_recovery_codes`: a user's one-time recovery codes (camcops-web's own table; CamCOPS
//! never reads it). Only a hash of each code is stored; see `auth::recovery` for the codes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::cw_mfa_recovery_codes as rc;
use crate::db::DbConnection;

/// Replaces the user's codes by these hashes (the old set is void at once), in the caller's
/// transaction.
pub fn replace_all(
    conn: &mut DbConnection,
    user_id: i32,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    delete_for_user(conn, user_id)?;
    // One row at a time: multi-row VALUES is not available through the connection enum.
    for h in hashes {
        diesel::insert_into(rc::table)
            .values((
                rc::user_id.eq(user_id),
                rc::code_hash.eq(h),
                rc::created_at_utc.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes every code of the user (their second factor was switched off, or new codes).
pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> QueryResult<usize> {
    diesel::delete(rc::table.filter(rc::user_id.eq(user_id))).execute(conn)
}

/// The unused codes of the user: `(row id, hash)`.
pub fn unused(conn: &mut DbConnection, user_id: i32) -> QueryResult<Vec<(i32, String)>> {
    rc::table
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at_utc.is_null())
        .select((rc::id, rc::code_hash))
        .order(rc::id)
        .load(conn)
}

/// How many unused codes the user has.
pub fn count_unused(conn: &mut DbConnection, user_id: i32) -> QueryResult<i64> {
    rc::table
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at_utc.is_null())
        .count()
        .get_result(conn)
}

/// Marks row `id` used, only if it still is unused. Returns whether this call used it (a
/// concurrent use of the same code gets `false`).
pub fn mark_used(conn: &mut DbConnection, id: i32, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(rc::table.find(id).filter(rc::used_at_utc.is_null()))
        .set(rc::used_at_utc.eq(Some(now)))
        .execute(conn)?;
    Ok(n == 1)
}
