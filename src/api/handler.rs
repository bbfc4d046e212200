//! The HTTP side of `POST /api` (and its alias `/database`): read and validate the body,
//! hand over to the session flow, write the `key:value` reply; any other method gets 405.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::body::{self, Rejected};
use super::fields::ApiRequest;
use super::session;
use super::wire;
use crate::error::AppError;
use crate::request_body::API_BODY_LIMIT as BODY_LIMIT;
use crate::session::client_ip::client_ip;
use crate::state::AppState;

/// `POST /api`: one client API call.
pub async fn client_api(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let ip = client_ip(&req, &state.settings.client_ip_source);
    if !body::is_form_content_type(&req) {
        log::info!("API: request from {ip} refused: not a form body");
        return wire::not_valid();
    }
    let bytes = match body::read_body(&req, payload).await {
        Ok(b) => b,
        Err(Rejected::TooLarge) => {
            log::info!("API: request from {ip} refused: body over {BODY_LIMIT} bytes");
            return wire::too_large(BODY_LIMIT);
        }
        Err(Rejected::Invalid(why)) => return refuse(&ip, why),
        Err(Rejected::ControlCharacter(_)) => return refuse(&ip, "control character"),
    };
    let fields = match body::parse_form(&bytes) {
        Ok(f) => f,
        Err(Rejected::Invalid(why)) => return refuse(&ip, why),
        Err(Rejected::TooLarge) => return wire::too_large(BODY_LIMIT),
        Err(Rejected::ControlCharacter(field)) => {
            log::info!("API: request from {ip} refused: control character in a field");
            return wire::text(
                StatusCode::BAD_REQUEST,
                format!("{}\n", crate::input::control_message(&field)),
            );
        }
    };
    let api_req = match ApiRequest::from_fields(fields) {
        Ok(r) => r,
        Err(why) => return refuse(&ip, why),
    };
    log::debug!("API call from {ip}: {api_req:?}");
    match session::handle(&state, api_req, ip).await {
        Ok(out) => {
            let session = out.session.as_ref().map(|(id, t)| (*id, t.as_str()));
            wire::text(StatusCode::OK, out.reply.render(session))
        }
        Err(e) => {
            // The API's replies carry no `AppError` for the middleware to count: count here.
            if let AppError::ServiceUnavailable(u) = &e {
                state.metrics.db_unavailable(u.kind);
            }
            error_reply(&e)
        }
    }
}

fn refuse(ip: &str, why: &str) -> HttpResponse {
    log::info!("API: request from {ip} refused: {why}");
    wire::not_valid()
}

/// The reply for an error that stopped a request: 503 when the database is unavailable;
/// otherwise (logged) 200 with a generic error, as the original answers exceptions.
pub fn error_reply(e: &AppError) -> HttpResponse {
    match e {
        AppError::ServiceUnavailable(u) => {
            let line = format!("API: database unavailable: {u}");
            crate::log_limit::warn(&line.clone(), || line);
            wire::unavailable()
        }
        AppError::TooManyRequests(seconds) => wire::too_many_failures(*seconds),
        other => {
            let line = format!("API: request failed: {}", other.one_line());
            crate::log_limit::warn(&line.clone(), || line);
            wire::server_error()
        }
    }
}

/// Any method but POST: 405 with the HTML error page and `Allow: POST`.
pub async fn method_not_allowed() -> HttpResponse {
    let mut res = AppError::MethodNotAllowed.error_response();
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(r: HttpResponse) -> (u16, String) {
        let status = r.status().as_u16();
        let bytes = r.into_body().try_into_bytes().unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    #[test]
    fn unavailable_database_is_503_in_the_api_format() {
        let (status, body) = body_of(error_reply(&AppError::ServiceUnavailable(
            "pool SECRET".into(),
        )));
        assert_eq!(status, 503);
        assert_eq!(
            body,
            "error:Database unavailable\nsuccess:0\nsession_id:0\nsession_token:\n"
        );
    }

    #[test]
    fn unexpected_errors_never_show_their_text() {
        let (status, body) = body_of(error_reply(&AppError::Unexpected(anyhow::anyhow!(
            "SECRET"
        ))));
        assert_eq!(status, 200);
        assert!(body.contains("success:0") && !body.contains("SECRET"));
    }
}
