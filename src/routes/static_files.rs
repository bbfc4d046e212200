//! The one stylesheet, compiled into the binary.

use actix_web::HttpResponse;

const CSS: &str = include_str!("../../static/camcops.css");

/// Serves `/static/camcops.css` (cacheable for a day).
pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(CSS)
}
