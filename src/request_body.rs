//! What every request body shares, in one place that `startup`, `observe`, `input` and the
//! tablet API all import (and that imports none of them): the body limits, the API paths, the
//! form content-type test, the one loop that collects a body under a limit, and
//! [`ReceivedBody`], the bytes `observe` received, handed on to `input` so that the body is
//! read from the client once.

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

/// Largest url-encoded form body of a web page (the `web::Form` limit).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Largest body of a tablet API request (`/api`, `/database`); the session and registration
/// operations need a few hundred bytes.
pub const API_BODY_LIMIT: usize = 1024 * 1024;

/// The paths the tablet API answers on.
pub const API_PATHS: [&str; 2] = ["/api", "/database"];

/// The body limit of a request to `path`: [`API_BODY_LIMIT`] on the API, else [`FORM_LIMIT`].
pub fn limit_for(path: &str) -> usize {
    if API_PATHS.contains(&path) {
        API_BODY_LIMIT
    } else {
        FORM_LIMIT
    }
}

/// The body `observe` received within the deadline, kept in the request extensions (the
/// payload handed on holds the same bytes).
#[derive(Clone, Debug)]
pub struct ReceivedBody(pub Bytes);

/// Whether `headers` say `application/x-www-form-urlencoded` (parameters such as
/// `charset=utf-8` allowed; the media type is case-insensitive).
pub fn is_form_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The `Content-Length` the request declares, if any (and if it is a number).
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Why a body could not be collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// More than the limit.
    TooLarge,
    /// The stream failed.
    Broken,
}

/// Collects `payload` into one buffer, refusing it as soon as it exceeds `limit` bytes.
pub async fn collect<S, E>(payload: &mut S, limit: usize) -> Result<Bytes, Unread>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Unread::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
