//! The acting administrator and the target as they are now, read under row locks inside the
//! unit that writes: what the request's first read said may be stale by the time the write
//! runs (a right revoked, a membership added, a session ended in the meantime).

use diesel::QueryResult;

use super::capability::{self, Action, Denial};
use super::principal::AuthUser;
use crate::config::MfaMethod;
use crate::db::lock::{lock_rows, Locked};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::session::model::find_row;

/// What the acting administrator must still be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A group administrator or a superuser.
    GroupAdmin,
    /// A superuser.
    Superuser,
}

/// Who acts: their user id and the session the request came with.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// The administrator's user id.
    pub user_id: i32,
    /// Their session's row id (None: not a saved session, which never passes).
    pub session_id: Option<i32>,
    /// What they must be.
    pub need: Need,
}

/// The MFA methods the server allows (to judge the administrator's state as the extractors do).
pub type Methods<'a> = &'a [MfaMethod];

/// Locks the administrator's row and `others` (users), then re-reads the administrator: their
/// session must still be theirs and logged in, and they must still be allowed to use the pages
/// and hold `claim.need`. Call first in the write unit. A session that ended sends them to log
/// in (`back`); a lost right is a 403.
pub fn lock_actor(
    conn: &mut DbConnection,
    claim: Claim,
    methods: Methods<'_>,
    others: &[i32],
    back: &str,
) -> Result<AuthUser, AppError> {
    let mut ids = others.to_vec();
    ids.push(claim.user_id);
    lock_rows(conn, Locked::Users, &ids)?;
    recheck_actor(conn, claim, methods, back)
}

/// The re-read of [`lock_actor`] after the locks are held.
fn recheck_actor(
    conn: &mut DbConnection,
    claim: Claim,
    methods: Methods<'_>,
    back: &str,
) -> Result<AuthUser, AppError> {
    let session_live = match claim.session_id {
        Some(sid) => find_row(conn, sid)?.is_some_and(|row| {
            row.user_id == Some(claim.user_id) && !row.token.as_deref().unwrap_or("").is_empty()
        }),
        None => false,
    };
    if !session_live {
        return Err(AppError::LoginRequired(back.to_string()));
    }
    let Some(me) = AuthUser::load(conn, claim.user_id)? else {
        return Err(AppError::LoginRequired(back.to_string()));
    };
    if still_allowed(&me, claim.need, methods) {
        Ok(me)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Whether `me` may still use the administrative pages that need `need`.
pub fn still_allowed(me: &AuthUser, need: Need, methods: Methods<'_>) -> bool {
    let state_ok = me.may_use_webviewer()
        && !me.user.must_change_password()
        && !super::terms::must_agree(me.user.when_agreed_terms_of_use.as_deref())
        && MfaMethod::parse(&me.user.mfa_method).is_some_and(|m| methods.contains(&m));
    let role_ok = match need {
        Need::GroupAdmin => me.authorized_as_groupadmin(),
        Need::Superuser => me.is_superuser(),
    };
    state_ok && role_ok
}

/// The target user as now stored (its row locked by [`lock_actor`]) and the capability check
/// against the fresh administrator: `None` when there is no such user.
pub fn fresh_target(
    conn: &mut DbConnection,
    me: &AuthUser,
    id: i32,
    action: Action,
) -> Result<Option<AuthUser>, AppError> {
    let Some(target) = AuthUser::load(conn, id)? else {
        return Ok(None);
    };
    capability::check(me, action, &target).map_err(|d| match d {
        Denial::Forbidden(reason) => AppError::ForbiddenBecause(reason.into()),
        Denial::UseOwnPage(path) => AppError::Redirect(path.into()),
    })?;
    Ok(Some(target))
}

/// Locks group rows (group edits and deletes) after the administrator's.
pub fn lock_groups(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<()> {
    lock_rows(conn, Locked::Groups, ids)
}
