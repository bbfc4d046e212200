//! `_task_index` (one row per current task, §1.11) and the task list query behind
//! `/view_tasks` (§4.5): what a user may see, the filter criteria of §1.7, newest first, one
//! page at a time.
//!
//! Query plan, chosen to stay fast on millions of tasks:
//! 0. the filter's patient criteria, if any, looked up in `patient`/`_idnum_index` (see below);
//! 1. a *capped* count: `SELECT COUNT(*) FROM (SELECT 1 … WHERE … LIMIT n)`, with `n` at least
//!    [`COUNT_CAP`] + 1 and at least one row past the requested page, so the page number can be
//!    clamped when the total is small and the count stops early when it is large ("more than
//!    1,000 tasks": counting further costs time in proportion and tells a reader nothing a
//!    pager can use);
//! 2. the page's keys from `_task_index` alone, so skipped rows are never joined: with few
//!    matches in one sorted statement; with many, by walking the `when_created_utc` index
//!    newest first (see `page_keys`);
//! 3. the display columns for those keys (patient, device, adding user, group), and the
//!    patients' ID numbers.
//!
//! Every criterion is a condition on `_task_index` columns. Patient criteria (demographics, ID
//! numbers) are looked up first, through the expression indexes on `upper(surname)` and
//! `upper(forename)`, and become `patient_pk IN (keys)` when they match at most
//! `PATIENT_KEYS_MAX` patients, `patient_pk IN (subquery)` when more.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};

use crate::db::schema::{
    _idnum_index, _security_devices, _security_groups, _security_users, _task_index, patient,
};
use crate::db::{Backend, DbConnection, MultiBackend};
use crate::models::group::{Group, Membership};
use crate::models::idnum::IdNumIndexEntry;
use crate::models::patient::{format_patient_name, ERA_NOW};
use crate::models::task_filter::TaskFilter;
use crate::models::task_registry;
use crate::models::user::User;

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
    /// their groups can see (§1.4).
    pub fn from_memberships(memberships: &[Membership], seen_groups: &[i32]) -> Visibility {
        let mut group_ids: Vec<i32> = memberships.iter().filter_map(|m| m.group_id).collect();
        group_ids.extend_from_slice(seen_groups);
        group_ids.sort_unstable();
        group_ids.dedup();
        let flagged = |m: &&Membership| m.view_all_patients_when_unfiltered.unwrap_or(false);
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

/// One page of the task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The tasks of this page, newest first.
    pub rows: Vec<TaskRow>,
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

/// `SELECT COUNT(*) FROM (<inner>) AS capped_count`.
#[derive(Debug, Clone, QueryId)]
struct CountOf<Q>(Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for CountOf<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS capped_count");
        Ok(())
    }
}

impl<Q> Query for CountOf<Q> {
    type SqlType = BigInt;
}

impl<Q> RunQueryDsl<DbConnection> for CountOf<Q> {}

/// `<lhs> IN (<subquery>)`. Diesel's own `eq_any(subquery)` needs the subquery to render for
/// every backend, which a query boxed for `MultiBackend` cannot; this renders through it.
#[derive(Debug, Clone, QueryId)]
struct InSubquery<L, S>(L, S);

impl<L: Expression, S> Expression for InSubquery<L, S> {
    type SqlType = Bool;
}

impl<L, S> QueryFragment<MultiBackend> for InSubquery<L, S>
where
    L: QueryFragment<MultiBackend>,
    S: QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        self.1.walk_ast(out.reborrow())?;
        out.push_sql("))");
        Ok(())
    }
}

impl<L: AppearsOnTable<QS>, S, QS> AppearsOnTable<QS> for InSubquery<L, S> {}

impl<L: SelectableExpression<QS>, S, QS> SelectableExpression<QS> for InSubquery<L, S> {}

impl<L, S> ValidGrouping<()> for InSubquery<L, S> {
    type IsAggregate = is_aggregate::Never;
}

/// A column that SQLite must not use an index for when the flag is set: rendered `+col`, which
/// leaves the value alone but hides the column from the planner. The task list uses it to make
/// SQLite walk the `when_created_utc` index (newest first) when many rows match, instead of
/// collecting every match through another index and sorting them all.
#[derive(Debug, Clone, Copy)]
struct NoIndex<C>(C, bool);

// The SQL depends on the flag, so no type-based statement caching.
impl<C> QueryId for NoIndex<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: Expression> Expression for NoIndex<C> {
    type SqlType = C::SqlType;
}

impl<DB: diesel::backend::Backend, C: QueryFragment<DB>> QueryFragment<DB> for NoIndex<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.1 {
            out.push_sql("+");
        }
        self.0.walk_ast(out)
    }
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for NoIndex<C> {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for NoIndex<C> {}

impl<C: ValidGrouping<()>> ValidGrouping<()> for NoIndex<C> {
    type IsAggregate = C::IsAggregate;
}

type TaskQuery = _task_index::BoxedQuery<'static, MultiBackend>;

/// The task types the filter allows: `None` = every type, `Some(empty)` = none.
fn permitted_types(filter: &TaskFilter) -> Option<Vec<String>> {
    let trackers_only = filter.tasks_offering_trackers_only.unwrap_or(false);
    if filter.task_types.is_empty() && !trackers_only {
        return None;
    }
    let start: Vec<String> = if filter.task_types.is_empty() {
        task_registry::all()
            .iter()
            .map(|t| t.table.to_owned())
            .collect()
    } else {
        filter.task_types.clone()
    };
    Some(
        start
            .into_iter()
            .filter(|t| {
                !trackers_only || task_registry::lookup(t).is_some_and(|tt| tt.provides_trackers)
            })
            .collect(),
    )
}

/// Patient criteria resolved to patient keys when they match at most this many patients; more
/// stay subqueries.
pub const PATIENT_KEYS_MAX: i64 = 1_000;

type PatientQuery = patient::BoxedQuery<'static, MultiBackend, Nullable<Integer>>;
type IdNumQuery = _idnum_index::BoxedQuery<'static, MultiBackend, Nullable<Integer>>;

/// `patient` rows matching the filter's demographic criteria (surname, forename, DOB, sex);
/// `None` when it has none.
fn demographics_query(backend: Backend, filter: &TaskFilter) -> Option<PatientQuery> {
    let (surname, forename, sex) = (
        filter.surname_criterion(),
        filter.forename_criterion(),
        filter.sex_criterion(),
    );
    if surname.is_none() && forename.is_none() && sex.is_none() && filter.dob.is_none() {
        return None;
    }
    let mut p = patient::table
        .select(patient::_pk.nullable())
        .into_boxed::<MultiBackend>();
    // MariaDB's utf8mb4_unicode_ci collation already compares case-insensitively, and
    // plain equality can use the plain index there (it has no expression indexes).
    let ci_collation = backend == Backend::Mysql;
    if let Some(s) = surname {
        p = if ci_collation {
            p.filter(patient::surname.eq(s.to_owned()))
        } else {
            p.filter(upper(patient::surname).eq(upper(s.to_owned())))
        };
    }
    if let Some(f) = forename {
        p = if ci_collation {
            p.filter(patient::forename.eq(f.to_owned()))
        } else {
            p.filter(upper(patient::forename).eq(upper(f.to_owned())))
        };
    }
    if let Some(d) = filter.dob {
        p = p.filter(patient::dob.eq(d));
    }
    if let Some(s) = sex {
        p = p.filter(upper(patient::sex).eq(upper(s.to_owned())));
    }
    Some(p)
}

/// `_idnum_index` rows matching any of the filter's ID numbers; `None` when it has none.
fn idnum_query(filter: &TaskFilter) -> Option<IdNumQuery> {
    if filter.idnum_criteria.is_empty() {
        return None;
    }
    let mut ids = _idnum_index::table
        .select(_idnum_index::patient_pk)
        .into_boxed::<MultiBackend>();
    for (i, r) in filter.idnum_criteria.iter().enumerate() {
        let c = _idnum_index::which_idnum
            .eq(r.which_idnum)
            .and(_idnum_index::idnum_value.eq(r.idnum_value));
        ids = if i == 0 {
            ids.filter(c)
        } else {
            ids.or_filter(c)
        };
    }
    Some(ids)
}

/// How one group of patient criteria restricts `_task_index.patient_pk`.
enum PatientKeys {
    /// No such criteria.
    Any,
    /// The patients matching them (few): `patient_pk IN (list)`.
    Listed(Vec<i32>),
    /// Too many patients to list: `patient_pk IN (subquery)`.
    Subquery,
}

impl PatientKeys {
    /// Runs the criteria's subquery once, keeping its keys if there are few. With a list, the
    /// walk in creation order tests each row against it instead of probing `patient` per row
    /// (PostgreSQL, a surname on 0.4 % of a million tasks: the walk 8.2 → 0.6 ms).
    fn resolve<Q>(conn: &mut DbConnection, query: Option<Q>) -> QueryResult<PatientKeys>
    where
        Q: diesel::query_dsl::methods::LimitDsl<Output = Q>
            + diesel::query_dsl::LoadQuery<'static, DbConnection, Option<i32>>,
    {
        let Some(q) = query else {
            return Ok(PatientKeys::Any);
        };
        let mut keys: Vec<i32> = q
            .limit(PATIENT_KEYS_MAX + 1)
            .load::<Option<i32>>(conn)?
            .into_iter()
            .flatten()
            .collect();
        if keys.len() as i64 > PATIENT_KEYS_MAX {
            return Ok(PatientKeys::Subquery);
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(PatientKeys::Listed(keys))
    }
}

/// A boolean condition on `_task_index`, boxed.
type Condition = Box<dyn BoxableExpression<_task_index::table, MultiBackend, SqlType = Bool>>;

impl PatientKeys {
    /// `q` restricted to these patients (`subquery` builds the condition when they are too many
    /// to list); `None` when no patient matches.
    fn restrict(
        &self,
        q: TaskQuery,
        hint: bool,
        subquery: impl FnOnce() -> Option<Condition>,
    ) -> Option<TaskQuery> {
        match self {
            PatientKeys::Any => Some(q),
            PatientKeys::Listed(keys) if keys.is_empty() => None,
            PatientKeys::Listed(keys) => {
                Some(q.filter(NoIndex(_task_index::patient_pk, hint).eq_any(keys.clone())))
            }
            PatientKeys::Subquery => Some(q.filter(subquery()?)),
        }
    }
}

/// Everything that decides which tasks match: who is asking, the filter, and the filter's
/// patient criteria resolved once per request.
struct Criteria<'a> {
    backend: Backend,
    vis: &'a Visibility,
    filter: &'a TaskFilter,
    demographics: PatientKeys,
    idnums: PatientKeys,
}

impl<'a> Criteria<'a> {
    fn resolve(
        conn: &mut DbConnection,
        vis: &'a Visibility,
        filter: &'a TaskFilter,
    ) -> QueryResult<Criteria<'a>> {
        let backend = conn.backend();
        let demographics = PatientKeys::resolve(conn, demographics_query(backend, filter))?;
        let idnums = PatientKeys::resolve(conn, idnum_query(filter))?;
        Ok(Criteria {
            backend,
            vis,
            filter,
            demographics,
            idnums,
        })
    }

    /// `_task_index` restricted by visibility and filter; `None` when nothing can match.
    /// With `hint`, SQLite may use no index but the one on `when_created_utc` (see NoIndex).
    fn query(&self, hint: bool) -> Option<TaskQuery> {
        use _task_index::dsl as t;
        let (backend, vis, filter) = (self.backend, self.vis, self.filter);
        let h = hint && backend == Backend::Sqlite;

        if vis.sees_nothing() || filter.dates_inconsistent() {
            return None;
        }
        let mut q = _task_index::table.into_boxed::<MultiBackend>();
        if !vis.all_groups {
            q = q.filter(NoIndex(t::group_id, h).eq_any(vis.group_ids.clone()));
        }
        if let Some(types) = permitted_types(filter) {
            if types.is_empty() {
                return None;
            }
            q = q.filter(NoIndex(t::task_table_name, h).eq_any(types));
        }
        if filter.tasks_with_patient_only.unwrap_or(false) {
            q = q.filter(NoIndex(t::patient_pk, h).is_not_null());
        }
        if !filter.any_specific_patient_filtering() {
            match &vis.unfiltered {
                UnfilteredPatients::All => {}
                UnfilteredPatients::AnonymousOnly => {
                    q = q.filter(NoIndex(t::patient_pk, h).is_null())
                }
                UnfilteredPatients::AnonymousAndGroups(g) if g.is_empty() => {
                    q = q.filter(NoIndex(t::patient_pk, h).is_null())
                }
                UnfilteredPatients::AnonymousAndGroups(g) => {
                    q = q.filter(
                        NoIndex(t::patient_pk, h)
                            .is_null()
                            .or(NoIndex(t::group_id, h).eq_any(g.clone())),
                    )
                }
            }
        }
        q = self.demographics.restrict(q, h, || {
            let p = demographics_query(backend, filter)?;
            Some(Box::new(InSubquery(NoIndex(t::patient_pk, h), p)))
        })?;
        q = self.idnums.restrict(q, h, || {
            let ids = idnum_query(filter)?;
            Some(Box::new(InSubquery(NoIndex(t::patient_pk, h), ids)))
        })?;
        if !filter.device_ids.is_empty() {
            q = q.filter(NoIndex(t::device_id, h).eq_any(filter.device_ids.clone()));
        }
        if !filter.adding_user_ids.is_empty() {
            q = q.filter(NoIndex(t::adding_user_id, h).eq_any(filter.adding_user_ids.clone()));
        }
        if !filter.group_ids.is_empty() {
            q = q.filter(NoIndex(t::group_id, h).eq_any(filter.group_ids.clone()));
        }
        if let Some(start) = filter.start_utc() {
            q = q.filter(t::when_created_utc.ge(start));
        }
        if let Some(end) = filter.end_utc() {
            q = q.filter(t::when_created_utc.lt(end));
        }
        if filter.complete_only.unwrap_or(false) {
            q = q.filter(NoIndex(t::task_is_complete, h).eq(true));
        }
        Some(q)
    }
}

#[derive(Queryable)]
struct DetailRow {
    index_entry_pk: i32,
    task_table_name: Option<String>,
    task_pk: Option<i32>,
    patient_pk: Option<i32>,
    era: String,
    when_created_utc: NaiveDateTime,
    when_created_iso: String,
    group_id: i32,
    task_is_complete: bool,
    surname: Option<String>,
    forename: Option<String>,
    dob: Option<NaiveDate>,
    sex: Option<String>,
    device_name: Option<String>,
    device_friendly_name: Option<String>,
    adding_username: Option<String>,
    group_name: Option<String>,
}

fn load_details(conn: &mut DbConnection, keys: &[i32]) -> QueryResult<Vec<TaskRow>> {
    use _task_index::dsl as t;
    let details: Vec<DetailRow> = _task_index::table
        .left_join(patient::table.on(patient::_pk.nullable().eq(t::patient_pk)))
        .left_join(_security_devices::table.on(_security_devices::id.eq(t::device_id)))
        .left_join(_security_users::table.on(_security_users::id.nullable().eq(t::adding_user_id)))
        .left_join(_security_groups::table.on(_security_groups::id.eq(t::group_id)))
        .filter(t::index_entry_pk.eq_any(keys))
        .select((
            t::index_entry_pk,
            t::task_table_name,
            t::task_pk,
            t::patient_pk,
            t::era,
            t::when_created_utc,
            t::when_created_iso,
            t::group_id,
            t::task_is_complete,
            patient::surname.nullable(),
            patient::forename.nullable(),
            patient::dob.nullable(),
            patient::sex.nullable(),
            _security_devices::name.nullable(),
            _security_devices::friendly_name.nullable(),
            _security_users::username.nullable(),
            _security_groups::name.nullable(),
        ))
        .load(conn)?;
    let mut patient_pks: Vec<i32> = details.iter().filter_map(|d| d.patient_pk).collect();
    patient_pks.sort_unstable();
    patient_pks.dedup();
    let mut idnums: HashMap<i32, Vec<(i32, Option<i64>)>> = HashMap::new();
    for (pk, which, value) in IdNumIndexEntry::for_patients(conn, &patient_pks)? {
        idnums.entry(pk).or_default().push((which, value));
    }
    let mut by_key: HashMap<i32, TaskRow> = details
        .into_iter()
        .map(|d| {
            let table = d.task_table_name.unwrap_or_default();
            let row = TaskRow {
                index_entry_pk: d.index_entry_pk,
                task_display_name: task_registry::display_name(&table).to_owned(),
                task_table_name: table,
                task_pk: d.task_pk,
                patient: d.patient_pk.map(|pk| PatientSummary {
                    pk,
                    surname: d.surname,
                    forename: d.forename,
                    dob: d.dob,
                    sex: d.sex,
                    idnums: idnums.get(&pk).cloned().unwrap_or_default(),
                }),
                when_created_utc: d.when_created_utc,
                when_created_iso: d.when_created_iso,
                live_on_tablet: d.era == ERA_NOW,
                device_name: d
                    .device_friendly_name
                    .filter(|s| !s.is_empty())
                    .or(d.device_name),
                adding_username: d.adding_username,
                group_id: d.group_id,
                group_name: d.group_name,
                task_is_complete: d.task_is_complete,
            };
            (row.index_entry_pk, row)
        })
        .collect();
    let rows: Vec<TaskRow> = keys.iter().filter_map(|k| by_key.remove(k)).collect();
    Ok(rows)
}

/// The deepest page end for which the index walk loads the rows before the page (see
/// `page_keys`).
const HEAD_WALK_MAX: i64 = 250;

/// `ORDER BY` of the task list: newest first, ties by upload batch, then by key.
macro_rules! newest_first {
    () => {
        (
            _task_index::when_created_utc.desc(),
            _task_index::when_added_batch_utc.desc(),
            _task_index::index_entry_pk.desc(),
        )
    };
}

/// The keys of rows `offset..offset + per_page` in list order. `matching` is the count, a lower
/// bound when `capped`.
///
/// With few matches (`end × table rows > matches²`, `end` being the last row needed) they are
/// collected through the most selective index and sorted, in one statement.
///
/// When matches are common (that inequality fails, or the count was capped) the page is found
/// by walking the creation-time index newest first. For the first pages (`end` up to
/// [`HEAD_WALK_MAX`]) once: the first `end` matches in `when_created_utc` order (served by the
/// index), then the matches created at exactly the last one's time (an equality seek: the walk
/// may have stopped among rows of that time); the full order is applied to those rows here.
/// For deeper pages, without loading the rows before the page: the creation time of the last
/// row needed (`OFFSET end-1 LIMIT 1`), then the full order over the rows created at or after
/// it. SQLite serves the one-column order from its index
/// but not the full one (it then sorts far more than a page: over 300 ms on a million rows),
/// and left to itself it often collects every match through a less useful index and sorts
/// them all; the other criteria are hidden from its planner for the walk (see [`NoIndex`]).
///
/// On PostgreSQL the page is always one sorted statement: its planner walks the index itself
/// when that is cheaper (1 statement instead of 2 or 3 per page).
fn page_keys(
    conn: &mut DbConnection,
    criteria: &Criteria<'_>,
    (matching, capped): (i64, bool),
    offset: i64,
    per_page: i64,
) -> QueryResult<Vec<i32>> {
    use _task_index::dsl as t;
    let end = offset + per_page;
    // PostgreSQL's planner makes this choice well from its statistics (walking the creation-time
    // index with an incremental sort for ties, or collecting through a selective index), in
    // one statement; the steps below are for SQLite and MariaDB.
    let walk = criteria.backend != Backend::Postgres
        && (capped || {
            // The largest key approximates the table's size at the cost of one index probe.
            let table_rows = t::_task_index
                .select(diesel::dsl::max(t::index_entry_pk))
                .get_result::<Option<i32>>(conn)?
                .map_or(0, i64::from);
            i128::from(end) * i128::from(table_rows) <= i128::from(matching) * i128::from(matching)
        });
    if !walk {
        let Some(q) = criteria.query(false) else {
            return Ok(Vec::new());
        };
        return q
            .select(t::index_entry_pk)
            .order(newest_first!())
            .limit(per_page)
            .offset(offset)
            .load(conn);
    }
    if end > HEAD_WALK_MAX {
        // Deep pages: find the creation time of the last row needed without loading the rows
        // before it, then apply the full order to the rows created at or after it.
        let Some(q) = criteria.query(true) else {
            return Ok(Vec::new());
        };
        let Some(cutoff) = q
            .select(t::when_created_utc)
            .order(t::when_created_utc.desc())
            .offset(end - 1)
            .limit(1)
            .first::<NaiveDateTime>(conn)
            .optional()?
        else {
            return Ok(Vec::new());
        };
        let Some(q) = criteria.query(true) else {
            return Ok(Vec::new());
        };
        return q
            .filter(t::when_created_utc.ge(cutoff))
            .select(t::index_entry_pk)
            .order(newest_first!())
            .limit(per_page)
            .offset(offset)
            .load(conn);
    }
    type Key = (NaiveDateTime, NaiveDateTime, i32);
    let Some(q) = criteria.query(true) else {
        return Ok(Vec::new());
    };
    let head: Vec<Key> = q
        .select((
            t::when_created_utc,
            t::when_added_batch_utc,
            t::index_entry_pk,
        ))
        .order(t::when_created_utc.desc())
        .limit(end)
        .load(conn)?;
    let Some(cutoff) = head.last().map(|k| k.0) else {
        return Ok(Vec::new());
    };
    let Some(q) = criteria.query(true) else {
        return Ok(Vec::new());
    };
    let ties: Vec<Key> = q
        .filter(t::when_created_utc.eq(cutoff))
        .select((
            t::when_created_utc,
            t::when_added_batch_utc,
            t::index_entry_pk,
        ))
        .load(conn)?;
    let mut rows: Vec<Key> = head.into_iter().filter(|k| k.0 > cutoff).collect();
    rows.extend(ties);
    // Newest first: creation time, then upload batch, then key, all descending.
    rows.sort_unstable_by(|a, b| b.cmp(a));
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = usize::try_from(per_page).unwrap_or(0);
    Ok(rows
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|k| k.2)
        .collect())
}

/// One page of the tasks `vis` may see that match `filter`, newest first
/// (`when_created_utc DESC, when_added_batch_utc DESC, index_entry_pk DESC`).
///
/// `page` is 1-based and clamped to `[1, last page]` when the total is known exactly;
/// `per_page` is clamped to `1..=MAX_PER_PAGE`. The total is exact up to [`COUNT_CAP`] (or up
/// to the end of the requested page if further); beyond that the page reports "more than".
/// `text_contents` cannot be evaluated on the index and is not applied (see
/// [`TaskPage::text_filter_not_applied`]).
pub fn query_tasks(
    conn: &mut DbConnection,
    vis: &Visibility,
    filter: &TaskFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<TaskPage> {
    let per_page = per_page.clamp(1, MAX_PER_PAGE);
    let text_filter_not_applied = !filter.text_contents.is_empty();
    let criteria = Criteria::resolve(conn, vis, filter)?;
    let Some(count_query) = criteria.query(false) else {
        return Ok(TaskPage::empty(per_page, text_filter_not_applied));
    };
    let mut page = page.max(1);
    let wanted = page.saturating_mul(per_page);
    let limit = wanted.max(COUNT_CAP).saturating_add(1);
    // A bound constant, not literal SQL: diesel never caches a statement holding `sql()`, and
    // PostgreSQL would plan the count afresh on every request.
    let counted: i64 =
        CountOf(count_query.select(1_i32.into_sql::<Integer>()).limit(limit)).get_result(conn)?;
    let total_is_exact = counted < limit;
    let total = if total_is_exact { counted } else { limit - 1 };
    if total == 0 {
        return Ok(TaskPage::empty(per_page, text_filter_not_applied));
    }
    if total_is_exact {
        page = page.min((total + per_page - 1) / per_page);
    }
    let offset = (page - 1) * per_page;
    let keys = page_keys(conn, &criteria, (total, !total_is_exact), offset, per_page)?;
    let rows = load_details(conn, &keys)?;
    Ok(TaskPage {
        rows,
        page,
        per_page,
        total,
        total_is_exact,
        text_filter_not_applied,
    })
}
