//! Demo groups, staff users with different permissions, devices and ID number definitions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{_security_groups, _security_users};
use crate::db::DbConnection;
use crate::models::device::{Device, NewDevice};
use crate::models::group::{Group, Membership, MembershipFlags, NewGroup, NewMembership};
use crate::models::idnum::{IdNumDefinition, VALIDATION_UK_NHS_NUMBER};
use crate::models::user::{NewUser, User};

/// Demo groups: name, description, share of patients (percent).
pub const GROUPS: &[(&str, &str, u32)] = &[
    ("demo_outpatients", "Demo: community outpatient clinic", 45),
    ("demo_inpatients", "Demo: inpatient wards", 20),
    ("demo_memory_clinic", "Demo: memory clinic", 20),
    ("demo_research", "Demo: research study", 15),
];
/// Index into [`GROUPS`] of each group.
pub const OUTPATIENTS: usize = 0;
/// Inpatients.
pub const INPATIENTS: usize = 1;
/// Memory clinic.
pub const MEMORY: usize = 2;
/// Research.
pub const RESEARCH: usize = 3;

/// Demo devices: name, friendly name, index of the group whose tasks it uploads.
pub const DEVICES: &[(&str, &str, usize)] = &[
    ("demo_ipad_outpatients_1", "Outpatients iPad 1", OUTPATIENTS),
    ("demo_ipad_outpatients_2", "Outpatients iPad 2", OUTPATIENTS),
    ("demo_ipad_ward", "Ward iPad", INPATIENTS),
    ("demo_android_memory", "Memory clinic tablet", MEMORY),
    ("demo_laptop_research", "Research laptop", RESEARCH),
    ("demo_desktop_admin", "Admin office PC", OUTPATIENTS),
];

/// The demo's ID number definitions: which, description, short description, validation.
pub const IDNUM_DEFINITIONS: &[(i32, &str, &str, Option<&str>)] = &[
    (1, "NHS number", "NHS", Some(VALIDATION_UK_NHS_NUMBER)),
    (2, "RiO number", "RiO", None),
    (3, "Study number", "Study", None),
];

/// A membership spec: group index, then flags (groupadmin, webviewer, view all unfiltered,
/// upload, register devices, reports/dump).
type Member = (usize, bool, bool, bool, bool, bool, bool);

/// A demo user: username, full name, upload group, memberships.
pub struct DemoUser {
    /// Login name.
    pub username: &'static str,
    /// Full name.
    pub fullname: &'static str,
    upload_group: Option<usize>,
    memberships: &'static [Member],
}

/// The demo's staff users (the `demo` command adds its own superuser).
pub const USERS: &[DemoUser] = &[
    DemoUser {
        username: "demo_groupadmin",
        fullname: "Demo group administrator (outpatients and inpatients)",
        upload_group: Some(OUTPATIENTS),
        memberships: &[
            (OUTPATIENTS, true, true, true, true, true, true),
            (INPATIENTS, true, true, true, true, true, true),
        ],
    },
    DemoUser {
        username: "demo_clinician",
        fullname: "Demo clinician (all outpatients; memory clinic by patient only)",
        upload_group: Some(OUTPATIENTS),
        memberships: &[
            (OUTPATIENTS, false, true, true, true, false, false),
            (MEMORY, false, true, false, true, false, false),
        ],
    },
    DemoUser {
        username: "demo_ward_nurse",
        fullname: "Demo ward nurse (inpatients; can see outpatients)",
        upload_group: Some(INPATIENTS),
        memberships: &[(INPATIENTS, false, true, true, true, false, false)],
    },
    DemoUser {
        username: "demo_researcher",
        fullname: "Demo researcher (no patients unless filtered)",
        upload_group: None,
        memberships: &[(RESEARCH, false, true, false, false, false, true)],
    },
    DemoUser {
        username: "demo_tablet",
        fullname: "Demo tablet upload account",
        upload_group: Some(OUTPATIENTS),
        memberships: &[
            (OUTPATIENTS, false, false, false, true, true, false),
            (MEMORY, false, false, false, true, true, false),
            (RESEARCH, false, false, false, true, true, false),
        ],
    },
    DemoUser {
        username: "demo_nogroups",
        fullname: "Demo user without groups (sees no tasks)",
        upload_group: None,
        memberships: &[],
    },
];

/// Usernames (indexes into [`USERS`]) that upload each group's tasks.
pub const UPLOADERS: [&[usize]; 4] = [&[4, 1, 0], &[2, 0], &[1, 4], &[4]];

/// Which group can see which (group index, can-see group index).
pub const GROUP_CAN_SEE: &[(usize, usize)] = &[(INPATIENTS, OUTPATIENTS)];

/// Ids of what [`create_staff`] made, in the order of the constants above.
#[derive(Debug, Clone, Default)]
pub struct StaffIds {
    /// Group ids, as [`GROUPS`].
    pub groups: Vec<i32>,
    /// User ids, as [`USERS`].
    pub users: Vec<i32>,
    /// Device ids, as [`DEVICES`].
    pub devices: Vec<i32>,
    /// ID number definitions that were missing and were added.
    pub idnum_definitions_added: usize,
}

/// Fails if any demo group or user already exists.
pub fn check_absent(conn: &mut DbConnection) -> anyhow::Result<()> {
    let names: Vec<&str> = GROUPS.iter().map(|g| g.0).collect();
    let groups: Vec<String> = _security_groups::table
        .filter(_security_groups::name.eq_any(&names))
        .select(_security_groups::name)
        .load(conn)?;
    if let Some(g) = groups.first() {
        anyhow::bail!("demo data already exists (group {g:?} is present); not adding it again");
    }
    let usernames: Vec<&str> = USERS.iter().map(|u| u.username).collect();
    let users: Vec<String> = _security_users::table
        .filter(_security_users::username.eq_any(&usernames))
        .select(_security_users::username)
        .load(conn)?;
    if let Some(u) = users.first() {
        anyhow::bail!("demo data already exists (user {u:?} is present); not adding it again");
    }
    Ok(())
}

/// Creates groups, users (each with its own hash from `hashes`), memberships, devices and
/// any missing ID number definitions, in one transaction.
pub fn create_staff(
    conn: &mut DbConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> anyhow::Result<StaffIds> {
    if hashes.len() != USERS.len() {
        anyhow::bail!("need one password hash per demo user");
    }
    let agreed = now
        .and_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    conn.transaction::<_, anyhow::Error, _>(|c| {
        let mut ids = StaffIds::default();
        for (name, description, _) in GROUPS {
            ids.groups.push(Group::insert(
                c,
                &NewGroup {
                    name,
                    description: Some(description),
                    upload_policy: Some("sex AND anyidnum"),
                    finalize_policy: Some("sex AND idnum1"),
                },
            )?);
        }
        for (g, sees) in GROUP_CAN_SEE {
            Group::add_can_see(c, ids.groups[*g], ids.groups[*sees])?;
        }
        for (u, hash) in USERS.iter().zip(hashes) {
            let id = User::insert(
                c,
                &NewUser {
                    username: u.username,
                    fullname: Some(u.fullname),
                    email: None,
                    hashedpw: hash,
                    mfa_method: "no_mfa",
                    hotp_counter: 0,
                    superuser: Some(false),
                    must_change_password: Some(false),
                    last_password_change_utc: Some(now),
                    when_agreed_terms_of_use: Some(agreed.clone()),
                    upload_group_id: u.upload_group.map(|g| ids.groups[g]),
                    auto_generated: false,
                },
            )?;
            for &(g, admin, web, all, upload, register, reports) in u.memberships {
                Membership::insert(
                    c,
                    &NewMembership {
                        user_id: Some(id),
                        group_id: Some(ids.groups[g]),
                        flags: MembershipFlags {
                            groupadmin: admin,
                            may_upload: upload,
                            may_register_devices: register,
                            may_use_webviewer: web,
                            view_all_patients_when_unfiltered: all,
                            may_dump_data: reports,
                            may_run_reports: reports,
                            may_add_notes: web,
                            may_manage_patients: admin,
                            may_email_patients: false,
                        }
                        .into(),
                    },
                )?;
            }
            ids.users.push(id);
        }
        let tablet_user = USERS.iter().position(|u| u.username == "demo_tablet");
        for (name, friendly, _) in DEVICES {
            ids.devices.push(Device::insert(
                c,
                &NewDevice {
                    name,
                    friendly_name: Some(friendly),
                    camcops_version: Some("2.4.24"),
                    registered_by_user_id: tablet_user.map(|i| ids.users[i]),
                    when_registered_utc: Some(now),
                    currently_preserving: Some(false),
                },
            )?);
        }
        for &(which, description, short, validation) in IDNUM_DEFINITIONS {
            if IdNumDefinition::find(c, which)?.is_none() {
                IdNumDefinition::insert(
                    c,
                    &IdNumDefinition {
                        which_idnum: which,
                        description: Some(description.to_owned()),
                        short_description: Some(short.to_owned()),
                        validation_method: validation.map(str::to_owned),
                    },
                )?;
                ids.idnum_definitions_added += 1;
            }
        }
        Ok(ids)
    })
}
