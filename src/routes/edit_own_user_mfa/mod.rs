//! `/edit_own_user_mfa` (sessions §2.12 wizard 5): choose an MFA method among the configured
//! `MFA_METHODS`. A new secret is kept server-side in `form_state` (never in the page's form)
//! and is stored on the user only after a correct code: for TOTP from the app; for codes by
//! e-mail or text message, after the address or number is entered, from a code sent there
//! (method, secret, counter and address are then stored together). A user whose second
//! factor is on must give a current code to change or switch it off (re-authentication
//! before an MFA change; the original asks for nothing): TOTP users on the method page, users
//! whose codes are sent in a first step that sends them one. Wrong codes count as failed logins.
//!
//! Here: the handlers, the current-code step and storing a verified method. `method.rs`: the
//! choice of method and TOTP set-up. `sending.rs`: set-up of codes by e-mail or text message.

use actix_web::{web, HttpResponse};
use diesel::QueryResult;

use self::method::{method_step, render_method, totp_step};
use self::sending::{confirm_step, contact_step};
use super::form::{Fields, Posted};
use super::page::see_other;
use super::step_up::{self, NothingSent, SentCodeStep};
use crate::auth::own_account::audit_own;
use crate::auth::second_factor;
use crate::config::MfaMethod;
use crate::db::{run_db, DbConnection};
use crate::error::AppError;
use crate::messaging::{send_notice, Notice};
use crate::models::user::User;
use crate::session::extract::LoggedIn;
use crate::session::FormState;
use crate::state::AppState;

mod method;
mod sending;

const ROUTE: &str = "edit_own_user_mfa";
const STEP_METHOD: &str = "mfa_method";
const STEP_TOTP: &str = "totp";
/// Entering the e-mail address or phone number of the chosen method.
const STEP_CONTACT: &str = "contact";
/// Entering the code sent to the new address or number.
const STEP_CONFIRM: &str = "confirm";
/// A user whose codes are sent proves their current factor first.
const STEP_CURRENT: &str = "current";

/// Flashed (success) once TOTP is verified and stored.
pub const SUCCESS: &str = "Multi-factor authentication: success!";
/// Flashed (success) when the user switches MFA off.
pub const DISABLED: &str = "Multi-factor authentication disabled.";
/// Wrong code while setting up TOTP (the same secret stays on offer).
pub const BAD_CODE: &str = second_factor::BAD_CODE;
/// A method listed in `MFA_METHODS` that this server cannot deliver.
pub const NOT_AVAILABLE: &str = "That method is not available on this server.";
/// TOTP is on and the method step came without a valid current code.
pub const NEED_CODE: &str =
    "Enter a current code from your authenticator app to change multi-factor authentication.";
/// A method not listed in `MFA_METHODS`, or nothing chosen.
pub const NOT_ALLOWED: &str = "Please choose one of the methods offered.";
/// The phone number entered is not one (CamCOPS' wording).
pub const BAD_PHONE: &str = "Invalid phone number";
/// No e-mail address entered.
pub const NEED_EMAIL: &str = "Please enter your e-mail address.";
/// Before the instructions of the code sent to a new address or number (CamCOPS' wording).
pub const LETS_TEST: &str = "Let's test it! ";

/// Stores a verified method on the user with `set` (in the same unit), audits it and finishes
/// the wizard.
async fn write_method(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    method: MfaMethod,
    set: impl FnOnce(&mut DbConnection, i32) -> QueryResult<usize> + Send + 'static,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let (uid, username, ip) = (
        li.user.id(),
        li.user.user.username.clone(),
        li.cs.client_ip.clone(),
    );
    let mut session = li.cs.session.clone();
    fs.finish();
    session.form_state = fs;
    run_db(&state.pool, move |conn| {
        set(conn, uid)?;
        let details = format!("MFA method set to {} for user {username}", method.as_str());
        audit_own(conn, now, &ip, uid, &details)?;
        session.save_form_state(conn)?;
        Ok(())
    })
    .await
}

/// Stores the method (and secret) on the user, audits it, finishes the wizard, flashes
/// `message` and returns to the main menu.
async fn store(
    state: &AppState,
    li: &LoggedIn,
    fs: FormState,
    method: MfaMethod,
    secret: Option<String>,
    message: &str,
) -> Result<HttpResponse, AppError> {
    write_method(state, li, fs, method, move |conn, uid| {
        User::set_mfa(conn, uid, method.as_str(), secret.as_deref(), 0)
    })
    .await?;
    let notice = if method == MfaMethod::NoMfa {
        Notice::MfaDisabled { by_admin: false }
    } else {
        Notice::MfaChanged
    };
    send_notice(
        state,
        li.user.user.email.as_deref(),
        &li.user.user.username,
        notice,
    )
    .await;
    li.cs.cookie.flash("success", message);
    Ok(see_other("/"))
}

/// `GET /edit_own_user_mfa`: the choice of method (restarts the wizard). A user whose codes
/// are sent first gets the code step, which sends a code unless this step already sent one
/// that is still live (showing the page again sends nothing).
pub async fn edit_own_user_mfa_form(
    state: web::Data<AppState>,
    li: LoggedIn,
) -> Result<HttpResponse, AppError> {
    let mut fs = li.cs.session.form_state.clone();
    if needs_sent_code(&li) {
        step_up::enter_code_step(&mut fs, ROUTE, STEP_CURRENT);
        return step_up::sent_code_page(&state, &li, fs, false, CURRENT_CODE).await;
    }
    fs.enter(ROUTE, true);
    fs.step = Some(STEP_METHOD.into());
    step_up::save(&state, &li, fs).await?;
    render_method(&state, &li, None)
}

/// `POST /edit_own_user_mfa`: runs the current step (a POST without state starts at the
/// first step). Fields (the original's names): `mfa_method`, `one_time_password`, `email`,
/// `phone_number`, `resend` ("Send a new code"); its hidden `mfa_secret_key` is deliberately
/// not read.
pub async fn edit_own_user_mfa(
    state: web::Data<AppState>,
    Posted { who: li, form }: Posted<LoggedIn>,
) -> Result<HttpResponse, AppError> {
    let mut fs = step_up::resume(&li, ROUTE);
    let passed = fs.mfa_user_id == Some(li.user.id());
    if needs_sent_code(&li) && !passed {
        if fs.step.as_deref() != Some(STEP_CURRENT) {
            fs.enter(ROUTE, true);
            fs.step = Some(STEP_CURRENT.into());
            return step_up::sent_code_page(&state, &li, fs, false, CURRENT_CODE).await;
        }
        return current_step(&state, &li, fs, &form).await;
    }
    match (fs.step_or(STEP_METHOD), fs.pending_secret.clone()) {
        (STEP_TOTP, Some(secret)) => totp_step(&state, &li, fs, &form, secret).await,
        (STEP_CONTACT, _) => contact_step(&state, &li, fs, &form).await,
        (STEP_CONFIRM, Some(_)) => confirm_step(&state, &li, fs, &form).await,
        _ => method_step(&state, &li, fs, &form).await,
    }
}

/// Whether the user's current method sends codes (then changing it needs one of them).
fn needs_sent_code(li: &LoggedIn) -> bool {
    second_factor::sends_codes(&li.user.user.mfa_method)
}

/// The current-code step (a code sent by the user's method, see
/// [`step_up::sent_code_page`]); nothing to send to goes back to the main menu, the wizard
/// kept.
const CURRENT_CODE: SentCodeStep<'static> = SentCodeStep {
    action: "/edit_own_user_mfa",
    title: "Confirm it is you",
    nothing_sent: NothingSent::Keep,
};

/// The current code of a user whose codes are sent: counted like a login attempt; right →
/// the choice of method.
async fn current_step(
    state: &AppState,
    li: &LoggedIn,
    fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let resend = !form.text("resend").is_empty();
    if resend || fs.codes.is_none() {
        // A code is checked only once this step has sent one.
        return step_up::sent_code_page(state, li, fs, resend, CURRENT_CODE).await;
    }
    let code = form.text("one_time_password");
    if let Some(failed) = step_up::pass_code_step(state, li, fs, code, STEP_METHOD).await? {
        return Ok(failed);
    }
    render_method(state, li, None)
}
