//! The query parameters of `/view_audit_trail` (admin §6.3), read straight from
//! the address so a view can be bookmarked: each is checked (bad values are a 400 with the
//! original's message where it has one; the original ignored bad dates and numbers, admin §8.15)
//! and becomes an [`AuditFilter`] that runs in the database. Empty strings count as absent.

use std::net::IpAddr;

use chrono::{NaiveDateTime, Utc};

use crate::error::AppError;
use crate::models::audit::AuditFilter;
use crate::routes::datetime::parse_datetime;

/// The page sizes offered on the form (any of 1–1,000 is accepted in the address).
pub const ROWS_PER_PAGE_CHOICES: [i64; 4] = [10, 25, 50, 100];
/// Largest `rows_per_page` accepted.
pub const MAX_ROWS_PER_PAGE: i64 = 1000;
/// Longest `text_contains` accepted.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Truncated details show this many characters (the original's `AUDIT_TRUNCATE_AT`).
pub const TRUNCATE_AT: usize = 100;

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditParams {
    /// Rows per page (default 25).
    pub rows_per_page: i64,
    /// Page (default 1).
    pub page: i64,
    /// Show only the first 100 characters of details (default true).
    pub truncate: bool,
    /// The filter, except the username.
    pub filter: AuditFilter,
    /// `username`, resolved to `filter.user_id` by the caller.
    pub username: Option<String>,
    /// `key = value` of every filter given, for the "Conditions" line.
    pub conditions: Vec<String>,
    /// Every parameter as given, for the pager links.
    pub pairs: Vec<(String, String)>,
}

fn bad(name: &str, why: &str) -> AppError {
    AppError::BadRequest(format!("Bad '{name}' parameter: {why}"))
}

/// The original's messages for a bad `source`, `username`, `table_name`.
const SOURCE_RULE: &str = "Invalid string. Minimum length = 0. Maximum length = 20. \
                           Permitted characters: A-Z, a-z, 0-9, '_'";
const USERNAME_RULE: &str = "Invalid string. Minimum length = 1. Maximum length = 191. \
                             Permitted characters: A-Z, a-z, 0-9, ',', '_', '-', '{', '}'";
const TABLE_NAME_RULE: &str = "Task table names must start with a letter, and contain only \
                               contain alphanumeric characters (A-Z, a-z, 0-9) or underscores (_).";

/// `v` when it passed its check (`ok`), else a 400 saying `why`.
fn checked(name: &str, v: &str, ok: bool, why: &str) -> Result<String, AppError> {
    if ok {
        Ok(v.to_owned())
    } else {
        Err(bad(name, why))
    }
}

fn username_ok(s: &str) -> bool {
    (1..=191).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | '_' | '-' | '{' | '}'))
}

/// Table names: a letter or underscore (CamCOPS' own tables start with one), then letters,
/// digits and underscores, at most 128.
fn table_name_ok(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().count() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn to_utc(name: &str, raw: &str) -> Result<NaiveDateTime, AppError> {
    parse_datetime(raw)
        .map(|d| d.with_timezone(&Utc).naive_utc())
        .ok_or_else(|| bad(name, "Invalid date/time"))
}

fn int(name: &str, raw: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            bad(
                name,
                &format!(
                    "an integer from {} to {} is required",
                    range.start(),
                    range.end()
                ),
            )
        })
}

impl AuditParams {
    /// Parses a query string.
    pub fn parse(query: &str) -> Result<AuditParams, AppError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| AppError::BadRequest("The address has bad query parameters.".into()))?;
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let mut p = AuditParams {
            rows_per_page: 25,
            page: 1,
            truncate: true,
            filter: AuditFilter::default(),
            username: None,
            conditions: Vec::new(),
            pairs: pairs.clone(),
        };
        if let Some(v) = get("rows_per_page") {
            p.rows_per_page = int("rows_per_page", v, 1..=MAX_ROWS_PER_PAGE)?;
        }
        if let Some(v) = get("page") {
            p.page = int("page", v, 1..=i64::from(i32::MAX))?;
        }
        if let Some(v) = get("truncate") {
            p.truncate = match v.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" | "y" | "on" => true,
                "false" | "f" | "0" | "no" | "n" | "off" => false,
                _ => return Err(bad("truncate", "True or False is required")),
            };
        }
        let mut cond = |k: &str, v: &str| p.conditions.push(format!("{k} = {v}"));
        if let Some(v) = get("start_datetime") {
            p.filter.start = Some(to_utc("start_datetime", v)?);
            cond("start_datetime", v);
        }
        if let Some(v) = get("end_datetime") {
            p.filter.end = Some(to_utc("end_datetime", v)?);
            cond("end_datetime", v);
        }
        if let Some(v) = get("source") {
            let ok =
                v.chars().count() <= 20 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            p.filter.source = Some(checked("source", v, ok, SOURCE_RULE)?);
            cond("source", v);
        }
        if let Some(v) = get("remote_ip_addr") {
            let ip: IpAddr = v
                .parse()
                .map_err(|_| bad("remote_ip_addr", "Invalid IP address"))?;
            p.filter.remote_addr = Some(ip.to_string());
            cond("remote_ip_addr", v);
        }
        if let Some(v) = get("username") {
            p.username = Some(checked("username", v, username_ok(v), USERNAME_RULE)?);
            cond("username", v);
        }
        if let Some(v) = get("table_name") {
            p.filter.table_name =
                Some(checked("table_name", v, table_name_ok(v), TABLE_NAME_RULE)?);
            cond("table_name", v);
        }
        if let Some(v) = get("server_pk") {
            p.filter.server_pk = Some(
                i32::try_from(int(
                    "server_pk",
                    v,
                    i64::from(i32::MIN)..=i64::from(i32::MAX),
                )?)
                .unwrap_or_default(),
            );
            cond("server_pk", v);
        }
        if let Some(v) = get("text_contains") {
            if v.chars().count() > MAX_TEXT_CHARS {
                return Err(bad(
                    "text_contains",
                    &format!("Longer than maximum length {MAX_TEXT_CHARS}"),
                ));
            }
            if v.chars().any(char::is_control) {
                return Err(bad("text_contains", "contains control characters"));
            }
            p.filter.text_contains = Some(v.to_owned());
            cond("text_contains", v);
        }
        Ok(p)
    }
}

/// `details` as shown: cut to [`TRUNCATE_AT`] characters when truncating.
pub fn shown_details(details: Option<&str>, truncate: bool) -> String {
    let d = details.unwrap_or("");
    if truncate {
        d.chars().take(TRUNCATE_AT).collect()
    } else {
        d.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_checked_and_described() {
        let p = AuditParams::parse(
            "rows_per_page=10&source=webviewer&remote_ip_addr=10.0.0.1&username=admin\
             &table_name=_security_groups&server_pk=5&text_contains=50%25&truncate=False&page=2",
        )
        .unwrap();
        assert_eq!((p.rows_per_page, p.page, p.truncate), (10, 2, false));
        assert_eq!(p.filter.source.as_deref(), Some("webviewer"));
        assert_eq!(p.filter.remote_addr.as_deref(), Some("10.0.0.1"));
        assert_eq!(p.filter.server_pk, Some(5));
        assert_eq!(p.filter.text_contains.as_deref(), Some("50%"));
        assert_eq!(p.username.as_deref(), Some("admin"));
        assert_eq!(p.conditions.len(), 6);
        let empty = AuditParams::parse("source=&username=&start_datetime=").unwrap();
        assert!(empty.filter.is_empty() && empty.conditions.is_empty());
    }

    #[test]
    fn bad_values_are_400s_with_the_originals_messages() {
        let long = "x".repeat(10_000);
        for (q, want) in [
            (
                "source=a-b".to_owned(),
                "Bad 'source' parameter: Invalid string.",
            ),
            (format!("source={long}"), "Bad 'source' parameter"),
            (
                "remote_ip_addr=1.2.3".to_owned(),
                "Bad 'remote_ip_addr' parameter: Invalid IP address",
            ),
            (
                "username=a%27%20OR%201%3D1".to_owned(),
                "Bad 'username' parameter: Invalid string.",
            ),
            (
                "table_name=1abc".to_owned(),
                "Bad 'table_name' parameter: Task table names",
            ),
            ("server_pk=abc".to_owned(), "Bad 'server_pk' parameter"),
            (
                "server_pk=99999999999".to_owned(),
                "Bad 'server_pk' parameter",
            ),
            (
                "rows_per_page=0".to_owned(),
                "Bad 'rows_per_page' parameter",
            ),
            (
                "start_datetime=notadate".to_owned(),
                "Bad 'start_datetime' parameter",
            ),
            (
                format!("text_contains={long}"),
                "Bad 'text_contains' parameter",
            ),
            ("truncate=maybe".to_owned(), "Bad 'truncate' parameter"),
        ] {
            match AuditParams::parse(&q) {
                Err(AppError::BadRequest(m)) => assert!(m.starts_with(want), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    #[test]
    fn details_are_cut_at_100_characters() {
        let d = "é".repeat(172);
        assert_eq!(shown_details(Some(&d), true).chars().count(), 100);
        assert_eq!(shown_details(Some(&d), false), d);
        assert_eq!(shown_details(None, true), "");
    }
}
