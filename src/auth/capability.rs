//! Who may do what to whom in user administration (admin §2): the capability matrix as
//! pure rules over the actor's and the target's memberships. No HTTP and no database here;
//! the pages load both users, ask these functions, and turn a refusal into a 403 page.

use super::principal::AuthUser;
use crate::models::user::USER_NAME_FOR_SYSTEM;

/// `may_edit_user` refusal (1): the system user.
pub const SYSTEM_USER: &str = "Nobody may edit the system user";
/// `may_edit_user` refusal (2): a group administrator acting on a superuser.
pub const TARGET_SUPERUSER: &str = "You may not edit a superuser";
/// `may_edit_user` refusal (3): a group administrator acting on a group administrator.
pub const TARGET_GROUPADMIN: &str = "You may not edit a group administrator";
/// `may_edit_user` refusal (4): no shared group.
pub const NO_SHARED_GROUP: &str =
    "You are not a group administrator for any groups that this user is in";
/// `assert_may_administer_group` refusal.
pub const NOT_YOUR_GROUP: &str = "You may not administer this group";
/// A group administrator sending `superuser` (the original ignored it silently).
pub const GRANT_SUPERUSER: &str = "Only a superuser may make a user a superuser";
/// A group administrator sending `groupadmin` (the original ignored it silently).
pub const GRANT_GROUPADMIN: &str = "Only a superuser may make a user a group administrator";
/// A superuser clearing their own superuser flag (the original let the last one go).
pub const OWN_SUPERUSER: &str = "You may not remove your own superuser status";

/// Delete refusal (1).
pub const DELETE_SELF: &str = "Can't delete your own user!";
/// Delete refusal (2).
pub const DELETE_PERMITTED: &str =
    "Unable to delete user: user still has webviewer login and/or tablet upload permission";
/// Delete refusal (4).
pub const DELETE_OTHER_GROUPS: &str =
    "Unable to delete user: user belongs to groups that you do not administer";
/// Delete refusal (5).
pub const DELETE_RECORDS: &str = "Unable to delete user; records (or audit trails) refer to \
                                  that user. Disable login and upload permissions instead.";

/// The actions of the user pages, each on one target user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `view_user`.
    View,
    /// `edit_user`.
    Edit,
    /// `edit_user_group_membership` (the group is checked too: [`may_administer_group`]).
    EditMembership,
    /// `set_other_user_upload_group`.
    SetUploadGroup,
    /// `change_other_password`.
    ChangePassword,
    /// `edit_other_user_mfa`.
    EditMfa,
    /// `unlock_user`.
    Unlock,
    /// `delete_user` (then [`delete_refusal`] for the rules of admin §3.10).
    Delete,
    /// See the user's sessions (with their addresses) on `view_sessions`.
    ViewSessions,
    /// End one or all of the user's sessions (`end_session`, `end_user_sessions`).
    EndSessions,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Forbidden, with the original's reason text.
    Forbidden(&'static str),
    /// The action on oneself lives on one's own page (password, MFA).
    UseOwnPage(&'static str),
}

/// Any membership of `u` has `groupadmin` (superuser status not counted).
pub fn is_a_groupadmin(u: &AuthUser) -> bool {
    u.memberships.iter().any(|m| m.flags.or_false().groupadmin)
}

/// Whether `me` administers group `group_id` (superusers administer every group).
pub fn may_administer_group(me: &AuthUser, group_id: i32) -> bool {
    me.is_superuser() || me.groupadmin_group_ids().contains(&group_id)
}

/// The original's `may_edit_user(me, other)`, in its order: nobody edits `system`; a
/// superuser edits anyone else (themselves included); a group administrator edits only
/// non-superuser, non-group-administrator users who share one of the groups they administer.
pub fn may_edit_user(me: &AuthUser, target: &AuthUser) -> Result<(), &'static str> {
    if target.user.username == USER_NAME_FOR_SYSTEM {
        return Err(SYSTEM_USER);
    }
    if me.is_superuser() {
        return Ok(());
    }
    if target.is_superuser() {
        return Err(TARGET_SUPERUSER);
    }
    if is_a_groupadmin(target) {
        return Err(TARGET_GROUPADMIN);
    }
    let mine = me.groupadmin_group_ids();
    if target.group_ids().iter().any(|g| mine.contains(g)) {
        Ok(())
    } else {
        Err(NO_SHARED_GROUP)
    }
}

/// The capability matrix (admin §2.2, admin §7): may `me` take `action` on `target`?
pub fn check(me: &AuthUser, action: Action, target: &AuthUser) -> Result<(), Denial> {
    let own = me.id() == target.id();
    match action {
        // The original has no check for oneself here (webview.py:3768-3771).
        Action::SetUploadGroup if own => Ok(()),
        // Every administrator may see and end their own sessions; anyone else's only as they
        // may edit that user (a group administrator never reaches another group administrator).
        Action::ViewSessions | Action::EndSessions if own => Ok(()),
        // The original redirected GET only and let a superuser POST change their own
        // password without the old one (admin §8.6): here both methods go to the own page.
        // (A group administrator is refused as a group administrator, as in the original.)
        Action::ChangePassword if own && me.is_superuser() => {
            Err(Denial::UseOwnPage("/change_own_password"))
        }
        Action::EditMfa if own && me.is_superuser() => {
            Err(Denial::UseOwnPage("/edit_own_user_mfa"))
        }
        _ => may_edit_user(me, target).map_err(Denial::Forbidden),
    }
}

/// Whom `me` manages in lists of users (`managed_users`): `None` = every user but `system`
/// (a superuser); otherwise the users of these groups (those `me` administers) who are neither
/// superusers nor group administrators, as [`may_edit_user`] allows.
pub fn managed_users_scope(me: &AuthUser) -> Option<Vec<i32>> {
    (!me.is_superuser()).then(|| me.groupadmin_group_ids())
}

/// Whether `me` may set the `superuser` flag (edit_user) at all.
pub fn may_set_superuser(me: &AuthUser) -> bool {
    me.is_superuser()
}

/// Whether `me` may set a membership's `groupadmin` flag at all.
pub fn may_set_groupadmin(me: &AuthUser) -> bool {
    me.is_superuser()
}

/// The groups `me` may put users into, out of `all` (every group, by name).
pub fn assignable_groups(me: &AuthUser, all: &[i32]) -> Vec<i32> {
    all.iter()
        .copied()
        .filter(|&g| may_administer_group(me, g))
        .collect()
}

/// The fewest groups a new or edited user must keep among `me`'s groups: 1 for a group
/// administrator (so that they can still see the user), 0 for a superuser.
pub fn min_groups(me: &AuthUser) -> usize {
    usize::from(!me.is_superuser())
}

/// The target's groups `me` may change ("fluid", shown on the edit form) and those `me` may
/// not ("frozen", kept whatever is submitted) (admin §2.1).
pub fn fluid_and_frozen(me: &AuthUser, target_groups: &[i32]) -> (Vec<i32>, Vec<i32>) {
    target_groups
        .iter()
        .copied()
        .partition(|&g| may_administer_group(me, g))
}

/// A refused group list (the original's messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsError {
    /// The same group twice.
    Duplicate,
    /// Fewer than [`min_groups`].
    TooFew(usize),
    /// A group that was not offered (`"7" is not one of 4, 6`).
    NotOffered(i32, Vec<i32>),
}

impl std::fmt::Display for GroupsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupsError::Duplicate => f.write_str("You have specified duplicate groups"),
            GroupsError::TooFew(n) => write!(f, "You must specify at least {n} group(s)"),
            GroupsError::NotOffered(g, offered) => {
                let list: Vec<String> = offered.iter().map(i32::to_string).collect();
                write!(f, "\"{g}\" is not one of {}", list.join(", "))
            }
        }
    }
}

/// Checks the groups `me` submitted for a user against the `offered` ones (the groups `me`
/// administers) and returns the final set: submitted ∪ `frozen` (admin §2.1, admin §3.3, admin §3.4).
pub fn final_groups(
    me: &AuthUser,
    offered: &[i32],
    submitted: &[i32],
    frozen: &[i32],
) -> Result<Vec<i32>, GroupsError> {
    let mut seen = Vec::with_capacity(submitted.len());
    for &g in submitted {
        if seen.contains(&g) {
            return Err(GroupsError::Duplicate);
        }
        if !offered.contains(&g) {
            return Err(GroupsError::NotOffered(g, offered.to_vec()));
        }
        seen.push(g);
    }
    let min = min_groups(me);
    if seen.len() < min {
        return Err(GroupsError::TooFew(min));
    }
    seen.extend(frozen.iter().copied().filter(|g| !submitted.contains(g)));
    seen.sort_unstable();
    Ok(seen)
}

/// The first of admin §3.10's refusals that applies to `me` deleting `target` (after
/// [`check`] with [`Action::Delete`]); `records_refer` is the database's answer to "does any
/// record or audit row refer to the user?".
pub fn delete_refusal(
    me: &AuthUser,
    target: &AuthUser,
    records_refer: bool,
) -> Option<&'static str> {
    if me.id() == target.id() {
        return Some(DELETE_SELF);
    }
    if target.may_use_webviewer() || target.may_upload() {
        return Some(DELETE_PERMITTED);
    }
    if !me.is_superuser()
        && target
            .group_ids()
            .iter()
            .any(|&g| !may_administer_group(me, g))
    {
        return Some(DELETE_OTHER_GROUPS);
    }
    records_refer.then_some(DELETE_RECORDS)
}

#[cfg(test)]
#[path = "capability_tests.rs"]
mod tests;
