//! Text input rules shared by every web form and the tablet API: no NUL or other control
//! characters (Unicode `Cc`) in any field, except line breaks and tabs in multi-line fields.
//! PostgreSQL refuses NUL in text outright, and the others have no place in names, codes or
//! settings (they hide characters in lists and the audit trail).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpMessage;

use crate::error::AppError;
use crate::request_body::{is_form_content_type, ReceivedBody, API_PATHS};

/// Form fields that are multi-line text areas (they may keep `\n`, `\r` and `\t`). No form has
/// one yet; a field named here is still refused NUL and every other control character.
pub const MULTI_LINE_FIELDS: &[&str] = &[];

/// Whether `s` holds a control character not allowed in a field (`multi_line`: a text area).
pub fn has_forbidden_control(s: &str, multi_line: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(multi_line && matches!(c, '\n' | '\r' | '\t')))
}

/// The 400 message for field `name`.
pub fn control_message(name: &str) -> String {
    let shown: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    format!(
        "The field '{shown}' contains a control character (such as NUL or a line break), \
         which is not allowed. Remove it and try again."
    )
}

/// The first field of a url-encoded body (name or value) with a forbidden control character.
/// A body that is not valid url-encoding is left to the handler's own reader.
pub fn first_bad_field(body: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find_map(|(k, v)| {
        let multi = MULTI_LINE_FIELDS.contains(&k.as_str());
        (has_forbidden_control(&k, false) || has_forbidden_control(&v, multi)).then_some(k)
    })
}

/// Middleware: a url-encoded form body (any page but the tablet API, `/api` and `/database`,
/// which checks its own fields) with a control character in a field is refused with a 400 page
/// naming the field, before the handler runs, so nothing is written. The body is the one
/// `observe` (the outer middleware) already received within the form limit
/// ([`ReceivedBody`]); the payload is left as it is for the handler. A request without one
/// has no body to check.
pub async fn refuse_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = API_PATHS.contains(&req.path());
    if req.method() != Method::POST || !is_form_content_type(req.headers()) || api {
        return next.call(req).await;
    }
    let received = req.extensions().get::<ReceivedBody>().cloned();
    if let Some(field) = received.and_then(|ReceivedBody(body)| first_bad_field(&body)) {
        log::info!(
            "Form field with a control character refused ({})",
            req.path()
        );
        return Err(AppError::BadRequest(control_message(&field)).into());
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_names_and_values() {
        assert!(has_forbidden_control("a\0b", true));
        assert!(has_forbidden_control("a\u{1b}[31m", false));
        assert!(
            has_forbidden_control("a\u{85}", false),
            "C1 controls are Cc too"
        );
        assert!(has_forbidden_control("two\nlines", false));
        assert!(!has_forbidden_control("two\r\nlines\tok", true));
        assert!(!has_forbidden_control("Zoë O'Brien — ✓", false));
        assert_eq!(
            first_bad_field(b"fullname=Ann%00&x=1"),
            Some("fullname".into())
        );
        assert_eq!(first_bad_field(b"a=1&b%07=2"), Some("b\u{7}".into()));
        assert_eq!(first_bad_field(b"fullname=Ann+Smith"), None);
        assert_eq!(first_bad_field(b"%zz"), None, "left to the form reader");
        assert!(!control_message("b\u{7}").contains('\u{7}'));
    }
}
