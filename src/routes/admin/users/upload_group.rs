//! `/set_other_user_upload_group?user_id=N` (admin §3.6): the group a user's tablet
//! uploads go into, one of the user's own groups or none.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::opening::{NoSuchUser, UserGet, UserPost};
use super::{target_for, Missing, TargetUser, LIST};
use crate::auth::capability::Action;
use crate::auth::principal::AuthUser;
use crate::auth::user_admin;
use crate::db::{run_db, DbConnection};
use crate::error::AppError;
use crate::models::group::Group;
use crate::routes::admin::request::AdminRequest;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::LoggedIn;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "set_other_user_upload_group.html")]
struct UploadGroupPage<'a> {
    ctx: PageCtx,
    target: TargetUser,
    /// `(id, name, selected)`.
    choices: Vec<(i32, String, bool)>,
    none_selected: bool,
    error: Option<&'a str>,
}

/// The target and their groups (the choices), by name.
fn load(
    conn: &mut DbConnection,
    me: &AuthUser,
    id: i32,
) -> Result<(AuthUser, Vec<(i32, String)>), AppError> {
    let target = target_for(conn, me, id, Missing::NoSuchUser, Action::SetUploadGroup)?;
    let choices = choices_of(conn, &target)?;
    Ok((target, choices))
}

/// The groups the target may upload to: their own.
fn choices_of(conn: &mut DbConnection, target: &AuthUser) -> Result<Vec<(i32, String)>, AppError> {
    Ok(Group::with_ids(conn, &target.group_ids())?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

fn render(
    li: &LoggedIn,
    target: &AuthUser,
    choices: Vec<(i32, String)>,
    current: Option<i32>,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    html(
        ok_or_bad_request(error.is_some()),
        &UploadGroupPage {
            ctx: PageCtx::new(&li.cs),
            target: TargetUser::of(target),
            none_selected: current.is_none(),
            choices: choices
                .into_iter()
                .map(|(id, name)| (id, name, current == Some(id)))
                .collect(),
            error,
        },
    )
}

/// `GET /set_other_user_upload_group?user_id=N`.
pub async fn upload_group_form(
    state: web::Data<AppState>,
    get: UserGet<NoSuchUser>,
) -> Result<HttpResponse, AppError> {
    let (target, choices) = get.read(&state, load).await?;
    let current = target.user.upload_group_id;
    render(&get.li, &target, choices, current, None)
}

/// `POST /set_other_user_upload_group?user_id=N` (`upload_group_id`, "" for none).
pub async fn set_upload_group(
    state: web::Data<AppState>,
    post: UserPost<NoSuchUser>,
) -> Result<HttpResponse, AppError> {
    let UserPost { li, form, id, .. } = post;
    let raw = form.text("upload_group_id").trim().to_string();
    let cancel = form.has("cancel");
    let mut admin = AdminRequest::new(&li, &state);
    let refused = run_db(&state.pool, move |conn| {
        let target = admin.lock_target(conn, id, Missing::NoSuchUser, Action::SetUploadGroup)?;
        let choices = choices_of(conn, &target)?;
        if cancel {
            return Ok(None);
        }
        let chosen = if raw.is_empty() {
            None
        } else {
            match raw
                .parse::<i32>()
                .ok()
                .and_then(|g| choices.iter().find(|c| c.0 == g))
            {
                Some(c) => Some(c.clone()),
                None => {
                    let list: Vec<String> = choices.iter().map(|c| c.0.to_string()).collect();
                    let shown: String = raw.chars().take(40).collect();
                    let msg = format!("\"{shown}\" is not one of {}", list.join(", "));
                    return Ok(Some((target, choices, msg)));
                }
            }
        };
        let group = chosen.as_ref().map(|(g, name)| (*g, name.as_str()));
        user_admin::set_upload_group(conn, admin.actor(), &target, group)?;
        Ok(None)
    })
    .await?;
    match refused {
        None => Ok(see_other(LIST)),
        Some((target, choices, msg)) => {
            let current = target.user.upload_group_id;
            render(&li, &target, choices, current, Some(&msg))
        }
    }
}
