//! The account commands shared by the command line and the pages: make a superuser, set or
//! reset a password, unlock (`enable_user`). A password change ends the user's other
//! sessions. What only the user-admin pages write (each audited with the acting
//! administrator) is in `user_admin.rs`.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::models::audit::{audit, AuditSource};
use crate::models::lockout;
use crate::models::user::{NewUser, User};
use crate::session::model::end_user_sessions;

/// Creates `username` as a superuser with `hash`, or, if the user exists, makes them a
/// superuser and sets the password. Returns (user id, created?).
pub fn make_superuser(
    conn: &mut DbConnection,
    username: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<(i32, bool)> {
    use crate::db::schema::_security_users as u;
    use diesel::prelude::*;
    if let Some(existing) = User::find_by_username(conn, username)? {
        diesel::update(u::table.find(existing.id))
            .set(u::superuser.eq(Some(true)))
            .execute(conn)?;
        console_set_password(conn, existing.id, username, hash, now)?;
        return Ok((existing.id, false));
    }
    let id = User::insert(
        conn,
        &NewUser {
            username,
            fullname: None,
            email: None,
            hashedpw: hash,
            mfa_method: "no_mfa",
            hotp_counter: 0,
            superuser: Some(true),
            must_change_password: Some(false),
            last_password_change_utc: Some(now),
            when_agreed_terms_of_use: None,
            upload_group_id: None,
            auto_generated: false,
        },
    )?;
    audit(
        conn,
        now,
        AuditSource::Console,
        None,
        Some(id),
        None,
        &format!("SUPERUSER CREATED: {username}"),
    )?;
    Ok((id, true))
}

/// Sets a password (hash already computed), clears the forced-change flag, ends every other
/// session of the user (all of them when `keep_session` is None) and audits it.
pub fn set_password(
    conn: &mut DbConnection,
    user_id: i32,
    username: &str,
    hash: &str,
    now: NaiveDateTime,
    keep_session: Option<i32>,
    source: AuditSource,
) -> QueryResult<usize> {
    User::set_password_hash(conn, user_id, hash, now)?;
    let ended = end_user_sessions(conn, user_id, keep_session)?;
    audit(
        conn,
        now,
        source,
        None,
        Some(user_id),
        None,
        &format!("Password changed for user {username}"),
    )?;
    Ok(ended)
}

/// [`set_password`] from the command line: every session of the user ends.
fn console_set_password(
    conn: &mut DbConnection,
    user_id: i32,
    username: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    set_password(
        conn,
        user_id,
        username,
        hash,
        now,
        None,
        AuditSource::Console,
    )
}

/// `reset_password`: sets the password and unlocks the account. None if no such user.
pub fn reset_password(
    conn: &mut DbConnection,
    username: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<usize>> {
    let Some(user) = User::find_by_username(conn, username)? else {
        return Ok(None);
    };
    let ended = console_set_password(conn, user.id, username, hash, now)?;
    lockout::enable_user(conn, username)?;
    Ok(Some(ended))
}

/// `enable_user`: deletes the username's lockouts and failures and audits it (`by_user` and
/// `remote_addr`: who did it, from where).
pub fn enable_user(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
    source: AuditSource,
    by_user: Option<i32>,
    remote_addr: Option<&str>,
) -> QueryResult<usize> {
    let n = lockout::enable_user(conn, username)?;
    audit(
        conn,
        now,
        source,
        remote_addr,
        by_user,
        None,
        &format!("User {username} re-enabled"),
    )?;
    Ok(n)
}
