//! The terms of use (admin §5): who must agree them first, and the time of agreeing
//! as CamCOPS stores it in `_security_users.when_agreed_terms_of_use` (ISO 8601 text with the
//! zone, for example `2026-12-01T21:02:37.796129+00:00`).

use chrono::{NaiveDate, NaiveDateTime};

/// CamCOPS' `TERMS_CONDITIONS_UPDATE_DATE`: anyone who agreed before this day agrees again.
pub const TERMS_UPDATED: (i32, u32, u32) = (2020, 6, 29);

fn updated() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(TERMS_UPDATED.0, TERMS_UPDATED.1, TERMS_UPDATED.2)
}

/// `must_agree_terms`: never agreed, agreed before the terms were last updated, or a stored
/// value that is not a date (which CamCOPS could not read either).
pub fn must_agree(when_agreed: Option<&str>) -> bool {
    let Some(text) = when_agreed else {
        return true;
    };
    let date = text
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match (date, updated()) {
        (Some(d), Some(u)) => d < u,
        _ => true,
    }
}

/// `now` (naive UTC) as CamCOPS writes an agreement time.
pub fn agreed_at(now: NaiveDateTime) -> String {
    format!("{}+00:00", now.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_must_agree() {
        assert!(must_agree(None));
        assert!(must_agree(Some("")));
        assert!(must_agree(Some("garbage")));
        assert!(must_agree(Some("2020-06-28T23:59:59.000000+00:00")));
        assert!(!must_agree(Some("2020-06-29T00:00:00.000000+00:00")));
        assert!(!must_agree(Some("2026-12-01 21:02:37.796129+00:00")));
    }

    #[test]
    fn agreement_time_is_camcops_iso_text() {
        let t = NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_micro_opt(21, 2, 37, 796_129))
            .unwrap();
        let s = agreed_at(t);
        assert_eq!(s, "2026-12-01T21:02:37.796129+00:00");
        assert_eq!(s.len(), 32);
        assert!(!must_agree(Some(&s)));
    }
}
