//! `AppError`: every way a request can fail, mapped to a status and an HTML error page that
//! never shows internal text.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::failure::{self, Failure};

/// The error page template (`templates/errors/page.html`).
#[derive(Template)]
#[template(path = "errors/page.html")]
pub struct ErrorPage<'a> {
    /// HTTP status code.
    pub code: u16,
    /// Short title ("Bad request", "Page not found", ...).
    pub title: &'a str,
    /// A message safe to show to anyone.
    pub message: &'a str,
}

/// Errors of the web layer.
#[derive(thiserror::Error)]
pub enum AppError {
    /// 400 with a message that is safe to show (it describes the user's input).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: logged in but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// 403 with the reason a rule gave (user administration: the original's reason texts).
    #[error("forbidden: {0}")]
    ForbiddenBecause(String),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Anonymous: 303 to `/login?redirect_url=<path>`.
    #[error("login required")]
    LoginRequired(String),
    /// 303 to a fixed place (forced password change, MFA setup).
    #[error("redirect")]
    Redirect(String),
    /// 429 with `Retry-After` (these many seconds): too many failed logins from the client's
    /// address.
    #[error("too many failed logins from this address")]
    TooManyRequests(i64),
    /// 503 with `Retry-After`: the database cannot be reached, is locked, timed out, or the
    /// pool is exhausted.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(Unavailable),
    /// 500: anything else; the detail goes to the log only.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.one_line())
    }
}

impl AppError {
    /// The error and its causes on one line (`a: b: c`), for the log; no backtrace.
    pub fn one_line(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        one_line(&out)
    }
}

/// Why a 503 was given: the kind (for the log summary and `/metrics`) and the detail (for the
/// log only; never shown to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// What kind of unavailability.
    pub kind: Failure,
    /// The driver's or our own description.
    pub detail: String,
}

impl Unavailable {
    /// An unavailability of `kind`.
    pub fn new(kind: Failure, detail: impl Into<String>) -> Unavailable {
        Unavailable {
            kind,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl From<String> for Unavailable {
    fn from(detail: String) -> Self {
        Unavailable::new(Failure::Other, detail)
    }
}

impl From<&str> for Unavailable {
    fn from(detail: &str) -> Self {
        Unavailable::new(Failure::Other, detail)
    }
}

/// Seconds a client is asked to wait after a 503 (`Retry-After`).
pub const RETRY_AFTER_S: u32 = 5;

/// The 400 message of a write a unique index refused.
pub const CLASHED: &str = "That clashes with a change made a moment ago (a name or membership \
                           that now exists). Go back, reload the page and try again.";

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if let diesel::result::Error::NotFound = e {
            return AppError::NotFound;
        }
        // A unique index refused a row a concurrent change wrote first (a name taken, a
        // membership added): the user's input clashes with what is stored now.
        if let diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) = e
        {
            return AppError::BadRequest(CLASHED.into());
        }
        match failure::classify(&e) {
            Some(kind) => {
                AppError::ServiceUnavailable(Unavailable::new(kind, one_line(&e.to_string())))
            }
            None => AppError::Unexpected(anyhow::Error::new(e).context("database query")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::ServiceUnavailable(Unavailable::new(
            Failure::PoolTimeout,
            one_line(&format!("database pool: {e}")),
        ))
    }
}

/// `s` on one line (driver messages end with newlines and may span several).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Unexpected(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Unexpected(anyhow::Error::new(e).context("template rendering"))
    }
}

/// Percent-encodes a value for a query string.
pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|e| e.trim_start_matches("v=").to_string())
        .unwrap_or_default()
}

/// Renders the error page for `status` with a safe `message`.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let title = match status.as_u16() {
        400 => "Bad request",
        403 => "Forbidden",
        404 => "Page not found",
        405 => "Method not allowed",
        413 => "Request too large",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Internal server error",
    };
    let body = ErrorPage {
        code: status.as_u16(),
        title,
        message,
    }
    .render()
    .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
    // The body is rendered here (a failure falls back to plain words, never to another
    // error), so the page goes out through `html::html_body`, not `page::html`.
    let mut res = crate::html::html_body(status, body);
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    }
    res
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::ForbiddenBecause(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LoginRequired(_) | AppError::Redirect(_) => StatusCode::SEE_OTHER,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::LoginRequired(path) => {
                let location = format!("/login?redirect_url={}", url_encode(path));
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish()
            }
            AppError::Redirect(location) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
            AppError::BadRequest(msg) => error_page(status, msg),
            AppError::Forbidden => error_page(
                status,
                "You do not have permission to view this page. It may be restricted to administrators.",
            ),
            AppError::ForbiddenBecause(reason) => error_page(status, reason),
            AppError::NotFound => error_page(status, "There is nothing at this address."),
            AppError::MethodNotAllowed => {
                error_page(status, "This address does not accept that HTTP method.")
            }
            AppError::PayloadTooLarge => error_page(status, "The request body is too large."),
            AppError::TooManyRequests(seconds) => {
                let minutes = ((*seconds).max(1) + 59) / 60;
                let mut res = error_page(
                    status,
                    &format!(
                        "Too many failed logins from your address. Please try again in {minutes} minute{}.",
                        if minutes == 1 { "" } else { "s" }
                    ),
                );
                if let Ok(v) = header::HeaderValue::from_str(&(*seconds).max(1).to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            // Logged (once per request, rate-limited) by `crate::observe`, which knows the path.
            AppError::ServiceUnavailable(_) => error_page(
                status,
                "The database is not available at the moment. Please try again shortly.",
            ),
            AppError::Unexpected(_) => {
                error_page(status, "Something went wrong on the server. It has been logged.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(e: AppError) -> (u16, String) {
        let r = e.error_response();
        let status = r.status().as_u16();
        let bytes = r.into_body().try_into_bytes().unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    #[test]
    fn internal_errors_never_show_their_text() {
        let (status, body) = body_of(AppError::Unexpected(anyhow::anyhow!("SECRET-DETAIL")));
        assert_eq!(status, 500);
        assert!(!body.contains("SECRET-DETAIL"));
        let r = AppError::ServiceUnavailable("pool SECRET".into()).error_response();
        assert_eq!(r.headers().get("retry-after").unwrap(), "5");
        let (status, body) = body_of(AppError::ServiceUnavailable("pool SECRET".into()));
        assert_eq!(status, 503);
        assert!(!body.contains("SECRET"));
    }

    #[test]
    fn statuses_are_correct_and_bad_request_message_is_escaped() {
        let (status, body) = body_of(AppError::BadRequest("<script>x</script>".into()));
        assert_eq!(status, 400);
        assert!(!body.contains("<script>x"));
        assert_eq!(body_of(AppError::Forbidden).0, 403);
        let (status, body) = body_of(AppError::ForbiddenBecause("You may not <edit>".into()));
        assert_eq!(status, 403);
        assert!(body.contains("You may not &#60;edit&#62;"), "{body}");
        assert_eq!(body_of(AppError::NotFound).0, 404);
        let r = AppError::TooManyRequests(61).error_response();
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(r.headers().get("retry-after").unwrap(), "61");
        let (_, body) = body_of(AppError::TooManyRequests(61));
        assert!(body.contains("try again in 2 minutes"), "{body}");
        let r = AppError::LoginRequired("/view_tasks?page=2".into()).error_response();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            r.headers().get("location").unwrap(),
            "/login?redirect_url=%2Fview_tasks%3Fpage%3D2"
        );
    }
}
