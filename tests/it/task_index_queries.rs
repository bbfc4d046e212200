//! The task list query (`models::task_index::query_tasks`, `Visibility`) on the small
//! hand-made data set of `task_seed` (with creation ties), on every backend: the visibility
//! rules built from memberships, each filter field, the order and pagination.

use chrono::{DateTime, FixedOffset, NaiveDate};

use camcops_web::db::DbConnection;
use camcops_web::models::task_filter::{IdNumReference, TaskFilter};
use camcops_web::models::task_index::{query_tasks, UnfilteredPatients, Visibility};
use camcops_web::models::user::User;

use crate::task_seed::{seed, Seed, Times};
use crate::testdb::{backend_test, TestDb};

struct Fixture {
    conn: DbConnection,
    _db: TestDb,
    groups: [i32; 3],
    devices: [i32; 2],
    /// super, ua, ub, umix, unone.
    users: [i32; 5],
    /// index_entry_pk of T1..T8.
    tasks: [i32; 8],
}

/// The seeded data set with its creation ties.
fn fixture(db: TestDb) -> Fixture {
    let mut conn = db.conn();
    let Seed {
        groups,
        devices,
        users,
        tasks,
    } = seed(&mut conn, Times::WithTies);
    Fixture {
        conn,
        _db: db,
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

backend_test! {
    fn visibility_is_built_from_memberships(db) {
        let mut fx = fixture(db);
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

    fn superuser_sees_all_newest_first_with_display_columns(db) {
        let mut fx = fixture(db);
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

    fn unfiltered_patient_rules_and_group_visibility(db) {
        let mut fx = fixture(db);
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

    fn each_filter_field_restricts_as_specified(db) {
        let mut fx = fixture(db);
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

    fn fixture_ids_are_as_assumed(db) {
        let fx = fixture(db);
        assert_eq!(fx.devices, fx_devices());
        assert_eq!(fx.users[2], fx_user(2));
        assert_eq!(fx.groups[2], fx_group(2));
    }

    fn text_phrases_are_flagged_and_pages_clamp(db) {
        let mut fx = fixture(db);
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
}
