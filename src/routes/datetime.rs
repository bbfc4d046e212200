//! Dates and times as the pages read and show them: a `datetime-local` field (the server's
//! local time zone) or, for scripts, RFC 3339 with an offset; years 1000–9999 only. Used by the
//! task filter form (`set_filters`) and the audit trail's parameters.

use chrono::{DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone};

fn year_ok(y: i32) -> bool {
    (1000..=9999).contains(&y)
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| year_ok(d.year()))
}

/// A `datetime-local` value (taken in the server's local time zone) or, for scripts, an
/// RFC 3339 time with an offset.
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    let with_offset = DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z").ok());
    if let Some(dt) = with_offset {
        return year_ok(dt.year()).then_some(dt);
    }
    let naive = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
    .filter(|n| year_ok(n.year()))?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|d| d.fixed_offset())
}

/// Formats a time for a `datetime-local` input, in the server's local time.
pub fn local_input(dt: &DateTime<FixedOffset>) -> String {
    let local = dt.with_timezone(&Local).naive_local();
    if local.format("%S%.f").to_string() == "00" {
        local.format("%Y-%m-%dT%H:%M").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}
