//! The code step of pages that ask a logged-in user whose codes are sent (e-mail, text
//! message) for a current code: a code is sent when the step is first shown, not again when
//! the page is merely shown again while that code is live, at most
//! [`second_factor::MAX_SENDS_PER_STEP`] times per step (and the hourly limit per user).
//! Also the wizard plumbing the own-account wizards (change own password, edit own MFA) share:
//! `resume`, `save`, `abandon`, and `pass_code_step` (a right current code moves the wizard on).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::page::{html, see_other, PageCtx};
use crate::auth::second_factor::{self, Against, Sent};
use crate::db::run_db;
use crate::error::AppError;
use crate::models::user::User;
use crate::session::extract::LoggedIn;
use crate::session::form_state::SentCodes;
use crate::session::FormState;
use crate::state::AppState;

/// What the code step can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A code is on its way: where it went ("We've sent a code by …"), and a notice.
    Sent(String, Option<&'static str>),
    /// No code could be asked for (too many, nowhere to send): the message.
    Refused(&'static str),
    /// The mail server or provider failed: a 503.
    Failed,
}

/// A code page of a step-up or set-up wizard.
#[derive(Template)]
#[template(path = "step_up.html")]
pub struct CodePage<'a> {
    /// Layout context.
    pub ctx: PageCtx,
    /// Where the form posts.
    pub action: &'a str,
    /// The heading.
    pub title: &'a str,
    /// What to do (where the code went).
    pub instructions: &'a str,
    /// A notice or error above the form.
    pub notice: Option<&'a str>,
}

/// Renders a [`CodePage`].
pub fn render(
    li: &LoggedIn,
    action: &str,
    title: &str,
    instructions: &str,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let page = CodePage {
        ctx: PageCtx::new(&li.cs),
        action,
        title,
        instructions,
        notice,
    };
    html(StatusCode::OK, &page)
}

/// The start of a wizard's POST (its CSRF token checked by `Posted`): the wizard state of
/// `route` (a fresh one when the session's state belongs to another route).
pub fn resume(li: &LoggedIn, route: &str) -> FormState {
    let mut fs = li.cs.session.form_state.clone();
    fs.resume(route);
    fs
}

/// Saves the wizard state `fs` on the user's session.
pub async fn save(state: &AppState, li: &LoggedIn, fs: FormState) -> Result<(), AppError> {
    let mut session = li.cs.session.clone();
    session.form_state = fs;
    run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await
}

/// A wizard that cannot go on: finished and saved, `message` flashed (danger), 303 to the
/// main menu.
pub async fn abandon(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    message: &str,
) -> Result<HttpResponse, AppError> {
    fs.finish();
    save(state, li, fs).await?;
    li.cs.cookie.flash("danger", message);
    Ok(see_other("/"))
}

/// Starts the code step `step` of `route` in `fs`, unless it is already under way with a
/// live code (showing the page again then sends nothing).
pub fn enter_code_step(fs: &mut FormState, route: &str, step: &str) {
    if !has_live_step(fs, route, step) {
        fs.enter(route, true);
        fs.step = Some(step.into());
    }
}

/// A wizard's code step for a user whose codes are sent (see [`sent_code_page`]).
pub struct SentCodeStep<'a> {
    /// Where its page posts.
    pub action: &'a str,
    /// The page's heading.
    pub title: &'a str,
    /// What becomes of the wizard when no code can be asked for and none was sent before.
    pub nothing_sent: NothingSent,
}

/// What a code step does with its wizard when no code can be asked for and none was sent
/// before; either way the message is flashed (danger) and the user goes to the main menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingSent {
    /// The wizard is [`abandon`]ed (finished and saved).
    Abandon,
    /// The wizard stays as saved.
    Keep,
}

/// The code step's page for a user whose codes are sent: makes sure a code is on its way
/// ([`ensure_code`]), saves the wizard and shows the [`CodePage`] of `step` (the send's
/// notice above the form). When no code could be asked for and none was sent before: as
/// `step.nothing_sent` says.
pub async fn sent_code_page(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    resend: bool,
    step: SentCodeStep<'_>,
) -> Result<HttpResponse, AppError> {
    let shown = ensure_code(state, &li.user.user, &mut fs, &li.cs.client_ip, resend).await?;
    let to = fs.codes.as_ref().map(|c| c.to.clone());
    save(state, li, fs.clone()).await?;
    let (action, title) = (step.action, step.title);
    match (shown, to) {
        (Shown::Sent(to, notice), _) => render(li, action, title, &to, notice),
        (Shown::Refused(message), Some(to)) => render(li, action, title, &to, Some(message)),
        (Shown::Refused(message), None) => match step.nothing_sent {
            NothingSent::Abandon => abandon(state, li, fs, message).await,
            NothingSent::Keep => {
                li.cs.cookie.flash("danger", message);
                Ok(see_other("/"))
            }
        },
        (Shown::Failed, _) => Ok(second_factor::not_sent_response()),
    }
}

/// Checks the current code of the user's own second factor (a login attempt: counted,
/// audited, refused while locked, see [`second_factor::check_code`]). Right: the wizard moves
/// to `next`, marked as passed by this user, and is saved (`Ok(None)`). Wrong: the wizard is
/// [`abandon`]ed (`Ok(Some(response))`).
pub async fn pass_code_step(
    state: &AppState,
    li: &LoggedIn,
    mut fs: FormState,
    code: &str,
    next: &str,
) -> Result<Option<HttpResponse>, AppError> {
    let (user, ip) = (&li.user.user, &li.cs.client_ip);
    let checked =
        second_factor::check_code(state, user, Against::Method, code, fs.mfa_time, ip).await?;
    if let Some(message) = checked.message() {
        return abandon(state, li, fs, message).await.map(Some);
    }
    fs.step = Some(next.into());
    fs.mfa_user_id = Some(li.user.id());
    fs.mfa_time = None;
    fs.codes = None;
    save(state, li, fs).await?;
    Ok(None)
}

/// Whether `fs` (of `route`) is an unfinished code step at `step` with a code already sent:
/// then showing the page again sends nothing.
pub fn has_live_step(fs: &FormState, route: &str, step: &str) -> bool {
    fs.route_name.as_deref() == Some(route)
        && !fs.finished
        && fs.step.as_deref() == Some(step)
        && fs.codes.is_some()
}

/// Makes sure the user has a code for this step: when `resend` is false and `fs` already
/// records one that has not expired, nothing is sent; otherwise a new code is sent (by the
/// user's own method, see [`second_factor::send_code`]) unless this step has sent its
/// allowance. `fs` records the send; the caller saves it.
pub async fn ensure_code(
    state: &AppState,
    user: &User,
    fs: &mut FormState,
    remote_addr: &str,
    resend: bool,
) -> Result<Shown, AppError> {
    let now = state.clock.now();
    if let Some(codes) = fs.codes.as_ref() {
        let live = !second_factor::expired(state.settings.mfa_timeout_s, fs.mfa_time, now);
        if !resend && live {
            return Ok(Shown::Sent(codes.to.clone(), None));
        }
    }
    let count = fs.codes.as_ref().map_or(0, |c| c.count);
    if count >= second_factor::MAX_SENDS_PER_STEP {
        return Ok(Shown::Refused(second_factor::TOO_MANY));
    }
    match second_factor::send_code(state, user, remote_addr).await? {
        Sent::Sent { at, instructions } => {
            fs.mfa_time = Some(at);
            fs.codes = Some(Box::new(SentCodes {
                count: count + 1,
                to: instructions.clone(),
            }));
            let notice = (count > 0).then_some("A new code has been sent.");
            Ok(Shown::Sent(instructions, notice))
        }
        Sent::Refused(message) => Ok(Shown::Refused(message)),
        Sent::Failed => Ok(Shown::Failed),
    }
}
