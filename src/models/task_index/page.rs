//! One page of the task list: the capped count (with the table's largest key), then the
//! page's rows with everything they show, patients' ID numbers included, in one statement.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text, Timestamp};

use super::criteria::Criteria;
use super::sql::{CountAndTop, Scalar};
use super::{
    IdNumNames, PatientSummary, TaskFilter, TaskPage, TaskRow, Visibility, COUNT_CAP, MAX_PER_PAGE,
};
use crate::db::schema::_task_index;
use crate::db::{Backend, DbConnection, MultiBackend};
use crate::models::idnum::IdNumDefinition;
use crate::models::patient::ERA_NOW;
use crate::models::task_registry;

/// The keys of one page as a query: `<ordered query> LIMIT <per_page> [OFFSET ?]`. The page
/// size is written into the statement (one of a few sizes, so few statement texts): with a
/// bound `LIMIT` PostgreSQL's generic plan assumes a tenth of the table and joins it by hashing
/// (240 ms on 1,000,000 tasks), so it plans the statement afresh every time (2 ms and more for
/// this join); an unknown `OFFSET` inflates the generic plan's cost the same way.
struct KeysQuery {
    ordered: _task_index::BoxedQuery<'static, MultiBackend, Integer>,
    per_page: i64,
    offset: i64,
}

impl QueryFragment<MultiBackend> for KeysQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        QueryFragment::<MultiBackend>::walk_ast(&self.ordered, out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.per_page));
        // The first page (most views) has no parameter here at all, so PostgreSQL can keep one
        // plan for it; deeper pages bind the offset (one statement text for all of them).
        if self.offset > 0 {
            out.push_sql(" OFFSET ");
            out.push_bind_param::<BigInt, i64>(&self.offset)?;
        }
        Ok(())
    }
}

type TaskPart = (
    i32,
    Option<String>,
    Option<i32>,
    Option<i32>,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
);
type ShownPart = (
    i32,
    bool,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
);
type IdNumPart = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// One row of the page statement: a task with its display columns, and one of its patient's
/// ID numbers (a task appears once per ID number, once if none).
struct DetailRow {
    index_entry_pk: i32,
    task_table_name: Option<String>,
    task_pk: Option<i32>,
    patient_pk: Option<i32>,
    era: String,
    when_created_utc: NaiveDateTime,
    when_added_batch_utc: NaiveDateTime,
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
    which_idnum: Option<i32>,
    idnum_value: Option<i64>,
    idnum_short: Option<String>,
    idnum_description: Option<String>,
}

impl DetailRow {
    fn from_parts((t, s, i): (TaskPart, ShownPart, IdNumPart)) -> DetailRow {
        DetailRow {
            index_entry_pk: t.0,
            task_table_name: t.1,
            task_pk: t.2,
            patient_pk: t.3,
            era: t.4,
            when_created_utc: t.5,
            when_added_batch_utc: t.6,
            when_created_iso: t.7,
            group_id: s.0,
            task_is_complete: s.1,
            surname: s.2,
            forename: s.3,
            dob: s.4,
            sex: s.5,
            device_name: s.6,
            device_friendly_name: i.0,
            adding_username: i.1,
            group_name: i.2,
            which_idnum: i.3,
            idnum_value: i.4,
            idnum_short: i.5,
            idnum_description: i.6,
        }
    }

    /// The ID number of this row, named as the server defines it (short description, else
    /// description, else `ID<n>`).
    fn idnum_name(&self) -> Option<(i32, String)> {
        let definition = IdNumDefinition {
            which_idnum: self.which_idnum?,
            description: self.idnum_description.clone(),
            short_description: self.idnum_short.clone(),
            validation_method: None,
        };
        Some((definition.which_idnum, definition.short_name()))
    }

    fn idnum(&self) -> Option<(i32, Option<i64>)> {
        Some((self.which_idnum?, self.idnum_value))
    }

    fn into_task(self) -> TaskRow {
        let idnums = self.idnum().into_iter().collect();
        let table = self.task_table_name.unwrap_or_default();
        TaskRow {
            index_entry_pk: self.index_entry_pk,
            task_display_name: task_registry::display_name(&table).to_owned(),
            task_table_name: table,
            task_pk: self.task_pk,
            patient: self.patient_pk.map(|pk| PatientSummary {
                pk,
                surname: self.surname,
                forename: self.forename,
                dob: self.dob,
                sex: self.sex,
                idnums,
            }),
            when_created_utc: self.when_created_utc,
            when_created_iso: self.when_created_iso,
            live_on_tablet: self.era == ERA_NOW,
            device_name: self
                .device_friendly_name
                .filter(|s| !s.is_empty())
                .or(self.device_name),
            adding_username: self.adding_username,
            group_id: self.group_id,
            group_name: self.group_name,
            task_is_complete: self.task_is_complete,
        }
    }
}

/// `SELECT … FROM (<keys>) AS page_keys JOIN _task_index … LEFT JOIN …`: the page's keys as a
/// derived table driving the joins, so that every planner looks up exactly those rows (with the
/// keys as an `IN (subquery)` PostgreSQL chose a hash semi-join over the whole table).
struct PageQuery(KeysQuery);

// Not `derive(QueryId)`: on a struct without type parameters that would give every page one
// static id, and the statement cache would reuse the first page's SQL for every filter.
impl QueryId for PageQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// The columns of [`PageQuery`], in the order of [`DetailRow`].
const PAGE_HEAD: &str = "SELECT ti.index_entry_pk, ti.task_table_name, ti.task_pk, ti.patient_pk, \
     ti.era, ti.when_created_utc, ti.when_added_batch_utc, ti.when_created_iso, ti.group_id, \
     ti.task_is_complete, p.surname, p.forename, p.dob, p.sex, d.name, d.friendly_name, \
     u.username, g.name, ii.which_idnum, ii.idnum_value, idef.short_description, \
     idef.description FROM (";

const PAGE_TAIL: &str = ") AS page_keys \
     INNER JOIN _task_index ti ON ti.index_entry_pk = page_keys.index_entry_pk \
     LEFT JOIN patient p ON p._pk = ti.patient_pk \
     LEFT JOIN _security_devices d ON d.id = ti.device_id \
     LEFT JOIN _security_users u ON u.id = ti.adding_user_id \
     LEFT JOIN _security_groups g ON g.id = ti.group_id \
     LEFT JOIN _idnum_index ii ON ii.patient_pk = ti.patient_pk \
     LEFT JOIN _idnum_definitions idef ON idef.which_idnum = ii.which_idnum";

impl QueryFragment<MultiBackend> for PageQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql(PAGE_HEAD);
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(PAGE_TAIL);
        Ok(())
    }
}

impl Query for PageQuery {
    type SqlType = (
        (
            Integer,
            Nullable<Text>,
            Nullable<Integer>,
            Nullable<Integer>,
            Text,
            Timestamp,
            Timestamp,
            Text,
        ),
        (
            Integer,
            Bool,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Date>,
            Nullable<Text>,
            Nullable<Text>,
        ),
        (
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Integer>,
            Nullable<BigInt>,
            Nullable<Text>,
            Nullable<Text>,
        ),
    );
}

impl RunQueryDsl<DbConnection> for PageQuery {}

/// The rows of the page whose keys `keys` selects, newest first, each with its patient, device,
/// adding user, group and the patient's ID numbers (by number), in one statement: the keys are
/// found on `_task_index` alone (a derived table, so rows before the page are never joined),
/// then joined for display (a task comes once per ID number of its patient).
/// Also returns the names of the ID numbers shown.
fn load_page(conn: &mut DbConnection, keys: KeysQuery) -> QueryResult<(Vec<TaskRow>, IdNumNames)> {
    let mut details: Vec<DetailRow> = PageQuery(keys)
        .load::<(TaskPart, ShownPart, IdNumPart)>(conn)?
        .into_iter()
        .map(DetailRow::from_parts)
        .collect();
    // The list order, then ID numbers by number: sorted here, a page's worth of rows (MariaDB
    // would build a temporary table to sort them).
    details.sort_unstable_by(|a, b| {
        let key = |d: &DetailRow| (d.when_created_utc, d.when_added_batch_utc, d.index_entry_pk);
        key(b).cmp(&key(a)).then(a.which_idnum.cmp(&b.which_idnum))
    });
    let mut rows: Vec<TaskRow> = Vec::new();
    let mut names = IdNumNames::new();
    for d in details {
        if let Some((which, name)) = d.idnum_name() {
            names.entry(which).or_insert(name);
        }
        match rows.last_mut() {
            Some(last) if last.index_entry_pk == d.index_entry_pk => {
                if let (Some(p), Some(id)) = (last.patient.as_mut(), d.idnum()) {
                    p.idnums.push(id);
                }
            }
            _ => rows.push(d.into_task()),
        }
    }
    Ok((rows, names))
}

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

/// The keys of rows `offset..offset + per_page` in list order, as one query. `matching` is the
/// count (a lower bound when `capped`), `table_rows` an estimate of the table's size.
///
/// With few matches (`end × table rows > matches²`, `end` being the last row needed) they are
/// collected through the most selective index and sorted.
///
/// When matches are common (that inequality fails, or the count was capped) the page is found
/// by walking the creation-time index newest first: a scalar subquery finds the creation time
/// of the last row needed (`OFFSET end-1 LIMIT 1`, served by the index without loading the rows
/// before it), and the full order is applied to the rows created at or after it. SQLite serves
/// the one-column order from its index but, left to itself, often collects every match through
/// a less useful index and sorts them all; the other criteria are hidden from its planner for
/// the walk (see `NoIndex`).
///
/// On PostgreSQL and MariaDB the keys are always one sorted query: their planners walk the
/// list-order index (which also holds `patient_pk` and `group_id`) backwards themselves when
/// that is cheaper; the walk above made MariaDB walk twice (1,000,000 tasks, a surname filter:
/// 353 → 212 req/s).
fn page_keys(
    criteria: &Criteria<'_>,
    (matching, capped, table_rows): (i64, bool, i64),
    offset: i64,
    per_page: i64,
) -> Option<KeysQuery> {
    use _task_index::dsl as t;
    let end = offset + per_page;
    let walk = criteria.backend == Backend::Sqlite
        && (capped
            || i128::from(end) * i128::from(table_rows)
                <= i128::from(matching) * i128::from(matching));
    let keys = |ordered| KeysQuery {
        ordered,
        per_page,
        offset,
    };
    if !walk {
        return Some(keys(
            criteria
                .query(false)?
                .select(t::index_entry_pk)
                .order(newest_first!()),
        ));
    }
    // The last row needed exists: the count reached `end` when capped, and when exact the
    // page was clamped to the rows that exist.
    let last_needed = end.min(matching).max(1) - 1;
    let cutoff = criteria
        .query(true)?
        .select(t::when_created_utc)
        .order(t::when_created_utc.desc())
        .limit(1)
        .offset(last_needed);
    Some(keys(
        criteria
            .query(true)?
            .filter(
                t::when_created_utc
                    .nullable()
                    .ge(Scalar::<_, Timestamp>(cutoff, std::marker::PhantomData)),
            )
            .select(t::index_entry_pk)
            .order(newest_first!()),
    ))
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
    let (counted, top): (i64, Option<i32>) =
        CountAndTop(count_query.select(1_i32.into_sql::<Integer>()).limit(limit))
            .get_result(conn)?;
    let total_is_exact = counted < limit;
    let total = if total_is_exact { counted } else { limit - 1 };
    if total == 0 {
        return Ok(TaskPage::empty(per_page, text_filter_not_applied));
    }
    if total_is_exact {
        page = page.min((total + per_page - 1) / per_page);
    }
    let offset = (page - 1) * per_page;
    let table_rows = top.map_or(0, i64::from);
    let (rows, idnum_names) = match page_keys(
        &criteria,
        (total, !total_is_exact, table_rows),
        offset,
        per_page,
    ) {
        Some(keys) => load_page(conn, keys)?,
        None => (Vec::new(), IdNumNames::new()),
    };
    Ok(TaskPage {
        rows,
        idnum_names,
        page,
        per_page,
        total,
        total_is_exact,
        text_filter_not_applied,
    })
}
