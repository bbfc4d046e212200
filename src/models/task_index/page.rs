//! One page of the task list: the count, the page's keys, their display rows.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::criteria::Criteria;
use super::sql::CountOf;
use super::{PatientSummary, TaskFilter, TaskPage, TaskRow, Visibility, COUNT_CAP, MAX_PER_PAGE};
use crate::db::schema::{
    _security_devices, _security_groups, _security_users, _task_index, patient,
};
use crate::db::{Backend, DbConnection};
use crate::models::idnum::IdNumIndexEntry;
use crate::models::patient::ERA_NOW;
use crate::models::task_registry;

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
