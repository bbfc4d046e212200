//! `/change_own_password` (sessions §2.12 wizard 2, sessions §1.4): a code step first when the user has a
//! second factor (TOTP, or codes by e-mail or text message: one is sent when the step is first
//! shown, see `routes::step_up`), then the old password and the new one twice. Success sets
//! the password, ends the user's other sessions and returns to the main menu. The wizard state
//! lives in `form_state`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::{Fields, Posted};
use super::page::{html, see_other, PageCtx};
use super::step_up::{self, NothingSent, SentCodeStep};
use crate::auth::principal::AuthUser;
use crate::auth::{login, password, second_factor, user_commands};
use crate::blocking::run_hashing;
use crate::db::run_db;
use crate::error::AppError;
use crate::messaging::{send_notice, Notice};
use crate::models::audit::AuditSource;
use crate::session::extract::LoggedIn;
use crate::session::FormState;
use crate::state::AppState;

const ROUTE: &str = "change_own_password";
const STEP_MFA: &str = "mfa";
const STEP_CHANGE: &str = "change_password";
const ACTION: &str = "/change_own_password";

/// Flashed (success) after the change.
pub const CHANGED: &str = "You have changed your password. If you store your password in your \
                           CamCOPS tablet application, remember to change it there as well.";
/// Flashed (danger) on the form when the password must be changed.
pub const EXPIRED: &str = "Your password has expired and must be changed.";
/// Wrong TOTP code.
pub const BAD_CODE: &str = second_factor::BAD_CODE;
/// The TOTP step waited longer than `MFA_TIMEOUT_S`.
pub const CODE_EXPIRED: &str = second_factor::CODE_EXPIRED;
/// Wrong old password.
pub const OLD_INCORRECT: &str = "Old password incorrect";
/// The two new passwords differ (deform's wording).
pub const MISMATCH: &str = "Password did not match confirm";

#[derive(Template)]
#[template(path = "change_own_password.html")]
struct ChangePage<'a> {
    ctx: PageCtx,
    error: Option<&'a str>,
    min_length: usize,
}

#[derive(Template)]
#[template(path = "change_own_password_token.html")]
struct TokenPage {
    ctx: PageCtx,
}

/// Whether the user's codes are sent (e-mail, text message).
fn sends_codes(user: &AuthUser) -> bool {
    second_factor::sends_codes(&user.user.mfa_method)
}

/// The step to run: the MFA step unless the user has no second factor or has passed it in
/// this wizard.
fn effective_step(fs: &FormState, user: &AuthUser) -> &'static str {
    if user.user.totp_secret().is_none() && !sends_codes(user) {
        return STEP_CHANGE;
    }
    let passed = fs.mfa_user_id == Some(user.id());
    if fs.step.as_deref() == Some(STEP_CHANGE) && passed {
        STEP_CHANGE
    } else {
        STEP_MFA
    }
}

fn render_step(li: &LoggedIn, step: &str, error: Option<&str>) -> Result<HttpResponse, AppError> {
    let ctx = PageCtx::new(&li.cs);
    if step == STEP_MFA {
        html(StatusCode::OK, &TokenPage { ctx })
    } else {
        let page = ChangePage {
            ctx,
            error,
            min_length: password::MINIMUM_PASSWORD_LENGTH,
        };
        html(StatusCode::OK, &page)
    }
}

/// `GET /change_own_password`: starts the wizard at its first step.
pub async fn change_own_password_form(
    state: web::Data<AppState>,
    li: LoggedIn,
) -> Result<HttpResponse, AppError> {
    let mut fs = li.cs.session.form_state.clone();
    if sends_codes(&li.user) {
        step_up::enter_code_step(&mut fs, ROUTE, STEP_MFA);
        if li.user.user.must_change_password() {
            li.cs.cookie.flash("danger", EXPIRED);
        }
        return step_up::sent_code_page(&state, &li, fs, false, code_step(&li)).await;
    }
    fs.enter(ROUTE, true);
    let step = effective_step(&fs, &li.user);
    fs.step = Some(step.into());
    if step == STEP_MFA {
        fs.mfa_time = Some(state.clock.now().and_utc().timestamp());
    }
    step_up::save(&state, &li, fs).await?;
    if li.user.user.must_change_password() {
        li.cs.cookie.flash("danger", EXPIRED);
    }
    render_step(&li, step, None)
}

/// `POST /change_own_password`: runs the current step (a POST without state starts at the
/// first step, as the original). Fields (the original's names): `one_time_password`,
/// `resend`, `old_password`, `new_password` and its confirmation (deform's
/// `new_password-confirm`, or `new_password_confirm`).
pub async fn change_own_password(
    state: web::Data<AppState>,
    Posted { who: li, form }: Posted<LoggedIn>,
) -> Result<HttpResponse, AppError> {
    let fs = step_up::resume(&li, ROUTE);
    match effective_step(&fs, &li.user) {
        STEP_MFA => mfa_step(&state, &li, fs, &form).await,
        _ => change_step(&state, &li, fs, &form).await,
    }
}

async fn mfa_step(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let resend = !form.text("resend").is_empty();
    if sends_codes(&li.user) && (resend || fs.codes.is_none()) {
        // A code is checked only once this step has sent one.
        fs.step = Some(STEP_MFA.into());
        return step_up::sent_code_page(state, li, fs, resend, code_step(li)).await;
    }
    let code = form.text("one_time_password");
    if let Some(failed) = step_up::pass_code_step(state, li, fs, code, STEP_CHANGE).await? {
        return Ok(failed);
    }
    render_step(li, STEP_CHANGE, None)
}

/// The code step of a user whose codes are sent (see [`step_up::sent_code_page`]); nothing
/// to send to ends the wizard.
fn code_step(li: &LoggedIn) -> SentCodeStep<'static> {
    let title = if li.user.user.mfa_method == "hotp_sms" {
        "Authenticate via SMS"
    } else {
        "Authenticate via e-mail"
    };
    SentCodeStep {
        action: ACTION,
        title,
        nothing_sent: NothingSent::Abandon,
    }
}

async fn change_step(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let rerender = |error: &str| render_step(li, STEP_CHANGE, Some(error));
    let (old_password, new_password) = (form.text("old_password"), form.text("new_password"));
    if old_password.is_empty() {
        return rerender("Please enter your old password.");
    }
    if new_password != form.password_confirm() {
        return rerender(MISMATCH);
    }
    if let Err(e) = password::validate_new_password(new_password, Some(old_password)) {
        return rerender(&e);
    }
    let username = li.user.user.username.clone();
    if let Some(locked) = login::reauth_locked(state, &username).await? {
        return rerender(&locked);
    }
    // bcrypt off the async workers, outside any transaction.
    let stored = li.user.user.hashedpw.clone();
    let (old, new) = (old_password.to_owned(), new_password.to_owned());
    let cost = state.settings.bcrypt_cost;
    let counter = state.bcrypt_verifications.clone();
    let hashed = run_hashing(move || -> anyhow::Result<Option<String>> {
        if password::verify(&old, &stored, &counter) {
            Ok(Some(password::hash(&new, cost)?))
        } else {
            Ok(None)
        }
    })
    .await??;
    let Some(hash) = hashed else {
        let locked = login::failed_login(
            state,
            &username,
            &li.cs.client_ip,
            AuditSource::Webviewer,
            state.clock.now(),
        )
        .await?;
        return rerender(locked.as_deref().unwrap_or(OLD_INCORRECT));
    };
    let now = state.clock.now();
    let uid = li.user.id();
    let mut session = li.cs.session.clone();
    fs.finish();
    session.form_state = fs;
    let ended = run_db(&state.pool, move |conn| {
        let ended = user_commands::set_password(
            conn,
            uid,
            &username,
            &hash,
            now,
            session.id,
            AuditSource::Webviewer,
        )?;
        session.save_form_state(conn)?;
        Ok(ended)
    })
    .await?;
    log::info!(
        "Password changed by user {} from {}; {ended} other session(s) ended",
        li.user.user.username,
        li.cs.client_ip
    );
    send_notice(
        state,
        li.user.user.email.as_deref(),
        &li.user.user.username,
        Notice::PasswordChanged { by_admin: false },
    )
    .await;
    li.cs.cookie.flash("success", CHANGED);
    Ok(see_other("/"))
}
