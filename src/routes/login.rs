//! `/login` (§4.2): the username/password step, then a TOTP step when the user has TOTP;
//! lockout, generic failures, redirect to a same-site path.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::form::Fields;
use super::page::{html, safe_redirect, see_other, PageCtx};
use crate::auth::login::{self as svc, GENERIC_FAILURE};
use crate::auth::readiness::{self, Policy, Reason};
use crate::auth::second_factor::{self, Checked, Sent};
use crate::auth::throttle;
use crate::db::{run_db, run_db_conn, run_db_read};
use crate::error::{url_encode, AppError};
use crate::messaging::{spawn_notice, Notice};
use crate::models::audit::AuditSource;
use crate::models::user::USER_NAME_FOR_SYSTEM;
use crate::session::extract::CurrentSession;
use crate::session::form_state::SentCodes;
use crate::session::CamcopsSession;
use crate::state::AppState;

const ROUTE: &str = "login";

/// Query of `GET /login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    redirect_url: Option<String>,
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
    title: &'a str,
    instructions: &'a str,
    notice: Option<&'a str>,
    can_resend: bool,
}

/// The code page: CamCOPS' title and instructions for the method.
fn token_page(
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
    html(StatusCode::OK, &page)
}

/// A failure: flash (danger), wizard finished, 303 back to the login page.
async fn fail(
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
    cs: CurrentSession,
    form: web::Form<Fields>,
) -> Result<HttpResponse, AppError> {
    cs.check_csrf(form.csrf())?;
    let redirect_url = safe_redirect(Some(form.text("redirect_url")), "/")?;
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
    form: Fields,
    redirect_url: String,
) -> Result<HttpResponse, AppError> {
    // The original's fields: `username`, `password` (and at the code step
    // `one_time_password`, `resend`).
    let (form_username, form_password) = (form.text("username"), form.text("password"));
    let rerender = |error: &str| -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            ctx: PageCtx::new(&cs),
            redirect_url: &redirect_url,
            username: if form_username.chars().count() <= 191 {
                form_username
            } else {
                ""
            },
            error: Some(error),
            autocomplete: autocomplete(&state),
        };
        html(StatusCode::OK, &page)
    };
    if form_username == USER_NAME_FOR_SYSTEM {
        return rerender("Cannot use system username 'system'");
    }
    if !svc::valid_username(form_username) {
        return rerender("Please enter a valid username (letters, digits and , _ - { } only).");
    }
    if form_password.is_empty() {
        return rerender("Please enter your password.");
    }
    if form_password.len() > 1024 {
        return rerender(GENERIC_FAILURE);
    }
    // An address that has used up its failure budget tries no password at all (429).
    throttle::check(&state, &cs.client_ip)?;
    let now = state.clock.now();
    let username = form_username.to_owned();
    // Three reads that need no common snapshot (the write phase below decides): no
    // transaction, so no BEGIN/COMMIT round trips.
    let found = run_db_conn(&state.pool, move |conn| {
        Ok(svc::lookup(conn, &username, now)?)
    })
    .await?;
    // Every reason this user cannot log in, as the user pages show them.
    let reasons = found
        .user
        .as_ref()
        .map(|u| readiness::web_login(u, found.locked_until, Policy::of(&state.settings), now))
        .unwrap_or_default();
    // The account's name as stored (a case-insensitive collation may match another spelling).
    let account = found
        .user
        .as_ref()
        .map_or_else(|| form_username.to_owned(), |u| u.user.username.clone());
    if let Some(until) = found.locked_until {
        refused(&state, &cs, &account, &reasons, now).await?;
        return fail(&state, &cs, &redirect_url, &svc::locked_message(until)).await;
    }
    let (ok, upgraded) = svc::check_password(&state, found.user.as_ref(), form_password).await?;
    let user = match (ok, found.user) {
        (true, Some(u)) => u,
        (_, known) => {
            let (threshold, inc) = (
                state.settings.lockout_threshold,
                state.settings.lockout_duration_increment_minutes,
            );
            let username = form_username.to_owned();
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
            if let (Some(_), Some(u)) = (outcome.locked_for_minutes, known) {
                // The owner hears of the lockout by e-mail (in the background: no timing).
                let (email, name) = (u.user.email.clone(), u.user.username.clone());
                spawn_notice(state.clone(), email, name, Notice::AccountLocked);
            }
            throttle::record_failure(&state, &cs.client_ip, AuditSource::Webviewer).await?;
            return fail(&state, &cs, &redirect_url, GENERIC_FAILURE).await;
        }
    };
    if let Some(first) = readiness::refusals(&reasons).first() {
        // The user sees the usual message; the audit row names the reasons.
        let message = match first {
            // Codes by e-mail without mail settings, or with nowhere to send them: never fall
            // back to the password alone for an account that has a second factor. The password
            // was right, so the user may be told why.
            Reason::MfaMethodNotOffered => "Your account uses codes by e-mail, which this server cannot send. Ask an administrator to switch your multi-factor authentication to another method or to reset it.",
            Reason::MfaEmailWithoutAddress => second_factor::NO_EMAIL,
            Reason::MfaSmsWithoutPhone => second_factor::NO_PHONE,
            _ => GENERIC_FAILURE,
        };
        refused(&state, &cs, &account, &reasons, now).await?;
        return fail(&state, &cs, &redirect_url, message).await;
    }
    let mut session = cs.session.clone();
    let method = user.user.mfa_method.clone();
    let sent_to = if second_factor::sends_codes(&method) {
        // As CamCOPS: a new code by e-mail or text message after each right password.
        match second_factor::send_code(&state, &user.user, &cs.client_ip).await? {
            Sent::Sent { at, instructions } => Some((at, instructions)),
            Sent::Refused(message) => return fail(&state, &cs, &redirect_url, message).await,
            Sent::Failed => {
                // Not a failed login: the wizard ends, the user may simply try again.
                fail_quietly(&state, &cs).await?;
                return Ok(second_factor::not_sent_response());
            }
        }
    } else {
        None
    };
    let totp = method == "totp" && user.user.mfa_secret_key.is_some();
    if totp || sent_to.is_some() {
        // Second step: the user id stays server-side in form_state.
        session.form_state.enter(ROUTE, false);
        session.form_state.step = Some("mfa".into());
        session.form_state.mfa_user_id = Some(user.id());
        session.form_state.mfa_time = Some(
            sent_to
                .as_ref()
                .map_or(now.and_utc().timestamp(), |(at, _)| *at),
        );
        session.form_state.codes = sent_to.as_ref().map(|(_, to)| {
            Box::new(SentCodes {
                count: 1,
                to: to.clone(),
            })
        });
        save_and_remember(&state, &cs, session).await?;
        let sent = sent_to.as_ref().map(|(_, i)| i.as_str());
        return token_page(&cs, &redirect_url, &method, sent, None);
    }
    finish_login(&state, &cs, session, user.user, upgraded, &redirect_url).await
}

/// Audits a login refused for `reasons` (nothing when none refuses).
async fn refused(
    state: &AppState,
    cs: &CurrentSession,
    username: &str,
    reasons: &[Reason],
    now: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    let refusals: Vec<Reason> = readiness::refusals(reasons).into_iter().cloned().collect();
    if refusals.is_empty() {
        return Ok(());
    }
    let (name, ip) = (username.to_owned(), cs.client_ip.clone());
    run_db(&state.pool, move |conn| {
        let all: Vec<&Reason> = refusals.iter().collect();
        Ok(svc::record_refusal(conn, &name, &all, now, &ip)?)
    })
    .await
}

async fn mfa_step(
    state: web::Data<AppState>,
    cs: CurrentSession,
    form: Fields,
    redirect_url: String,
) -> Result<HttpResponse, AppError> {
    // Wrong codes count towards the client address's failed-login budget: beyond it, 429.
    throttle::check(&state, &cs.client_ip)?;
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
    let checked = second_factor::check_login_code(
        &state,
        &user.user,
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

/// Saves the wizard state of `session` and makes it this request's session.
async fn save_and_remember(
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
async fn fail_quietly(state: &AppState, cs: &CurrentSession) -> Result<(), AppError> {
    let mut session = cs.session.clone();
    if session.id.is_some() {
        session.form_state.finish();
        run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await?;
    }
    Ok(())
}

async fn finish_login(
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
