//! `/edit_own_user_mfa` (§2.12 wizard 5): choose an MFA method among the configured
//! `MFA_METHODS`. A new secret is kept server-side in `form_state` (never in the page's form)
//! and is stored on the user only after a correct code: for TOTP from the app; for codes by
//! e-mail or text message, after the address or number is entered, from a code sent there
//! (method, secret, counter and address are then stored together). A user whose second
//! factor is on must give a current code to change or switch it off (re-authentication
//! before an MFA change; the original asks for nothing): TOTP users on the method page, users
//! whose codes are sent in a first step that sends them one. Wrong codes count as failed logins.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::Fields;
use super::own_user_info::mfa_description;
use super::page::{html, ok_or_bad_request, see_other, PageCtx};
use super::step_up;
use crate::auth::mfa;
use crate::auth::own_account::audit_own;
use crate::auth::second_factor::{self, Checked, Pending, Sent};
use crate::config::MfaMethod;
use crate::db::{run_db, DbConnection};
use crate::error::AppError;
use crate::messaging::{phone, send_notice, Channel, Notice};
use crate::models::user::User;
use crate::session::extract::LoggedIn;
use crate::session::form_state::PendingMethod;
use crate::session::FormState;
use crate::state::AppState;
use diesel::QueryResult;

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
pub const BAD_CODE: &str = "You entered an invalid code. Please try again.";
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

/// The original's order and labels of the choices.
const ALL_CHOICES: [(MfaMethod, &str); 4] = [
    (
        MfaMethod::Totp,
        "Use an app such as Google Authenticator or Twilio Authy",
    ),
    (MfaMethod::HotpEmail, "Send me a code by email"),
    (MfaMethod::HotpSms, "Send me a code by text message"),
    (MfaMethod::NoMfa, "Disable multi-factor authentication"),
];

/// One radio button.
struct Choice {
    value: &'static str,
    label: &'static str,
    available: bool,
    checked: bool,
}

#[derive(Template)]
#[template(path = "edit_own_user_mfa.html")]
struct MethodPage<'a> {
    ctx: PageCtx,
    choices: Vec<Choice>,
    current: &'static str,
    must_set: bool,
    /// TOTP is on: changing it needs a current code.
    needs_code: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "edit_own_user_mfa_contact.html")]
struct ContactPage<'a> {
    ctx: PageCtx,
    title: &'a str,
    field: &'a str,
    label: &'a str,
    input_type: &'a str,
    value: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "edit_own_user_mfa_totp.html")]
struct TotpPage<'a> {
    ctx: PageCtx,
    qr_svg: String,
    key: &'a str,
    error: Option<&'a str>,
}

fn render_method(
    state: &AppState,
    li: &LoggedIn,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let allowed = &state.settings.mfa_methods;
    let current = MfaMethod::parse(&li.user.user.mfa_method);
    let offered = |m: MfaMethod| allowed.contains(&m) && m.is_offered(&state.settings);
    let preselect = match current {
        Some(m) if offered(m) => Some(m),
        _ => [MfaMethod::Totp, MfaMethod::NoMfa]
            .into_iter()
            .find(|&m| offered(m)),
    };
    let choices = ALL_CHOICES
        .iter()
        .filter(|(m, _)| allowed.contains(m))
        .map(|&(m, label)| Choice {
            value: m.as_str(),
            label,
            available: m.is_offered(&state.settings),
            checked: preselect == Some(m),
        })
        .collect();
    let page = MethodPage {
        ctx: PageCtx::new(&li.cs),
        choices,
        current: mfa_description(&li.user.user.mfa_method),
        must_set: li.user.must_set_mfa(&state.settings),
        needs_code: active_totp(li).is_some(),
        error,
    };
    html(StatusCode::OK, &page)
}

fn render_totp(li: &LoggedIn, secret: &str, error: Option<&str>) -> Result<HttpResponse, AppError> {
    let svg = mfa::qr_svg(secret, &li.user.user.username)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("cannot make the TOTP QR code")))?;
    // Inline in HTML: drop any XML declaration before the <svg> element.
    let qr_svg = svg
        .find("<svg")
        .map_or(svg.as_str(), |i| &svg[i..])
        .to_string();
    let page = TotpPage {
        ctx: PageCtx::new(&li.cs),
        qr_svg,
        key: secret,
        error,
    };
    html(StatusCode::OK, &page)
}

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
        return current_code_page(&state, &li, fs, false, None).await;
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
    li: LoggedIn,
    form: web::Form<Fields>,
) -> Result<HttpResponse, AppError> {
    li.cs.check_csrf(form.csrf())?;
    let mut fs = li.cs.session.form_state.clone();
    fs.resume(ROUTE);
    let passed = fs.mfa_user_id == Some(li.user.id());
    if needs_sent_code(&li) && !passed {
        if fs.step.as_deref() != Some(STEP_CURRENT) {
            fs.enter(ROUTE, true);
            fs.step = Some(STEP_CURRENT.into());
            return current_code_page(&state, &li, fs, false, None).await;
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

/// The current-code step: sends (or re-sends) a code by the user's method and shows the page
/// (see [`step_up::sent_code_page`]); nothing to send to goes back to the main menu.
async fn current_code_page(
    state: &AppState,
    li: &LoggedIn,
    fs: FormState,
    resend: bool,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let page = ("/edit_own_user_mfa", "Confirm it is you");
    match step_up::sent_code_page(state, li, fs, resend, page, error).await? {
        Ok(page) => Ok(page),
        Err((message, _)) => {
            li.cs.cookie.flash("danger", message);
            Ok(see_other("/"))
        }
    }
}

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
        return current_code_page(state, li, fs, resend, None).await;
    }
    let code = form.text("one_time_password");
    if let Some(failed) = step_up::pass_code_step(state, li, fs, code, STEP_METHOD).await? {
        return Ok(failed);
    }
    render_method(state, li, None)
}

async fn method_step(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let chosen = MfaMethod::parse(form.text("mfa_method"))
        .filter(|m| state.settings.mfa_methods.contains(m));
    let chosen = match chosen {
        None => return render_method(state, li, Some(NOT_ALLOWED)),
        Some(m) if !m.is_offered(&state.settings) => {
            return render_method(state, li, Some(NOT_AVAILABLE))
        }
        Some(m) => m,
    };
    if active_totp(li).is_some() {
        // Changing the second factor needs a current code: a login attempt (counted,
        // audited, refused while locked).
        let checked = second_factor::check_code(
            state,
            &li.user.user,
            form.text("one_time_password"),
            None,
            &li.cs.client_ip,
        )
        .await?;
        match checked {
            Checked::Accepted | Checked::Recovered => {}
            Checked::Wrong(None) => return render_method(state, li, Some(NEED_CODE)),
            other => return render_method(state, li, other.message()),
        }
    }
    match chosen {
        MfaMethod::Totp => {
            let secret = mfa::new_secret();
            fs.step = Some(STEP_TOTP.into());
            fs.pending_secret = Some(secret.clone());
            step_up::save(state, li, fs).await?;
            render_totp(li, &secret, None)
        }
        MfaMethod::HotpEmail | MfaMethod::HotpSms => {
            fs.step = Some(STEP_CONTACT.into());
            fs.pending = Some(Box::new(PendingMethod {
                method: chosen.as_str().into(),
                ..PendingMethod::default()
            }));
            step_up::save(state, li, fs).await?;
            render_contact(li, chosen, None, None)
        }
        MfaMethod::NoMfa => store(state, li, fs, MfaMethod::NoMfa, None, DISABLED).await,
    }
}

/// The address or number page of `method`: `value` as typed, else the stored one.
fn render_contact(
    li: &LoggedIn,
    method: MfaMethod,
    value: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let u = &li.user.user;
    let (title, field, label, input_type, stored) = if method == MfaMethod::HotpSms {
        (
            "Send me a code by text message",
            "phone_number",
            "Phone number",
            "tel",
            u.phone_number.as_deref(),
        )
    } else {
        (
            "Send me a code by email",
            "email",
            "E-mail address",
            "email",
            u.email.as_deref(),
        )
    };
    let page = ContactPage {
        ctx: PageCtx::new(&li.cs),
        title,
        field,
        label,
        input_type,
        value: value.or(stored).unwrap_or(""),
        error,
    };
    html(ok_or_bad_request(error.is_some()), &page)
}

/// The pending method's address or number: checked, then a fresh secret is made and its
/// first code sent there (counter 1, as CamCOPS' set_mfa_method resets it to 0 and a send
/// increments it first). Nothing is stored on the user.
async fn contact_step(
    state: &AppState,
    li: &LoggedIn,
    fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let Some(method) = fs
        .pending
        .as_ref()
        .and_then(|p| MfaMethod::parse(&p.method))
    else {
        return render_method(state, li, Some(NOT_ALLOWED));
    };
    let (channel, typed) = if method == MfaMethod::HotpSms {
        (Channel::Sms, form.text("phone_number"))
    } else {
        (Channel::Email, form.text("email"))
    };
    // Shown again only when it is sensible text (not oversized, no control characters).
    let echo = Some(typed)
        .filter(|t| t.chars().count() <= 255 && !t.chars().any(char::is_control))
        .or(Some(""));
    let to = match channel {
        Channel::Sms => match phone::parse(typed, &state.settings.region_code) {
            Ok(e164) => e164,
            Err(_) => return render_contact(li, method, echo, Some(BAD_PHONE)),
        },
        Channel::Email => {
            let t = typed.trim();
            if t.is_empty() {
                return render_contact(li, method, echo, Some(NEED_EMAIL));
            }
            if let Err(e) = crate::routes::admin::users::form::check_email(t) {
                return render_contact(li, method, echo, Some(&e));
            }
            t.to_owned()
        }
    };
    let pending = Pending {
        channel,
        to,
        secret: mfa::new_secret(),
        counter: 0,
    };
    send_pending(state, li, fs, pending, 0, method, echo).await
}

/// Sends the next code of `pending` (`sent` codes so far in this step) and shows the code
/// page, or says why not.
async fn send_pending(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    pending: Pending,
    sent: u32,
    method: MfaMethod,
    echo: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let previous = fs.codes.as_ref().map(|c| c.to.clone());
    if sent >= second_factor::MAX_SENDS_PER_STEP {
        return confirm_page(li, previous.as_deref(), Some(second_factor::TOO_MANY));
    }
    let (outcome, counter) =
        second_factor::send_pending_code(state, &li.user.user, &pending, &li.cs.client_ip).await?;
    match outcome {
        Sent::Sent { at, instructions } => {
            fs.step = Some(STEP_CONFIRM.into());
            fs.pending_secret = Some(pending.secret);
            fs.pending = Some(Box::new(PendingMethod {
                method: method.as_str().into(),
                to: pending.to,
                counter,
            }));
            fs.mfa_time = Some(at);
            fs.codes = Some(Box::new(crate::session::form_state::SentCodes {
                count: sent + 1,
                to: instructions.clone(),
            }));
            step_up::save(state, li, fs).await?;
            let notice = (sent > 0).then_some("A new code has been sent.");
            confirm_page(li, Some(&instructions), notice)
        }
        Sent::Refused(message) if sent == 0 => render_contact(li, method, echo, Some(message)),
        Sent::Refused(message) => confirm_page(li, previous.as_deref(), Some(message)),
        Sent::Failed => Ok(second_factor::not_sent_response()),
    }
}

/// The code page for a new address or number: "Let's test it! " and where the code went.
fn confirm_page(
    li: &LoggedIn,
    instructions: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let text = format!("{LETS_TEST}{}", instructions.unwrap_or(""));
    step_up::render(
        li,
        "/edit_own_user_mfa",
        "Multi-factor authentication",
        &text,
        notice,
    )
}

/// The code sent to the new address or number: right → the method, secret, counter and
/// address are stored together; wrong → a failed login, nothing kept on the user.
async fn confirm_step(
    state: &web::Data<AppState>,
    li: &LoggedIn,
    fs: FormState,
    form: &Fields,
) -> Result<HttpResponse, AppError> {
    let method = fs
        .pending
        .as_ref()
        .and_then(|p| MfaMethod::parse(&p.method));
    let to = fs.pending.as_ref().map(|p| (p.to.clone(), p.counter));
    let (Some(method), Some(secret), Some((to, counter))) = (method, fs.pending_secret.clone(), to)
    else {
        return render_method(state, li, Some(NOT_ALLOWED));
    };
    let channel = if method == MfaMethod::HotpSms {
        Channel::Sms
    } else {
        Channel::Email
    };
    let pending = Pending {
        channel,
        to,
        secret,
        counter,
    };
    if !form.text("resend").is_empty() {
        let sent = fs.codes.as_ref().map_or(1, |c| c.count);
        return send_pending(state, li, fs, pending, sent, method, None).await;
    }
    let checked = second_factor::check_pending_code(
        state,
        &li.user.user,
        &pending,
        form.text("one_time_password"),
        fs.mfa_time,
        &li.cs.client_ip,
    )
    .await?;
    if checked.locked() {
        let message = checked.message().unwrap_or(BAD_CODE);
        return step_up::abandon(state, li, fs, message).await;
    }
    if let Some(message) = checked.message() {
        let instructions = fs.codes.as_ref().map(|c| c.to.clone());
        return confirm_page(li, instructions.as_deref(), Some(message));
    }
    store_sending(state, li, fs, method, pending).await
}

/// Stores a verified method that sends codes: method, secret, counter and address together.
/// The counter is left one past the code just used, so that code is spent.
async fn store_sending(
    state: &web::Data<AppState>,
    li: &LoggedIn,
    fs: FormState,
    method: MfaMethod,
    pending: Pending,
) -> Result<HttpResponse, AppError> {
    let (secret, to, counter) = (pending.secret, pending.to.clone(), pending.counter + 1);
    write_method(state, li, fs, method, move |conn, uid| {
        User::set_mfa_sending_to(conn, uid, method.as_str(), &secret, counter, &to)
    })
    .await?;
    // The notice goes to the address on file before the change, and to the new one.
    let old = li.user.user.email.clone();
    let name = li.user.user.username.clone();
    crate::messaging::spawn_notice(state.clone(), old.clone(), name.clone(), Notice::MfaChanged);
    if method == MfaMethod::HotpEmail && old.as_deref() != Some(pending.to.as_str()) {
        crate::messaging::spawn_notice(state.clone(), Some(pending.to), name, Notice::MfaChanged);
    }
    li.cs.cookie.flash("success", SUCCESS);
    Ok(see_other("/"))
}

/// The user's TOTP secret when TOTP is their method.
fn active_totp(li: &LoggedIn) -> Option<&str> {
    let u = &li.user.user;
    u.mfa_secret_key
        .as_deref()
        .filter(|_| u.mfa_method == "totp")
}

async fn totp_step(
    state: &AppState,
    li: &LoggedIn,
    fs: FormState,
    form: &Fields,
    secret: String,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now().and_utc().timestamp();
    if !mfa::verify_totp(&secret, form.text("one_time_password"), now) {
        return render_totp(li, &secret, Some(BAD_CODE));
    }
    store(state, li, fs, MfaMethod::Totp, Some(secret), SUCCESS).await
}
