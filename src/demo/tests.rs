//! Tests of demo seeding and of stored task filters, on temporary SQLite files.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::*;
use crate::db::schema::{
    _idnum_index, _security_groups, _security_users, _task_filters, _task_index,
};
use crate::models::idnum::is_valid_nhs_number;
use crate::models::task_filter::{IdNumReference, TaskFilter, TaskFilterRow};
use crate::models::task_index::{query_tasks, Visibility, COUNT_CAP};

/// A fresh, migrated SQLite database in a temporary directory (kept alive by the guard).
fn temp_db() -> (tempfile::TempDir, DbConnection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.sqlite");
    let url = crate::db::DbUrl::parse(path.to_str().unwrap()).unwrap();
    let mut conn = DbConnection::open(&url).unwrap();
    crate::db::run_migrations(&mut conn).unwrap();
    (dir, conn)
}

fn fixed_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 25)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

fn small(seed: u64) -> DemoOptions {
    DemoOptions {
        patients: 150,
        tasks: 2_345,
        seed,
        bcrypt_cost: 4,
        progress: false,
    }
}

type TaskDump = (
    String,
    Option<i32>,
    Option<i32>,
    i32,
    String,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    bool,
);

type PatientDump = (Option<String>, Option<String>, Option<NaiveDate>);
type Dump = (Vec<PatientDump>, Vec<(i32, Option<i64>)>, Vec<TaskDump>);

fn dump(conn: &mut DbConnection) -> Dump {
    let patients = patient::table
        .order(patient::_pk)
        .select((patient::surname, patient::forename, patient::dob))
        .load(conn)
        .unwrap();
    let idnums = _idnum_index::table
        .order(_idnum_index::idnum_pk)
        .select((_idnum_index::which_idnum, _idnum_index::idnum_value))
        .load(conn)
        .unwrap();
    let tasks = _task_index::table
        .order(_task_index::index_entry_pk)
        .select((
            _task_index::task_table_name.assume_not_null(),
            _task_index::task_pk,
            _task_index::patient_pk,
            _task_index::device_id,
            _task_index::era,
            _task_index::when_created_utc,
            _task_index::when_added_batch_utc,
            _task_index::group_id,
            _task_index::task_is_complete,
        ))
        .load(conn)
        .unwrap();
    (patients, idnums, tasks)
}

#[test]
fn seeding_creates_the_requested_counts_and_valid_data() {
    let (_dir, mut conn) = temp_db();
    let now = fixed_now();
    let report = seed_demo_data_at(&mut conn, &small(7), now).unwrap();
    assert_eq!(report.patients, 150);
    assert_eq!(report.tasks, 2_345);
    assert_eq!(report.devices, 6);
    assert_eq!(report.idnum_definitions_added, 3);
    assert_eq!(report.password.expose().len(), 16);
    assert!(report
        .password
        .expose()
        .chars()
        .all(|c| c.is_ascii_alphanumeric()));
    assert!(!format!("{report:?}").contains(report.password.expose()));

    let groups: i64 = _security_groups::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(groups, 4);
    assert_eq!(
        crate::models::patient::Patient::count(&mut conn).unwrap(),
        150
    );
    assert_eq!(
        crate::models::task_index::TaskIndexEntry::count(&mut conn).unwrap(),
        2_345
    );

    // Every user has a working hash of the reported password.
    let hashes: Vec<(String, String)> = _security_users::table
        .select((_security_users::username, _security_users::hashedpw))
        .load(&mut conn)
        .unwrap();
    assert_eq!(hashes.len(), staff::USERS.len());
    for (name, h) in &hashes {
        assert!(
            bcrypt::verify(report.password.expose(), h).unwrap(),
            "{name}"
        );
    }

    // 1–2 ID numbers per patient; NHS numbers valid and distinct.
    let (_, idnums, tasks) = dump(&mut conn);
    assert_eq!(idnums.len() as u64, report.idnums);
    assert!((150..=300).contains(&idnums.len()));
    let mut nhs: Vec<i64> = idnums
        .iter()
        .filter(|i| i.0 == 1)
        .filter_map(|i| i.1)
        .collect();
    assert_eq!(nhs.len(), 150);
    assert!(nhs.iter().all(|n| is_valid_nhs_number(*n)));
    nhs.sort_unstable();
    nhs.dedup();
    assert_eq!(nhs.len(), 150);

    // Two years up to now; some anonymous; mixed completeness; several types.
    let earliest = now - chrono::Duration::days(730);
    assert!(tasks
        .iter()
        .all(|t| t.5 >= earliest && t.5 <= now && t.6 >= t.5 && t.6 <= now));
    let anonymous = tasks.iter().filter(|t| t.2.is_none()).count();
    assert!((20..300).contains(&anonymous), "{anonymous}");
    assert!(tasks
        .iter()
        .filter(|t| t.2.is_none())
        .all(|t| t.0 == "ref_satis_gen"));
    let complete = tasks.iter().filter(|t| t.8).count();
    assert!(complete > 1_800 && complete < 2_345);
    let mut types: Vec<&str> = tasks.iter().map(|t| t.0.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    assert!(types.len() >= 15, "{types:?}");

    // A second run refuses.
    let err = seed_demo_data_at(&mut conn, &small(7), now).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn seeding_is_deterministic_for_a_seed() {
    let now = fixed_now();
    let (_d1, mut c1) = temp_db();
    let (_d2, mut c2) = temp_db();
    let (_d3, mut c3) = temp_db();
    let r1 = seed_demo_data_at(&mut c1, &small(42), now).unwrap();
    let r2 = seed_demo_data_at(&mut c2, &small(42), now).unwrap();
    seed_demo_data_at(&mut c3, &small(43), now).unwrap();
    assert_ne!(r1.password, r2.password);
    let (a, b, c) = (dump(&mut c1), dump(&mut c2), dump(&mut c3));
    assert!(a == b, "same seed, different data");
    assert!(a.0 != c.0 && a.2 != c.2, "different seed, same data");
}

/// (key, created, added, group, complete)
#[test]
fn count_is_capped_and_deep_pages_clamp() {
    let (_dir, mut conn) = temp_db();
    let opts = DemoOptions {
        patients: 50,
        tasks: 10_100,
        seed: 3,
        bcrypt_cost: 4,
        progress: false,
    };
    seed_demo_data_at(&mut conn, &opts, fixed_now()).unwrap();
    let all = Visibility::superuser();
    let f = TaskFilter::default();
    let p1 = query_tasks(&mut conn, &all, &f, 1, 25).unwrap();
    assert!(!p1.total_is_exact);
    assert_eq!(p1.total, COUNT_CAP);
    assert_eq!(p1.rows.len(), 25);
    assert!(p1.has_next());
    assert!(p1.last_page().is_none());
    assert!(p1
        .rows
        .windows(2)
        .all(|w| w[0].when_created_utc >= w[1].when_created_utc));
    // Beyond the cap the count goes as far as the page asked for, and then is exact.
    let deep = query_tasks(&mut conn, &all, &f, 500, 25).unwrap();
    assert!(deep.total_is_exact);
    assert_eq!(deep.total, 10_100);
    assert_eq!(deep.page, 404);
    assert_eq!(deep.rows.len(), 25);
    assert!(!deep.has_next());
    let near = query_tasks(&mut conn, &all, &f, 402, 25).unwrap();
    assert!(!near.total_is_exact);
    assert_eq!(near.page, 402);
    assert!(near.has_next());
    // Pages against a full sort, on every backend: tests/it/task_query.rs.
}

#[test]
fn stored_filter_round_trips() {
    let (_dir, mut conn) = temp_db();
    let id = TaskFilter::insert_empty(&mut conn).unwrap();
    let row: TaskFilterRow = _task_filters::table
        .find(id)
        .select(TaskFilterRow::as_select())
        .first(&mut conn)
        .unwrap();
    for list in [
        &row.task_types,
        &row.idnum_criteria,
        &row.device_ids,
        &row.user_ids,
        &row.group_ids,
        &row.text_contents,
    ] {
        assert_eq!(list.as_deref(), Some(""));
    }
    assert!(
        row.surname.is_none()
            && row.complete_only.is_none()
            && row.start_datetime_iso8601.is_none()
    );
    assert_eq!(
        TaskFilter::load(&mut conn, id).unwrap(),
        Some(TaskFilter::default())
    );

    let f = TaskFilter {
        task_types: vec!["phq9".into(), "gad7".into()],
        tasks_with_patient_only: Some(true),
        surname: Some("O'Brien".into()),
        forename: Some("Zoë".into()),
        dob: NaiveDate::from_ymd_opt(1970, 1, 2),
        sex: Some("F".into()),
        idnum_criteria: vec![IdNumReference {
            which_idnum: 1,
            idnum_value: 9_434_765_919,
        }],
        device_ids: vec![1, 2],
        adding_user_ids: vec![3],
        group_ids: vec![4, 5],
        start_datetime: chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00+00:00").ok(),
        end_datetime: chrono::DateTime::parse_from_rfc3339("2024-02-01T09:30:00.5+01:00").ok(),
        text_contents: vec!["a \"quoted\", phrase".into()],
        complete_only: Some(true),
        ..TaskFilter::default()
    };
    assert_eq!(TaskFilter::save(&mut conn, id, &f).unwrap(), 1);
    assert_eq!(TaskFilter::load(&mut conn, id).unwrap(), Some(f.clone()));
    let row: TaskFilterRow = _task_filters::table
        .find(id)
        .select(TaskFilterRow::as_select())
        .first(&mut conn)
        .unwrap();
    assert_eq!(row.task_types.as_deref(), Some(r#""phq9","gad7""#));
    assert_eq!(row.idnum_criteria.as_deref(), Some("1,9434765919"));
    assert_eq!(row.group_ids.as_deref(), Some("4,5"));
    assert_eq!(
        row.end_datetime_iso8601.as_deref(),
        Some("2024-02-01T09:30:00.500000+01:00")
    );

    assert_eq!(TaskFilter::clear_stored(&mut conn, id).unwrap(), 1);
    let cleared = TaskFilter::load(&mut conn, id).unwrap().unwrap();
    assert_eq!(cleared.tasks_with_patient_only, Some(true));
    assert!(
        cleared.task_types.is_empty()
            && cleared.surname.is_none()
            && cleared.end_datetime.is_none()
    );

    // Bad stored lists (ones CamCOPS' readers refuse) read back as empty.
    diesel::update(_task_filters::table.find(id))
        .set((
            _task_filters::device_ids.eq("1,x"),
            _task_filters::task_types.eq("\"a\"\r\n\"b\""),
        ))
        .execute(&mut conn)
        .unwrap();
    let bad = TaskFilter::load(&mut conn, id).unwrap().unwrap();
    assert!(bad.device_ids.is_empty() && bad.task_types.is_empty());

    assert_eq!(TaskFilter::delete(&mut conn, id).unwrap(), 1);
    assert_eq!(TaskFilter::load(&mut conn, id).unwrap(), None);
    assert_eq!(TaskFilter::save(&mut conn, id, &f).unwrap(), 0);
}
