//! `_task_filters`: a session's task filter (§1.7): the stored row, a typed [`TaskFilter`] with
//! the original's column encodings, and the text that describes a filter on the task list.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::_task_filters;
use crate::db::{last_insert_id, DbConnection, MultiBackend};
use crate::models::device::Device;
use crate::models::group::Group;
use crate::models::idnum::IdNumDefinition;
use crate::models::task_registry;
use crate::models::user::User;

/// One row of `_task_filters`, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _task_filters, check_for_backend(MultiBackend))]
pub struct TaskFilterRow {
    /// Primary key.
    pub id: i32,
    /// Task base table names, CSV with every item quoted; `""` = all.
    pub task_types: Option<String>,
    /// Only task types offering trackers.
    pub tasks_offering_trackers_only: Option<bool>,
    /// Only tasks with a patient.
    pub tasks_with_patient_only: Option<bool>,
    /// Surname (case-insensitive exact match).
    pub surname: Option<String>,
    /// Forename (case-insensitive exact match).
    pub forename: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex (case-insensitive).
    pub sex: Option<String>,
    /// ID number criteria as flat pairs `which,value,which,value`.
    pub idnum_criteria: Option<String>,
    /// Device ids, `1,2,3`.
    pub device_ids: Option<String>,
    /// Adding (uploading) user ids, `1,2,3`.
    pub user_ids: Option<String>,
    /// Group ids, `1,2,3`.
    pub group_ids: Option<String>,
    /// Inclusive lower bound on creation time (ISO 8601 with offset).
    pub start_datetime_iso8601: Option<String>,
    /// Exclusive upper bound on creation time (ISO 8601 with offset).
    pub end_datetime_iso8601: Option<String>,
    /// Text phrases, CSV with every item quoted.
    pub text_contents: Option<String>,
    /// Only complete tasks.
    pub complete_only: Option<bool>,
}

/// All stored columns but the key; `None` is written as NULL.
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = _task_filters, treat_none_as_null = true)]
struct TaskFilterValues {
    task_types: Option<String>,
    tasks_offering_trackers_only: Option<bool>,
    tasks_with_patient_only: Option<bool>,
    surname: Option<String>,
    forename: Option<String>,
    dob: Option<NaiveDate>,
    sex: Option<String>,
    idnum_criteria: Option<String>,
    device_ids: Option<String>,
    user_ids: Option<String>,
    group_ids: Option<String>,
    start_datetime_iso8601: Option<String>,
    end_datetime_iso8601: Option<String>,
    text_contents: Option<String>,
    complete_only: Option<bool>,
}

/// One ID number criterion: patients with this ID number type and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdNumReference {
    /// Which ID number (`_idnum_definitions.which_idnum`).
    pub which_idnum: i32,
    /// The value.
    pub idnum_value: i64,
}

/// A task filter with decoded columns. `Default` is a new, empty filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Task base table names; empty = all types.
    pub task_types: Vec<String>,
    /// Only task types offering trackers (not settable from the filter form).
    pub tasks_offering_trackers_only: Option<bool>,
    /// Only tasks with a patient (not settable from the filter form).
    pub tasks_with_patient_only: Option<bool>,
    /// Surname, matched exactly but case-insensitively; empty = any.
    pub surname: Option<String>,
    /// Forename, as surname.
    pub forename: Option<String>,
    /// Date of birth, exact.
    pub dob: Option<NaiveDate>,
    /// Sex, case-insensitive; empty = any.
    pub sex: Option<String>,
    /// ID number criteria, OR-ed.
    pub idnum_criteria: Vec<IdNumReference>,
    /// Source devices; empty = any.
    pub device_ids: Vec<i32>,
    /// Adding (uploading) users; empty = any.
    pub adding_user_ids: Vec<i32>,
    /// Groups; empty = any the user may see.
    pub group_ids: Vec<i32>,
    /// Tasks created at or after this time.
    pub start_datetime: Option<DateTime<FixedOffset>>,
    /// Tasks created before this time (exclusive).
    pub end_datetime: Option<DateTime<FixedOffset>>,
    /// Phrases that must all appear in a task's text.
    pub text_contents: Vec<String>,
    /// Only complete tasks.
    pub complete_only: Option<bool>,
}

/// Names for the ids a filter mentions, for [`TaskFilter::description`].
#[derive(Debug, Clone, Default)]
pub struct FilterNames {
    /// ID number short descriptions by `which_idnum`.
    pub idnums: HashMap<i32, String>,
    /// Device display names by id.
    pub devices: HashMap<i32, String>,
    /// Usernames by id.
    pub users: HashMap<i32, String>,
    /// Group names by id.
    pub groups: HashMap<i32, String>,
}

impl FilterNames {
    /// Loads the names of everything `filter` refers to.
    pub fn load(conn: &mut DbConnection, filter: &TaskFilter) -> QueryResult<FilterNames> {
        let mut names = FilterNames::default();
        if !filter.idnum_criteria.is_empty() {
            for d in IdNumDefinition::all(conn)? {
                names.idnums.insert(d.which_idnum, d.short_name());
            }
        }
        if !filter.device_ids.is_empty() {
            for d in Device::with_ids(conn, &filter.device_ids)? {
                names.devices.insert(d.id, d.display_name());
            }
        }
        if !filter.adding_user_ids.is_empty() {
            for u in User::with_ids(conn, &filter.adding_user_ids)? {
                names.users.insert(u.id, u.username);
            }
        }
        if !filter.group_ids.is_empty() {
            for g in Group::with_ids(conn, &filter.group_ids)? {
                names.groups.insert(g.id, g.name);
            }
        }
        Ok(names)
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

impl TaskFilter {
    /// Decodes a stored row; unreadable list or date values become empty.
    pub fn from_row(row: &TaskFilterRow) -> TaskFilter {
        fn text(s: &Option<String>) -> &str {
            s.as_deref().unwrap_or("")
        }
        TaskFilter {
            task_types: decode_string_list(text(&row.task_types)),
            tasks_offering_trackers_only: row.tasks_offering_trackers_only,
            tasks_with_patient_only: row.tasks_with_patient_only,
            surname: row.surname.clone(),
            forename: row.forename.clone(),
            dob: row.dob,
            sex: row.sex.clone(),
            idnum_criteria: decode_idnum_list(text(&row.idnum_criteria)),
            device_ids: decode_int_list(text(&row.device_ids)),
            adding_user_ids: decode_int_list(text(&row.user_ids)),
            group_ids: decode_int_list(text(&row.group_ids)),
            start_datetime: row
                .start_datetime_iso8601
                .as_deref()
                .and_then(decode_datetime),
            end_datetime: row
                .end_datetime_iso8601
                .as_deref()
                .and_then(decode_datetime),
            text_contents: decode_string_list(text(&row.text_contents)),
            complete_only: row.complete_only,
        }
    }

    fn values(&self) -> TaskFilterValues {
        TaskFilterValues {
            task_types: Some(encode_string_list(&self.task_types)),
            tasks_offering_trackers_only: self.tasks_offering_trackers_only,
            tasks_with_patient_only: self.tasks_with_patient_only,
            surname: self.surname.clone(),
            forename: self.forename.clone(),
            dob: self.dob,
            sex: self.sex.clone(),
            idnum_criteria: Some(encode_idnum_list(&self.idnum_criteria)),
            device_ids: Some(encode_int_list(&self.device_ids)),
            user_ids: Some(encode_int_list(&self.adding_user_ids)),
            group_ids: Some(encode_int_list(&self.group_ids)),
            start_datetime_iso8601: self.start_datetime.as_ref().map(encode_datetime),
            end_datetime_iso8601: self.end_datetime.as_ref().map(encode_datetime),
            text_contents: Some(encode_string_list(&self.text_contents)),
            complete_only: self.complete_only,
        }
    }

    /// Loads and decodes filter `id`.
    pub fn load(conn: &mut DbConnection, id: i32) -> QueryResult<Option<TaskFilter>> {
        let row = _task_filters::table
            .find(id)
            .select(TaskFilterRow::as_select())
            .get_result(conn)
            .optional()?;
        Ok(row.as_ref().map(TaskFilter::from_row))
    }

    /// Inserts a new filter (lists stored as `""`, everything else NULL) and returns its id.
    pub fn insert_empty(conn: &mut DbConnection) -> QueryResult<i32> {
        diesel::insert_into(_task_filters::table)
            .values(TaskFilter::default().values())
            .execute(conn)?;
        last_insert_id(conn)
    }

    /// Stores `filter` as filter `id`; returns the number of rows changed (0 if none).
    pub fn save(conn: &mut DbConnection, id: i32, filter: &TaskFilter) -> QueryResult<usize> {
        diesel::update(_task_filters::table.find(id))
            .set(filter.values())
            .execute(conn)
    }

    /// Clears stored filter `id` as [`TaskFilter::clear`] does.
    pub fn clear_stored(conn: &mut DbConnection, id: i32) -> QueryResult<usize> {
        match TaskFilter::load(conn, id)? {
            Some(mut f) => {
                f.clear();
                TaskFilter::save(conn, id, &f)
            }
            None => Ok(0),
        }
    }

    /// Deletes filter `id` (the caller first unlinks any session that points to it).
    pub fn delete(conn: &mut DbConnection, id: i32) -> QueryResult<usize> {
        diesel::delete(_task_filters::table.find(id)).execute(conn)
    }

    /// Resets every criterion the filter form sets; like the original, leaves
    /// `tasks_offering_trackers_only` and `tasks_with_patient_only` alone.
    pub fn clear(&mut self) {
        *self = TaskFilter {
            tasks_offering_trackers_only: self.tasks_offering_trackers_only,
            tasks_with_patient_only: self.tasks_with_patient_only,
            ..TaskFilter::default()
        };
    }

    /// The surname to match, if any.
    pub fn surname_criterion(&self) -> Option<&str> {
        non_empty(&self.surname)
    }

    /// The forename to match, if any.
    pub fn forename_criterion(&self) -> Option<&str> {
        non_empty(&self.forename)
    }

    /// The sex to match, if any.
    pub fn sex_criterion(&self) -> Option<&str> {
        non_empty(&self.sex)
    }

    /// Whether a criterion that picks out one or a few patients is set (surname, forename,
    /// DOB or ID number; not sex). Without one, the unfiltered-patient rules apply.
    pub fn any_specific_patient_filtering(&self) -> bool {
        self.surname_criterion().is_some()
            || self.forename_criterion().is_some()
            || self.dob.is_some()
            || !self.idnum_criteria.is_empty()
    }

    /// Whether any patient criterion is set (the specific ones or sex); such a filter
    /// excludes anonymous tasks.
    pub fn any_patient_filtering(&self) -> bool {
        self.any_specific_patient_filtering() || self.sex_criterion().is_some()
    }

    /// Whether anonymous tasks are left out: "tasks with a patient only", or any patient
    /// criterion (CamCOPS' `skip_anonymous_tasks`).
    pub fn skip_anonymous_tasks(&self) -> bool {
        self.tasks_with_patient_only.unwrap_or(false) || self.any_patient_filtering()
    }

    /// Whether the end is before the start (then nothing can match).
    pub fn dates_inconsistent(&self) -> bool {
        matches!((self.start_datetime, self.end_datetime), (Some(s), Some(e)) if e < s)
    }

    /// Start bound as naive UTC.
    pub fn start_utc(&self) -> Option<NaiveDateTime> {
        self.start_datetime.map(|d| d.naive_utc())
    }

    /// End bound as naive UTC.
    pub fn end_utc(&self) -> Option<NaiveDateTime> {
        self.end_datetime.map(|d| d.naive_utc())
    }

    /// Whether no criterion at all is set.
    pub fn is_empty(&self) -> bool {
        self.task_types.is_empty()
            && !self.tasks_offering_trackers_only.unwrap_or(false)
            && !self.tasks_with_patient_only.unwrap_or(false)
            && !self.any_patient_filtering()
            && self.device_ids.is_empty()
            && self.adding_user_ids.is_empty()
            && self.group_ids.is_empty()
            && self.start_datetime.is_none()
            && self.end_datetime.is_none()
            && self.text_contents.is_empty()
            && !self.complete_only.unwrap_or(false)
    }

    /// One line per criterion for the task list page, or `["[No filters.]"]`. The end bound
    /// reads "Created < end" because it is exclusive (the original wrongly showed "≤").
    pub fn description(&self, names: &FilterNames) -> Vec<String> {
        let mut out = Vec::new();
        if !self.task_types.is_empty() {
            let types: Vec<&str> = self
                .task_types
                .iter()
                .map(|t| task_registry::display_name(t))
                .collect();
            out.push(format!("Task is one of: {}", types.join(", ")));
        }
        if self.tasks_offering_trackers_only.unwrap_or(false) {
            out.push("Only tasks offering trackers".to_owned());
        }
        if self.tasks_with_patient_only.unwrap_or(false) {
            out.push("Only tasks with a patient".to_owned());
        }
        if let Some(s) = self.surname_criterion() {
            out.push(format!("Surname = {s}"));
        }
        if let Some(s) = self.forename_criterion() {
            out.push(format!("Forename = {s}"));
        }
        if let Some(d) = self.dob {
            out.push(format!("DOB = {}", d.format("%Y-%m-%d")));
        }
        if let Some(s) = self.sex_criterion() {
            out.push(format!("Sex = {s}"));
        }
        if !self.idnum_criteria.is_empty() {
            let ids: Vec<String> = self
                .idnum_criteria
                .iter()
                .map(|r| {
                    let name = names
                        .idnums
                        .get(&r.which_idnum)
                        .cloned()
                        .unwrap_or_else(|| format!("ID{}", r.which_idnum));
                    format!("{name} = {}", r.idnum_value)
                })
                .collect();
            out.push(format!("ID number is one of: {}", ids.join(", ")));
        }
        let named = |ids: &[i32], map: &HashMap<i32, String>| -> String {
            let v: Vec<String> = ids
                .iter()
                .map(|id| map.get(id).cloned().unwrap_or_else(|| format!("#{id}")))
                .collect();
            v.join(", ")
        };
        if !self.device_ids.is_empty() {
            out.push(format!(
                "Device is one of: {}",
                named(&self.device_ids, &names.devices)
            ));
        }
        if !self.adding_user_ids.is_empty() {
            out.push(format!(
                "Adding user is one of: {}",
                named(&self.adding_user_ids, &names.users)
            ));
        }
        if !self.group_ids.is_empty() {
            out.push(format!(
                "Group is one of: {}",
                named(&self.group_ids, &names.groups)
            ));
        }
        if let Some(d) = self.start_datetime {
            out.push(format!("Created ≥ {}", d.format("%Y-%m-%d %H:%M:%S %:z")));
        }
        if let Some(d) = self.end_datetime {
            out.push(format!("Created < {}", d.format("%Y-%m-%d %H:%M:%S %:z")));
        }
        if !self.text_contents.is_empty() {
            let phrases: Vec<String> = self
                .text_contents
                .iter()
                .map(|p| format!("“{p}”"))
                .collect();
            out.push(format!("Text contains all of: {}", phrases.join(", ")));
        }
        if self.complete_only.unwrap_or(false) {
            out.push("Only complete tasks".to_owned());
        }
        if out.is_empty() {
            out.push("[No filters.]".to_owned());
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Column encodings (§1.2)
// ---------------------------------------------------------------------------------------------

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

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

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

    #[test]
    fn row_with_bad_values_decodes_to_empty_lists() {
        let row = TaskFilterRow {
            id: 1,
            task_types: Some("phq9\nbmi".into()),
            tasks_offering_trackers_only: None,
            tasks_with_patient_only: None,
            surname: None,
            forename: None,
            dob: None,
            sex: None,
            idnum_criteria: Some("1,2,3".into()),
            device_ids: Some("x".into()),
            user_ids: None,
            group_ids: Some("1,2".into()),
            start_datetime_iso8601: Some("garbage".into()),
            end_datetime_iso8601: None,
            text_contents: Some(String::new()),
            complete_only: None,
        };
        let f = TaskFilter::from_row(&row);
        assert!(f.task_types.is_empty());
        assert!(f.idnum_criteria.is_empty());
        assert!(f.device_ids.is_empty());
        assert_eq!(f.group_ids, vec![1, 2]);
        assert!(f.start_datetime.is_none());
    }

    #[test]
    fn clear_keeps_the_two_only_flags_and_description_reads_well() {
        let mut f = TaskFilter {
            task_types: strings(&["phq9", "nonesuch"]),
            tasks_with_patient_only: Some(true),
            surname: Some("Smith".into()),
            sex: Some(String::new()),
            group_ids: vec![3],
            end_datetime: DateTime::parse_from_rfc3339("2025-01-01T00:00:00+00:00").ok(),
            complete_only: Some(true),
            ..TaskFilter::default()
        };
        assert!(!f.is_empty());
        assert!(f.any_specific_patient_filtering());
        let mut names = FilterNames::default();
        names.groups.insert(3, "research".into());
        let d = f.description(&names);
        assert_eq!(
            d,
            strings(&[
                "Task is one of: PHQ-9, nonesuch",
                "Only tasks with a patient",
                "Surname = Smith",
                "Group is one of: research",
                "Created < 2025-01-01 00:00:00 +00:00",
                "Only complete tasks",
            ])
        );
        f.clear();
        assert_eq!(f.tasks_with_patient_only, Some(true));
        assert!(f.task_types.is_empty() && f.surname.is_none() && f.complete_only.is_none());
        f.tasks_with_patient_only = None;
        assert!(f.is_empty());
        assert_eq!(f.description(&names), strings(&["[No filters.]"]));
    }
}
