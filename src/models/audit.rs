//! `_security_audit`: the audit trail (sessions §1.10): writing rows (never a password, token, MFA
//! secret or session id in `details`) and reading them back a page at a time, filtered in
//! the database (admin §6.3), newest first.

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
    audit_about(
        conn,
        now,
        (source, remote_addr, user_id, device_id),
        None,
        details,
    )
}

/// Who did it: source, client address, acting user, device.
pub type AuditActor<'a> = (AuditSource, Option<&'a str>, Option<i32>, Option<i32>);

/// Writes one audit row about a row of a table (`(table_name, server_pk)`), e.g. a group
/// changed by an administrator; `details` is truncated to 65,000 characters.
pub fn audit_about(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    (source, remote_addr, user_id, device_id): AuditActor<'_>,
    about: Option<(&str, i32)>,
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
            _security_audit::table_name.eq(about.map(|a| a.0)),
            _security_audit::server_pk.eq(about.map(|a| a.1)),
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

/// The filters of `/view_audit_trail`; `None` = not filtered on. All run in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `when_access_utc >= start` (naive UTC).
    pub start: Option<NaiveDateTime>,
    /// `when_access_utc < end` (naive UTC).
    pub end: Option<NaiveDateTime>,
    /// `source =`.
    pub source: Option<String>,
    /// `remote_addr =`.
    pub remote_addr: Option<String>,
    /// `user_id =` (the username's id; rows without a user never match).
    pub user_id: Option<i32>,
    /// `table_name =`.
    pub table_name: Option<String>,
    /// `server_pk =`.
    pub server_pk: Option<i32>,
    /// `details` contains this text (case-insensitive as the database's `UPPER()` folds case:
    /// ASCII letters only on SQLite; `%` and `_` are literal). New: not in the original.
    pub text_contains: Option<String>,
}

/// The count stops after this many rows (the page then says "more than").
pub const AUDIT_COUNT_CAP: i64 = 10_000;

/// One page of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// Rows, newest first, with the acting user's name.
    pub rows: Vec<(AuditRow, Option<String>)>,
    /// Page shown (1-based; clamped to the last page when the total is exact).
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// Matching rows (exact if `total_is_exact`, else more than this).
    pub total: i64,
    /// Whether `total` is exact.
    pub total_is_exact: bool,
}

type BoxedAudit<'a> = _security_audit::BoxedQuery<'a, MultiBackend>;

/// The escape character of the `LIKE` pattern (not a backslash: MySQL reads that in literals).
const LIKE_ESCAPE: char = '!';

/// `%x%` with `%`, `_` and the escape character in `x` made literal.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out.push('%');
    out
}

diesel::define_sql_function! {
    /// SQL `UPPER()`.
    fn upper(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

impl AuditFilter {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        *self == AuditFilter::default()
    }

    fn query(&self) -> BoxedAudit<'static> {
        use _security_audit::dsl as a;
        let mut q = a::_security_audit.into_boxed::<MultiBackend>();
        if let Some(t) = self.start {
            q = q.filter(a::when_access_utc.ge(t));
        }
        if let Some(t) = self.end {
            q = q.filter(a::when_access_utc.lt(t));
        }
        if let Some(s) = self.source.clone() {
            q = q.filter(a::source.eq(s));
        }
        if let Some(r) = self.remote_addr.clone() {
            q = q.filter(a::remote_addr.eq(r));
        }
        if let Some(u) = self.user_id {
            q = q.filter(a::user_id.eq(u));
        }
        if let Some(t) = self.table_name.clone() {
            q = q.filter(a::table_name.eq(t));
        }
        if let Some(pk) = self.server_pk {
            q = q.filter(a::server_pk.eq(pk));
        }
        if let Some(text) = &self.text_contains {
            // UPPER on both sides: each database folds case its own way (SQLite: ASCII only).
            let pattern = upper(Some(like_literal(text)));
            q = q.filter(upper(a::details).like(pattern).escape(LIKE_ESCAPE));
        }
        q
    }
}

/// One page of the rows matching `filter`, newest first (`ORDER BY id DESC`). The count is
/// capped at [`AUDIT_COUNT_CAP`] (or the end of the requested page, if further).
pub fn query_audit(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<AuditPage> {
    use diesel::sql_types::Integer;
    let per_page = per_page.max(1);
    let mut page = page.max(1);
    let wanted = page.saturating_mul(per_page);
    let limit = wanted.max(AUDIT_COUNT_CAP).saturating_add(1);
    let counted: i64 = crate::models::task_index::CountOf(
        filter
            .query()
            .select(1_i32.into_sql::<Integer>())
            .limit(limit),
    )
    .get_result(conn)?;
    let total_is_exact = counted < limit;
    let total = if total_is_exact { counted } else { limit - 1 };
    if total_is_exact && total > 0 {
        page = page.min((total + per_page - 1) / per_page);
    }
    let rows: Vec<AuditRow> = if total == 0 {
        Vec::new()
    } else {
        filter
            .query()
            .order(_security_audit::id.desc())
            .limit(per_page)
            .offset((page - 1).saturating_mul(per_page))
            .select(AuditRow::as_select())
            .load(conn)?
    };
    let mut ids: Vec<i32> = rows.iter().filter_map(|r| r.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: std::collections::HashMap<i32, String> =
        crate::models::user::User::with_ids(conn, &ids)?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
    let rows = rows
        .into_iter()
        .map(|r| {
            let name = r.user_id.and_then(|u| names.get(&u).cloned());
            (r, name)
        })
        .collect();
    Ok(AuditPage {
        rows,
        page: if total == 0 { 1 } else { page },
        per_page,
        total,
        total_is_exact,
    })
}
