//! `_security_audit`: the audit trail (§1.10). Never a password or token in `details`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::_security_audit;
use crate::db::{DbConnection, MultiBackend};

/// Where an audited action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSource {
    /// The web pages.
    Webviewer,
    /// The tablet API.
    Tablet,
    /// The command line.
    Console,
}

impl AuditSource {
    fn as_str(self) -> &'static str {
        match self {
            AuditSource::Webviewer => "webviewer",
            AuditSource::Tablet => "tablet",
            AuditSource::Console => "console",
        }
    }
}

/// One row of `_security_audit`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = _security_audit, check_for_backend(MultiBackend))]
pub struct AuditRow {
    /// Primary key.
    pub id: i32,
    /// When (naive UTC).
    pub when_access_utc: NaiveDateTime,
    /// `webviewer`, `tablet` or `console`.
    pub source: String,
    /// Client address.
    pub remote_addr: Option<String>,
    /// Acting user.
    pub user_id: Option<i32>,
    /// Device.
    pub device_id: Option<i32>,
    /// Table.
    pub table_name: Option<String>,
    /// Server PK.
    pub server_pk: Option<i32>,
    /// Patient server PK.
    pub patient_server_pk: Option<i32>,
    /// What happened.
    pub details: Option<String>,
}

/// Writes one audit row; `details` is truncated to 65,000 characters.
pub fn audit(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    source: AuditSource,
    remote_addr: Option<&str>,
    user_id: Option<i32>,
    device_id: Option<i32>,
    details: &str,
) -> QueryResult<()> {
    let details: String = details.chars().take(65_000).collect();
    let remote: Option<String> = remote_addr.map(|a| a.chars().take(45).collect());
    diesel::insert_into(_security_audit::table)
        .values((
            _security_audit::when_access_utc.eq(now),
            _security_audit::source.eq(source.as_str()),
            _security_audit::remote_addr.eq(remote),
            _security_audit::user_id.eq(user_id),
            _security_audit::device_id.eq(device_id),
            _security_audit::details.eq(Some(details)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The most recent audit rows, newest first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<AuditRow>> {
    _security_audit::table
        .order(_security_audit::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}
