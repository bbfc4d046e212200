//! The queries of the group administration pages (admin §4), no HTTP and no audit: their
//! reads (the paged group list, member names, whether a name is taken, the can-see pairs),
//! the statements that write `_security_groups` and the rows that hang on a group
//! (`_security_group_group`, `_security_ip_use`), and the checks that refuse a delete. They
//! are `impl Group` blocks (`Group::update_fields(...)` and the like).
//!
//! The pages' writes, each with its audit row, are in `auth/group_admin.rs`, made of these
//! queries (as the user pages' writes are in `auth/user_admin.rs`). Plain group reads that
//! any page needs stay in `models/group.rs`.

use diesel::prelude::*;

use crate::db::schema::{
    _security_group_group as gg, _security_groups as g, _security_user_group as ugm,
    _security_users, _task_index, patient,
};
use crate::db::DbConnection;
use crate::models::group::Group;

/// The editable fields of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFields {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Upload ID policy.
    pub upload_policy: Option<String>,
    /// Finalize ID policy.
    pub finalize_policy: Option<String>,
}

/// Why a group may not be deleted (checked in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteRefusal {
    /// Membership rows name the group (orphans and auto-generated users included).
    HasMembers,
    /// Patients or tasks are in the group, or another row refers to it.
    RecordsReferToIt,
    /// Users upload into it (the original then fails with a 500).
    IsUploadGroup,
}

impl DeleteRefusal {
    /// The message shown (the original's, for the first two).
    pub fn message(self) -> &'static str {
        match self {
            DeleteRefusal::HasMembers => "Unable to delete group; there are users who are members!",
            DeleteRefusal::RecordsReferToIt => "Unable to delete group; records refer to it.",
            DeleteRefusal::IsUploadGroup => {
                "Unable to delete group; it is the upload group of one or more users."
            }
        }
    }
}

impl Group {
    /// How many groups there are.
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        g::table.count().get_result(conn)
    }

    /// A page of groups ordered by name.
    pub fn page(conn: &mut DbConnection, offset: i64, limit: i64) -> QueryResult<Vec<Group>> {
        g::table
            .order((g::name.asc(), g::id.asc()))
            .offset(offset)
            .limit(limit)
            .select(Group::as_select())
            .load(conn)
    }

    /// Whether a group other than `except` has this name regardless of case (on every
    /// backend, as CamCOPS on MariaDB).
    pub fn name_taken(
        conn: &mut DbConnection,
        name: &str,
        except: Option<i32>,
    ) -> QueryResult<bool> {
        let mut q = g::table
            .filter(crate::db::lower(g::name).eq(crate::db::lower(name)))
            .into_boxed();
        if let Some(id) = except {
            q = q.filter(g::id.ne(id));
        }
        Ok(q.select(g::id).first::<i32>(conn).optional()?.is_some())
    }

    /// `(group_id, can_see_group_id)` rows of the given groups.
    pub fn can_see_pairs(
        conn: &mut DbConnection,
        group_ids: &[i32],
    ) -> QueryResult<Vec<(i32, i32)>> {
        gg::table
            .filter(gg::group_id.eq_any(group_ids))
            .select((gg::group_id, gg::can_see_group_id))
            .load(conn)
    }

    /// Writes the editable fields and the IP-use row id.
    pub fn update_fields(
        conn: &mut DbConnection,
        id: i32,
        f: &GroupFields,
        ip_use_id: Option<i32>,
    ) -> QueryResult<usize> {
        diesel::update(g::table.find(id))
            .set((
                g::name.eq(&f.name),
                g::description.eq(&f.description),
                g::upload_policy.eq(&f.upload_policy),
                g::finalize_policy.eq(&f.finalize_policy),
                g::ip_use_id.eq(ip_use_id),
            ))
            .execute(conn)
    }

    /// Makes `can_see` exactly the groups `id` may see (rows with `group_id = id` rewritten).
    pub fn replace_can_see(conn: &mut DbConnection, id: i32, can_see: &[i32]) -> QueryResult<()> {
        diesel::delete(gg::table.filter(gg::group_id.eq(id))).execute(conn)?;
        for &other in can_see {
            Group::add_can_see(conn, id, other)?;
        }
        Ok(())
    }

    /// The first reason the group may not be deleted, if any.
    pub fn delete_refusal(conn: &mut DbConnection, id: i32) -> QueryResult<Option<DeleteRefusal>> {
        let members: i64 = ugm::table
            .filter(ugm::group_id.eq(id))
            .count()
            .get_result(conn)?;
        if members > 0 {
            return Ok(Some(DeleteRefusal::HasMembers));
        }
        let task = _task_index::table
            .filter(_task_index::group_id.eq(id))
            .select(_task_index::index_entry_pk)
            .first::<i32>(conn)
            .optional()?;
        let pt = patient::table
            .filter(patient::_group_id.eq(id))
            .select(patient::_pk)
            .first::<i32>(conn)
            .optional()?;
        if task.is_some() || pt.is_some() {
            return Ok(Some(DeleteRefusal::RecordsReferToIt));
        }
        let uploader = _security_users::table
            .filter(_security_users::upload_group_id.eq(id))
            .select(_security_users::id)
            .first::<i32>(conn)
            .optional()?;
        Ok(uploader.map(|_| DeleteRefusal::IsUploadGroup))
    }

    /// Deletes the group, the visibility rows naming it (either way) and its IP-use row. A
    /// row elsewhere that still refers to it (a CamCOPS task schedule, a client table) makes
    /// the database refuse: the caller maps that to [`DeleteRefusal::RecordsReferToIt`].
    pub fn delete_with_links(conn: &mut DbConnection, group: &Group) -> QueryResult<()> {
        diesel::delete(
            gg::table.filter(
                gg::group_id
                    .eq(group.id)
                    .or(gg::can_see_group_id.eq(group.id)),
            ),
        )
        .execute(conn)?;
        diesel::delete(g::table.find(group.id)).execute(conn)?;
        if let Some(ip) = group.ip_use_id {
            crate::models::ip_use::IpUseFlags::delete(conn, ip)?;
        }
        Ok(())
    }

    /// Names of the non-auto-generated members of each group: `(group_id, username)`.
    pub fn member_names(
        conn: &mut DbConnection,
        group_ids: &[i32],
    ) -> QueryResult<Vec<(i32, String)>> {
        ugm::table
            .inner_join(_security_users::table)
            .filter(ugm::group_id.eq_any(group_ids))
            .filter(_security_users::auto_generated.eq(false))
            .select((ugm::group_id.assume_not_null(), _security_users::username))
            .order(_security_users::username.asc())
            .load(conn)
    }
}
