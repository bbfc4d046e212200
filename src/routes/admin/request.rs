//! The acting administrator of a write ([`AdminRequest`]): who they are, from where, and when,
//! owned so that it moves into a database unit, where it locks and re-reads them before
//! anything is written and gives the audit context. Used by the user, session and group pages.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::users::{Missing, LIST};
use crate::auth::capability::Action;
use crate::auth::fresh::{self, Claim, Need};
use crate::auth::principal::AuthUser;
use crate::auth::user_admin::Actor;
use crate::config::MfaMethod;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::session::extract::LoggedIn;
use crate::state::AppState;

/// The acting administrator of a request, owned (to move into a database unit).
pub struct AdminRequest {
    /// The administrator with memberships: as the request began, then as re-read under lock by
    /// [`AdminRequest::lock`].
    pub user: Arc<AuthUser>,
    /// Their client address.
    pub ip: String,
    /// Now (naive UTC).
    pub now: NaiveDateTime,
    /// Their session's row id.
    pub session_id: Option<i32>,
    /// The MFA methods the server allows (part of "may still use the pages").
    pub methods: Vec<MfaMethod>,
}

impl AdminRequest {
    /// The administrator of this request.
    pub fn new(li: &LoggedIn, state: &AppState) -> AdminRequest {
        AdminRequest {
            user: li.user.clone(),
            ip: li.cs.client_ip.clone(),
            now: state.clock.now(),
            session_id: li.cs.session.id,
            methods: state.settings.mfa_methods.clone(),
        }
    }

    /// The audit context.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            user: &self.user,
            ip: &self.ip,
            now: self.now,
        }
    }

    /// First in a write unit: locks the administrator's row and `others`', re-reads the
    /// administrator (still logged in, still holding `need`) and keeps that fresh copy.
    /// A session that ended sends them to log in, back to the users list.
    pub fn lock(
        &mut self,
        conn: &mut DbConnection,
        need: Need,
        others: &[i32],
    ) -> Result<(), AppError> {
        self.lock_as(conn, need, others, LIST)
    }

    /// First in a group write unit: locks the superuser's row (a session that ended sends them
    /// to log in, back to `back`) and re-reads them, then locks the groups `group_ids`.
    pub fn lock_groups(
        &mut self,
        conn: &mut DbConnection,
        group_ids: &[i32],
        back: &str,
    ) -> Result<(), AppError> {
        self.lock_as(conn, Need::Superuser, &[], back)?;
        fresh::lock_groups(conn, group_ids)?;
        Ok(())
    }

    fn lock_as(
        &mut self,
        conn: &mut DbConnection,
        need: Need,
        others: &[i32],
        back: &str,
    ) -> Result<(), AppError> {
        let claim = Claim {
            user_id: self.user.id(),
            session_id: self.session_id,
            need,
        };
        let me = fresh::lock_actor(conn, claim, &self.methods, others, back)?;
        self.user = Arc::new(me);
        Ok(())
    }

    /// Locks the administrator and user `id`, re-reads both and checks `action` on the fresh
    /// state: the target as stored now, or 400 with the `missing` wording.
    pub fn lock_target(
        &mut self,
        conn: &mut DbConnection,
        id: i32,
        missing: Missing,
        action: Action,
    ) -> Result<AuthUser, AppError> {
        self.lock(conn, Need::GroupAdmin, &[id])?;
        fresh::fresh_target(conn, &self.user, id, action)?
            .ok_or_else(|| AppError::BadRequest(missing.message(&id.to_string())))
    }
}
