//! What decides which tasks match: visibility, the filter, and the filter's patient criteria
//! resolved once per request (see the module above for the plan).

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable};

use super::sql::{InList, InSubquery, NoIndex};
use super::{upper, UnfilteredPatients, Visibility};
use crate::db::schema::{_idnum_index, _task_index, patient};
use crate::db::{Backend, DbConnection, MultiBackend};
use crate::models::task_filter::TaskFilter;
use crate::models::task_registry;

pub(super) type TaskQuery = _task_index::BoxedQuery<'static, MultiBackend>;

/// The task types the filter allows, as CamCOPS decides (`TaskFilter.task_classes` and
/// `offers_all_non_anonymous_task_types` in cc_taskfilter.py): `None` = no condition on the
/// table name, `Some(empty)` = no type at all.
///
/// Like CamCOPS, no condition is put on the table name when every non-anonymous type is
/// allowed (anonymous tasks are then kept or dropped by the patient rules alone). A stored type
/// that is not in the registry (CamCOPS would fail on it) matches its table name and never
/// counts as offering trackers.
pub(super) fn permitted_types(filter: &TaskFilter) -> Option<Vec<String>> {
    let trackers_only = filter.tasks_offering_trackers_only.unwrap_or(false);
    if filter.task_types.is_empty() && !trackers_only {
        return None;
    }
    let skip_anonymous = filter.skip_anonymous_tasks();
    let wanted = |table: &str| match task_registry::lookup(table) {
        Some(t) => (!trackers_only || t.provides_trackers) && !(skip_anonymous && t.is_anonymous),
        None => !trackers_only,
    };
    let types: Vec<String> = if filter.task_types.is_empty() {
        task_registry::all()
            .iter()
            .map(|t| t.table)
            .filter(|t| wanted(t))
            .map(str::to_owned)
            .collect()
    } else {
        filter
            .task_types
            .iter()
            .filter(|t| wanted(t))
            .cloned()
            .collect()
    };
    let all_named = task_registry::all()
        .iter()
        .filter(|t| !t.is_anonymous)
        .all(|t| types.iter().any(|x| x == t.table));
    (!all_named).then_some(types)
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

/// A boolean condition on `_task_index`, boxed.
type Condition = Box<dyn BoxableExpression<_task_index::table, MultiBackend, SqlType = Bool>>;

/// `col IN (values)` as a [`Condition`]: on PostgreSQL `= ANY($1)`, the list bound as one array
/// (one statement text and one plan whatever the list; PostgreSQL plans an `IN` list of 64
/// values in about 2 ms), elsewhere an [`InList`] of a few fixed lengths, so that MariaDB and
/// SQLite reuse their prepared statements.
macro_rules! in_list {
    ($backend:expr, $col:expr, $values:expr) => {
        if $backend == Backend::Postgres {
            Box::new($col.nullable().eq_any($values).assume_not_null()) as Condition
        } else {
            Box::new(InList($col, $values)) as Condition
        }
    };
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

    /// `q` restricted to these patients (`subquery` builds the condition when they are too many
    /// to list); `None` when no patient matches.
    fn restrict(
        &self,
        q: TaskQuery,
        backend: Backend,
        hint: bool,
        subquery: impl FnOnce() -> Option<Condition>,
    ) -> Option<TaskQuery> {
        match self {
            PatientKeys::Any => Some(q),
            PatientKeys::Listed(keys) if keys.is_empty() => None,
            PatientKeys::Listed(keys) => Some(q.filter(in_list!(
                backend,
                NoIndex(_task_index::patient_pk, hint),
                keys.clone()
            ))),
            PatientKeys::Subquery => Some(q.filter(subquery()?)),
        }
    }
}

/// Everything that decides which tasks match: who is asking, the filter, and the filter's
/// patient criteria resolved once per request.
pub(super) struct Criteria<'a> {
    pub(super) backend: Backend,
    vis: &'a Visibility,
    filter: &'a TaskFilter,
    types: Option<Vec<String>>,
    demographics: PatientKeys,
    idnums: PatientKeys,
}

impl<'a> Criteria<'a> {
    pub(super) fn resolve(
        conn: &mut DbConnection,
        vis: &'a Visibility,
        filter: &'a TaskFilter,
    ) -> QueryResult<Criteria<'a>> {
        let backend = conn.backend();
        // When nothing can match, `query` says so without the patients: look none up.
        let (demographics, idnums) = if Self::matches_nothing(vis, filter) {
            (PatientKeys::Any, PatientKeys::Any)
        } else {
            (
                PatientKeys::resolve(conn, demographics_query(backend, filter))?,
                PatientKeys::resolve(conn, idnum_query(filter))?,
            )
        };
        Ok(Criteria {
            backend,
            vis,
            filter,
            types: permitted_types(filter),
            demographics,
            idnums,
        })
    }

    /// No task can match, whatever the table holds.
    fn matches_nothing(vis: &Visibility, filter: &TaskFilter) -> bool {
        vis.sees_nothing() || filter.dates_inconsistent()
    }

    /// `_task_index` restricted by visibility and filter; `None` when nothing can match.
    /// With `hint`, SQLite may use no index but the one on `when_created_utc` (see NoIndex).
    pub(super) fn query(&self, hint: bool) -> Option<TaskQuery> {
        use _task_index::dsl as t;
        let (backend, vis, filter) = (self.backend, self.vis, self.filter);
        let h = hint && backend == Backend::Sqlite;

        if Self::matches_nothing(vis, filter) {
            return None;
        }
        let mut q = _task_index::table.into_boxed::<MultiBackend>();
        if !vis.all_groups {
            q = q.filter(in_list!(
                backend,
                NoIndex(t::group_id, h),
                vis.group_ids.clone()
            ));
        }
        if let Some(types) = &self.types {
            if types.is_empty() {
                return None;
            }
            q = q.filter(in_list!(
                backend,
                NoIndex(t::task_table_name, h),
                types.clone()
            ));
        }
        // CamCOPS skips anonymous tasks also when any patient criterion is set; here those
        // criteria become `patient_pk IN (…)`, which never matches NULL.
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
                    q = q.filter(NoIndex(t::patient_pk, h).is_null().or(in_list!(
                        backend,
                        NoIndex(t::group_id, h),
                        g.clone()
                    )))
                }
            }
        }
        q = self.demographics.restrict(q, backend, h, || {
            let p = demographics_query(backend, filter)?;
            Some(Box::new(InSubquery(NoIndex(t::patient_pk, h), p)))
        })?;
        q = self.idnums.restrict(q, backend, h, || {
            let ids = idnum_query(filter)?;
            Some(Box::new(InSubquery(NoIndex(t::patient_pk, h), ids)))
        })?;
        if !filter.device_ids.is_empty() {
            q = q.filter(in_list!(
                backend,
                NoIndex(t::device_id, h),
                filter.device_ids.clone()
            ));
        }
        if !filter.adding_user_ids.is_empty() {
            q = q.filter(in_list!(
                backend,
                NoIndex(t::adding_user_id, h),
                filter.adding_user_ids.clone()
            ));
        }
        if !filter.group_ids.is_empty() {
            q = q.filter(in_list!(
                backend,
                NoIndex(t::group_id, h),
                filter.group_ids.clone()
            ));
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

#[cfg(test)]
mod tests {
    use super::permitted_types;
    use crate::models::task_filter::{strings, TaskFilter};

    // The task-type rules of CamCOPS' TaskFilter.task_classes with the index (sessions §4.5).
    #[test]
    fn permitted_types_follow_camcops() {
        assert_eq!(permitted_types(&TaskFilter::default()), None);
        let trackers = permitted_types(&TaskFilter {
            tasks_offering_trackers_only: Some(true),
            ..TaskFilter::default()
        })
        .unwrap();
        assert_eq!(trackers.len(), 69);
        assert!(trackers.iter().any(|t| t == "phq9") && !trackers.iter().any(|t| t == "photo"));
        // Types outside the registry are matched by name, and are never trackers.
        let listed = TaskFilter {
            task_types: strings(&["phq9", "photo", "nonesuch"]),
            ..TaskFilter::default()
        };
        assert_eq!(
            permitted_types(&listed),
            Some(strings(&["phq9", "photo", "nonesuch"]))
        );
        let listed_trackers = TaskFilter {
            tasks_offering_trackers_only: Some(true),
            ..listed.clone()
        };
        assert_eq!(permitted_types(&listed_trackers), Some(strings(&["phq9"])));
        // A patient criterion drops anonymous types, leaving none here.
        let anonymous = TaskFilter {
            task_types: strings(&["ref_satis_gen"]),
            surname: Some("Smith".into()),
            ..TaskFilter::default()
        };
        assert_eq!(permitted_types(&anonymous), Some(Vec::new()));
        // "With a patient only" and no types: every non-anonymous type, so no condition.
        let with_patient = TaskFilter {
            tasks_with_patient_only: Some(true),
            ..TaskFilter::default()
        };
        assert_eq!(permitted_types(&with_patient), None);
        // Listing every non-anonymous type puts no condition on the name either (CamCOPS'
        // offers_all_non_anonymous_task_types), so anonymous tasks stay.
        let every_named = TaskFilter {
            task_types: crate::models::task_registry::all()
                .iter()
                .filter(|t| !t.is_anonymous)
                .map(|t| t.table.to_owned())
                .collect(),
            ..TaskFilter::default()
        };
        assert_eq!(permitted_types(&every_named), None);
    }
}
