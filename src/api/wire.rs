//! The client API's reply format: one `key:value` line per item, values escaped as the
//! original's `escape_newlines` (`\` → `\\`, LF → `\n`, CR → `\r`), and the fixed replies
//! for requests that never reach an operation (400, 413, 503, internal errors).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// `success` value of a successful reply.
pub const SUCCESS_CODE: &str = "1";
/// `success` value of a failed reply.
pub const FAILURE_CODE: &str = "0";
/// Body of the 400 reply (as the original).
pub const NOT_VALID: &str = "Not a valid CamCOPS API request";
/// `error` of the 503 reply.
pub const DB_UNAVAILABLE: &str = "Database unavailable";
/// `error` of a reply to an unexpected server failure (details go to the log only).
pub const SERVER_ERROR: &str = "Server error; the details have been logged";

/// Escapes a value as the original's `escape_newlines`: backslash first, then LF and CR.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`] as the client does: `\n` → LF, `\r` → CR, `\x` → `x`.
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The outcome of an operation, before the session's id and token are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Whether the operation succeeded (`success:1`) or not (`success:0` plus `error`).
    pub success: bool,
    /// Operation-specific items (`result`, `error`, `databaseTitle`, ...), in order.
    pub items: Vec<(String, String)>,
}

impl Reply {
    /// Generic success: `result:<result>`.
    pub fn done(result: &str) -> Reply {
        Reply::with_items(vec![("result".into(), result.into())])
    }

    /// Success with these items.
    pub fn with_items(items: Vec<(String, String)>) -> Reply {
        Reply {
            success: true,
            items,
        }
    }

    /// A user error: `success:0`, `error:<message>`.
    pub fn error(message: &str) -> Reply {
        Reply {
            success: false,
            items: vec![("error".into(), message.into())],
        }
    }

    /// The error message, if this is an error reply.
    pub fn error_message(&self) -> Option<&str> {
        if self.success {
            return None;
        }
        self.items
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.as_str())
    }

    /// The body: the items, `success`, then `session_id` and `session_token` (id 0 and an
    /// empty token when the reply carries no session).
    pub fn render(&self, session: Option<(i32, &str)>) -> String {
        let (id, token) = session.unwrap_or((0, ""));
        let mut out = String::with_capacity(128);
        for (k, v) in &self.items {
            push_line(&mut out, k, v);
        }
        let code = if self.success {
            SUCCESS_CODE
        } else {
            FAILURE_CODE
        };
        push_line(&mut out, "success", code);
        push_line(&mut out, "session_id", &id.to_string());
        push_line(&mut out, "session_token", token);
        out
    }
}

fn push_line(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push(':');
    out.push_str(&escape(value));
    out.push('\n');
}

/// A `text/plain` response (no caching).
pub fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// 400 `Not a valid CamCOPS API request`.
pub fn not_valid() -> HttpResponse {
    text(StatusCode::BAD_REQUEST, format!("{NOT_VALID}\n"))
}

/// 413 for a body over the limit.
pub fn too_large(limit: usize) -> HttpResponse {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body too large (limit {limit} bytes)\n"),
    )
}

/// 503 with a reply body, as the original's "Database Unavailable".
pub fn unavailable() -> HttpResponse {
    let mut res = text(
        StatusCode::SERVICE_UNAVAILABLE,
        Reply::error(DB_UNAVAILABLE).render(None),
    );
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(crate::error::RETRY_AFTER_S),
    );
    res
}

/// `error` of the 429 reply.
pub const TOO_MANY_FAILURES: &str = "Too many failed logins from this address; try again later";

/// 429 with `Retry-After` and a reply body: too many failed logins from the client's address.
pub fn too_many_failures(retry_after_s: i64) -> HttpResponse {
    let mut res = text(
        StatusCode::TOO_MANY_REQUESTS,
        Reply::error(TOO_MANY_FAILURES).render(None),
    );
    if let Ok(v) = header::HeaderValue::from_str(&retry_after_s.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// 200 with a generic error reply: the original answers unexpected exceptions with 200 so
/// that the tablet user sees a message; we never show the exception's text.
pub fn server_error() -> HttpResponse {
    text(StatusCode::OK, Reply::error(SERVER_ERROR).render(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_the_original_and_round_trips() {
        let s = "slash \\ newline \n ctrl_r \r special \\n other special \\r quote ' \" colon:";
        assert_eq!(unescape(&escape(s)), s);
        assert_eq!(escape("a\\b\nc\rd:e"), "a\\\\b\\nc\\rd:e");
        assert_eq!(unescape("trailing\\"), "trailing");
    }

    #[test]
    fn render_puts_session_last_and_never_none() {
        let r = Reply::done("check_upload_user_and_device").render(Some((7, "tok")));
        assert_eq!(
            r,
            "result:check_upload_user_and_device\nsuccess:1\nsession_id:7\nsession_token:tok\n"
        );
        let e = Reply::error("bad\nthing").render(None);
        assert_eq!(
            e,
            "error:bad\\nthing\nsuccess:0\nsession_id:0\nsession_token:\n"
        );
        assert!(!e.contains("None"));
    }
}
