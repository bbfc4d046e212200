//! `_task_filters`: a session's task filter (sessions §1.7): the stored row, a typed [`TaskFilter`] with
//! the original's column encodings, and the text that describes a filter on the task list.

mod codec;
mod describe;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

pub use codec::{
    decode_datetime, decode_idnum_list, decode_int_list, decode_string_list, encode_datetime,
    encode_idnum_list, encode_int_list, encode_string_list, IdNumReference,
};
pub use describe::{quoted_phrases, FilterNames};

use crate::db::schema::_task_filters;
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// One row of `_task_filters`, as stored. Also what is written: the key is never inserted
/// or updated, and `None` is written as NULL.
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable, AsChangeset,
)]
#[diesel(
    table_name = _task_filters,
    check_for_backend(MultiBackend),
    treat_none_as_null = true
)]
pub struct TaskFilterRow {
    /// Primary key.
    #[diesel(skip_insertion)]
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

    /// The row that stores this filter (`id` is left 0: it is never written).
    fn values(&self) -> TaskFilterRow {
        TaskFilterRow {
            id: 0,
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
}

/// Owned copies of `v` (tests build task type and phrase lists with it).
#[cfg(test)]
pub(crate) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
