//! `/view_own_user_info` (sessions §4.8): the logged-in user's account: names, e-mail, superuser,
//! groups and permissions, upload group, last login, MFA method and whether it is locked out.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;

use super::page::{html, PageCtx};
/// Moved to `auth::mfa`; kept here for the admin MFA page until it imports the new place.
use crate::auth::mfa::mfa_description;
use crate::db::run_db_read;
use crate::error::AppError;
use crate::models::group::Group;
use crate::models::lockout;
use crate::session::extract::HappyUser;
use crate::state::AppState;

/// One group membership, ready to show.
struct GroupRow {
    name: String,
    webviewer: &'static str,
    upload: &'static str,
    register_devices: &'static str,
    groupadmin: &'static str,
    view_all_unfiltered: &'static str,
}

#[derive(Template)]
#[template(path = "view_own_user_info.html")]
struct OwnUserInfoPage {
    ctx: PageCtx,
    username: String,
    fullname: String,
    email: String,
    superuser: &'static str,
    must_change_password: &'static str,
    groups: Vec<GroupRow>,
    upload_group: String,
    last_login: String,
    last_password_change: String,
    mfa_method: &'static str,
    locked_out: String,
}

fn yes_no(b: Option<bool>) -> &'static str {
    if b.unwrap_or(false) {
        "Yes"
    } else {
        "No"
    }
}

/// A naive UTC time in the server's local time, or "(never)".
pub fn show_time(t: Option<NaiveDateTime>) -> String {
    match t {
        Some(t) => chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(t, chrono::Utc)
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %z")
            .to_string(),
        None => "(never)".into(),
    }
}

/// `GET /view_own_user_info`.
pub async fn view_own_user_info(
    state: web::Data<AppState>,
    HappyUser(li): HappyUser,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = li.user.clone();
    let (groups, locked_until) = run_db_read(&state.pool, move |conn| {
        let mut ids = user.group_ids();
        ids.extend(user.user.upload_group_id);
        let groups = Group::with_ids(conn, &ids)?;
        let locked = lockout::locked_until(conn, &user.user.username, now)?;
        Ok((groups, locked))
    })
    .await?;
    let names: HashMap<i32, String> = groups.into_iter().map(|g| (g.id, g.name)).collect();
    let name_of = |id: Option<i32>| id.and_then(|id| names.get(&id).cloned());
    let u = &li.user.user;
    let mut rows: Vec<GroupRow> = li
        .user
        .memberships
        .iter()
        .filter_map(|m| {
            Some(GroupRow {
                name: name_of(m.group_id)?,
                webviewer: yes_no(m.flags.may_use_webviewer),
                upload: yes_no(m.flags.may_upload),
                register_devices: yes_no(m.flags.may_register_devices),
                groupadmin: yes_no(m.flags.groupadmin),
                view_all_unfiltered: yes_no(m.flags.view_all_patients_when_unfiltered),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let locked_out = match locked_until {
        Some(until) => format!("Yes, until {}", show_time(Some(until))),
        None => "No".into(),
    };
    let page = OwnUserInfoPage {
        ctx: PageCtx::new(&li.cs),
        username: u.username.clone(),
        fullname: u.fullname.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        superuser: yes_no(u.superuser),
        must_change_password: yes_no(u.must_change_password),
        groups: rows,
        upload_group: name_of(u.upload_group_id).unwrap_or_else(|| "(none)".into()),
        last_login: show_time(u.last_login_at_utc),
        last_password_change: show_time(u.last_password_change_utc),
        mfa_method: mfa_description(&u.mfa_method),
        locked_out,
    };
    html(StatusCode::OK, &page)
}
