//! Admin pages for group administrators and superusers: users with their lockout state and
//! unlocking (`users`), live sessions and ending them (`sessions`), groups (`groups`) and the
//! audit trail (`audit`), both superuser-only, and what they share: the one opening of an admin
//! POST (login-or-redirect for either administrator type, then CSRF: [`open_post`]; the hidden
//! id check), the extractor of a request about one target (`post`), the acting administrator
//! of a write (`request`), ids, times and group names.

pub mod audit;
pub mod groups;
pub mod post;
pub mod request;
pub mod sessions;
pub mod users;

use std::collections::HashMap;
use std::marker::PhantomData;

use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Local, NaiveDateTime, Utc};

use crate::db::DbConnection;
use crate::error::{error_page, AppError};
use crate::models::group::Group;
use crate::routes::admin::post::{Opened, TargetPage};
use crate::routes::form::Fields;
use crate::session::extract::{GroupAdmin, LoggedIn, Superuser};

/// The most rows an admin page lists.
pub const MAX_ROWS: usize = 1000;

/// An administrator extractor: [`GroupAdmin`] (user and session pages) or [`Superuser`]
/// (group and audit pages).
pub trait AdminRole {
    /// The logged-in administrator it holds.
    fn into_logged_in(self) -> LoggedIn;
}

impl AdminRole for GroupAdmin {
    fn into_logged_in(self) -> LoggedIn {
        self.0
    }
}

impl AdminRole for Superuser {
    fn into_logged_in(self) -> LoggedIn {
        self.0
    }
}

/// The administrator of a POST action. An anonymous visitor is sent to log in with `back` (the
/// page with the form, or the list) as `redirect_url`: the POST itself cannot be replayed by a
/// redirect. Any other refusal stands.
pub fn admin_or_login<A: AdminRole>(
    extracted: Result<A, AppError>,
    back: &str,
) -> Result<LoggedIn, AppError> {
    match extracted {
        Err(AppError::LoginRequired(_)) => Err(AppError::LoginRequired(back.to_string())),
        other => other.map(AdminRole::into_logged_in),
    }
}

/// The opening of every admin POST, before anything else is read: the administrator
/// ([`admin_or_login`] with `back`), then the form's CSRF token.
pub fn open_post<A: AdminRole>(
    extracted: Result<A, AppError>,
    back: &str,
    form: &Fields,
) -> Result<LoggedIn, AppError> {
    let li = admin_or_login(extracted, back)?;
    li.cs.check_csrf(form.csrf())?;
    Ok(li)
}

/// A button that acts on one row of a list (unlock a user, end a session): the type
/// parameter of [`RowPost`].
pub trait RowButton: 'static {
    /// The list with the button, where an anonymous visitor comes back after logging in.
    const BACK: &'static str;
    /// The form field naming the row.
    const FIELD: &'static str;
}

/// The opening of a row button's POST, as an extractor: [`open_post`] (a group administrator,
/// back to `P::BACK`), then the form's integer `P::FIELD` ([`parse_id`]) as the target's id.
pub type RowPost<P> = Opened<Row<P>>;

/// Row button `P` posted, as a [`TargetPage`].
pub struct Row<P>(PhantomData<P>);

impl<P: RowButton> TargetPage for Row<P> {
    type Parts = (Result<GroupAdmin, AppError>, web::Form<Fields>);

    fn open((admin, form): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let li = open_post(admin, P::BACK, &form)?;
        let id = parse_id(P::FIELD, form.text(P::FIELD))?;
        Ok((li, form.into_inner(), id))
    }
}

/// The log line of an administrator's write: "`done` by <administrator> from <address>", then
/// "; N session(s) ended" when the write ended sessions (`ended`).
pub fn log_write(li: &LoggedIn, done: &str, ended: Option<usize>) {
    let ended = ended.map_or(String::new(), |n| format!("; {n} session(s) ended"));
    log::info!(
        "{done} by {} from {}{ended}",
        li.user.user.username,
        li.cs.client_ip
    );
}

/// The end of an administrator's write that succeeded: its log line ([`log_write`]) and
/// `message` flashed (success).
pub fn report_write(li: &LoggedIn, done: &str, ended: Option<usize>, message: &str) {
    log_write(li, done, ended);
    li.cs.cookie.flash("success", message);
}

/// How a form's hidden copy of the target's id is held to the id in the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenId {
    /// Checked when sent and not blank.
    IfFilled,
    /// Checked when sent (a blank one does not match).
    IfSent,
    /// Must be sent and match.
    Required,
}

/// Checks the form's hidden field `name` against `id` (the address's) by `rule`; a mismatch
/// is a 400 with `mismatch`, and nothing is done.
pub fn check_hidden_id(
    form: &Fields,
    name: &str,
    id: i32,
    rule: HiddenId,
    mismatch: &str,
) -> Result<(), AppError> {
    let sent = form.has(name).then(|| form.text(name).trim());
    let matches = match (sent, rule) {
        (None, HiddenId::Required) => false,
        (None, _) | (Some(""), HiddenId::IfFilled) => true,
        (Some(v), _) => v == id.to_string(),
    };
    if matches {
        Ok(())
    } else {
        Err(AppError::BadRequest(mismatch.to_owned()))
    }
}

/// The names of the groups `ids`, by id, in one query (an unknown id is left out).
pub fn group_names(conn: &mut DbConnection, ids: &[i32]) -> Result<HashMap<i32, String>, AppError> {
    Ok(Group::with_ids(conn, ids)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

/// Parses an integer id field of a form; anything else is a 400.
pub fn parse_id(name: &str, raw: &str) -> Result<i32, AppError> {
    raw.trim().parse::<i32>().map_err(|_| {
        AppError::BadRequest(format!("Bad '{name}' parameter: an integer is required."))
    })
}

/// An id the original reads from the query string, else from the form body (it merges both,
/// query first): `query`, else the form's `field`, trimmed; missing or not an integer → 400
/// with `missing`.
pub fn query_or_form_id(
    query: Option<&str>,
    form: Option<&Fields>,
    field: &str,
    missing: &str,
) -> Result<i32, AppError> {
    let raw = query.or_else(|| form.map(|f| f.text(field))).unwrap_or("");
    raw.trim()
        .parse::<i32>()
        .map_err(|_| AppError::BadRequest(missing.to_owned()))
}

/// A stored naive UTC time shown in the server's local time zone, with its offset.
pub fn local_time(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S %z")
        .to_string()
}

/// `GET` on a POST-only action: a 405 page with `Allow: POST` that points to the page with the
/// button. (The original acted on GET; that side effect is gone.)
pub fn post_only(page_path: &str, page_name: &str) -> HttpResponse {
    let mut r = error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "This action is a button on the {page_name} page ({page_path}); it no longer works \
             as a link."
        ),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    r
}
