//! What the requester may pick on the `/set_filters` form ([`FilterChoices`]): the ID number
//! types, devices, and the users and groups they may see, read in one go ([`load_choices`]).
//! The form validates against it and the hidden criteria are what it leaves out.

use crate::auth::principal::AuthUser;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::models::device::Device;
use crate::models::group::{Group, Membership};
use crate::models::idnum::IdNumDefinition;
use crate::models::user::User;

/// What the requester may pick in the admin section and the ID number types.
#[derive(Debug, Clone, Default)]
pub struct FilterChoices {
    /// Defined ID number types.
    pub idnum_defs: Vec<IdNumDefinition>,
    /// Every device: `(id, name)`.
    pub devices: Vec<(i32, String)>,
    /// Users the requester may choose: `(id, username)`.
    pub users: Vec<(i32, String)>,
    /// Groups the requester may choose: `(id, name)`.
    pub groups: Vec<(i32, String)>,
}

/// What `user` may choose: every device; users (superuser: all; else the users of the groups
/// they may see); groups (superuser: all; else the groups they may see).
pub fn load_choices(conn: &mut DbConnection, user: &AuthUser) -> Result<FilterChoices, AppError> {
    let idnum_defs = IdNumDefinition::all(conn)?;
    let mut devices: Vec<(i32, String)> = Device::all(conn)?
        .into_iter()
        .map(|d| (d.id, d.display_name()))
        .collect();
    devices.sort_by_key(|(id, name)| (name.to_lowercase(), *id));
    let (users, groups) = match user.ids_of_groups_user_may_see(conn)? {
        None => (User::all(conn)?, Group::all(conn)?),
        Some(gids) if gids.is_empty() => (Vec::new(), Vec::new()),
        Some(gids) => {
            let uids = Membership::user_ids_in_groups(conn, &gids)?;
            (User::with_ids(conn, &uids)?, Group::with_ids(conn, &gids)?)
        }
    };
    Ok(FilterChoices {
        idnum_defs,
        devices,
        users: users.into_iter().map(|u| (u.id, u.username)).collect(),
        groups: groups.into_iter().map(|g| (g.id, g.name)).collect(),
    })
}
