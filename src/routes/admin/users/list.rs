//! `/view_all_users` (admin §3.1): the users the requester manages, a page at a time,
//! with groups, lockout state, MFA method and a link for each action the requester may
//! take, and whether each can log in to the web pages and upload from a tablet (reasons and
//! fixes as on the user's page); `POST /unlock_user` (admin §3.9, CSRF) clears a user's lockouts and failures. The
//! original unlocked on `GET /unlock_user?user_id=N`; GET is now a 405.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;

use super::status::{self, Status};
use super::{Missing, LIST};
use crate::auth::capability::{self, Action};
use crate::auth::principal::AuthUser;
use crate::auth::readiness::{self, Policy};
use crate::auth::user_commands;
use crate::config::MfaMethod;
use crate::db::{run_db, run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::audit::AuditSource;
use crate::models::group::Membership;
use crate::models::lockout;
use crate::models::task_index::TaskPage;
use crate::models::user::User;
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{group_names, local_time, post_only, report_write, RowButton, RowPost};
use crate::routes::form::bool_param;
use crate::routes::page::{html, see_other, PageCtx};
use crate::routes::pager::{self, PagerItem, DEFAULT_ROWS_PER_PAGE};
use crate::session::extract::GroupAdmin;
use crate::state::AppState;

/// One group of a user in the list.
struct GroupCell {
    name: String,
    /// The membership, when the requester may edit its permissions.
    edit_membership: Option<i32>,
}

/// One row of the users table.
struct UserLine {
    id: i32,
    username: String,
    is_me: bool,
    superuser: bool,
    admin_of: String,
    groups: Vec<GroupCell>,
    upload_group: Option<String>,
    last_login: String,
    locked_until: Option<String>,
    failures: i64,
    mfa: &'static str,
    auto_generated: bool,
    /// Own password/MFA pages instead of the "other user" ones.
    own_pages: bool,
    /// Can log in to the web pages, or why not.
    web: Status,
    /// Can upload from a tablet, or why not.
    upload: Status,
}

impl UserLine {
    fn may_unlock(&self) -> bool {
        self.locked_until.is_some() || self.failures > 0
    }
}

#[derive(Template)]
#[template(path = "view_all_users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<UserLine>,
    superuser: bool,
    include_auto_generated: bool,
    pager: Vec<PagerItem>,
    summary: String,
}

fn mfa_label(method: &str) -> &'static str {
    match MfaMethod::parse(method) {
        Some(MfaMethod::NoMfa) => "None",
        Some(MfaMethod::Totp) => "Authenticator app (TOTP)",
        Some(MfaMethod::HotpEmail) => "Code by e-mail (HOTP)",
        Some(MfaMethod::HotpSms) => "Code by SMS (HOTP)",
        None => "Unknown",
    }
}

/// Builds the rows: memberships, group names, lockouts and failures in four batched queries.
fn lines(
    conn: &mut DbConnection,
    me: &AuthUser,
    users: Vec<User>,
    policy: Policy<'_>,
    now: NaiveDateTime,
) -> Result<Vec<UserLine>, AppError> {
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let memberships = Membership::for_users(conn, &ids)?;
    let mut gids: Vec<i32> = memberships.iter().filter_map(|m| m.group_id).collect();
    gids.extend(users.iter().filter_map(|u| u.upload_group_id));
    gids.sort_unstable();
    gids.dedup();
    let group_names = group_names(conn, &gids)?;
    let mut of_user: HashMap<i32, Vec<Membership>> = HashMap::new();
    for m in memberships {
        if let Some(uid) = m.user_id {
            of_user.entry(uid).or_default().push(m);
        }
    }
    let locked: HashMap<String, NaiveDateTime> = lockout::locked_until_many(conn, &names, now)?
        .into_iter()
        .filter_map(|(u, t)| t.map(|t| (u, t)))
        .collect();
    let failures: HashMap<String, i64> =
        lockout::failure_counts(conn, &names)?.into_iter().collect();
    let name_of = |g: i32| group_names.get(&g).cloned().unwrap_or_default();
    Ok(users
        .into_iter()
        .map(|u| {
            let ms = of_user.remove(&u.id).unwrap_or_default();
            let mut groups: Vec<GroupCell> = ms
                .iter()
                .filter_map(|m| {
                    let g = m.group_id?;
                    Some(GroupCell {
                        name: name_of(g),
                        edit_membership: capability::may_administer_group(me, g).then_some(m.id),
                    })
                })
                .collect();
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            let mut admin_of: Vec<String> = ms
                .iter()
                .filter(|m| m.flags.or_false().groupadmin)
                .filter_map(|m| m.group_id.map(name_of))
                .collect();
            admin_of.sort();
            let until = locked.get(&u.username).copied();
            let target = AuthUser {
                user: u.clone(),
                memberships: ms,
            };
            let reasons = readiness::web_login(&target, until, policy, now);
            let web = status::web(me, &target, &reasons, &group_names);
            let upload_reasons = readiness::tablet_upload(&target, until, now);
            let upload = status::upload(me, &target, &upload_reasons, &group_names);
            UserLine {
                web,
                upload,
                id: u.id,
                is_me: u.id == me.id(),
                own_pages: u.id == me.id() && me.is_superuser(),
                superuser: u.is_superuser(),
                admin_of: admin_of.join(", "),
                groups,
                upload_group: u.upload_group_id.map(name_of),
                last_login: u
                    .last_login_at_utc
                    .map(local_time)
                    .unwrap_or_else(|| "Never".into()),
                locked_until: until.map(local_time),
                failures: failures.get(&u.username).copied().unwrap_or(0),
                mfa: mfa_label(&u.mfa_method),
                auto_generated: u.auto_generated,
                username: u.username,
            }
        })
        .collect())
}

/// `GET /view_all_users` (`include_auto_generated`, `rows_per_page` 10/25/50/100, `page`):
/// a superuser sees every user except `system`; a group administrator the users they manage
/// (admin §2.1). Each user is counted once.
pub async fn view_all_users(
    state: web::Data<AppState>,
    GroupAdmin(li): GroupAdmin,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = pager::parse_params(req.query_string())?;
    let include_auto_generated = bool_param(
        params
            .pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "include_auto_generated")
            .map(|(_, v)| v.as_str()),
        false,
    );
    let per_page = params.rows_per_page.unwrap_or(DEFAULT_ROWS_PER_PAGE);
    let me = li.user.clone();
    let scope = (!me.is_superuser()).then(|| me.groupadmin_group_ids());
    let now = state.clock.now();
    let wanted = params.page;
    let st = state.clone();
    let (users, page) = run_db_read(&state.pool, move |conn| {
        let ids = User::ids_for_admin(conn, scope.as_deref(), include_auto_generated)?;
        let total = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        let last = ((total + per_page - 1) / per_page).max(1);
        let page = wanted.clamp(1, last);
        let start = usize::try_from((page - 1) * per_page).unwrap_or(0);
        let take = usize::try_from(per_page).unwrap_or(0);
        let shown: Vec<i32> = ids.iter().skip(start).take(take).copied().collect();
        let users = User::with_ids(conn, &shown)?;
        let policy = Policy::of(&st.settings);
        Ok((lines(conn, &me, users, policy, now)?, (page, total)))
    })
    .await?;
    let (page, total) = page;
    let at = TaskPage {
        rows: Vec::new(),
        idnum_names: Default::default(),
        page,
        per_page,
        total,
        total_is_exact: true,
        text_filter_not_applied: false,
    };
    let (items, _) = pager::pager(LIST, &params.pairs, &at);
    let summary = format!(
        "(Page {page} of {}; total {total} records)",
        at.last_page().unwrap_or(1)
    );
    html(
        StatusCode::OK,
        &UsersPage {
            ctx: PageCtx::new(&li.cs),
            users,
            superuser: li.user.is_superuser(),
            include_auto_generated,
            pager: items,
            summary,
        },
    )
}

/// The "Unlock" button of one user on the list.
pub struct UnlockUser;

impl RowButton for UnlockUser {
    const BACK: &'static str = LIST;
    const FIELD: &'static str = "user_id";
}

/// `POST /unlock_user` (`user_id`, `csrf_token`): for a user the requester may edit (admin §2.2),
/// deletes their lockouts and failures (audit "User X re-enabled"), flashes
/// "User X enabled" and goes back to the list.
pub async fn unlock_user(
    state: web::Data<AppState>,
    post: RowPost<UnlockUser>,
) -> Result<HttpResponse, AppError> {
    let RowPost {
        li, id: user_id, ..
    } = post;
    let mut admin = AdminRequest::new(&li, &state);
    let username = run_db(&state.pool, move |conn| {
        let target = admin.lock_target(conn, user_id, Missing::NoSuchUser, Action::Unlock)?;
        user_commands::enable_user(
            conn,
            &target.user.username,
            admin.now,
            AuditSource::Webviewer,
            Some(admin.user.id()),
            Some(&admin.ip),
        )?;
        Ok(target.user.username)
    })
    .await?;
    let done = format!("User {username} enabled");
    report_write(&li, &done, None, &done);
    Ok(see_other(LIST))
}

/// `GET /unlock_user`: 405 (the original's unlock-on-GET is removed).
pub async fn unlock_user_get() -> HttpResponse {
    post_only(LIST, "users")
}
