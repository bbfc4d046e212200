//! The password step of `/login`: username rules, lockout, the password, every reason the
//! account may not log in, then either the code step (a code sent, or TOTP) or the login.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::code::token_page;
use super::{autocomplete, fail, fail_quietly, finish_login, save_and_remember};
use super::{LoginPage, ROUTE};
use crate::auth::login::{self as svc, GENERIC_FAILURE};
use crate::auth::readiness::{self, Policy, Reason};
use crate::auth::second_factor::{self, Sent};
use crate::db::{run_db, run_db_conn};
use crate::error::AppError;
use crate::messaging::{spawn_notice, Notice};
use crate::models::audit::AuditSource;
use crate::models::user::USER_NAME_FOR_SYSTEM;
use crate::routes::form::Fields;
use crate::routes::page::{html, PageCtx};
use crate::session::extract::CurrentSession;
use crate::session::form_state::SentCodes;
use crate::state::AppState;

pub(super) async fn password_step(
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
    svc::check_address(&state, &cs.client_ip)?;
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
            let policy = svc::LockoutPolicy::of(&state.settings);
            let username = form_username.to_owned();
            let ip = cs.client_ip.clone();
            let mut session = cs.session.clone();
            let outcome = run_db(&state.pool, move |conn| {
                let source = AuditSource::Webviewer;
                let outcome = svc::record_failure(conn, &username, now, policy, source, &ip)?;
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
            svc::record_address_failure(&state, &cs.client_ip, AuditSource::Webviewer).await?;
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
