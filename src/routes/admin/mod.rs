//! Admin pages for group administrators and superusers: users with their lockout state and
//! unlocking (`users`), live sessions and ending them (`sessions`), groups (`groups`) and the
//! audit trail (`audit`), both superuser-only, and what they share.

pub mod audit;
pub mod groups;
pub mod sessions;
pub mod users;

use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::{DateTime, Local, NaiveDateTime, Utc};

use crate::error::{error_page, AppError};
use crate::session::extract::GroupAdmin;

/// The most rows an admin page lists.
pub const MAX_ROWS: usize = 1000;

/// The group admin of a POST action. An anonymous visitor is sent to log in with the list page
/// (`back`) as `redirect_url`: the POST itself cannot be replayed by a redirect.
pub fn admin_or_login(
    extracted: Result<GroupAdmin, AppError>,
    back: &str,
) -> Result<GroupAdmin, AppError> {
    match extracted {
        Err(AppError::LoginRequired(_)) => Err(AppError::LoginRequired(back.to_string())),
        other => other,
    }
}

/// Parses an integer id field of a form; anything else is a 400.
pub fn parse_id(name: &str, raw: &str) -> Result<i32, AppError> {
    raw.trim().parse::<i32>().map_err(|_| {
        AppError::BadRequest(format!("Bad '{name}' parameter: an integer is required."))
    })
}

/// A stored naive UTC time shown in the server's local time zone, with its offset.
pub fn local_time(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S %z")
        .to_string()
}

pub use super::page::see_other;

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
