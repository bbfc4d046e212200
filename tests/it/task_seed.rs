//! The one small hand-made data set of the task list tests, shared by `task_pages` (through
//! HTTP) and `task_index_queries` (the query functions): groups A, B, C (B can see C);
//! devices d1 ("Tablet one"), d2; ID types 1 (NHS number, validated) and 2 (RiO); patients
//! p1 Smith/Ann F 1970 (A), p2 SMITH/Bob M 1980 (B), p3 Jones/Ann F 1970 (C); users super,
//! ua (A, sees all), ub (B, sees none unfiltered), umix (A sees all, B none), unone (no
//! group); tasks T1..T8 as [`TASKS`] lists them, at the times [`Times`] chooses.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use camcops_web::auth::password;
use camcops_web::db::{last_insert_id, DbConnection};
use camcops_web::models::device::{Device, NewDevice};
use camcops_web::models::group::{Group, Membership, NewGroup, NewMembership, StoredFlags};
use camcops_web::models::idnum::{IdNumDefinition, IdNumIndexEntry, NewIdNumIndexEntry};
use camcops_web::models::patient::{NewPatient, Patient};
use camcops_web::models::task_index::{NewTaskIndexEntry, TaskIndexEntry};
use camcops_web::models::user::{NewUser, User};

use crate::helpers::plain_user;

/// Every seeded user's password.
pub const PW: &str = "correct horse battery";

/// Ids of the seeded data set.
pub struct Seed {
    /// A, B, C.
    pub groups: [i32; 3],
    /// d1, d2.
    pub devices: [i32; 2],
    /// super, ua, ub, umix, unone.
    pub users: [i32; 5],
    /// `_task_index.index_entry_pk` of T1..T8.
    pub tasks: [i32; 8],
}

/// One seeded task: (table, patient 1..3, group A..C as 0..2, device d1/d2 as 0/1, adding
/// user as an index into [`Seed::users`], complete).
pub type TaskSpec = (
    &'static str,
    Option<usize>,
    usize,
    usize,
    Option<usize>,
    bool,
);

/// T1..T8.
pub const TASKS: [TaskSpec; 8] = [
    ("phq9", Some(1), 0, 0, Some(1), true),       // T1
    ("gad7", Some(2), 1, 1, Some(2), false),      // T2
    ("bmi", Some(3), 2, 0, Some(1), true),        // T3
    ("ref_satis_gen", None, 0, 0, Some(1), true), // T4
    ("ref_satis_gen", None, 1, 1, Some(2), true), // T5
    ("phq9", Some(1), 0, 1, Some(2), false),      // T6
    ("photo", Some(2), 1, 0, None, true),         // T7
    ("phq9", Some(3), 2, 1, Some(1), true),       // T8
];

/// When the tasks were created and added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Tn created (and added) on n January 2024 at 10:00 UTC, so a row's creation day names
    /// the task (the page tests read it).
    OnePerDay,
    /// Creation ties that the ordering must break: T6 at T5's time in a later batch, T8 at
    /// T7's time and batch (a full tie, broken by the key).
    WithTies,
}

impl Times {
    /// (created, added batch) of task `n` (1..=8).
    fn of(self, n: u32) -> (NaiveDateTime, NaiveDateTime) {
        match self {
            Times::OnePerDay => (day(n, 10), day(n, 10)),
            Times::WithTies => match n {
                5 => (day(5, 10), day(5, 11)),
                6 => (day(5, 10), day(5, 12)),
                7 | 8 => (day(6, 10), day(6, 12)),
                n => (day(n, 10), day(n, 12)),
            },
        }
    }
}

/// `d` January 2024 at `hour`:00.
pub fn day(d: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, d)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn group(c: &mut DbConnection, name: &str) -> i32 {
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
}

/// A web-viewer user (password [`PW`], terms agreed) with memberships
/// `(group, view_all_patients_when_unfiltered)`.
pub fn user(
    c: &mut DbConnection,
    name: &str,
    superuser: bool,
    groups: &[(Option<i32>, bool)],
) -> i32 {
    let hash = password::hash(PW, 4).unwrap();
    let id = User::insert(
        c,
        &NewUser {
            superuser: Some(superuser),
            when_agreed_terms_of_use: Some(crate::helpers::AGREED.into()),
            ..plain_user(name, &hash)
        },
    )
    .unwrap();
    for &(g, view_all) in groups {
        Membership::insert(
            c,
            &NewMembership {
                user_id: Some(id),
                group_id: g,
                flags: StoredFlags {
                    may_use_webviewer: Some(true),
                    view_all_patients_when_unfiltered: Some(view_all),
                    ..StoredFlags::default()
                },
            },
        )
        .unwrap();
    }
    id
}

/// Inserts a task created (and added) at `created` with key 1: `(group, device, adding user)`
/// say where it came from. Returns its `index_entry_pk`.
pub fn task(
    c: &mut DbConnection,
    table: &str,
    patient: Option<i32>,
    origin: (i32, i32, Option<i32>),
    created: NaiveDateTime,
    complete: bool,
) -> i32 {
    task_at(c, table, (patient, 1), origin, (created, created), complete)
}

/// As [`task`], with the task's key and the time of its upload batch.
fn task_at(
    c: &mut DbConnection,
    table: &str,
    (patient, task_pk): (Option<i32>, i32),
    (group, device, user): (i32, i32, Option<i32>),
    (created, batch): (NaiveDateTime, NaiveDateTime),
    complete: bool,
) -> i32 {
    let iso = created.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    TaskIndexEntry::insert(
        c,
        &NewTaskIndexEntry {
            indexed_at_utc: day(20, 0),
            task_table_name: table,
            task_pk: Some(task_pk),
            patient_pk: patient,
            device_id: device,
            era: "2024-01-20T00:00:00.000000+00:00",
            when_created_utc: created,
            when_created_iso: &iso,
            when_added_batch_utc: batch,
            adding_user_id: user,
            group_id: group,
            task_is_complete: complete,
        },
    )
    .unwrap();
    last_insert_id(c).unwrap()
}

/// Seeds the data set (see the module doc) in one transaction.
pub fn seed(conn: &mut DbConnection, times: Times) -> Seed {
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        let groups = [group(c, "A"), group(c, "B"), group(c, "C")];
        Group::add_can_see(c, groups[1], groups[2]).unwrap();
        let (a, b) = (Some(groups[0]), Some(groups[1]));
        let users = [
            user(c, "super", true, &[]),
            user(c, "ua", false, &[(a, true)]),
            user(c, "ub", false, &[(b, false)]),
            user(c, "umix", false, &[(a, true), (b, false)]),
            user(c, "unone", false, &[(None, true)]),
        ];
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
        for (which, desc, method) in [
            (1, "NHS number", Some("uk_nhs_number")),
            (2, "RiO number", None),
        ] {
            IdNumDefinition::insert(
                c,
                &IdNumDefinition {
                    which_idnum: which,
                    description: Some(desc.into()),
                    short_description: None,
                    validation_method: method.map(str::to_string),
                },
            )
            .unwrap();
        }
        let pat =
            |c: &mut DbConnection, s: &str, f: &str, dob: (i32, u32, u32), sex: &str, g: i32| {
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
        let patients = [
            pat(c, "Smith", "Ann", (1970, 1, 1), "F", groups[0]),
            pat(c, "SMITH", "Bob", (1980, 5, 5), "M", groups[1]),
            pat(c, "Jones", "Ann", (1970, 1, 1), "F", groups[2]),
        ];
        for (p, which, value) in [
            (0, 1, 9_434_765_919),
            (0, 2, 111),
            (1, 1, 4_010_232_137),
            (2, 2, 222),
        ] {
            IdNumIndexEntry::insert(
                c,
                &NewIdNumIndexEntry {
                    indexed_at_utc: day(1, 0),
                    patient_pk: Some(patients[p]),
                    which_idnum: which,
                    idnum_value: Some(value),
                },
            )
            .unwrap();
        }
        let mut tasks = [0; 8];
        for (n, (table, patient, g, d, u, complete)) in (1..).zip(TASKS) {
            let i = usize::try_from(n - 1).unwrap();
            tasks[i] = task_at(
                c,
                table,
                (patient.map(|p| patients[p - 1]), n),
                (groups[g], devices[d], u.map(|u| users[u])),
                times.of(n.unsigned_abs()),
                complete,
            );
        }
        Ok(Seed {
            groups,
            devices,
            users,
            tasks,
        })
    })
    .unwrap()
}
