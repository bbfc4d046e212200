//! `GET /view_user?user_id=N` (admin §3.2): one user's details, group memberships and
//! permissions, read-only, for someone who may edit that user; first, whether the user can log
//! in to the web pages and upload from a tablet, and if not why, with where to fix it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::opening::{NoSuchUser, UserGet};
use super::status::{self, Status};
use super::{target_for, Missing};
use crate::auth::capability::{self, Action};
use crate::auth::readiness::{self, Policy};
use crate::error::AppError;
use crate::models::lockout;
use crate::routes::admin::{group_names, local_time};
use crate::routes::page::{html, PageCtx};
use crate::state::AppState;

/// One membership row.
struct MembershipLine {
    id: i32,
    group_name: String,
    group_id: i32,
    flags: [bool; 10],
    editable: bool,
}

#[derive(Template)]
#[template(path = "view_user.html")]
struct ViewUserPage {
    ctx: PageCtx,
    user_id: i32,
    web: Status,
    upload: Status,
    rows: Vec<(&'static str, String)>,
    memberships: Vec<MembershipLine>,
}

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.into()
}

/// `GET /view_user?user_id=N`.
pub async fn view_user(
    state: web::Data<AppState>,
    get: UserGet<NoSuchUser>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let (target, groups, locked) = get
        .read(&state, move |conn, me, id| {
            let target = target_for(conn, me, id, Missing::NoSuchUser, Action::View)?;
            let mut gids = target.group_ids();
            gids.extend(target.user.upload_group_id);
            let groups = group_names(conn, &gids)?;
            let locked = lockout::locked_until(conn, &target.user.username, now)?;
            Ok((target, groups, locked))
        })
        .await?;
    let li = get.li;
    let reasons = readiness::web_login(&target, locked, Policy::of(&state.settings), now);
    let web = status::web(&li.user, &target, &reasons, &groups);
    let upload_reasons = readiness::tablet_upload(&target, locked, now);
    let upload = status::upload(&li.user, &target, &upload_reasons, &groups);
    let u = &target.user;
    let name = |g: i32| groups.get(&g).cloned().unwrap_or_default();
    let rows = vec![
        ("Username", u.username.clone()),
        ("User ID", u.id.to_string()),
        ("Full name", u.fullname.clone().unwrap_or_default()),
        ("E-mail address", u.email.clone().unwrap_or_default()),
        (
            "Last login at",
            u.last_login_at_utc.map_or("None".into(), local_time),
        ),
        (
            "Locked out?",
            locked.map_or("No".into(), |t| format!("Yes, until {}", local_time(t))),
        ),
        (
            "Last password change",
            u.last_password_change_utc.map_or("None".into(), local_time),
        ),
        (
            "Must change password at next login?",
            yes_no(u.must_change_password()),
        ),
        (
            "Agreed to terms of use at:",
            u.when_agreed_terms_of_use.clone().unwrap_or("None".into()),
        ),
        ("Language", u.language.clone().unwrap_or_default()),
        ("Superuser?", yes_no(u.is_superuser())),
        ("Multi-factor authentication", u.mfa_method.clone()),
        (
            "May use the web viewer?",
            yes_no(target.may_use_webviewer()),
        ),
        ("May upload?", yes_no(target.may_upload())),
        (
            "Upload group",
            u.upload_group_id.map_or("(None)".into(), name),
        ),
    ];
    let mut memberships: Vec<MembershipLine> = target
        .memberships
        .iter()
        .filter_map(|m| {
            let g = m.group_id?;
            let f = m.flags.or_false();
            Some(MembershipLine {
                id: m.id,
                group_name: name(g),
                group_id: g,
                flags: [
                    f.groupadmin,
                    f.may_upload,
                    f.may_register_devices,
                    f.may_use_webviewer,
                    f.may_manage_patients,
                    f.may_email_patients,
                    f.view_all_patients_when_unfiltered,
                    f.may_dump_data,
                    f.may_run_reports,
                    f.may_add_notes,
                ],
                editable: capability::may_administer_group(&li.user, g),
            })
        })
        .collect();
    memberships.sort_by(|a, b| a.group_name.cmp(&b.group_name));
    html(
        StatusCode::OK,
        &ViewUserPage {
            ctx: PageCtx::new(&li.cs),
            user_id: target.id(),
            web,
            upload,
            rows,
            memberships,
        },
    )
}
