//! What the user administration pages write (admin §3), each in the caller's
//! transaction, each with one audit row naming the acting administrator (`user_id`) and the
//! target (in `details`). A change that ends a user's web access (password reset by someone
//! else, MFA switched off, `may_use_webviewer` gone, deletion) also ends their sessions.
//! No HTTP here, and no permission rules: those are in [`super::capability`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::QueryResult;

use super::principal::AuthUser;
use crate::db::schema::{
    _security_audit, _security_devices, _security_user_group, _security_users, _task_index,
};
use crate::db::DbConnection;
use crate::models::audit::{audit_about, AuditSource};
use crate::models::group::{Membership, MembershipFlags, NewMembership};
use crate::models::user::{NewUser, User, UserDetails};
use crate::session::model::end_user_sessions;

/// Who acts, from where, when: the audit row of a user or group administration write
/// (here and in [`super::group_admin`]).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The administrator.
    pub user: &'a AuthUser,
    /// Their client address.
    pub ip: &'a str,
    /// Now (naive UTC).
    pub now: NaiveDateTime,
}

impl Actor<'_> {
    fn audit(&self, conn: &mut DbConnection, details: &str) -> QueryResult<()> {
        self.audit_about(conn, None, details)
    }

    /// Writes the audit row of this administrator's action, naming the row it is about
    /// (`(table_name, server_pk)`, e.g. a group) or none (a user: the target is in `details`).
    pub fn audit_about(
        &self,
        conn: &mut DbConnection,
        about: Option<(&str, i32)>,
        details: &str,
    ) -> QueryResult<()> {
        audit_about(
            conn,
            self.now,
            (
                AuditSource::Webviewer,
                Some(self.ip),
                Some(self.user.id()),
                None,
            ),
            about,
            details,
        )
    }
}

/// A user to create (`add_user`, admin §3.3).
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// Login name (already validated).
    pub username: &'a str,
    /// bcrypt hash of the password.
    pub hash: &'a str,
    /// Must change the password at first login.
    pub must_change_password: bool,
    /// The creator's language.
    pub language: Option<&'a str>,
    /// Groups (memberships with every flag false but the two below).
    pub group_ids: &'a [i32],
    /// `may_use_webviewer` in each of those groups.
    pub may_use_webviewer: bool,
    /// `may_upload` in each of those groups.
    pub may_upload: bool,
}

/// Creates the user and their memberships; returns the new id.
pub fn create_user(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    new: &NewAccount<'_>,
) -> QueryResult<i32> {
    let id = User::insert(
        conn,
        &NewUser {
            username: new.username,
            fullname: None,
            email: None,
            hashedpw: new.hash,
            mfa_method: "no_mfa",
            hotp_counter: 0,
            superuser: Some(false),
            must_change_password: Some(new.must_change_password),
            last_password_change_utc: Some(actor.now),
            when_agreed_terms_of_use: None,
            upload_group_id: None,
            auto_generated: false,
        },
    )?;
    if let Some(lang) = new.language {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::language.eq(Some(lang)))
            .execute(conn)?;
    }
    for &g in new.group_ids {
        add_membership(conn, id, g)?;
    }
    let mut granted = Vec::new();
    if new.may_use_webviewer {
        granted.push("may_use_webviewer");
    }
    if new.may_upload {
        granted.push("may_upload");
    }
    if !granted.is_empty() && !new.group_ids.is_empty() {
        diesel::update(_security_user_group::table.filter(_security_user_group::user_id.eq(id)))
            .set((
                _security_user_group::may_use_webviewer.eq(Some(new.may_use_webviewer)),
                _security_user_group::may_upload.eq(Some(new.may_upload)),
            ))
            .execute(conn)?;
    }
    let granted = if granted.is_empty() || new.group_ids.is_empty() {
        String::new()
    } else {
        format!("; permissions in those groups: {}", granted.join(", "))
    };
    actor.audit(
        conn,
        &format!(
            "User {} (#{id}) created; groups: {}{granted}",
            new.username,
            id_list(new.group_ids)
        ),
    )?;
    Ok(id)
}

/// A new membership with every flag false (stored as false, not NULL, as CamCOPS' ORM does);
/// none when the user is already in the group (an adopted CamCOPS database may have no unique
/// index to refuse a second one; callers hold the user's row lock).
fn add_membership(conn: &mut DbConnection, user_id: i32, group_id: i32) -> QueryResult<usize> {
    if Membership::for_user(conn, user_id)?
        .iter()
        .any(|m| m.group_id == Some(group_id))
    {
        return Ok(0);
    }
    Membership::insert(
        conn,
        &NewMembership {
            user_id: Some(user_id),
            group_id: Some(group_id),
            flags: MembershipFlags::default().into(),
        },
    )
}

fn id_list(ids: &[i32]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ends the user's sessions if `before` could use the web viewer and the user now cannot.
/// Returns how many were ended.
fn end_sessions_if_access_lost(conn: &mut DbConnection, before: &AuthUser) -> QueryResult<usize> {
    if !before.may_use_webviewer() {
        return Ok(0);
    }
    match AuthUser::load(conn, before.id())? {
        Some(after) if after.may_use_webviewer() => Ok(0),
        _ => end_user_sessions(conn, before.id(), None),
    }
}

/// What `edit_user` saves (admin §3.4).
#[derive(Debug, Clone)]
pub struct AccountEdit<'a> {
    /// The text fields and flags.
    pub details: UserDetails<'a>,
    /// The superuser flag, when the editor may set it.
    pub superuser: Option<bool>,
    /// The final groups (submitted ∪ frozen).
    pub group_ids: &'a [i32],
}

/// Saves the edit page: details, superuser flag, memberships (`final` replaces the old set;
/// new memberships have every flag false), and clears the upload group when it is no longer
/// one of the user's groups. Returns how many of the user's sessions were ended.
pub fn edit_user(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
    edit: &AccountEdit<'_>,
) -> QueryResult<usize> {
    let u = &target.user;
    let d = &edit.details;
    let mut changes = Vec::new();
    if u.username != d.username {
        changes.push(format!("username {} -> {}", u.username, d.username));
    }
    if u.fullname.as_deref().unwrap_or("") != d.fullname {
        changes.push("full name changed".into());
    }
    if u.email.as_deref().unwrap_or("") != d.email {
        changes.push("e-mail changed".into());
    }
    if u.phone_number.as_deref() != d.phone_number {
        changes.push("phone number changed".into());
    }
    if u.must_change_password() != d.must_change_password {
        changes.push(format!("must_change_password={}", d.must_change_password));
    }
    if u.language.as_deref().unwrap_or("") != d.language {
        changes.push(format!("language={}", d.language));
    }
    User::set_details(conn, u.id, d)?;
    if let Some(su) = edit.superuser.filter(|&su| su != u.is_superuser()) {
        User::set_superuser(conn, u.id, su)?;
        changes.push(format!("superuser={su}"));
    }
    let (added, removed) = set_groups(conn, target, edit.group_ids)?;
    if !added.is_empty() {
        changes.push(format!("added to groups {}", id_list(&added)));
    }
    if !removed.is_empty() {
        changes.push(format!("removed from groups {}", id_list(&removed)));
    }
    let ended = end_sessions_if_access_lost(conn, target)?;
    if changes.is_empty() {
        changes.push("no changes".into());
    }
    actor.audit(
        conn,
        &format!(
            "User {} (#{}) edited: {}",
            d.username,
            u.id,
            changes.join("; ")
        ),
    )?;
    Ok(ended)
}

/// Makes the user's memberships exactly `final_ids`; returns (added, removed) group ids.
fn set_groups(
    conn: &mut DbConnection,
    target: &AuthUser,
    final_ids: &[i32],
) -> QueryResult<(Vec<i32>, Vec<i32>)> {
    let current = target.group_ids();
    let gone: Vec<&Membership> = target
        .memberships
        .iter()
        .filter(|m| m.group_id.is_none_or(|g| !final_ids.contains(&g)))
        .collect();
    let removed: Vec<i32> = gone.iter().filter_map(|m| m.group_id).collect();
    let gone_ids: Vec<i32> = gone.iter().map(|m| m.id).collect();
    if !gone_ids.is_empty() {
        Membership::delete_ids(conn, &gone_ids)?;
    }
    let added: Vec<i32> = final_ids
        .iter()
        .copied()
        .filter(|g| !current.contains(g))
        .collect();
    for &g in &added {
        add_membership(conn, target.id(), g)?;
    }
    if let Some(g) = target.user.upload_group_id {
        if !final_ids.contains(&g) {
            User::set_upload_group(conn, target.id(), None)?;
        }
    }
    Ok((added, removed))
}

/// Rewrites a membership's flags (`edit_user_group_membership`, admin §3.5). Returns how many of
/// the user's sessions were ended (when the change took their web access away).
pub fn set_membership_flags(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
    membership: &Membership,
    group_name: &str,
    flags: &MembershipFlags,
) -> QueryResult<usize> {
    let old = membership.flags.or_false();
    Membership::set_flags(conn, membership.id, flags)?;
    let changes: Vec<String> = old
        .named()
        .iter()
        .zip(flags.named())
        .filter(|(a, b)| a.1 != b.1)
        .map(|(_, (name, v))| format!("{name}={v}"))
        .collect();
    let ended = end_sessions_if_access_lost(conn, target)?;
    actor.audit(
        conn,
        &format!(
            "Permissions of user {} (#{}) in group {group_name} set: {}",
            target.user.username,
            target.id(),
            if changes.is_empty() {
                "no changes".into()
            } else {
                changes.join(", ")
            }
        ),
    )?;
    Ok(ended)
}

/// Sets the user's upload group (`set_other_user_upload_group`, admin §3.6).
pub fn set_upload_group(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
    group: Option<(i32, &str)>,
) -> QueryResult<()> {
    User::set_upload_group(conn, target.id(), group.map(|g| g.0))?;
    actor.audit(
        conn,
        &format!(
            "Upload group of user {} (#{}) set to {}",
            target.user.username,
            target.id(),
            group.map_or("none", |g| g.1)
        ),
    )
}

/// Sets another user's password (`change_other_password`, admin §3.7): the hash, the change time,
/// the forced-change flag as chosen; ends all of the user's sessions and audits it. Returns
/// how many sessions were ended.
pub fn set_other_password(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
    hash: &str,
    must_change: bool,
) -> QueryResult<usize> {
    User::set_password_hash(conn, target.id(), hash, actor.now)?;
    if must_change {
        User::set_must_change_password(conn, target.id(), true)?;
    }
    let ended = end_user_sessions(conn, target.id(), None)?;
    actor.audit(
        conn,
        &format!("Password changed for user {}", target.user.username),
    )?;
    Ok(ended)
}

/// Switches another user's MFA off (`edit_other_user_mfa`, admin §3.8): method `no_mfa`, the
/// secret and HOTP counter cleared (the original kept the secret), sessions ended, audited.
pub fn disable_mfa(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
) -> QueryResult<usize> {
    User::set_mfa(conn, target.id(), "no_mfa", None, 0)?;
    let ended = end_user_sessions(conn, target.id(), None)?;
    actor.audit(
        conn,
        &format!(
            "Multi-factor authentication disabled for user {}",
            target.user.username
        ),
    )?;
    Ok(ended)
}

/// `any_records_use_user` (admin §3.10 rule 5) over the tables this schema has: devices
/// registered or uploaded by the user, audit rows of theirs, and tasks they added.
pub fn records_refer_to_user(conn: &mut DbConnection, user_id: i32) -> QueryResult<bool> {
    use diesel::dsl::exists;
    let devices = diesel::select(exists(
        _security_devices::table.filter(
            _security_devices::registered_by_user_id
                .eq(user_id)
                .or(_security_devices::uploading_user_id.eq(user_id)),
        ),
    ))
    .get_result::<bool>(conn)?;
    let audits = diesel::select(exists(
        _security_audit::table.filter(_security_audit::user_id.eq(user_id)),
    ))
    .get_result::<bool>(conn)?;
    let tasks = diesel::select(exists(
        _task_index::table.filter(_task_index::adding_user_id.eq(user_id)),
    ))
    .get_result::<bool>(conn)?;
    Ok(devices || audits || tasks)
}

/// Deletes the user with their memberships (the original left them behind, admin §8.8) and
/// sessions, in the caller's transaction, and audits it. Returns the sessions ended.
pub fn delete_user(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    target: &AuthUser,
) -> QueryResult<usize> {
    let ended = end_user_sessions(conn, target.id(), None)?;
    Membership::delete_for_user(conn, target.id())?;
    User::delete(conn, target.id())?;
    actor.audit(
        conn,
        &format!("User {} (#{}) deleted", target.user.username, target.id()),
    )?;
    Ok(ended)
}
