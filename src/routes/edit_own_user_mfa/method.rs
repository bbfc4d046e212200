//! The method step of `/edit_own_user_mfa` (the choice among `MFA_METHODS`, with a current
//! code when TOTP is on) and the TOTP set-up step (QR code, then a code from the app).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::{store, DISABLED, NEED_CODE, NOT_ALLOWED, NOT_AVAILABLE, STEP_CONTACT, STEP_TOTP};
use super::{BAD_CODE, SUCCESS};
use crate::auth::mfa::{self, mfa_description};
use crate::auth::second_factor::{self, Against, Checked};
use crate::config::MfaMethod;
use crate::error::AppError;
use crate::routes::form::Fields;
use crate::routes::page::{html, ok_or_bad_request, PageCtx};
use crate::routes::step_up;
use crate::session::extract::LoggedIn;
use crate::session::form_state::PendingMethod;
use crate::session::FormState;
use crate::state::AppState;

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
#[template(path = "edit_own_user_mfa_totp.html")]
struct TotpPage<'a> {
    ctx: PageCtx,
    qr_svg: String,
    key: &'a str,
    error: Option<&'a str>,
}

pub(super) fn render_method(
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
        needs_code: li.user.user.totp_secret().is_some(),
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

pub(super) async fn method_step(
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
    if li.user.user.totp_secret().is_some() {
        // Changing the second factor needs a current code: a login attempt (counted,
        // audited, refused while locked).
        let checked = second_factor::check_code(
            state,
            &li.user.user,
            Against::Method,
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

pub(super) async fn totp_step(
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

/// The address or number page of `method`: `value` as typed, else the stored one.
pub(super) fn render_contact(
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
