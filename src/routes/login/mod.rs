//! `/login` (sessions §4.2): the username/password step, then a code step when the user has a second
//! factor (TOTP, or a code sent by e-mail or text message); lockout, generic failures,
//! redirect to a same-site path. Here: the pages, the wizard's dispatch and its endings;
//! `password.rs` and `code.rs` hold the two steps.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use self::code::mfa_step;
use self::password::password_step;
use super::form::Posted;
use super::page::{html, safe_redirect, see_other, PageCtx};
use crate::auth::login as svc;
use crate::db::run_db;
use crate::error::{url_encode, AppError};
use crate::session::extract::CurrentSession;
use crate::session::CamcopsSession;
use crate::state::AppState;

mod code;
mod password;

const ROUTE: &str = "login";

/// Query of `GET /login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    redirect_url: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage<'a> {
    ctx: PageCtx,
    redirect_url: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    autocomplete: &'a str,
}

pub(super) fn autocomplete(state: &AppState) -> &'static str {
    if state.settings.disable_password_autocomplete {
        "off"
    } else {
        "current-password"
    }
}

/// `GET /login`: the form; resets any wizard state.
pub async fn login_form(
    state: web::Data<AppState>,
    cs: CurrentSession,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let redirect_url = safe_redirect(query.redirect_url.as_deref(), "/")?;
    let mut session = cs.session.clone();
    if session.id.is_some() && session.form_state.enter(ROUTE, true) {
        run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await?;
    }
    let page = LoginPage {
        ctx: PageCtx::new(&cs),
        redirect_url: &redirect_url,
        username: "",
        error: None,
        autocomplete: autocomplete(&state),
    };
    html(StatusCode::OK, &page)
}

/// A failure: flash (danger), wizard finished, 303 back to the login page.
pub(super) async fn fail(
    state: &AppState,
    cs: &CurrentSession,
    redirect_url: &str,
    message: &str,
) -> Result<HttpResponse, AppError> {
    fail_quietly(state, cs).await?;
    cs.cookie.flash("danger", message);
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!("/login?redirect_url={}", url_encode(redirect_url)),
        ))
        .finish())
}

/// `POST /login`: runs the current wizard step.
pub async fn login(
    state: web::Data<AppState>,
    Posted { who: cs, form }: Posted<CurrentSession>,
) -> Result<HttpResponse, AppError> {
    let redirect_url = safe_redirect(Some(form.text("redirect_url")), "/")?;
    let mut fs = cs.session.form_state.clone();
    fs.enter(ROUTE, false);
    if fs.step_or("password") == "mfa" && !fs.finished {
        return mfa_step(state, cs, form, redirect_url).await;
    }
    password_step(state, cs, form, redirect_url).await
}

/// Saves the wizard state of `session` and makes it this request's session.
pub(super) async fn save_and_remember(
    state: &AppState,
    cs: &CurrentSession,
    mut session: CamcopsSession,
) -> Result<(), AppError> {
    let saved = run_db(&state.pool, move |conn| {
        session.save_form_state(conn)?;
        Ok(session)
    })
    .await?;
    cs.remember(&saved);
    Ok(())
}

/// Ends the wizard without a message (the response says what happened).
pub(super) async fn fail_quietly(state: &AppState, cs: &CurrentSession) -> Result<(), AppError> {
    let mut session = cs.session.clone();
    if session.id.is_some() {
        session.form_state.finish();
        run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await?;
    }
    Ok(())
}

pub(super) async fn finish_login(
    state: &AppState,
    cs: &CurrentSession,
    mut session: CamcopsSession,
    user: crate::models::user::User,
    upgraded: Option<String>,
    redirect_url: &str,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let freq = state.settings.password_change_frequency_days;
    let ip = cs.client_ip.clone();
    let username = user.username.clone();
    let session = run_db(&state.pool, move |conn| {
        svc::complete_web_login(
            conn,
            &mut session,
            &user,
            upgraded.as_deref(),
            freq,
            now,
            &ip,
        )?;
        Ok(session)
    })
    .await?;
    state.metrics.logins.inc();
    log::info!("Login: user {username} from {}", cs.client_ip);
    cs.remember(&session);
    cs.cookie.rotate_csrf();
    Ok(see_other(redirect_url))
}
