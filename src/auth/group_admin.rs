//! What the group administration pages write (admin §4), each in the caller's transaction,
//! each with one audit row naming the administrator (`user_id`) and the group (table
//! `_security_groups`, server pk = group id). No HTTP here, and no checks: the pages lock,
//! validate and refuse before they call these. The queries they are made of are in
//! `models/group_admin.rs`.

use diesel::QueryResult;

use super::user_admin::Actor;
use crate::db::DbConnection;
use crate::models::group::{Group, NewGroup};
use crate::models::group_admin::GroupFields;
use crate::models::ip_use::IpUseFlags;

/// The table audit rows about groups name.
pub const GROUPS_TABLE: &str = "_security_groups";

/// Creates a group with its name only (`add_group`, admin §4.2); returns the new id.
pub fn create_group(conn: &mut DbConnection, actor: Actor<'_>, name: &str) -> QueryResult<i32> {
    let new = NewGroup {
        name,
        description: None,
        upload_policy: None,
        finalize_policy: None,
    };
    let id = Group::insert(conn, &new)?;
    let details = format!("Group '{name}' (#{id}) added");
    actor.audit_about(conn, Some((GROUPS_TABLE, id)), &details)?;
    Ok(id)
}

/// What `edit_group` saves (admin §4.3).
#[derive(Debug, Clone, Copy)]
pub struct GroupEdit<'a> {
    /// Name, description and the two ID policies.
    pub fields: &'a GroupFields,
    /// The IP-use flags (written to the group's own `_security_ip_use` row).
    pub ip_use: &'a IpUseFlags,
    /// Exactly the other groups it may see.
    pub can_see: &'a [i32],
}

/// Saves the edit page: the fields, the IP-use row (the group's own, or a new one) and the
/// groups it may see. `changes` describe what changed (the audit row says "nothing changed"
/// when there are none).
pub fn save_group(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    group: &Group,
    edit: &GroupEdit<'_>,
    changes: &[String],
) -> QueryResult<()> {
    let ip_id = edit.ip_use.save(conn, group.ip_use_id)?;
    Group::update_fields(conn, group.id, edit.fields, Some(ip_id))?;
    Group::replace_can_see(conn, group.id, edit.can_see)?;
    let id = group.id;
    let details = format!(
        "Group '{}' (#{id}) edited: {}",
        group.name,
        if changes.is_empty() {
            "nothing changed".to_owned()
        } else {
            changes.join("; ")
        }
    );
    actor.audit_about(conn, Some((GROUPS_TABLE, id)), &details)
}

/// Deletes the group with its visibility and IP-use rows (`delete_group`, admin §4.4). A row
/// elsewhere that still refers to it makes the database refuse (a foreign-key violation,
/// returned as it is, nothing audited).
pub fn delete_group(conn: &mut DbConnection, actor: Actor<'_>, group: &Group) -> QueryResult<()> {
    Group::delete_with_links(conn, group)?;
    let id = group.id;
    let details = format!("Group '{}' (#{id}) deleted", group.name);
    actor.audit_about(conn, Some((GROUPS_TABLE, id)), &details)
}
