//! `_security_groups`, `_security_user_group` (memberships with their permission flags) and
//! `_security_group_group` (which groups a group can see) (sessions §1.8).

use diesel::prelude::*;

use crate::db::schema::{_security_group_group, _security_groups, _security_user_group};
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// One row of `_security_groups`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _security_groups, check_for_backend(MultiBackend))]
pub struct Group {
    /// Primary key.
    pub id: i32,
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Upload ID policy.
    pub upload_policy: Option<String>,
    /// Finalize ID policy.
    pub finalize_policy: Option<String>,
    /// IP use settings (not used here).
    pub ip_use_id: Option<i32>,
}

/// A group to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = _security_groups)]
pub struct NewGroup<'a> {
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Upload policy.
    pub upload_policy: Option<&'a str>,
    /// Finalize policy.
    pub finalize_policy: Option<&'a str>,
}

impl Group {
    /// All groups by name.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Group>> {
        _security_groups::table
            .order(_security_groups::name.asc())
            .select(Group::as_select())
            .load(conn)
    }

    /// Groups with the given ids, by name.
    pub fn with_ids(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<Vec<Group>> {
        _security_groups::table
            .filter(_security_groups::id.eq_any(ids))
            .order(_security_groups::name.asc())
            .select(Group::as_select())
            .load(conn)
    }

    /// Finds a group by id.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<Group>> {
        _security_groups::table
            .find(id)
            .select(Group::as_select())
            .get_result(conn)
            .optional()
    }

    /// Inserts a group and returns its id.
    pub fn insert(conn: &mut DbConnection, new: &NewGroup<'_>) -> QueryResult<i32> {
        diesel::insert_into(_security_groups::table)
            .values(new)
            .execute(conn)?;
        last_insert_id(conn)
    }

    /// Lets `group_id` see `can_see_group_id`.
    pub fn add_can_see(
        conn: &mut DbConnection,
        group_id: i32,
        can_see_group_id: i32,
    ) -> QueryResult<usize> {
        diesel::insert_into(_security_group_group::table)
            .values((
                _security_group_group::group_id.eq(group_id),
                _security_group_group::can_see_group_id.eq(can_see_group_id),
            ))
            .execute(conn)
    }

    /// Ids of groups that any of `group_ids` can see (not including themselves).
    pub fn ids_seen_by(conn: &mut DbConnection, group_ids: &[i32]) -> QueryResult<Vec<i32>> {
        _security_group_group::table
            .filter(_security_group_group::group_id.eq_any(group_ids))
            .select(_security_group_group::can_see_group_id)
            .load(conn)
    }
}

/// One row of `_security_user_group`: a user's membership of a group and its flags.
#[derive(Debug, Clone, Default, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _security_user_group, check_for_backend(MultiBackend))]
pub struct Membership {
    /// Primary key.
    pub id: i32,
    /// The user.
    pub user_id: Option<i32>,
    /// The group.
    pub group_id: Option<i32>,
    /// The permission flags.
    #[diesel(embed)]
    pub flags: StoredFlags,
}

/// A membership to insert (a flag left `None` is not written: the column's default, NULL).
#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = _security_user_group)]
pub struct NewMembership {
    /// The user.
    pub user_id: Option<i32>,
    /// The group.
    pub group_id: Option<i32>,
    /// The permission flags.
    #[diesel(embed)]
    pub flags: StoredFlags,
}

/// The ten permission flags of `_security_user_group` as stored: each may be NULL (CamCOPS
/// reads NULL as false).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = _security_user_group, check_for_backend(MultiBackend))]
pub struct StoredFlags {
    /// Group administrator.
    pub groupadmin: Option<bool>,
    /// May upload into the group.
    pub may_upload: Option<bool>,
    /// May register devices for the group.
    pub may_register_devices: Option<bool>,
    /// May use the web viewer.
    pub may_use_webviewer: Option<bool>,
    /// Sees all patients when no patient filter is set.
    pub view_all_patients_when_unfiltered: Option<bool>,
    /// May dump data.
    pub may_dump_data: Option<bool>,
    /// May run reports.
    pub may_run_reports: Option<bool>,
    /// May add special notes.
    pub may_add_notes: Option<bool>,
    /// May manage patients.
    pub may_manage_patients: Option<bool>,
    /// May e-mail patients.
    pub may_email_patients: Option<bool>,
}

impl StoredFlags {
    /// The ten flags with NULL read as false.
    pub fn or_false(&self) -> MembershipFlags {
        let f = |b: Option<bool>| b.unwrap_or(false);
        MembershipFlags {
            groupadmin: f(self.groupadmin),
            may_upload: f(self.may_upload),
            may_register_devices: f(self.may_register_devices),
            may_use_webviewer: f(self.may_use_webviewer),
            view_all_patients_when_unfiltered: f(self.view_all_patients_when_unfiltered),
            may_dump_data: f(self.may_dump_data),
            may_run_reports: f(self.may_run_reports),
            may_add_notes: f(self.may_add_notes),
            may_manage_patients: f(self.may_manage_patients),
            may_email_patients: f(self.may_email_patients),
        }
    }
}

impl From<MembershipFlags> for StoredFlags {
    /// Every flag written, as true or false (never NULL).
    fn from(f: MembershipFlags) -> StoredFlags {
        StoredFlags {
            groupadmin: Some(f.groupadmin),
            may_upload: Some(f.may_upload),
            may_register_devices: Some(f.may_register_devices),
            may_use_webviewer: Some(f.may_use_webviewer),
            view_all_patients_when_unfiltered: Some(f.view_all_patients_when_unfiltered),
            may_dump_data: Some(f.may_dump_data),
            may_run_reports: Some(f.may_run_reports),
            may_add_notes: Some(f.may_add_notes),
            may_manage_patients: Some(f.may_manage_patients),
            may_email_patients: Some(f.may_email_patients),
        }
    }
}

impl Membership {
    /// All memberships of a user.
    pub fn for_user(conn: &mut DbConnection, user_id: i32) -> QueryResult<Vec<Membership>> {
        // Run on every authenticated request: on the backend's own connection.
        crate::on_native_connection!(conn, |c| _security_user_group::table
            .filter(_security_user_group::user_id.eq(user_id))
            .order(_security_user_group::group_id.asc())
            .select(Membership::as_select())
            .load(c))
    }

    /// All memberships of the given users.
    pub fn for_users(conn: &mut DbConnection, user_ids: &[i32]) -> QueryResult<Vec<Membership>> {
        _security_user_group::table
            .filter(_security_user_group::user_id.eq_any(user_ids))
            .order(_security_user_group::group_id.asc())
            .select(Membership::as_select())
            .load(conn)
    }

    /// Ids of users that belong to any of `group_ids`.
    pub fn user_ids_in_groups(conn: &mut DbConnection, group_ids: &[i32]) -> QueryResult<Vec<i32>> {
        _security_user_group::table
            .filter(_security_user_group::group_id.eq_any(group_ids))
            .filter(_security_user_group::user_id.is_not_null())
            .select(_security_user_group::user_id.assume_not_null())
            .distinct()
            .load(conn)
    }

    /// Inserts a membership.
    pub fn insert(conn: &mut DbConnection, new: &NewMembership) -> QueryResult<usize> {
        diesel::insert_into(_security_user_group::table)
            .values(new)
            .execute(conn)
    }
    /// One membership by id.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<Membership>> {
        _security_user_group::table
            .find(id)
            .select(Membership::as_select())
            .get_result(conn)
            .optional()
    }

    /// Deletes the memberships with the given ids.
    pub fn delete_ids(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<usize> {
        diesel::delete(_security_user_group::table.filter(_security_user_group::id.eq_any(ids)))
            .execute(conn)
    }

    /// Deletes every membership of a user.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> QueryResult<usize> {
        diesel::delete(
            _security_user_group::table.filter(_security_user_group::user_id.eq(user_id)),
        )
        .execute(conn)
    }

    /// Rewrites all ten permission flags of a membership.
    pub fn set_flags(conn: &mut DbConnection, id: i32, f: &MembershipFlags) -> QueryResult<usize> {
        diesel::update(_security_user_group::table.find(id))
            .set(StoredFlags::from(*f))
            .execute(conn)
    }
}

/// The ten permission flags of a membership, in the order of the original's form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipFlags {
    /// May upload.
    pub may_upload: bool,
    /// May register devices.
    pub may_register_devices: bool,
    /// May use the web viewer.
    pub may_use_webviewer: bool,
    /// May manage patients.
    pub may_manage_patients: bool,
    /// May e-mail patients.
    pub may_email_patients: bool,
    /// Sees all patients unfiltered.
    pub view_all_patients_when_unfiltered: bool,
    /// May dump data.
    pub may_dump_data: bool,
    /// May run reports.
    pub may_run_reports: bool,
    /// May add notes.
    pub may_add_notes: bool,
    /// Group administrator.
    pub groupadmin: bool,
}

impl MembershipFlags {
    /// `(wire name, value)` of each flag, in the form's order.
    pub fn named(&self) -> [(&'static str, bool); 10] {
        [
            ("may_upload", self.may_upload),
            ("may_register_devices", self.may_register_devices),
            ("may_use_webviewer", self.may_use_webviewer),
            ("may_manage_patients", self.may_manage_patients),
            ("may_email_patients", self.may_email_patients),
            (
                "view_all_patients_when_unfiltered",
                self.view_all_patients_when_unfiltered,
            ),
            ("may_dump_data", self.may_dump_data),
            ("may_run_reports", self.may_run_reports),
            ("may_add_notes", self.may_add_notes),
            ("groupadmin", self.groupadmin),
        ]
    }
}
