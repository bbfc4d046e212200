//! What a user writes about their own account from the web viewer, and its audit row: the
//! one shape of "user X did this, from this address" (login, logout, terms, MFA method,
//! recovery codes, code sends). Runs in the caller's unit; no HTTP. What administrators do to
//! others goes through `user_admin::Actor` instead.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::terms::agreed_at;
use crate::db::DbConnection;
use crate::models::audit::{audit, AuditSource};
use crate::models::user::User;

/// The audit row of something `user_id` did to their own account from `remote_addr`.
pub fn audit_own(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    remote_addr: &str,
    user_id: i32,
    details: &str,
) -> QueryResult<()> {
    audit_web(conn, now, remote_addr, Some(user_id), details)
}

/// An audit row from the web viewer at `remote_addr`, by `user_id` when known (a refused
/// login has none).
pub fn audit_web(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    remote_addr: &str,
    user_id: Option<i32>,
    details: &str,
) -> QueryResult<()> {
    let source = AuditSource::Webviewer;
    audit(conn, now, source, Some(remote_addr), user_id, None, details)
}

/// The user agrees the terms of use now (stored as CamCOPS stores it), audited.
pub fn agree_terms(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    remote_addr: &str,
    user_id: i32,
) -> QueryResult<()> {
    User::set_agreed_terms(conn, user_id, &agreed_at(now))?;
    audit_own(conn, now, remote_addr, user_id, "Agreed to terms of use")
}
