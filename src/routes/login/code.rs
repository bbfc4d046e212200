//! The code step of `/login`: the code page, "Send a new code", and the check of a code (or
//! a recovery code) as a login attempt.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{fail, finish_login, save_and_remember};
use crate::auth::login::{check_address, GENERIC_FAILURE};
use crate::auth::second_factor::{self, Against, Checked, Sent};
use crate::db::run_db_read;
use crate::error::AppError;
use crate::messaging::{spawn_notice, Notice};
use crate::routes::form::Fields;
use crate::routes::page::{html, PageCtx};
use crate::session::extract::CurrentSession;
use crate::session::form_state::SentCodes;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login_token.html")]
struct TokenPage<'a> {
    ctx: PageCtx,
    redirect_url: &'a str,
    title: &'a str,
    instructions: &'a str,
    notice: Option<&'a str>,
    can_resend: bool,
}

/// The code page: CamCOPS' title and instructions for the method.
pub(super) fn token_page(
    cs: &CurrentSession,
    redirect_url: &str,
    method: &str,
    sent_to: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let (title, instructions) = match (method, sent_to) {
        ("hotp_email", Some(i)) => ("Authenticate via e-mail", i),
        ("hotp_sms", Some(i)) => ("Authenticate via SMS", i),
        _ => (
            "Authenticate via your authentication app",
            "Enter the code for CamCOPS displayed on your authentication app.",
        ),
    };
    let page = TokenPage {
        ctx: PageCtx::new(cs),
        redirect_url,
        title,
        instructions,
        notice,
        can_resend: sent_to.is_some(),
    };
    html(StatusCode::OK, &page)
}

pub(super) async fn mfa_step(
    state: web::Data<AppState>,
    cs: CurrentSession,
    form: Fields,
    redirect_url: String,
) -> Result<HttpResponse, AppError> {
    // Wrong codes count towards the client address's failed-login budget: beyond it, 429.
    check_address(&state, &cs.client_ip)?;
    let fs = cs.session.form_state.clone();
    let Some(user_id) = fs.mfa_user_id else {
        return fail(&state, &cs, &redirect_url, "Please log in again.").await;
    };
    let user = run_db_read(&state.pool, move |conn| {
        Ok(crate::auth::principal::AuthUser::load(conn, user_id)?)
    })
    .await?;
    let Some(user) = user else {
        return fail(&state, &cs, &redirect_url, GENERIC_FAILURE).await;
    };
    if !form.text("resend").is_empty() && second_factor::sends_codes(&user.user.mfa_method) {
        return resend(&state, &cs, &user.user, &redirect_url).await;
    }
    // Every code is a login attempt: lockout first, a wrong or expired code is a failed
    // login, and any failure (a lockout included) sends the wizard back to the password step.
    let checked = second_factor::check_code(
        &state,
        &user.user,
        Against::MethodOrRecovery,
        form.text("one_time_password"),
        fs.mfa_time,
        &cs.client_ip,
    )
    .await?;
    if let Some(message) = checked.message() {
        return fail(&state, &cs, &redirect_url, message).await;
    }
    if !user.may_use_webviewer() {
        return fail(&state, &cs, &redirect_url, GENERIC_FAILURE).await;
    }
    if checked == Checked::Recovered {
        // The user hears of it by e-mail: a recovery code used by someone else is a warning.
        let notice = Notice::RecoveryCodeUsed;
        let (email, name) = (user.user.email.clone(), user.user.username.clone());
        spawn_notice(state.clone(), email, name, notice);
    }
    let session = cs.session.clone();
    finish_login(&state, &cs, session, user.user, None, &redirect_url).await
}

/// "Send a new code": at most [`second_factor::MAX_SENDS_PER_STEP`] codes per login (and
/// the hourly limit per user); a new code replaces the old one and restarts the timeout.
async fn resend(
    state: &AppState,
    cs: &CurrentSession,
    user: &crate::models::user::User,
    redirect_url: &str,
) -> Result<HttpResponse, AppError> {
    let mut session = cs.session.clone();
    let fs = &mut session.form_state;
    let sent = fs.codes.as_ref().map_or(1, |c| c.count);
    let to = fs.codes.as_ref().map(|c| c.to.clone());
    let method = user.mfa_method.clone();
    if sent >= second_factor::MAX_SENDS_PER_STEP {
        return token_page(
            cs,
            redirect_url,
            &method,
            to.as_deref(),
            Some(second_factor::TOO_MANY),
        );
    }
    match second_factor::send_code(state, user, &cs.client_ip).await? {
        Sent::Sent { at, instructions } => {
            fs.mfa_time = Some(at);
            fs.codes = Some(Box::new(SentCodes {
                count: sent + 1,
                to: instructions.clone(),
            }));
            save_and_remember(state, cs, session).await?;
            token_page(
                cs,
                redirect_url,
                &method,
                Some(&instructions),
                Some("A new code has been sent."),
            )
        }
        Sent::Refused(message) => {
            token_page(cs, redirect_url, &method, to.as_deref(), Some(message))
        }
        Sent::Failed => Ok(second_factor::not_sent_response()),
    }
}
