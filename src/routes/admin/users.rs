//! `/view_all_users` (§4.8): the users the requester administers, with groups, last login,
//! lockout state and MFA method; `POST /unlock_user` (CSRF) clears a user's lockouts and
//! failures. The original unlocked on `GET /unlock_user?user_id=N`; GET is now a 405.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{admin_or_login, local_time, parse_id, post_only, see_other, MAX_ROWS};
use crate::auth::principal::AuthUser;
use crate::auth::users;
use crate::config::MfaMethod;
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::models::audit::AuditSource;
use crate::models::group::{Group, Membership};
use crate::models::lockout;
use crate::models::user::User;
use crate::routes::page::PageCtx;
use crate::session::extract::GroupAdmin;
use crate::state::AppState;

const PAGE: &str = "/view_all_users";

/// Query of `GET /view_all_users`.
#[derive(Deserialize)]
pub struct UsersQuery {
    include_auto_generated: Option<String>,
}

/// Fields of `POST /unlock_user` (the original's `user_id`).
#[derive(Deserialize)]
pub struct UnlockForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    csrf_token: String,
}

/// One row of the users table.
struct UserLine {
    id: i32,
    username: String,
    fullname: String,
    superuser: bool,
    groups: String,
    last_login: String,
    locked_until: Option<String>,
    failures: i64,
    mfa: &'static str,
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
    truncated: bool,
    max_rows: usize,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.trim().to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "on" | "yes")
    )
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
    conn: &mut crate::db::DbConnection,
    users: Vec<User>,
    now: NaiveDateTime,
) -> Result<Vec<UserLine>, AppError> {
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let memberships = Membership::for_users(conn, &ids)?;
    let mut gids: Vec<i32> = memberships.iter().filter_map(|m| m.group_id).collect();
    gids.sort_unstable();
    gids.dedup();
    let group_names: HashMap<i32, String> = Group::with_ids(conn, &gids)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let mut groups_of: HashMap<i32, Vec<&str>> = HashMap::new();
    for m in &memberships {
        if let (Some(uid), Some(name)) = (m.user_id, m.group_id.and_then(|g| group_names.get(&g))) {
            groups_of.entry(uid).or_default().push(name);
        }
    }
    let locked: HashMap<String, NaiveDateTime> = lockout::locked_until_many(conn, &names, now)?
        .into_iter()
        .filter_map(|(u, t)| t.map(|t| (u, t)))
        .collect();
    let failures: HashMap<String, i64> =
        lockout::failure_counts(conn, &names)?.into_iter().collect();
    Ok(users
        .iter()
        .map(|u| {
            let mut groups = groups_of.get(&u.id).cloned().unwrap_or_default();
            groups.sort_unstable();
            UserLine {
                id: u.id,
                username: u.username.clone(),
                fullname: u.fullname.clone().unwrap_or_default(),
                superuser: u.is_superuser(),
                groups: groups.join(", "),
                last_login: u
                    .last_login_at_utc
                    .map(local_time)
                    .unwrap_or_else(|| "Never".into()),
                locked_until: locked.get(&u.username).copied().map(local_time),
                failures: failures.get(&u.username).copied().unwrap_or(0),
                mfa: mfa_label(&u.mfa_method),
            }
        })
        .collect())
}

/// `GET /view_all_users`: a superuser sees every user (except the system user); a group
/// administrator sees the non-superusers of the groups they administer. At most 1,000 rows.
pub async fn view_all_users(
    state: web::Data<AppState>,
    GroupAdmin(li): GroupAdmin,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let me = li.user.clone();
    let superuser = me.is_superuser();
    let scope = (!superuser).then(|| me.groupadmin_group_ids());
    let include_auto_generated = truthy(query.include_auto_generated.as_deref());
    let now = state.clock.now();
    let limit = i64::try_from(MAX_ROWS)
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    let (users, truncated) = run_db_read(&state.pool, move |conn| {
        let mut users =
            User::list_for_admin(conn, scope.as_deref(), include_auto_generated, limit)?;
        let truncated = users.len() > MAX_ROWS;
        users.truncate(MAX_ROWS);
        Ok((lines(conn, users, now)?, truncated))
    })
    .await?;
    let page = UsersPage {
        ctx: PageCtx::new(&li.cs),
        users,
        superuser,
        include_auto_generated,
        truncated,
        max_rows: MAX_ROWS,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// `POST /unlock_user` (`user_id`, `csrf_token`): for a user the requester may administer,
/// deletes their lockouts and failures (audit "User X re-enabled"), flashes
/// "User X enabled" and goes back to the list.
pub async fn unlock_user(
    state: web::Data<AppState>,
    admin: Result<GroupAdmin, AppError>,
    form: web::Form<UnlockForm>,
) -> Result<HttpResponse, AppError> {
    let GroupAdmin(li) = admin_or_login(admin, PAGE)?;
    li.cs.check_csrf(&form.csrf_token)?;
    let user_id = parse_id("user_id", &form.user_id)?;
    let me = li.user.clone();
    let now = state.clock.now();
    let username = run_db(&state.pool, move |conn| {
        let Some(target) = AuthUser::load(conn, user_id)? else {
            return Err(AppError::BadRequest(format!(
                "Cannot find User with id:{user_id}"
            )));
        };
        if !me.may_administer(&target) {
            return Err(AppError::Forbidden);
        }
        users::enable_user(
            conn,
            &target.user.username,
            now,
            AuditSource::Webviewer,
            Some(me.id()),
        )?;
        Ok(target.user.username)
    })
    .await?;
    log::info!(
        "User {username} enabled by {} from {}",
        li.cs.username().unwrap_or(""),
        li.cs.client_ip
    );
    li.cs
        .cookie
        .flash("success", format!("User {username} enabled"));
    Ok(see_other(PAGE))
}

/// `GET /unlock_user`: 405 (the original's unlock-on-GET is removed).
pub async fn unlock_user_get() -> HttpResponse {
    post_only(PAGE, "users")
}
