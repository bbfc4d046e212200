//! `_server_settings`: the singleton row (id 1) (sessions §1.9).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::_server_settings as ss;
use crate::db::DbConnection;

/// The database title shown on pages.
pub fn database_title(conn: &mut DbConnection) -> QueryResult<String> {
    Ok(ss::table
        .find(1)
        .select(ss::database_title)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten()
        .unwrap_or_else(|| "CamCOPS".into()))
}

/// When failures of non-existent usernames were last cleared.
pub fn last_dummy_clearance(conn: &mut DbConnection) -> QueryResult<Option<NaiveDateTime>> {
    Ok(ss::table
        .find(1)
        .select(ss::last_dummy_login_failure_clearance_at_utc)
        .get_result::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten())
}

/// Records that failures of non-existent usernames were cleared at `now`.
pub fn set_last_dummy_clearance(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<()> {
    let n = diesel::update(ss::table.find(1))
        .set(ss::last_dummy_login_failure_clearance_at_utc.eq(Some(now)))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(ss::table)
            .values((
                ss::id.eq(1),
                ss::last_dummy_login_failure_clearance_at_utc.eq(Some(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}
