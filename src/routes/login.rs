//! `/login` (§4.2): the username/password step, then a TOTP step when the user has TOTP;
//! lockout, generic failures, redirect to a same-site path.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::page::{safe_redirect, see_other, PageCtx};
use crate::auth::login::{self as svc, GENERIC_FAILURE};
use crate::auth::second_factor;
use crate::db::{run_db, run_db_conn, run_db_read};
use crate::error::{url_encode, AppError};
use crate::models::audit::AuditSource;
use crate::models::user::USER_NAME_FOR_SYSTEM;
use crate::session::extract::CurrentSession;
use crate::state::AppState;

const ROUTE: &str = "login";

/// Query of `GET /login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    redirect_url: Option<String>,
}

/// Fields of `POST /login` (the original's names).
#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    one_time_password: String,
    #[serde(default)]
    redirect_url: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    ctx: PageCtx,
    redirect_url: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    autocomplete: &'a str,
}

#[derive(Template)]
#[template(path = "login_token.html")]
struct TokenPage<'a> {
    ctx: PageCtx,
    redirect_url: &'a str,
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn autocomplete(state: &AppState) -> &'static str {
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
    Ok(html(page.render()?))
}

/// A failure: flash (danger), wizard finished, 303 back to the login page.
async fn fail(
    state: &AppState,
    cs: &CurrentSession,
    redirect_url: &str,
    message: &str,
) -> Result<HttpResponse, AppError> {
    let mut session = cs.session.clone();
    if session.id.is_some() {
        session.form_state.finish();
        run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await?;
    }
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
    cs: CurrentSession,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    cs.check_csrf(&form.csrf_token)?;
    let redirect_url = safe_redirect(Some(&form.redirect_url), "/")?;
    let mut fs = cs.session.form_state.clone();
    fs.enter(ROUTE, false);
    if fs.step_or("password") == "mfa" && !fs.finished {
        return mfa_step(state, cs, form.into_inner(), redirect_url).await;
    }
    password_step(state, cs, form.into_inner(), redirect_url).await
}

async fn password_step(
    state: web::Data<AppState>,
    cs: CurrentSession,
    form: LoginForm,
    redirect_url: String,
) -> Result<HttpResponse, AppError> {
    let rerender = |error: &str| -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            ctx: PageCtx::new(&cs),
            redirect_url: &redirect_url,
            username: if form.username.chars().count() <= 191 {
                &form.username
            } else {
                ""
            },
            error: Some(error),
            autocomplete: autocomplete(&state),
        };
        Ok(html(page.render()?))
    };
    if form.username == USER_NAME_FOR_SYSTEM {
        return rerender("Cannot use system username 'system'");
    }
    if !svc::valid_username(&form.username) {
        return rerender("Please enter a valid username (letters, digits and , _ - { } only).");
    }
    if form.password.is_empty() {
        return rerender("Please enter your password.");
    }
    if form.password.len() > 1024 {
        return rerender(GENERIC_FAILURE);
    }
    let now = state.clock.now();
    let username = form.username.clone();
    // Three reads that need no common snapshot (the write phase below decides): no
    // transaction, so no BEGIN/COMMIT round trips.
    let found = run_db_conn(&state.pool, move |conn| {
        Ok(svc::lookup(conn, &username, now)?)
    })
    .await?;
    if let Some(until) = found.locked_until {
        return fail(&state, &cs, &redirect_url, &svc::locked_message(until)).await;
    }
    let (ok, upgraded) = svc::check_password(&state, found.user.as_ref(), &form.password).await?;
    let user = match (ok, found.user) {
        (true, Some(u)) => u,
        _ => {
            let (threshold, inc) = (
                state.settings.lockout_threshold,
                state.settings.lockout_duration_increment_minutes,
            );
            let username = form.username.clone();
            let ip = cs.client_ip.clone();
            let mut session = cs.session.clone();
            let outcome = run_db(&state.pool, move |conn| {
                let outcome = svc::record_failure(
                    conn,
                    &username,
                    now,
                    threshold,
                    inc,
                    AuditSource::Webviewer,
                    &ip,
                )?;
                session.logout(conn)?;
                Ok(outcome)
            })
            .await?;
            state
                .metrics
                .login_failed(outcome.locked_for_minutes.is_some());
            return fail(&state, &cs, &redirect_url, GENERIC_FAILURE).await;
        }
    };
    if !user.may_use_webviewer() {
        return fail(&state, &cs, &redirect_url, GENERIC_FAILURE).await;
    }
    if matches!(user.user.mfa_method.as_str(), "hotp_email" | "hotp_sms") {
        // Codes by e-mail or SMS are not sent by this server: never fall back to the
        // password alone for an account that has a second factor.
        return fail(
            &state,
            &cs,
            &redirect_url,
            "Your account uses a multi-factor method (codes by e-mail or SMS) that this server does not offer. Ask an administrator to switch it to an authenticator app or to reset it.",
        )
        .await;
    }
    let mut session = cs.session.clone();
    if user.user.mfa_method == "totp" && user.user.mfa_secret_key.is_some() {
        // Second step: the user id stays server-side in form_state.
        session.form_state.enter(ROUTE, false);
        session.form_state.step = Some("mfa".into());
        session.form_state.mfa_user_id = Some(user.id());
        session.form_state.mfa_time = Some(now.and_utc().timestamp());
        let saved = run_db(&state.pool, move |conn| {
            session.save_form_state(conn)?;
            Ok(session)
        })
        .await?;
        cs.remember(&saved);
        let page = TokenPage {
            ctx: PageCtx::new(&cs),
            redirect_url: &redirect_url,
        };
        return Ok(html(page.render()?));
    }
    finish_login(&state, &cs, session, user.user, upgraded, &redirect_url).await
}

async fn mfa_step(
    state: web::Data<AppState>,
    cs: CurrentSession,
    form: LoginForm,
    redirect_url: String,
) -> Result<HttpResponse, AppError> {
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
    // Every code is a login attempt: lockout first, a wrong or expired code is a failed
    // login, and any failure (a lockout included) sends the wizard back to the password step.
    let checked = second_factor::check_code(
        &state,
        &user.user,
        &form.one_time_password,
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
    let session = cs.session.clone();
    finish_login(&state, &cs, session, user.user, None, &redirect_url).await
}

async fn finish_login(
    state: &AppState,
    cs: &CurrentSession,
    mut session: crate::session::CamcopsSession,
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
