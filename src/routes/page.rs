//! What every page template shares (user bar, CSRF token, flash messages), and the
//! `redirect_url` rule: same-site relative paths only.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::session::cookie::Flash;
use crate::session::extract::CurrentSession;

/// Context of the common layout.
pub struct PageCtx {
    /// Logged-in username.
    pub username: Option<String>,
    /// CSRF token for forms (the logout button included).
    pub csrf_token: String,
    /// Flash messages to show once.
    pub flashes: Vec<Flash>,
}

impl PageCtx {
    /// Builds the context for this request, taking its flash messages.
    pub fn new(cs: &CurrentSession) -> PageCtx {
        PageCtx {
            username: cs.username().map(str::to_string),
            csrf_token: cs.csrf_token(),
            flashes: cs.cookie.take_flashes(),
        }
    }
}

/// The one way to answer with a page: `template` rendered as HTML with `status` (200 for a
/// page, 400 for a form shown again with its errors, 403/404 for refusals). A template that
/// fails to render is an [`AppError`] (the 500 page, logged), never a half page.
pub fn html(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(html_body(status, template.render()?))
}

/// [`html`] for a body already rendered (a page built from several templates).
pub use crate::html::html_body;

/// 200, or 400 when the page shows a form again with errors.
pub fn ok_or_bad_request(has_errors: bool) -> StatusCode {
    if has_errors {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// 303 to `location` (a path on this site).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}

/// Validates a `redirect_url`: a same-site absolute path ("/..."), not "//host" or "/\host",
/// no control characters, at most 2,000 characters. Empty → `default`.
pub fn safe_redirect(raw: Option<&str>, default: &str) -> Result<String, AppError> {
    let url = raw.map(str::trim).unwrap_or("");
    if url.is_empty() {
        return Ok(default.to_string());
    }
    let ok = url.starts_with('/')
        && !url.starts_with("//")
        && !url.starts_with("/\\")
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        Ok(url.to_string())
    } else {
        Err(AppError::BadRequest(
            "Bad 'redirect_url' parameter: Invalid redirection URL (only paths on this site are allowed)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_accepted() {
        assert_eq!(safe_redirect(None, "/").unwrap(), "/");
        assert_eq!(
            safe_redirect(Some("/view_tasks?page=2"), "/").unwrap(),
            "/view_tasks?page=2"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "view_tasks",
            "/a\nb",
        ] {
            assert!(safe_redirect(Some(bad), "/").is_err(), "{bad}");
        }
    }
}
