//! `/edit_other_user_mfa?user_id=N` (admin §3.8): switch another user's multi-factor
//! authentication off (they set it up again at their next login if `MFA_METHODS` requires
//! it). Unlike the original, the stored secret is cleared, the user's sessions end and the
//! change is audited. The administrator's own code is asked for when their second factor is on.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::opening::{CannotFind, UserGet, UserPost};
use super::{needs_code, reauthenticate, send_own_code, Missing, TargetUser, LIST};
use crate::auth::capability::Action;
use crate::auth::mfa::mfa_description;
use crate::auth::user_admin;
use crate::db::run_db;
use crate::error::AppError;
use crate::messaging::{spawn_notice, Notice};
use crate::routes::admin::report_write;
use crate::routes::admin::request::AdminRequest;
use crate::routes::page::{html, see_other, PageCtx};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "edit_other_user_mfa.html")]
struct MfaPage {
    ctx: PageCtx,
    target: TargetUser,
    current: &'static str,
    needs_code: bool,
    /// Where the administrator's own code was sent (codes by e-mail or text message).
    code_sent: Option<String>,
}

/// `GET /edit_other_user_mfa?user_id=N`.
pub async fn edit_other_user_mfa_form(
    state: web::Data<AppState>,
    get: UserGet<CannotFind>,
) -> Result<HttpResponse, AppError> {
    let target = get.target(&state, Action::EditMfa).await?;
    let UserGet { li, id, .. } = get;
    // Sent only now: the capability check above passed.
    let code_sent = match send_own_code(&state, &li, "edit_other_user_mfa", id, false).await? {
        Ok(note) => note,
        Err(not_sent) => return Ok(not_sent),
    };
    html(
        StatusCode::OK,
        &MfaPage {
            code_sent,
            ctx: PageCtx::new(&li.cs),
            target: TargetUser::of(&target),
            current: mfa_description(&target.user.mfa_method),
            needs_code: needs_code(&li),
        },
    )
}

/// `POST /edit_other_user_mfa?user_id=N` (`disable_mfa`, and `one_time_password` when the
/// administrator has TOTP).
pub async fn edit_other_user_mfa(
    state: web::Data<AppState>,
    post: UserPost<CannotFind>,
) -> Result<HttpResponse, AppError> {
    post.target(&state, Action::EditMfa).await?;
    let UserPost { li, form, id, .. } = post;
    if form.has("cancel") || !form.checked("disable_mfa") {
        return Ok(see_other(LIST));
    }
    if let Some(refused) = reauthenticate(&state, &li, &form).await? {
        return Ok(refused);
    }
    let mut admin = AdminRequest::new(&li, &state);
    let (username, email, was_on, ended) = run_db(&state.pool, move |conn| {
        let target = admin.lock_target(conn, id, Missing::CannotFind, Action::EditMfa)?;
        let was_on = target.user.mfa_method != "no_mfa";
        let ended = user_admin::disable_mfa(conn, admin.actor(), &target)?;
        Ok((target.user.username, target.user.email, was_on, ended))
    })
    .await?;
    // The user hears of it by e-mail when a second factor was on (failures only logged).
    if was_on {
        let notice = Notice::MfaDisabled { by_admin: true };
        spawn_notice(state.clone(), email, username.clone(), notice);
    }
    let done = format!("MFA of user {username} disabled");
    let message = format!("Multi-factor authentication disabled for user '{username}'");
    report_write(&li, &done, Some(ended), &message);
    Ok(see_other(LIST))
}
