//! `_task_index` (one row per current task, sessions §1.11) and the task list query behind
//! `/view_tasks` (sessions §4.5): what a user may see, the filter criteria of sessions §1.7, newest first, one
//! page at a time.
//!
//! Query plan, chosen to stay fast on millions of tasks and to cost few round trips (a page
//! is at most three statements here, see tests/it/statement_budget.rs):
//! 0. the filter's patient criteria, if any, looked up in `patient`/`_idnum_index` (see below);
//! 1. a *capped* count: `SELECT COUNT(*) FROM (SELECT 1 … WHERE … LIMIT n)`, with `n` at least
//!    [`COUNT_CAP`] + 1 and at least one row past the requested page, so the page number can be
//!    clamped when the total is small and the count stops early when it is large ("more than
//!    1,000 tasks": counting further costs time in proportion and tells a reader nothing a
//!    pager can use); the same statement reads the largest key, to choose the plan of 2;
//! 2. one statement for the page: its keys from `_task_index` alone in a derived table, so
//!    skipped rows are never joined (with few matches sorted; with many, by walking the
//!    `when_created_utc` index newest first, see `page_keys`), joined to the display columns
//!    (patient, device, adding user, group) and the patients' ID numbers with their names.
//!
//! Lists of values (groups, task types, patient keys) are bound as `IN (?, …)` lists whose
//! length is rounded up to a power of two (`sql::InList`), so each statement's text takes few
//! forms and its prepared statement is reused from request to request.
//!
//! Every criterion is a condition on `_task_index` columns. Patient criteria (demographics, ID
//! numbers) are looked up first, through the expression indexes on `upper(surname)` and
//! `upper(forename)`, and become `patient_pk IN (keys)` when they match at most
//! `PATIENT_KEYS_MAX` patients, `patient_pk IN (subquery)` when more.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::db::schema::_task_index;
use crate::db::{DbConnection, MultiBackend};
use crate::models::group::{Group, Membership};
use crate::models::patient::format_patient_name;
use crate::models::task_filter::TaskFilter;
use crate::models::user::User;

mod criteria;
mod page;
mod sql;

pub use criteria::PATIENT_KEYS_MAX;
pub use page::query_tasks;
pub(crate) use sql::CountOf;

/// The count stops after this many matching tasks (then the page says "more than").
pub const COUNT_CAP: i64 = 1_000;
/// Largest page size accepted; larger requests are cut to this.
pub const MAX_PER_PAGE: i64 = 1_000;

diesel::define_sql_function! {
    /// SQL `UPPER()`.
    fn upper(x: Nullable<Text>) -> Nullable<Text>;
}

/// One row of `_task_index`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _task_index, primary_key(index_entry_pk), check_for_backend(MultiBackend))]
pub struct TaskIndexEntry {
    /// Primary key.
    pub index_entry_pk: i32,
    /// When indexed (naive UTC).
    pub indexed_at_utc: NaiveDateTime,
    /// Task base table name.
    pub task_table_name: Option<String>,
    /// The task's `_pk` in its table.
    pub task_pk: Option<i32>,
    /// The patient; `None` for an anonymous task.
    pub patient_pk: Option<i32>,
    /// Source device.
    pub device_id: i32,
    /// Era (`NOW` while live on the tablet).
    pub era: String,
    /// Creation time (naive UTC).
    pub when_created_utc: NaiveDateTime,
    /// Creation time as ISO text with the tablet's offset.
    pub when_created_iso: String,
    /// Start of the upload batch that added it (naive UTC).
    pub when_added_batch_utc: NaiveDateTime,
    /// Uploading user.
    pub adding_user_id: Option<i32>,
    /// Owning group.
    pub group_id: i32,
    /// Whether the server judged the task complete.
    pub task_is_complete: bool,
}

/// A task index entry to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = _task_index)]
pub struct NewTaskIndexEntry<'a> {
    /// When indexed.
    pub indexed_at_utc: NaiveDateTime,
    /// Task table.
    pub task_table_name: &'a str,
    /// Task `_pk`.
    pub task_pk: Option<i32>,
    /// Patient (`None` = anonymous).
    pub patient_pk: Option<i32>,
    /// Device.
    pub device_id: i32,
    /// Era.
    pub era: &'a str,
    /// Creation time (naive UTC).
    pub when_created_utc: NaiveDateTime,
    /// Creation time, ISO text.
    pub when_created_iso: &'a str,
    /// Upload batch time.
    pub when_added_batch_utc: NaiveDateTime,
    /// Uploading user.
    pub adding_user_id: Option<i32>,
    /// Group.
    pub group_id: i32,
    /// Complete flag.
    pub task_is_complete: bool,
}

impl TaskIndexEntry {
    /// Inserts one entry.
    pub fn insert(conn: &mut DbConnection, new: &NewTaskIndexEntry<'_>) -> QueryResult<usize> {
        diesel::insert_into(_task_index::table)
            .values(new)
            .execute(conn)
    }

    /// Number of index rows.
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        _task_index::table.count().get_result(conn)
    }
}

/// Which patients' tasks a user sees when no surname, forename, DOB or ID number is filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnfilteredPatients {
    /// Every task (superuser, or every membership has `view_all_patients_when_unfiltered`).
    All,
    /// Anonymous tasks only (no membership has the flag).
    AnonymousOnly,
    /// Anonymous tasks, and tasks of these groups (the memberships that have the flag).
    AnonymousAndGroups(Vec<i32>),
}

/// What a user may see in the task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// Superuser: every group.
    pub all_groups: bool,
    /// Otherwise the groups the user may see (own groups and those they can see); empty =
    /// no tasks at all.
    pub group_ids: Vec<i32>,
    /// The rule when no specific patient is filtered.
    pub unfiltered: UnfilteredPatients,
}

impl Visibility {
    /// A superuser's view: everything.
    pub fn superuser() -> Visibility {
        Visibility {
            all_groups: true,
            group_ids: Vec::new(),
            unfiltered: UnfilteredPatients::All,
        }
    }

    /// Builds the view of a non-superuser from their memberships and the ids of the groups
    /// their groups can see (sessions §1.4).
    pub fn from_memberships(memberships: &[Membership], seen_groups: &[i32]) -> Visibility {
        let mut group_ids: Vec<i32> = memberships.iter().filter_map(|m| m.group_id).collect();
        group_ids.extend_from_slice(seen_groups);
        group_ids.sort_unstable();
        group_ids.dedup();
        let flagged = |m: &&Membership| m.flags.or_false().view_all_patients_when_unfiltered;
        let n_flagged = memberships.iter().filter(flagged).count();
        let unfiltered = if n_flagged == memberships.len() {
            UnfilteredPatients::All
        } else if n_flagged == 0 {
            UnfilteredPatients::AnonymousOnly
        } else {
            let mut ids: Vec<i32> = memberships
                .iter()
                .filter(flagged)
                .filter_map(|m| m.group_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            UnfilteredPatients::AnonymousAndGroups(ids)
        };
        Visibility {
            all_groups: false,
            group_ids,
            unfiltered,
        }
    }

    /// Loads what `user` may see.
    pub fn for_user(conn: &mut DbConnection, user: &User) -> QueryResult<Visibility> {
        if user.is_superuser() {
            return Ok(Visibility::superuser());
        }
        let memberships = Membership::for_user(conn, user.id)?;
        let own: Vec<i32> = memberships.iter().filter_map(|m| m.group_id).collect();
        let seen = if own.is_empty() {
            Vec::new()
        } else {
            Group::ids_seen_by(conn, &own)?
        };
        Ok(Visibility::from_memberships(&memberships, &seen))
    }

    /// Whether the user can see no task whatever the filter (a non-superuser without groups).
    pub fn sees_nothing(&self) -> bool {
        !self.all_groups && self.group_ids.is_empty()
    }

    /// Whether the page should explain that, for lack of a patient filter, only anonymous
    /// tasks (or only some groups' patients) are shown.
    pub fn restricted_when_unfiltered(&self, filter: &TaskFilter) -> bool {
        !filter.any_specific_patient_filtering() && self.unfiltered != UnfilteredPatients::All
    }
}

/// The patient columns of a task row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSummary {
    /// `patient._pk`.
    pub pk: i32,
    /// Surname.
    pub surname: Option<String>,
    /// Forename.
    pub forename: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<String>,
    /// `(which_idnum, value)` pairs, by number.
    pub idnums: Vec<(i32, Option<i64>)>,
}

impl PatientSummary {
    /// "SURNAME, Forename".
    pub fn display_name(&self) -> String {
        format_patient_name(self.surname.as_deref(), self.forename.as_deref())
    }
}

/// One task of the list, joined for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// `_task_index.index_entry_pk`.
    pub index_entry_pk: i32,
    /// Task base table name.
    pub task_table_name: String,
    /// Short display name of the task type.
    pub task_display_name: String,
    /// The task's `_pk`.
    pub task_pk: Option<i32>,
    /// The patient, or `None` for an anonymous task.
    pub patient: Option<PatientSummary>,
    /// Creation time (naive UTC).
    pub when_created_utc: NaiveDateTime,
    /// Creation time as the tablet recorded it (ISO, with offset).
    pub when_created_iso: String,
    /// Whether the task is still live on its tablet (era `NOW`).
    pub live_on_tablet: bool,
    /// Device name (friendly name if set).
    pub device_name: Option<String>,
    /// Uploading user's username.
    pub adding_username: Option<String>,
    /// Group id.
    pub group_id: i32,
    /// Group name.
    pub group_name: Option<String>,
    /// Complete flag.
    pub task_is_complete: bool,
}

/// Names of ID numbers (`which_idnum` → short description, else description, else `ID<n>`).
pub type IdNumNames = std::collections::BTreeMap<i32, String>;

/// One page of the task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The tasks of this page, newest first.
    pub rows: Vec<TaskRow>,
    /// The names of the ID numbers the rows show.
    pub idnum_names: IdNumNames,
    /// The page shown (1-based), clamped to the pages that exist when the total is exact.
    pub page: i64,
    /// Tasks per page (after clamping to 1..=[`MAX_PER_PAGE`]).
    pub per_page: i64,
    /// Matching tasks: exact if `total_is_exact`, else there are *more than* this many.
    pub total: i64,
    /// Whether `total` is exact (the count was not capped).
    pub total_is_exact: bool,
    /// The filter has text phrases, which the index cannot evaluate (there are no task
    /// tables here); they were not applied and the page should say so.
    pub text_filter_not_applied: bool,
}

impl TaskPage {
    fn empty(per_page: i64, text_filter_not_applied: bool) -> TaskPage {
        TaskPage {
            rows: Vec::new(),
            idnum_names: IdNumNames::new(),
            page: 1,
            per_page,
            total: 0,
            total_is_exact: true,
            text_filter_not_applied,
        }
    }

    /// The last page, when the total is exact (at least 1).
    pub fn last_page(&self) -> Option<i64> {
        self.total_is_exact
            .then(|| ((self.total + self.per_page - 1) / self.per_page).max(1))
    }

    /// Pages known to exist (all of them when the total is exact).
    pub fn known_pages(&self) -> i64 {
        let n = (self.total + self.per_page - 1) / self.per_page;
        if self.total_is_exact {
            n.max(1)
        } else {
            n.max(self.page + 1)
        }
    }

    /// Whether a later page exists.
    pub fn has_next(&self) -> bool {
        self.page < self.known_pages()
    }
}
