//! The HTML response every page and every error page goes out as (one content type, one
//! place). Pages answer through `routes::page::html`, which renders and calls this; the error
//! page, which renders itself, calls it directly.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// An HTML response of `status` with an already rendered `body`.
pub fn html_body(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}
