//! `/view_sessions` (new): the live sessions of the users the requester administers, with
//! buttons to end one (`POST /end_session`) or all of a user's (`POST /end_user_sessions`).
//! Neither tokens nor their hashes are ever shown. Ending the requester's own current session
//! logs them out (303 to `/login`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::request::AdminRequest;
use super::users::Missing;
use super::{local_time, log_write, post_only, RowButton, RowPost, MAX_ROWS};
use crate::auth::capability::{self, Action};
use crate::auth::fresh::{fresh_target, Need};
use crate::auth::principal::AuthUser;
use crate::db::{run_db, run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::audit::{audit, AuditSource};
use crate::models::group::Membership;
use crate::models::user::User;
use crate::routes::page::{html, see_other, PageCtx};
use crate::session::extract::{CurrentSession, GroupAdmin};
use crate::session::model::{
    end_session as delete_session, end_user_sessions as delete_user_sessions, find_row, list_active,
};
use crate::state::AppState;

/// What the "Created" column says of a session CamCOPS itself made on a shared database.
pub const MADE_ELSEWHERE: &str = "made by CamCOPS (no creation time)";

const PAGE: &str = "/view_sessions";

/// One row of the sessions table.
struct SessionLine {
    id: i32,
    user_id: i32,
    username: String,
    ip_address: String,
    created: String,
    last_activity: String,
    kind: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "view_sessions.html")]
struct SessionsPage {
    ctx: PageCtx,
    sessions: Vec<SessionLine>,
    superuser: bool,
    timeout_minutes: i64,
    truncated: bool,
    max_rows: usize,
}

/// `GET /view_sessions`: a superuser sees every live session; a group administrator sees those
/// of the non-superusers in the groups they administer. At most 1,000, most recent first.
pub async fn view_sessions(
    state: web::Data<AppState>,
    GroupAdmin(li): GroupAdmin,
) -> Result<HttpResponse, AppError> {
    let me = li.user.clone();
    let superuser = me.is_superuser();
    let policy = state.policy;
    let now = state.clock.now();
    let current = li.cs.session.id;
    let sessions = run_db_read(&state.pool, move |conn| {
        let scope = if superuser {
            None
        } else {
            let mut ids = Membership::user_ids_in_groups(conn, &me.groupadmin_group_ids())?;
            ids.push(me.id());
            Some(ids)
        };
        let rows = list_active(conn, &policy, now, scope.as_deref())?;
        let mut uids: Vec<i32> = rows.iter().filter_map(|r| r.user_id).collect();
        uids.sort_unstable();
        uids.dedup();
        // Only the sessions of users the capability matrix lets `me` see.
        let users: HashMap<i32, User> = visible_users(conn, &me, &uids)?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let user = users.get(&r.user_id?)?;
                Some(SessionLine {
                    id: r.id,
                    user_id: user.id,
                    username: user.username.clone(),
                    ip_address: r.ip_address.unwrap_or_default(),
                    created: r
                        .created_at_utc
                        .map(local_time)
                        .unwrap_or_else(|| MADE_ELSEWHERE.to_string()),
                    last_activity: r
                        .last_activity_utc
                        .or(r.created_at_utc)
                        .map(local_time)
                        .unwrap_or_default(),
                    kind: if r.is_api_session.unwrap_or(false) {
                        "API (tablet)"
                    } else {
                        "Human (web)"
                    },
                    current: Some(r.id) == current,
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    html(
        StatusCode::OK,
        &SessionsPage {
            ctx: PageCtx::new(&li.cs),
            truncated: sessions.len() >= MAX_ROWS,
            sessions,
            superuser,
            timeout_minutes: state.settings.session_timeout_minutes,
            max_rows: MAX_ROWS,
        },
    )
}

/// The users of `ids` whose sessions `me` may see (the capability matrix, on their memberships).
fn visible_users(
    conn: &mut DbConnection,
    me: &AuthUser,
    ids: &[i32],
) -> Result<Vec<User>, AppError> {
    let users = User::with_ids(conn, ids)?;
    let memberships = Membership::for_users(conn, ids)?;
    Ok(users
        .into_iter()
        .filter(|u| {
            let target = AuthUser {
                user: u.clone(),
                memberships: memberships
                    .iter()
                    .filter(|m| m.user_id == Some(u.id))
                    .cloned()
                    .collect(),
            };
            capability::check(me, Action::ViewSessions, &target).is_ok()
        })
        .collect())
}

/// The one answer of `end_session` for a session that does not exist, has ended, or is not
/// the administrator's to end (so that it tells nothing about which session ids are live).
fn not_endable(session_id: i32) -> String {
    format!("Session {session_id} is not a live session that you may end.")
}

fn audit_end(
    conn: &mut DbConnection,
    ip: &str,
    me: &AuthUser,
    session_id: i32,
    username: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    let detail = format!(
        "Session {session_id} of user {username} ended by admin {}",
        me.user.username
    );
    audit(
        conn,
        now,
        AuditSource::Webviewer,
        Some(ip),
        Some(me.id()),
        None,
        &detail,
    )?;
    Ok(())
}

/// After the requester ended their own current session: the cookie forgets it, a new CSRF
/// secret, and 303 to the login page with a message.
fn logged_out(cs: &CurrentSession) -> HttpResponse {
    cs.cookie.clear_credentials();
    cs.cookie.rotate_csrf();
    cs.cookie.flash(
        "info",
        "You ended your own session, so you have been logged out.",
    );
    see_other("/login")
}

/// The "End" button of one session on the list.
pub struct EndSession;

impl RowButton for EndSession {
    const BACK: &'static str = PAGE;
    const FIELD: &'static str = "session_id";
}

/// The "End all" button of one user's sessions on the list.
pub struct EndUserSessions;

impl RowButton for EndUserSessions {
    const BACK: &'static str = PAGE;
    const FIELD: &'static str = "user_id";
}

/// `POST /end_session` (`session_id`, `csrf_token`): deletes one session (and its task filter)
/// of a user the requester may administer, and audits it.
pub async fn end_session(
    state: web::Data<AppState>,
    post: RowPost<EndSession>,
) -> Result<HttpResponse, AppError> {
    let RowPost {
        li, id: session_id, ..
    } = post;
    // Whose session it is, read first so that the write unit can lock that user's row before
    // it reads anything; the unit then checks the row is still theirs and live.
    let owner = run_db_read(&state.pool, move |conn| {
        Ok(find_row(conn, session_id)?.and_then(|row| row.user_id))
    })
    .await?;
    let mut admin = AdminRequest::new(&li, &state);
    let ended: Option<String> = run_db(&state.pool, move |conn| {
        admin.lock(conn, Need::GroupAdmin, owner.as_slice())?;
        let live_owner = match find_row(conn, session_id)? {
            Some(row) if !row.token.as_deref().unwrap_or("").is_empty() => row.user_id,
            _ => None,
        };
        // Gone, logged out, someone else's now, or not the administrator's to end: one answer.
        let Some(user_id) = live_owner.filter(|&u| Some(u) == owner) else {
            return Ok(None);
        };
        let target = match fresh_target(conn, &admin.user, user_id, Action::EndSessions) {
            Ok(Some(t)) => t,
            Ok(None) | Err(AppError::ForbiddenBecause(_) | AppError::Redirect(_)) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        if !delete_session(conn, session_id)? {
            return Ok(None);
        }
        audit_end(
            conn,
            &admin.ip,
            &admin.user,
            session_id,
            &target.user.username,
            admin.now,
        )?;
        Ok(Some(target.user.username))
    })
    .await?;
    let Some(username) = ended else {
        li.cs.cookie.flash("info", not_endable(session_id));
        return Ok(see_other(PAGE));
    };
    let done = format!("Session {session_id} of user {username} ended");
    log_write(&li, &done, None);
    if li.cs.session.id == Some(session_id) {
        return Ok(logged_out(&li.cs));
    }
    li.cs.cookie.flash(
        "success",
        format!("Session {session_id} of user {username} ended."),
    );
    Ok(see_other(PAGE))
}

/// `POST /end_user_sessions` (`user_id`, `csrf_token`): deletes every session of a user the
/// requester may administer (human and API, live or expired), auditing each live one.
pub async fn end_user_sessions(
    state: web::Data<AppState>,
    post: RowPost<EndUserSessions>,
) -> Result<HttpResponse, AppError> {
    let RowPost {
        li, id: user_id, ..
    } = post;
    let policy = state.policy;
    let mut admin = AdminRequest::new(&li, &state);
    let (username, n) = run_db(&state.pool, move |conn| {
        let target = admin.lock_target(conn, user_id, Missing::CannotFind, Action::EndSessions)?;
        let (me, ip, now) = (admin.user.clone(), admin.ip.clone(), admin.now);
        let username = target.user.username.clone();
        let live = list_active(conn, &policy, now, Some(&[user_id]))?;
        let mut n = 0;
        for row in &live {
            if delete_session(conn, row.id)? {
                audit_end(conn, &ip, &me, row.id, &username, now)?;
                n += 1;
            }
        }
        // Expired rows not yet swept by housekeeping (and any beyond the list's cap).
        n += delete_user_sessions(conn, user_id, None)?;
        Ok((username, n))
    })
    .await?;
    log_write(
        &li,
        &format!("All {n} sessions of user {username} ended"),
        None,
    );
    if li.cs.user.as_ref().map(|u| u.id()) == Some(user_id) {
        return Ok(logged_out(&li.cs));
    }
    li.cs.cookie.flash(
        "success",
        format!("Ended {n} session(s) of user {username}."),
    );
    Ok(see_other(PAGE))
}

/// `GET /end_session`: 405.
pub async fn end_session_get() -> HttpResponse {
    post_only(PAGE, "sessions")
}

/// `GET /end_user_sessions`: 405.
pub async fn end_user_sessions_get() -> HttpResponse {
    post_only(PAGE, "sessions")
}
