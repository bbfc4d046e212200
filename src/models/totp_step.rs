//! `cw_totp_last_step`: the last TOTP time step accepted for each user, so that an accepted
//! code is never accepted again (a table of camcops-web's own; CamCOPS does not know it).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::db::schema::cw_totp_last_step as t;
use crate::db::DbConnection;

/// Claims time step `step` for `user_id`: true if it is later than every step accepted
/// before (then it is recorded), false if it (or a later one) was already used. Each
/// statement stands alone (no enclosing transaction): of two racing claims of the same
/// step exactly one wins (the conditional update re-checks the row it waits for; the
/// insert of a first row is decided by the primary key).
pub fn claim(conn: &mut DbConnection, user_id: i32, step: i64) -> QueryResult<bool> {
    let updated = diesel::update(
        t::table
            .filter(t::user_id.eq(user_id))
            .filter(t::last_step.lt(step)),
    )
    .set(t::last_step.eq(step))
    .execute(conn)?;
    if updated > 0 {
        return Ok(true);
    }
    let exists: i64 = t::table
        .filter(t::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    match diesel::insert_into(t::table)
        .values((t::user_id.eq(user_id), t::last_step.eq(step)))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The last step accepted for `user_id` (tests and diagnostics).
pub fn last_step(conn: &mut DbConnection, user_id: i32) -> QueryResult<Option<i64>> {
    t::table
        .find(user_id)
        .select(t::last_step)
        .first(conn)
        .optional()
}
