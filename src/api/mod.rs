//! The tablet client API (§5): `POST /api` and its legacy alias `POST /database`,
//! form-encoded requests, `key:value` text replies, sessions carried in the body
//! (`session_id`, `session_token`) so that only the first call costs a password check.
//! See `docs/api.md`.

use actix_web::web;

pub mod body;
pub mod fields;
pub mod handler;
pub mod ops;
pub mod resume;
pub mod session;
pub mod wire;

/// The paths the API answers on.
pub const PATHS: [&str; 2] = ["/api", "/database"];

/// Registers `POST /api` and `POST /database`; other methods on them get 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in PATHS {
        cfg.service(
            web::resource(path)
                .route(web::post().to(handler::client_api))
                .default_service(web::to(handler::method_not_allowed)),
        );
    }
}
