//! The task list query (`query_tasks`) on every backend, on demo data: the plans chosen per
//! backend and per filter (patient keys listed or a subquery; an index walk, a sorted
//! statement, or PostgreSQL's own choice) must give the same pages as a full sort done here
//! (sessions §1.7, sessions §4.5).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use camcops_web::db::schema::{_task_index, patient};
use camcops_web::db::DbConnection;
use camcops_web::demo::{seed_demo_data_at, DemoOptions};
use camcops_web::models::task_filter::TaskFilter;
use camcops_web::models::task_index::{query_tasks, Visibility, COUNT_CAP, PATIENT_KEYS_MAX};

use crate::testdb::backend_test;

/// Key, creation time, batch time, group, complete, patient's sex, patient's surname.
type Row = (
    i32,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    bool,
    Option<String>,
    Option<String>,
);
/// Which rows a filter keeps.
type Keep<'a> = Box<dyn Fn(&Row) -> bool + 'a>;

fn seed(conn: &mut DbConnection, patients: u32, tasks: u32) -> Vec<Row> {
    let now = NaiveDate::from_ymd_opt(2026, 11, 25)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    let opts = DemoOptions {
        patients,
        tasks,
        seed: 5,
        bcrypt_cost: 4,
        progress: false,
    };
    seed_demo_data_at(conn, &opts, now).unwrap();
    rows(conn)
}

fn rows(conn: &mut DbConnection) -> Vec<Row> {
    _task_index::table
        .left_join(patient::table.on(patient::_pk.nullable().eq(_task_index::patient_pk)))
        .select((
            _task_index::index_entry_pk,
            _task_index::when_created_utc,
            _task_index::when_added_batch_utc,
            _task_index::group_id,
            _task_index::task_is_complete,
            patient::sex.nullable(),
            patient::surname.nullable(),
        ))
        .load(conn)
        .unwrap()
}

/// Each `(page, per page)` of `filter` holds the rows `keep` keeps, newest first (creation
/// time, batch, key, all descending), and the count is exact up to the cap.
fn check_pages(
    conn: &mut DbConnection,
    rows: &[Row],
    cases: &[(TaskFilter, Keep)],
    pages: &[(i64, i64)],
) {
    let all = Visibility::superuser();
    for (filter, keep) in cases {
        let mut want: Vec<&Row> = rows.iter().filter(|r| keep(r)).collect();
        want.sort_by_key(|r| std::cmp::Reverse((r.1, r.2, r.0)));
        for &(page, per_page) in pages {
            let got = query_tasks(conn, &all, filter, page, per_page).unwrap();
            let start = usize::try_from((got.page - 1) * per_page).unwrap();
            let expect: Vec<i32> = want
                .iter()
                .skip(start)
                .take(usize::try_from(per_page).unwrap())
                .map(|r| r.0)
                .collect();
            let keys: Vec<i32> = got.rows.iter().map(|r| r.index_entry_pk).collect();
            assert_eq!(keys, expect, "{filter:?} page {page}");
            let total = i64::try_from(want.len()).unwrap();
            if total <= COUNT_CAP {
                assert_eq!((got.total, got.total_is_exact), (total, true), "{filter:?}");
            }
        }
    }
}

backend_test! {
    /// Patient criteria are looked up first and listed when few patients match, kept as a
    /// subquery when many do (sessions §1.7 semantics either way).
    fn patient_criteria_listed_or_subquery_give_the_same_pages(db) {
        let mut conn = db.conn();
        let rows = seed(&mut conn, 2_400, 3_000);
        let female: i64 =
            patient::table.filter(patient::sex.eq("F")).count().get_result(&mut conn).unwrap();
        assert!(female > PATIENT_KEYS_MAX, "{female} female patients: the subquery path");
        let surname: String = patient::table
            .select(patient::surname.assume_not_null())
            .order(patient::_pk)
            .first(&mut conn)
            .unwrap();
        let upper = surname.to_uppercase();
        let cases: [(TaskFilter, Keep); 3] = [
            (
                TaskFilter { sex: Some("f".into()), ..TaskFilter::default() },
                Box::new(|r| r.5.as_deref() == Some("F")),
            ),
            (
                TaskFilter { surname: Some(surname.to_lowercase()), ..TaskFilter::default() },
                Box::new(|r| r.6.as_deref().map(str::to_uppercase).as_deref() == Some(&upper)),
            ),
            (
                TaskFilter { surname: Some("NoSuchSurname".into()), ..TaskFilter::default() },
                Box::new(|_| false),
            ),
        ];
        check_pages(&mut conn, &rows, &cases, &[(1, 25), (3, 25), (2, 100)]);
    }

    /// Many matches (index walk, first and deep pages) and few (sorted), with ties: 10,100
    /// tasks on 50 patients; among the newest 1,100, every run of 5 shares its creation time
    /// and the first 2 of each run also their batch time (then the key decides).
    fn walk_and_sorted_paths_give_the_same_pages(db) {
        let mut conn = db.conn();
        let seeded = seed(&mut conn, 50, 10_100);
        let mut newest: Vec<&Row> = seeded.iter().collect();
        newest.sort_by_key(|r| std::cmp::Reverse((r.1, r.2, r.0)));
        for run in newest[..1_100].chunks(5) {
            let keys: Vec<i32> = run.iter().map(|r| r.0).collect();
            diesel::update(_task_index::table.filter(_task_index::index_entry_pk.eq_any(&keys)))
                .set(_task_index::when_created_utc.eq(run[0].1))
                .execute(&mut conn)
                .unwrap();
            diesel::update(_task_index::table.filter(_task_index::index_entry_pk.eq_any(&keys[..2])))
                .set(_task_index::when_added_batch_utc.eq(run[0].2))
                .execute(&mut conn)
                .unwrap();
        }
        let rows = rows(&mut conn);
        let mut by_time: HashMap<(NaiveDateTime, NaiveDateTime), usize> = HashMap::new();
        for r in &rows {
            *by_time.entry((r.1, r.2)).or_default() += 1;
        }
        let full_ties: usize = by_time.values().filter(|&&n| n > 1).sum();
        assert!(full_ties >= 440, "{full_ties} rows in full ties");
        let cases: [(TaskFilter, Keep); 3] = [
            (TaskFilter::default(), Box::new(|_| true)),
            (
                TaskFilter { group_ids: vec![2], complete_only: Some(true), ..TaskFilter::default() },
                Box::new(|r| r.3 == 2 && r.4),
            ),
            (
                TaskFilter { group_ids: vec![4], complete_only: Some(false), ..TaskFilter::default() },
                Box::new(|r| r.3 == 4),
            ),
        ];
        check_pages(&mut conn, &rows, &cases, &[(1, 25), (2, 25), (7, 100), (40, 25), (3, 1)]);
    }
}
