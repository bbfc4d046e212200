//! Column encodings (sessions §1.2) of `_task_filters`: the CamCOPS text codecs that turn the typed
//! lists and times of a [`TaskFilter`](super::TaskFilter) into the stored text and back.
//! Pure functions, no database. Reading is lenient as CamCOPS is: unreadable text reads as an
//! empty list (or no time) and is logged.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// One ID number criterion: patients with this ID number type and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdNumReference {
    /// Which ID number (`_idnum_definitions.which_idnum`).
    pub which_idnum: i32,
    /// The value.
    pub idnum_value: i64,
}

/// StringListType: one CSV row with every item quoted (`"phq9","gad7"`); empty list = `""`.
pub fn encode_string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
        .collect();
    quoted.join(",")
}

/// Reads a StringListType value as CamCOPS does (`csv.reader([value])`, Python's default
/// dialect, not strict): a trailing line end (written before 2019) is ignored; CSV that Python
/// refuses (a line break outside quotes followed by more text) reads as an empty list.
pub fn decode_string_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    parse_csv_row(s).unwrap_or_else(|| {
        log::warn!("unreadable string list in task filter: {s:?}");
        Vec::new()
    })
}

/// States of Python's CSV reader (Modules/_csv.c) for one record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Csv {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    QuoteInQuoted,
    EatNewline,
}

fn parse_csv_row(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut state = Csv::StartRecord;
    let newline = |c: char| c == '\n' || c == '\r';
    for c in s.chars() {
        if state == Csv::StartRecord {
            if newline(c) {
                state = Csv::EatNewline;
                continue;
            }
            state = Csv::StartField;
        }
        state = match (state, c) {
            (Csv::StartField | Csv::InField | Csv::QuoteInQuoted, c) if newline(c) => {
                out.push(std::mem::take(&mut field));
                Csv::EatNewline
            }
            (Csv::StartField | Csv::InField | Csv::QuoteInQuoted, ',') => {
                out.push(std::mem::take(&mut field));
                Csv::StartField
            }
            (Csv::StartField, '"') => Csv::InQuoted,
            (Csv::InQuoted, '"') => Csv::QuoteInQuoted,
            (Csv::QuoteInQuoted, '"') => {
                field.push('"');
                Csv::InQuoted
            }
            (Csv::InQuoted, c) => {
                field.push(c);
                Csv::InQuoted
            }
            // Not strict: text after a closing quote, or a quote inside an unquoted field, is
            // kept as it is.
            (Csv::StartField | Csv::InField | Csv::QuoteInQuoted, c) => {
                field.push(c);
                Csv::InField
            }
            (Csv::EatNewline, c) if newline(c) => Csv::EatNewline,
            (Csv::EatNewline | Csv::StartRecord, _) => return None,
        };
    }
    // At the end, the field under way is saved (an unterminated quote keeps what it has).
    // Only line ends make no record at all: CamCOPS then fails; read as no items.
    if !matches!(state, Csv::StartRecord | Csv::EatNewline) {
        out.push(field);
    }
    Some(out)
}

/// IntListType: `1,2,3`; empty list = `""`.
pub fn encode_int_list(items: &[i32]) -> String {
    let v: Vec<String> = items.iter().map(i32::to_string).collect();
    v.join(",")
}

/// Reads an IntListType value; anything unparseable reads as an empty list.
pub fn decode_int_list(s: &str) -> Vec<i32> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    s.split(',')
        .map(|p| p.trim().parse::<i32>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|_| {
            log::warn!("unreadable integer list in task filter: {s:?}");
            Vec::new()
        })
}

/// IdNumReferenceList: flat pairs `which,value,which,value`; empty list = `""`.
pub fn encode_idnum_list(items: &[IdNumReference]) -> String {
    let v: Vec<String> = items
        .iter()
        .map(|r| format!("{},{}", r.which_idnum, r.idnum_value))
        .collect();
    v.join(",")
}

/// Reads an IdNumReferenceList; non-integers, an odd count or negatives read as empty.
pub fn decode_idnum_list(s: &str) -> Vec<IdNumReference> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    let nums: Option<Vec<i64>> = s.split(',').map(|p| p.trim().parse::<i64>().ok()).collect();
    let bad = || {
        log::warn!("unreadable ID number list in task filter: {s:?}");
        Vec::new()
    };
    let Some(nums) = nums else { return bad() };
    if nums.len() % 2 != 0 || nums.iter().any(|n| *n < 0) {
        return bad();
    }
    let mut out = Vec::with_capacity(nums.len() / 2);
    for pair in nums.chunks_exact(2) {
        let Ok(which_idnum) = i32::try_from(pair[0]) else {
            return bad();
        };
        out.push(IdNumReference {
            which_idnum,
            idnum_value: pair[1],
        });
    }
    out
}

/// ISO text as the original writes it: `YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM`.
pub fn encode_datetime(dt: &DateTime<FixedOffset>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
}

/// Reads ISO text (with offset; a value without one is taken as UTC); bad text reads as
/// `None`.
pub fn decode_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(naive.and_utc().fixed_offset());
        }
    }
    log::warn!("unreadable date/time in task filter: {s:?}");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::task_filter::strings;

    #[test]
    fn string_list_encoding_matches_quote_all_csv_and_round_trips() {
        assert_eq!(
            encode_string_list(&strings(&["phq9", "gad7"])),
            r#""phq9","gad7""#
        );
        assert_eq!(encode_string_list(&[]), "");
        let tricky = strings(&["a,b", "say \"hi\"", "", "line\nbreak", "ünï"]);
        let enc = encode_string_list(&tricky);
        assert_eq!(decode_string_list(&enc), tricky);
        assert_eq!(decode_string_list(""), Vec::<String>::new());
        // Unquoted values (as csv.reader accepts) also read.
        assert_eq!(decode_string_list("phq9,bmi"), strings(&["phq9", "bmi"]));
    }

    // Each expected value is what Python's `list(csv.reader([s]))[0]` gives, as CamCOPS reads.
    #[test]
    fn string_lists_read_as_python_csv_reads_them() {
        let cases: &[(&str, &[&str])] = &[
            ("\"phq9\",\"bmi\"\r\n", &["phq9", "bmi"]),
            ("a\r", &["a"]),
            (r#""unterminated"#, &["unterminated"]),
            (r#""a"x,"b""#, &["ax", "b"]),
            ("a\"b", &["a\"b"]),
            ("a,", &["a", ""]),
            (",", &["", ""]),
            (r#""""#, &[""]),
            (r#" "a""#, &[" \"a\""]),
            (r#""a" ,b"#, &["a ", "b"]),
            ("\"x\ny\"", &["x\ny"]),
            (r#""a""b""#, &["a\"b"]),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_string_list(raw), strings(want), "{raw:?}");
        }
        // Python refuses these (a line end outside quotes, then more): CamCOPS reads [].
        for bad in ["a\nb", "\"a\"\r\n\"b\"", "\r\n"] {
            assert!(decode_string_list(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn int_list_round_trips_and_bad_is_empty() {
        assert_eq!(encode_int_list(&[1, 2, 3]), "1,2,3");
        assert_eq!(encode_int_list(&[]), "");
        assert_eq!(decode_int_list("1,2,3"), vec![1, 2, 3]);
        assert_eq!(decode_int_list(" 4 , 5"), vec![4, 5]);
        assert_eq!(decode_int_list(""), Vec::<i32>::new());
        for bad in ["1,x", "1,,2", "1.5", "99999999999", ","] {
            assert!(decode_int_list(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn idnum_list_is_flat_pairs_and_bad_is_empty() {
        let v = vec![
            IdNumReference {
                which_idnum: 1,
                idnum_value: 9_434_765_919,
            },
            IdNumReference {
                which_idnum: 2,
                idnum_value: 77,
            },
        ];
        let enc = encode_idnum_list(&v);
        assert_eq!(enc, "1,9434765919,2,77");
        assert_eq!(decode_idnum_list(&enc), v);
        assert_eq!(encode_idnum_list(&[]), "");
        for bad in ["1", "1,2,3", "1,-2", "-1,2", "a,b", "1,2,", "99999999999,1"] {
            assert!(decode_idnum_list(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn datetimes_use_iso_with_microseconds_and_offset() {
        let dt = DateTime::parse_from_rfc3339("2024-02-29T13:14:15.123456+00:00").unwrap();
        assert_eq!(encode_datetime(&dt), "2024-02-29T13:14:15.123456+00:00");
        assert_eq!(decode_datetime(&encode_datetime(&dt)), Some(dt));
        let bst = DateTime::parse_from_rfc3339("2024-06-01T09:00:00+01:00").unwrap();
        assert_eq!(encode_datetime(&bst), "2024-06-01T09:00:00.000000+01:00");
        assert_eq!(decode_datetime(&encode_datetime(&bst)), Some(bst));
        assert_eq!(
            decode_datetime("2024-06-01 08:00:00").map(|d| d.naive_utc()),
            Some(bst.naive_utc())
        );
        assert_eq!(decode_datetime("yesterday"), None);
        assert_eq!(decode_datetime(""), None);
    }
}
