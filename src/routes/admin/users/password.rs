//! `/change_other_password?user_id=N` (admin §3.7): a new password for another user,
//! "must change at next login" ticked by default. The administrator's own code is asked for
//! when their second factor is on (codes by e-mail or text message: one is sent when the form
//! is shown). Unlike the original, the user's sessions end at once, the new
//! password must differ from the current one, and one's own password is changed on the own
//! page (with the old password), for POST as well as GET.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::opening::{CannotFind, UserGet, UserPost};
use super::{
    check_new_password, needs_code, reauthenticate, send_own_code, Missing, TargetUser, LIST,
};
use crate::auth::capability::Action;
use crate::auth::password;
use crate::auth::principal::AuthUser;
use crate::auth::user_admin;
use crate::blocking::run_hashing;
use crate::db::run_db;
use crate::error::AppError;
use crate::messaging::{spawn_notice, Notice};
use crate::routes::admin::report_write;
use crate::routes::admin::request::AdminRequest;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::LoggedIn;
use crate::state::AppState;

const ROUTE: &str = "change_other_password";

/// The new password equals the user's current one.
pub const SAME_AS_CURRENT: &str = "New password must differ from old";

#[derive(Template)]
#[template(path = "change_other_password.html")]
struct PasswordPage<'a> {
    ctx: PageCtx,
    target: TargetUser,
    must_change_password: bool,
    needs_code: bool,
    /// Where the administrator's own code was sent (codes by e-mail or text message).
    code_sent: Option<String>,
    min_length: usize,
    error: Option<&'a str>,
}

/// The form; an administrator whose codes are sent gets one (a new one when `resend`: the
/// form is shown again after their last code was used).
async fn render(
    state: &AppState,
    li: &LoggedIn,
    target: &AuthUser,
    must_change_password: bool,
    error: Option<&str>,
    resend: bool,
) -> Result<HttpResponse, AppError> {
    let code_sent = match send_own_code(state, li, ROUTE, target.id(), resend).await? {
        Ok(note) => note,
        Err(not_sent) => return Ok(not_sent),
    };
    html(
        ok_or_bad_request(error.is_some()),
        &PasswordPage {
            code_sent,
            ctx: PageCtx::new(&li.cs),
            target: TargetUser::of(target),
            must_change_password,
            needs_code: needs_code(li),
            min_length: password::MINIMUM_PASSWORD_LENGTH,
            error,
        },
    )
}

/// `GET /change_other_password?user_id=N`.
pub async fn change_other_password_form(
    state: web::Data<AppState>,
    get: UserGet<CannotFind>,
) -> Result<HttpResponse, AppError> {
    let target = get.target(&state, Action::ChangePassword).await?;
    render(&state, &get.li, &target, true, None, false).await
}

/// `POST /change_other_password?user_id=N` (`new_password`, `new_password-confirm`,
/// `must_change_password`, and `one_time_password` when the administrator has TOTP).
pub async fn change_other_password(
    state: web::Data<AppState>,
    post: UserPost<CannotFind>,
) -> Result<HttpResponse, AppError> {
    let target = post.target(&state, Action::ChangePassword).await?;
    let UserPost { li, form, id, .. } = post;
    if form.has("cancel") {
        return Ok(see_other(LIST));
    }
    let must_change = form.checked("must_change_password");
    if let Some(refused) = reauthenticate(&state, &li, &form).await? {
        return Ok(refused);
    }
    if let Err(e) = check_new_password(&form) {
        return render(&state, &li, &target, must_change, Some(&e), true).await;
    }
    let (new, stored, cost) = (
        form.text("new_password").to_string(),
        target.user.hashedpw.clone(),
        state.settings.bcrypt_cost,
    );
    let counter = state.bcrypt_verifications.clone();
    let hashed = run_hashing(move || -> anyhow::Result<Option<String>> {
        if password::verify(&new, &stored, &counter) {
            Ok(None)
        } else {
            Ok(Some(password::hash(&new, cost)?))
        }
    })
    .await??;
    let Some(hash) = hashed else {
        return render(
            &state,
            &li,
            &target,
            must_change,
            Some(SAME_AS_CURRENT),
            true,
        )
        .await;
    };
    // The slow hash is done; now the administrator and the target as they are at the write,
    // under lock (a right revoked while the hash was computed is seen here).
    let mut admin = AdminRequest::new(&li, &state);
    let (username, email, ended) = run_db(&state.pool, move |conn| {
        let target = admin.lock_target(conn, id, Missing::CannotFind, Action::ChangePassword)?;
        let ended =
            user_admin::set_other_password(conn, admin.actor(), &target, &hash, must_change)?;
        Ok((target.user.username, target.user.email, ended))
    })
    .await?;
    // The user hears of it by e-mail (a failure is logged and counted, not shown here).
    let notice = Notice::PasswordChanged { by_admin: true };
    spawn_notice(state.clone(), email, username.clone(), notice);
    let done = format!("Password of user {username} changed");
    let message = format!("Password changed for user '{username}'");
    report_write(&li, &done, Some(ended), &message);
    Ok(see_other(LIST))
}
