//! Queries over many sessions: the admin sessions page (list, find, end one), ending every
//! session of a user, and counting active sessions (`/metrics`, server info).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{delete_sessions, SessionPolicy, SessionRow};
use crate::db::schema::_security_webviewer_sessions as sess;
use crate::db::DbConnection;

/// Ends every session of a user except `keep` (password change, disabling): returns how many.
pub fn end_user_sessions(
    conn: &mut DbConnection,
    user_id: i32,
    keep: Option<i32>,
) -> QueryResult<usize> {
    let rows: Vec<(i32, Option<i32>)> = sess::table
        .filter(sess::user_id.eq(user_id))
        .filter(sess::id.ne(keep.unwrap_or(0)))
        .select((sess::id, sess::task_filter_id))
        .load(conn)?;
    delete_sessions(conn, &rows)
}

/// One session row by id (admin page).
pub fn find_row(conn: &mut DbConnection, id: i32) -> QueryResult<Option<SessionRow>> {
    sess::table
        .find(id)
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()
}

/// Ends one session by id (admin page); returns whether it existed.
pub fn end_session(conn: &mut DbConnection, id: i32) -> QueryResult<bool> {
    let rows: Vec<(i32, Option<i32>)> = sess::table
        .filter(sess::id.eq(id))
        .select((sess::id, sess::task_filter_id))
        .load(conn)?;
    Ok(delete_sessions(conn, &rows)? > 0)
}

/// `n_sessions_active_since(when)` (sessions §2.10): all rows, logged in or not, human or API.
pub fn n_sessions_active_since(conn: &mut DbConnection, when: NaiveDateTime) -> QueryResult<i64> {
    sess::table
        .filter(sess::last_activity_utc.ge(when))
        .count()
        .get_result(conn)
}

/// Live (logged-in, unexpired) sessions, newest activity first; for the admin page.
pub fn list_active(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    now: NaiveDateTime,
    user_ids: Option<&[i32]>,
) -> QueryResult<Vec<SessionRow>> {
    let mut q = sess::table
        .filter(sess::user_id.is_not_null())
        .filter(sess::token.ne(""))
        .filter(sess::last_activity_utc.ge(now - policy.timeout))
        .select(SessionRow::as_select())
        .order(sess::last_activity_utc.desc())
        .into_boxed();
    if let Some(max) = policy.max_lifetime {
        // Rows CamCOPS made have no creation time: only its idle timeout applies to them.
        q = q.filter(
            sess::created_at_utc
                .ge(now - max)
                .or(sess::created_at_utc.is_null()),
        );
    }
    if let Some(ids) = user_ids {
        q = q.filter(sess::user_id.eq_any(ids.to_vec()));
    }
    q.limit(1000).load(conn)
}
