//! The tablet client API (sessions §5): `POST /api` and its legacy alias `POST /database`,
//! form-encoded requests, `key:value` text replies, sessions carried in the body
//! (`session_id`, `session_token`) so that only the first call costs a password check.
//! See `docs/api.md`.

use actix_web::web;

use crate::request_body::API_PATHS;

pub mod body;
pub mod fields;
pub mod handler;
pub mod ops;
pub mod outcome;
pub mod resume;
pub mod session;
pub mod wire;

/// Registers `POST /api` and `POST /database` ([`API_PATHS`]); other methods on them get 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in API_PATHS {
        cfg.service(
            web::resource(path)
                .route(web::post().to(handler::client_api))
                .default_service(web::to(handler::method_not_allowed)),
        );
    }
}
