//! User administration pages (admin §3): the list, one user's details, add, edit,
//! memberships, upload group, another user's password and MFA, delete, unlock. Each page is
//! a file; what they share (the target lookup and the capability check, the POST opening, the
//! administrator's own re-authentication) is here, and the openings as extractors in `opening`.
//! The rules are in `auth::capability`, the writes in `auth::user_admin`.

pub mod add;
pub mod delete;
pub mod edit;
pub mod emails;
pub mod form;
pub mod list;
pub mod membership;
pub mod mfa;
pub mod opening;
pub mod password;
pub mod status;
pub mod upload_group;
pub mod view;

use actix_web::{web, HttpResponse, Route};
use serde::Deserialize;

use crate::auth::capability::{self, Action, Denial};
use crate::auth::principal::AuthUser;
use crate::auth::second_factor::{self, Against};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::routes::admin::{open_post, query_or_form_id};
use crate::routes::form::Fields;
use crate::routes::page::see_other;
use crate::session::extract::{GroupAdmin, LoggedIn};
use crate::state::AppState;

/// The user administration routes (the original's paths; GET shows, POST changes).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let page =
        |path: &'static str, get: Route, post: Route| web::resource(path).route(get).route(post);
    cfg.service(web::resource("/view_all_users").route(web::get().to(list::view_all_users)))
        .service(
            web::resource("/view_user_email_addresses")
                .route(web::get().to(emails::view_user_email_addresses)),
        )
        .service(web::resource("/view_user").route(web::get().to(view::view_user)))
        .service(page(
            "/unlock_user",
            web::get().to(list::unlock_user_get),
            web::post().to(list::unlock_user),
        ))
        .service(page(
            "/add_user",
            web::get().to(add::add_user_form),
            web::post().to(add::add_user),
        ))
        .service(page(
            "/edit_user",
            web::get().to(edit::edit_user_form),
            web::post().to(edit::edit_user),
        ))
        .service(page(
            "/edit_user_group_membership",
            web::get().to(membership::edit_membership_form),
            web::post().to(membership::edit_membership),
        ))
        .service(page(
            "/set_other_user_upload_group",
            web::get().to(upload_group::upload_group_form),
            web::post().to(upload_group::set_upload_group),
        ))
        .service(page(
            "/change_other_password",
            web::get().to(password::change_other_password_form),
            web::post().to(password::change_other_password),
        ))
        .service(page(
            "/edit_other_user_mfa",
            web::get().to(mfa::edit_other_user_mfa_form),
            web::post().to(mfa::edit_other_user_mfa),
        ))
        .service(page(
            "/delete_user",
            web::get().to(delete::delete_user_form),
            web::post().to(delete::delete_user),
        ));
}

/// The list page: where the pages return.
pub const LIST: &str = "/view_all_users";

/// `?user_id=N` (query string; the forms post back to the same URL).
#[derive(Debug, Deserialize)]
pub struct UserIdQuery {
    #[serde(default)]
    user_id: Option<String>,
}

impl UserIdQuery {
    /// The target's id: from the query string, else from the form body (the original merges
    /// both, query first); missing or not an integer → 400 `missing` message.
    pub fn id(&self, form: Option<&Fields>, missing: Missing) -> Result<i32, AppError> {
        let query = self.user_id.as_deref();
        query_or_form_id(query, form, "user_id", &missing.message("None"))
    }
}

/// The user a page is about, as its heading and form address show them (`target.username`,
/// `target.user_id` in the templates).
pub struct TargetUser {
    /// Their id.
    pub user_id: i32,
    /// Their username.
    pub username: String,
}

impl TargetUser {
    /// `target` as a page shows them.
    pub fn of(target: &AuthUser) -> TargetUser {
        TargetUser {
            user_id: target.id(),
            username: target.user.username.clone(),
        }
    }
}

/// The two wordings the original uses for an unknown user (admin §0.5).
#[derive(Debug, Clone, Copy)]
pub enum Missing {
    /// `No such user ID: N` (function views).
    NoSuchUser,
    /// `Cannot find User with id:N` (class views).
    CannotFind,
}

impl Missing {
    pub(crate) fn message(self, id: &str) -> String {
        match self {
            Missing::NoSuchUser => format!("No such user ID: {id}"),
            Missing::CannotFind => format!("Cannot find User with id:{id}"),
        }
    }
}

/// The opening of a POST on one user's page: [`open_post`] (an anonymous visitor logs in and
/// comes back to the list), then the target's id ([`UserIdQuery::id`]).
pub fn open_user_post(
    admin: Result<GroupAdmin, AppError>,
    query: &UserIdQuery,
    form: &Fields,
    missing: Missing,
) -> Result<(LoggedIn, i32), AppError> {
    let li = open_post(admin, LIST, form)?;
    let id = query.id(Some(form), missing)?;
    Ok((li, id))
}

/// Loads the target with memberships; unknown → 400 with the `missing` wording.
pub fn load_target(
    conn: &mut DbConnection,
    id: i32,
    missing: Missing,
) -> Result<AuthUser, AppError> {
    AuthUser::load(conn, id)?.ok_or_else(|| AppError::BadRequest(missing.message(&id.to_string())))
}

/// The capability check as a response: refused → 403 with the reason; one's own password or
/// MFA → 303 to the own page.
pub fn allow(me: &AuthUser, action: Action, target: &AuthUser) -> Result<(), AppError> {
    capability::check(me, action, target).map_err(|d| match d {
        Denial::Forbidden(reason) => AppError::ForbiddenBecause(reason.into()),
        Denial::UseOwnPage(path) => AppError::Redirect(path.into()),
    })
}

/// Loads the target and checks `action` on it, in one go.
pub fn target_for(
    conn: &mut DbConnection,
    me: &AuthUser,
    id: i32,
    missing: Missing,
    action: Action,
) -> Result<AuthUser, AppError> {
    let target = load_target(conn, id, missing)?;
    allow(me, action, &target)?;
    Ok(target)
}

/// One group checkbox of the add and edit forms.
pub struct GroupChoice {
    /// Group id.
    pub id: i32,
    /// Group name.
    pub name: String,
    /// Ticked.
    pub checked: bool,
}

/// The groups `me` may assign, by name, ticked where `ticked` says.
pub fn group_choices(
    conn: &mut DbConnection,
    me: &AuthUser,
    ticked: &[i32],
) -> Result<Vec<GroupChoice>, AppError> {
    Ok(crate::models::group::Group::all(conn)?
        .into_iter()
        .filter(|g| capability::may_administer_group(me, g.id))
        .map(|g| GroupChoice {
            checked: ticked.contains(&g.id),
            id: g.id,
            name: g.name,
        })
        .collect())
}

/// Field errors of a form: `(field, message)`, shown next to their fields.
#[derive(Default)]
pub struct Errors(pub Vec<(&'static str, String)>);

impl Errors {
    /// Records `result`'s error for `field`.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push((field, e));
                None
            }
        }
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// No errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The new-password rules (admin §0.4) on a form's `new_password` and its confirmation.
pub fn check_new_password(f: &Fields) -> Result<(), String> {
    let new = f.text("new_password");
    if new.is_empty() {
        return Err("Required".into());
    }
    crate::auth::password::validate_new_password(new, None)?;
    if new != f.password_confirm() {
        return Err("Password did not match confirm".into());
    }
    Ok(())
}

/// Wrong or missing code in the administrator's own re-authentication (the original's).
pub const BAD_CODE: &str = second_factor::BAD_CODE;

/// Whether `li`'s own logins need a code (TOTP, or one sent by e-mail or text message): then
/// the password and MFA pages of other users ask for one too, as the original's MFA step
/// does (admin §3.7).
pub fn needs_code(li: &LoggedIn) -> bool {
    li.user.user.totp_secret().is_some() || second_factor::sends_codes(&li.user.user.mfa_method)
}

/// For an administrator whose codes are sent, on showing `route`'s form for target `id`
/// (call only after the capability check: nothing is sent for a page they may not use): a
/// code is sent unless this page already sent one that is still live (or `resend`), within the per-step and
/// hourly limits. `Ok(Some(text))` says where it went (or why none was sent); `Err` is the
/// 503 page when sending failed. TOTP and no second factor: `Ok(None)`.
pub async fn send_own_code(
    state: &AppState,
    li: &LoggedIn,
    route: &str,
    id: i32,
    resend: bool,
) -> Result<Result<Option<String>, HttpResponse>, AppError> {
    if !second_factor::sends_codes(&li.user.user.mfa_method) {
        return Ok(Ok(None));
    }
    let mut fs = li.cs.session.form_state.clone();
    let live = crate::routes::step_up::has_live_step(&fs, route, STEP_OWN_CODE)
        && fs.target_user_id == Some(id);
    if !live {
        fs.enter(route, true);
        fs.step = Some(STEP_OWN_CODE.into());
        fs.target_user_id = Some(id);
    }
    let shown = crate::routes::step_up::ensure_code(
        state,
        &li.user.user,
        &mut fs,
        &li.cs.client_ip,
        resend,
    )
    .await?;
    let mut session = li.cs.session.clone();
    session.form_state = fs;
    crate::db::run_db(&state.pool, move |conn| Ok(session.save_form_state(conn)?)).await?;
    Ok(match shown {
        crate::routes::step_up::Shown::Sent(to, _) => Ok(Some(to)),
        crate::routes::step_up::Shown::Refused(message) => Ok(Some(message.to_owned())),
        crate::routes::step_up::Shown::Failed => Err(second_factor::not_sent_response()),
    })
}

/// The wizard step name of an administrator's own sent code.
const STEP_OWN_CODE: &str = "own_code";

/// The acting administrator's own re-authentication: when their second factor is on, the
/// form must carry a current `one_time_password` (for codes by e-mail or text message, the
/// one the page sent; its timeout counts from the send). A wrong or missing code counts as a
/// failed login (towards the lockout), is flashed, and sends them back to the list:
/// `Some(response)`.
pub async fn reauthenticate(
    state: &AppState,
    li: &LoggedIn,
    f: &Fields,
) -> Result<Option<HttpResponse>, AppError> {
    if !needs_code(li) {
        return Ok(None);
    }
    let fs = &li.cs.session.form_state;
    let issued_at = fs
        .step
        .as_deref()
        .filter(|s| *s == STEP_OWN_CODE && !fs.finished)
        .and(fs.mfa_time);
    // The administrator's own code is a login attempt: counted, audited, refused while
    // locked; a used code is refused (the HOTP counter moved on when it was accepted).
    let checked = second_factor::check_code(
        state,
        &li.user.user,
        Against::Method,
        f.text("one_time_password"),
        issued_at,
        &li.cs.client_ip,
    )
    .await?;
    match checked.message() {
        None => Ok(None),
        Some(message) => {
            li.cs.cookie.flash("danger", message.to_owned());
            Ok(Some(see_other(LIST)))
        }
    }
}
