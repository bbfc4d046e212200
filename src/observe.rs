//! The middleware every request passes through: it receives the whole body within the
//! request timeout (slow clients get a 408 and the connection is closed), percent-encodes
//! `Location` headers, counts the request in `/metrics`, and writes one rate-limited warn line
//! per failed request (5xx), never a cause chain over several lines or a backtrace.

use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::{HttpMessage, HttpResponse, ResponseError};

use crate::error::{error_page, AppError};
use crate::request_body::{self, collect, ReceivedBody, Unread};
use crate::state::AppState;

/// The middleware function (`actix_web::middleware::from_fn(observe)`).
pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let timeout = state
        .as_ref()
        .map_or(Duration::from_secs(10), |s| s.settings.request_timeout());
    let method = req.method().clone();
    // (The request must not be cloned before routing: the router needs it unshared.)
    let mut res = match receive_body(&mut req, started + timeout).await {
        Err(refused) => req.into_response(refused),
        Ok(()) => next.call(req).await?.map_into_boxed_body(),
    };
    encode_location(res.headers_mut());
    if let Some(state) = state {
        record(&state, &res, &method, started.elapsed());
    }
    Ok(res)
}

/// Reads the request body (if any) within `deadline` and puts it back as bytes, so that no
/// handler ever waits on a slow client and no unread body is drained afterwards; the bytes
/// also go into the extensions as [`ReceivedBody`] (for `input`). Over the route's limit
/// ([`request_body::limit_for`]): 413; too slow: 408; both close the connection.
async fn receive_body(req: &mut ServiceRequest, deadline: Instant) -> Result<(), HttpResponse> {
    let headers = req.headers();
    let declared = request_body::declared_length(headers);
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if !chunked && declared.unwrap_or(0) == 0 {
        return Ok(());
    }
    let limit = request_body::limit_for(req.path());
    let too_large = || closing(AppError::PayloadTooLarge.error_response());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut payload = req.take_payload();
    let left = deadline.saturating_duration_since(Instant::now());
    let body = match actix_web::rt::time::timeout(left, collect(&mut payload, limit)).await {
        Ok(Ok(body)) => body,
        Ok(Err(Unread::TooLarge)) => return Err(too_large()),
        Ok(Err(Unread::Broken)) => {
            return Err(closing(
                AppError::BadRequest("The request body could not be read.".into()).error_response(),
            ))
        }
        Err(_) => return Err(request_timeout()),
    };
    req.extensions_mut().insert(ReceivedBody(body.clone()));
    req.set_payload(body.into());
    Ok(())
}

/// 408 for a request not received in time.
fn request_timeout() -> HttpResponse {
    closing(error_page(
        actix_web::http::StatusCode::REQUEST_TIMEOUT,
        "The request was not received in time.",
    ))
}

/// `res` with `Connection: close` (what is left of the body is not read).
fn closing(mut res: HttpResponse) -> HttpResponse {
    res.head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    res
}

/// Percent-encodes what may not appear raw in a `Location` header (bytes outside printable
/// ASCII, spaces, quotes, angle brackets); `%` escapes already there are kept.
fn encode_location(headers: &mut header::HeaderMap) {
    let Some(value) = headers.get(header::LOCATION) else {
        return;
    };
    let bytes = value.as_bytes();
    if bytes.iter().all(|&b| !needs_escape(b)) {
        return;
    }
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if needs_escape(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    if let Ok(v) = HeaderValue::try_from(out) {
        headers.insert(header::LOCATION, v);
    }
}

fn needs_escape(b: u8) -> bool {
    !(0x21..0x7f).contains(&b)
        || matches!(
            b,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

/// Counts the request, and for a 5xx writes its warn line (rate-limited per cause).
fn record(
    state: &AppState,
    res: &ServiceResponse,
    method: &actix_web::http::Method,
    took: Duration,
) {
    let req = res.request();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = res.status();
    let m = &state.metrics;
    m.requests
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    m.latency
        .with_label_values(&[route.as_str()])
        .observe(took.as_secs_f64());
    if !status.is_server_error() {
        return;
    }
    let app_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>());
    if let Some(AppError::ServiceUnavailable(u)) = app_error {
        m.db_unavailable(u.kind);
    }
    let cause = match app_error {
        Some(e) => e.one_line(),
        None => res
            .response()
            .error()
            .map_or_else(|| "no detail".to_string(), |e| e.to_string()),
    };
    let key = format!("{} {cause}", status.as_u16());
    let path = req.path().to_string();
    let method = method.clone();
    crate::log_limit::warn(&key, || {
        format!(
            "{} {method} {path} ({} ms): {cause}",
            status.as_u16(),
            took.as_millis()
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_percent_encoded_once() {
        let mut h = header::HeaderMap::new();
        h.insert(
            header::LOCATION,
            HeaderValue::from_bytes("/é?x=a b&y=%2F".as_bytes()).unwrap(),
        );
        encode_location(&mut h);
        assert_eq!(h.get(header::LOCATION).unwrap(), "/%C3%A9?x=a%20b&y=%2F");
    }
}
