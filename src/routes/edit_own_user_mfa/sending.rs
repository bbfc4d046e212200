//! Setting up a method that sends codes on `/edit_own_user_mfa`: the address or number, then
//! the code sent there; only a right code stores method, secret, counter and address together.

use actix_web::{web, HttpResponse};

use super::method::{render_contact, render_method};
use super::{write_method, BAD_CODE, BAD_PHONE, LETS_TEST, NEED_EMAIL, NOT_ALLOWED};
use super::{STEP_CONFIRM, SUCCESS};
use crate::auth::mfa;
use crate::auth::second_factor::{self, Against, Pending, Sent};
use crate::config::MfaMethod;
use crate::error::AppError;
use crate::messaging::{phone, Channel, Notice};
use crate::models::user::User;
use crate::routes::form::Fields;
use crate::routes::page::see_other;
use crate::routes::step_up;
use crate::session::extract::LoggedIn;
use crate::session::form_state::PendingMethod;
use crate::session::FormState;
use crate::state::AppState;

/// The pending method's address or number: checked, then a fresh secret is made and its
/// first code sent there (counter 1, as CamCOPS' set_mfa_method resets it to 0 and a send
/// increments it first). Nothing is stored on the user.
pub(super) async fn contact_step(
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
pub(super) async fn confirm_step(
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
    let checked = second_factor::check_code(
        state,
        &li.user.user,
        Against::Pending(&pending),
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
