//! Tests of the task list query on a small hand-made data set: each filter field, the
//! visibility rules and pagination.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

use super::tests::temp_db;
use crate::db::DbConnection;
use crate::models::device::{Device, NewDevice};
use crate::models::group::{Group, Membership, NewGroup, NewMembership};
use crate::models::idnum::{IdNumDefinition, IdNumIndexEntry, NewIdNumIndexEntry};
use crate::models::patient::{NewPatient, Patient};
use crate::models::task_filter::{IdNumReference, TaskFilter};
use crate::models::task_index::{
    query_tasks, NewTaskIndexEntry, TaskIndexEntry, UnfilteredPatients, Visibility,
};
use crate::models::user::{NewUser, User};

/// (table, patient, group, device, adding user, created, added batch, complete)
type TaskSpec = (
    &'static str,
    Option<i32>,
    usize,
    usize,
    Option<usize>,
    NaiveDateTime,
    NaiveDateTime,
    bool,
);

struct Fixture {
    conn: DbConnection,
    _dir: tempfile::TempDir,
    groups: [i32; 3],
    devices: [i32; 2],
    users: [i32; 5],
    /// index_entry_pk of T1..T8.
    tasks: [i32; 8],
}

fn ts(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn user(conn: &mut DbConnection, name: &str, superuser: bool) -> i32 {
    User::insert(
        conn,
        &NewUser {
            username: name,
            fullname: None,
            email: None,
            hashedpw: "",
            mfa_method: "no_mfa",
            hotp_counter: 0,
            superuser: Some(superuser),
            must_change_password: Some(false),
            last_password_change_utc: None,
            when_agreed_terms_of_use: None,
            upload_group_id: None,
            auto_generated: false,
        },
    )
    .unwrap()
}

fn member(conn: &mut DbConnection, user_id: i32, group_id: i32, view_all: bool) {
    Membership::insert(
        conn,
        &NewMembership {
            user_id: Some(user_id),
            group_id: Some(group_id),
            may_use_webviewer: Some(true),
            view_all_patients_when_unfiltered: Some(view_all),
            ..NewMembership::default()
        },
    )
    .unwrap();
}

/// Groups A, B, C (B can see C); users super, ua (A, all), ub (B, none), umix (A all + B
/// none), unone; patients p1 Smith/Ann F 1970 (A), p2 SMITH/Bob M 1980 (B), p3 Jones/Ann F
/// 1970 (C); tasks T1..T8 as commented.
fn fixture() -> Fixture {
    let (dir, mut conn) = temp_db();
    let c = &mut conn;
    let g = |c: &mut DbConnection, name: &str| {
        Group::insert(
            c,
            &NewGroup {
                name,
                description: None,
                upload_policy: None,
                finalize_policy: None,
            },
        )
        .unwrap()
    };
    let groups = [g(c, "A"), g(c, "B"), g(c, "C")];
    Group::add_can_see(c, groups[1], groups[2]).unwrap();
    let users = [
        user(c, "super", true),
        user(c, "ua", false),
        user(c, "ub", false),
        user(c, "umix", false),
        user(c, "unone", false),
    ];
    member(c, users[1], groups[0], true);
    member(c, users[2], groups[1], false);
    member(c, users[3], groups[0], true);
    member(c, users[3], groups[1], false);
    let dev = |c: &mut DbConnection, name: &str, friendly: Option<&str>| {
        Device::insert(
            c,
            &NewDevice {
                name,
                friendly_name: friendly,
                camcops_version: None,
                registered_by_user_id: None,
                when_registered_utc: None,
                currently_preserving: None,
            },
        )
        .unwrap()
    };
    let devices = [dev(c, "d1", Some("Tablet one")), dev(c, "d2", None)];
    for (which, desc) in [(1, "NHS number"), (2, "RiO number")] {
        IdNumDefinition::insert(
            c,
            &IdNumDefinition {
                which_idnum: which,
                description: Some(desc.into()),
                short_description: None,
                validation_method: None,
            },
        )
        .unwrap();
    }
    let pat = |c: &mut DbConnection, s: &str, f: &str, dob: (i32, u32, u32), sex: &str, g: i32| {
        Patient::insert(
            c,
            &NewPatient {
                id: 1,
                forename: Some(f),
                surname: Some(s),
                dob: NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2),
                sex: Some(sex),
                _device_id: devices[0],
                _era: "NOW",
                _current: true,
                _group_id: g,
            },
        )
        .unwrap()
    };
    let p1 = pat(c, "Smith", "Ann", (1970, 1, 1), "F", groups[0]);
    let p2 = pat(c, "SMITH", "Bob", (1980, 5, 5), "M", groups[1]);
    let p3 = pat(c, "Jones", "Ann", (1970, 1, 1), "F", groups[2]);
    for (p, which, value) in [
        (p1, 1, 9_434_765_919),
        (p1, 2, 111),
        (p2, 1, 4_010_232_137),
        (p3, 2, 222),
    ] {
        IdNumIndexEntry::insert(
            c,
            &NewIdNumIndexEntry {
                indexed_at_utc: ts(1, 0),
                patient_pk: Some(p),
                which_idnum: which,
                idnum_value: Some(value),
            },
        )
        .unwrap();
    }
    // (table, patient, group, device, adding user, created, added batch, complete)
    let specs: [TaskSpec; 8] = [
        ("phq9", Some(p1), 0, 0, Some(1), ts(1, 10), ts(1, 12), true), // T1
        ("gad7", Some(p2), 1, 1, Some(2), ts(2, 10), ts(2, 12), false), // T2
        ("bmi", Some(p3), 2, 0, Some(1), ts(3, 10), ts(3, 12), true),  // T3
        (
            "ref_satis_gen",
            None,
            0,
            0,
            Some(1),
            ts(4, 10),
            ts(4, 12),
            true,
        ), // T4
        (
            "ref_satis_gen",
            None,
            1,
            1,
            Some(2),
            ts(5, 10),
            ts(5, 11),
            true,
        ), // T5
        ("phq9", Some(p1), 0, 1, Some(2), ts(5, 10), ts(5, 12), false), // T6: same time, later batch
        ("photo", Some(p2), 1, 0, None, ts(6, 10), ts(6, 12), true),    // T7
        ("phq9", Some(p3), 2, 1, Some(1), ts(6, 10), ts(6, 12), true),  // T8: full tie, higher pk
    ];
    let mut tasks = [0; 8];
    for (i, s) in specs.iter().enumerate() {
        let iso = s.5.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
        TaskIndexEntry::insert(
            c,
            &NewTaskIndexEntry {
                indexed_at_utc: ts(7, 0),
                task_table_name: s.0,
                task_pk: Some(i32::try_from(i).unwrap() + 1),
                patient_pk: s.1,
                device_id: devices[s.3],
                era: "2024-01-07T00:00:00.000000+00:00",
                when_created_utc: s.5,
                when_created_iso: &iso,
                when_added_batch_utc: s.6,
                adding_user_id: s.4.map(|u| users[u]),
                group_id: groups[s.2],
                task_is_complete: s.7,
            },
        )
        .unwrap();
        tasks[i] = crate::db::last_insert_id(c).unwrap();
    }
    Fixture {
        conn,
        _dir: dir,
        groups,
        devices,
        users,
        tasks,
    }
}

impl Fixture {
    fn vis(&mut self, user_index: usize) -> Visibility {
        let u = User::find(&mut self.conn, self.users[user_index])
            .unwrap()
            .unwrap();
        Visibility::for_user(&mut self.conn, &u).unwrap()
    }

    /// Task numbers (1-based) returned for `vis` and `filter`, in order.
    fn ids(&mut self, vis: &Visibility, filter: &TaskFilter) -> Vec<usize> {
        let page = query_tasks(&mut self.conn, vis, filter, 1, 100).unwrap();
        assert!(page.total_is_exact);
        assert_eq!(page.total, page.rows.len() as i64);
        page.rows
            .iter()
            .map(|r| {
                self.tasks
                    .iter()
                    .position(|t| *t == r.index_entry_pk)
                    .unwrap()
                    + 1
            })
            .collect()
    }
}

fn at(s: &str) -> Option<DateTime<FixedOffset>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap())
}

#[test]
fn visibility_is_built_from_memberships() {
    let mut fx = fixture();
    let [a, b, c] = fx.groups;
    assert_eq!(fx.vis(0), Visibility::superuser());
    assert_eq!(fx.vis(1).group_ids, vec![a]);
    assert_eq!(fx.vis(1).unfiltered, UnfilteredPatients::All);
    assert_eq!(fx.vis(2).group_ids, vec![b, c]);
    assert_eq!(fx.vis(2).unfiltered, UnfilteredPatients::AnonymousOnly);
    assert_eq!(fx.vis(3).group_ids, vec![a, b, c]);
    assert_eq!(
        fx.vis(3).unfiltered,
        UnfilteredPatients::AnonymousAndGroups(vec![a])
    );
    let none = fx.vis(4);
    assert!(none.sees_nothing());
    assert!(none.group_ids.is_empty());
}

#[test]
fn superuser_sees_all_newest_first_with_display_columns() {
    let mut fx = fixture();
    let all = Visibility::superuser();
    assert_eq!(
        fx.ids(&all, &TaskFilter::default()),
        vec![8, 7, 6, 5, 4, 3, 2, 1]
    );
    let page = query_tasks(&mut fx.conn, &all, &TaskFilter::default(), 1, 100).unwrap();
    let t1 = &page.rows[7];
    assert_eq!(t1.task_display_name, "PHQ-9");
    assert_eq!(t1.task_table_name, "phq9");
    let p = t1.patient.as_ref().unwrap();
    assert_eq!(p.display_name(), "SMITH, Ann");
    assert_eq!(p.sex.as_deref(), Some("F"));
    assert_eq!(p.idnums, vec![(1, Some(9_434_765_919)), (2, Some(111))]);
    assert_eq!(page.rows[2].patient.as_ref().unwrap().idnums, p.idnums);
    assert_eq!(t1.device_name.as_deref(), Some("Tablet one"));
    assert_eq!(t1.adding_username.as_deref(), Some("ua"));
    assert_eq!(t1.group_name.as_deref(), Some("A"));
    assert!(t1.task_is_complete && !t1.live_on_tablet);
    let t7 = &page.rows[1];
    assert_eq!(t7.task_display_name, "Photo");
    assert!(t7.adding_username.is_none());
    let t6 = &page.rows[2];
    assert_eq!(t6.device_name.as_deref(), Some("d2"));
    assert!(!t6.task_is_complete);
    assert!(page.rows[3].patient.is_none(), "T5 is anonymous");
    assert!(!page.text_filter_not_applied);
}

#[test]
fn unfiltered_patient_rules_and_group_visibility() {
    let mut fx = fixture();
    let none = TaskFilter::default();
    let (ua, ub, umix, unone) = (fx.vis(1), fx.vis(2), fx.vis(3), fx.vis(4));
    assert!(fx.ids(&unone, &none).is_empty());
    assert_eq!(fx.ids(&ua, &none), vec![6, 4, 1]);
    // Sees no patients unfiltered: anonymous tasks of visible groups only.
    assert_eq!(fx.ids(&ub, &none), vec![5]);
    assert!(ub.restricted_when_unfiltered(&none));
    // Mixed: anonymous tasks plus the groups with the flag.
    assert_eq!(fx.ids(&umix, &none), vec![6, 5, 4, 1]);
    // A specific patient filter lifts the rule, within visible groups (B sees C).
    let smith = TaskFilter {
        surname: Some("smith".into()),
        ..TaskFilter::default()
    };
    assert!(!ub.restricted_when_unfiltered(&smith));
    assert_eq!(fx.ids(&ub, &smith), vec![7, 2]);
    assert_eq!(fx.ids(&umix, &smith), vec![7, 6, 2, 1]);
    let rio222 = TaskFilter {
        idnum_criteria: vec![IdNumReference {
            which_idnum: 2,
            idnum_value: 222,
        }],
        ..TaskFilter::default()
    };
    assert_eq!(fx.ids(&ub, &rio222), vec![8, 3]);
    assert!(fx.ids(&ua, &rio222).is_empty());
    assert!(fx.ids(&unone, &smith).is_empty());
    // Sex is not a specific patient filter: the rule still applies.
    let male = TaskFilter {
        sex: Some("m".into()),
        ..TaskFilter::default()
    };
    assert!(fx.ids(&umix, &male).is_empty());
    assert!(fx.ids(&ub, &male).is_empty());
    let female = TaskFilter {
        sex: Some("f".into()),
        ..TaskFilter::default()
    };
    assert_eq!(fx.ids(&umix, &female), vec![6, 1]);
}

#[test]
fn each_filter_field_restricts_as_specified() {
    let mut fx = fixture();
    let all = Visibility::superuser();
    let d = TaskFilter::default;
    let mut check = |f: TaskFilter, want: &[usize]| {
        assert_eq!(fx.ids(&all, &f), want, "{f:?}");
    };
    check(
        TaskFilter {
            task_types: vec!["phq9".into()],
            ..d()
        },
        &[8, 6, 1],
    );
    check(
        TaskFilter {
            task_types: vec!["phq9".into(), "bmi".into()],
            ..d()
        },
        &[8, 6, 3, 1],
    );
    check(
        TaskFilter {
            surname: Some("smith".into()),
            ..d()
        },
        &[7, 6, 2, 1],
    );
    check(
        TaskFilter {
            surname: Some("SMITH".into()),
            ..d()
        },
        &[7, 6, 2, 1],
    );
    check(
        TaskFilter {
            surname: Some("Smit".into()),
            ..d()
        },
        &[],
    );
    check(
        TaskFilter {
            surname: Some(String::new()),
            ..d()
        },
        &[8, 7, 6, 5, 4, 3, 2, 1],
    );
    check(
        TaskFilter {
            forename: Some("aNN".into()),
            ..d()
        },
        &[8, 6, 3, 1],
    );
    check(
        TaskFilter {
            surname: Some("smith".into()),
            forename: Some("ann".into()),
            ..d()
        },
        &[6, 1],
    );
    check(
        TaskFilter {
            dob: NaiveDate::from_ymd_opt(1970, 1, 1),
            ..d()
        },
        &[8, 6, 3, 1],
    );
    check(
        TaskFilter {
            sex: Some("m".into()),
            ..d()
        },
        &[7, 2],
    );
    let idref = |which_idnum, idnum_value| IdNumReference {
        which_idnum,
        idnum_value,
    };
    check(
        TaskFilter {
            idnum_criteria: vec![idref(1, 4_010_232_137), idref(2, 222)],
            ..d()
        },
        &[8, 7, 3, 2],
    );
    check(
        TaskFilter {
            idnum_criteria: vec![idref(1, 111)],
            ..d()
        },
        &[],
    );
    let d2 = fx_devices()[1];
    check(
        TaskFilter {
            device_ids: vec![d2],
            ..d()
        },
        &[8, 6, 5, 2],
    );
    check(
        TaskFilter {
            adding_user_ids: vec![fx_user(2)],
            ..d()
        },
        &[6, 5, 2],
    );
    check(
        TaskFilter {
            group_ids: vec![fx_group(2)],
            ..d()
        },
        &[8, 3],
    );
    check(
        TaskFilter {
            start_datetime: at("2024-01-05T10:00:00+00:00"),
            ..d()
        },
        &[8, 7, 6, 5],
    );
    check(
        TaskFilter {
            start_datetime: at("2024-01-05T11:00:00+01:00"),
            ..d()
        },
        &[8, 7, 6, 5],
    );
    check(
        TaskFilter {
            end_datetime: at("2024-01-05T10:00:00+00:00"),
            ..d()
        },
        &[4, 3, 2, 1],
    );
    check(
        TaskFilter {
            start_datetime: at("2024-01-03T10:00:00+00:00"),
            end_datetime: at("2024-01-05T10:00:00+00:00"),
            ..d()
        },
        &[4, 3],
    );
    check(
        TaskFilter {
            start_datetime: at("2024-01-05T10:00:00+00:00"),
            end_datetime: at("2024-01-03T10:00:00+00:00"),
            ..d()
        },
        &[],
    );
    check(
        TaskFilter {
            complete_only: Some(true),
            ..d()
        },
        &[8, 7, 5, 4, 3, 1],
    );
    check(
        TaskFilter {
            complete_only: Some(false),
            ..d()
        },
        &[8, 7, 6, 5, 4, 3, 2, 1],
    );
    check(
        TaskFilter {
            tasks_with_patient_only: Some(true),
            ..d()
        },
        &[8, 7, 6, 3, 2, 1],
    );
    check(
        TaskFilter {
            tasks_offering_trackers_only: Some(true),
            ..d()
        },
        &[8, 6, 3, 2, 1],
    );
    check(
        TaskFilter {
            tasks_offering_trackers_only: Some(true),
            task_types: vec!["photo".into()],
            ..d()
        },
        &[],
    );
}

// The fixture's ids are assigned in order on a fresh database.
fn fx_devices() -> [i32; 2] {
    [1, 2]
}
fn fx_user(i: usize) -> i32 {
    i32::try_from(i).unwrap() + 1
}
fn fx_group(i: usize) -> i32 {
    i32::try_from(i).unwrap() + 1
}

#[test]
fn fixture_ids_are_as_assumed() {
    let fx = fixture();
    assert_eq!(fx.devices, fx_devices());
    assert_eq!(fx.users[2], fx_user(2));
    assert_eq!(fx.groups[2], fx_group(2));
}

#[test]
fn text_phrases_are_flagged_and_pages_clamp() {
    let mut fx = fixture();
    let all = Visibility::superuser();
    let text = TaskFilter {
        text_contents: vec!["paracetamol".into()],
        ..TaskFilter::default()
    };
    let page = query_tasks(&mut fx.conn, &all, &text, 1, 25).unwrap();
    assert!(page.text_filter_not_applied);
    assert_eq!(page.rows.len(), 8);

    let f = TaskFilter::default();
    let pages: Vec<Vec<i32>> = [1, 2, 3]
        .iter()
        .map(|p| {
            let pg = query_tasks(&mut fx.conn, &all, &f, *p, 3).unwrap();
            assert_eq!((pg.page, pg.total, pg.last_page()), (*p, 8, Some(3)));
            pg.rows.iter().map(|r| r.index_entry_pk).collect()
        })
        .collect();
    let t = fx.tasks;
    assert_eq!(
        pages,
        vec![
            vec![t[7], t[6], t[5]],
            vec![t[4], t[3], t[2]],
            vec![t[1], t[0]]
        ]
    );
    let beyond = query_tasks(&mut fx.conn, &all, &f, 99, 3).unwrap();
    assert_eq!(beyond.page, 3);
    assert!(!beyond.has_next());
    let before = query_tasks(&mut fx.conn, &all, &f, 0, 3).unwrap();
    assert_eq!(before.page, 1);
    assert!(before.has_next());
    let tiny = query_tasks(&mut fx.conn, &all, &f, 2, 0).unwrap();
    assert_eq!((tiny.per_page, tiny.page, tiny.rows.len()), (1, 2, 1));
    let unone = fx.vis(4);
    let nothing = query_tasks(&mut fx.conn, &unone, &f, 5, 25).unwrap();
    assert_eq!((nothing.page, nothing.total, nothing.rows.len()), (1, 0, 0));
    assert_eq!(nothing.last_page(), Some(1));
}
