//! The route table (paths as the original, §4.1) and the page handlers, one file per page.

use actix_web::web;

pub mod health;
pub mod home;
pub mod login;
pub mod logout;
pub mod page;
pub mod static_files;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/static/camcops.css").route(web::get().to(static_files::css)))
        .service(web::resource("/").route(web::get().to(home::main_menu)))
        .service(
            web::resource("/login")
                .route(web::get().to(login::login_form))
                .route(web::post().to(login::login)),
        )
        .service(
            web::resource("/logout")
                .route(web::get().to(logout::logout_form))
                .route(web::post().to(logout::log_out)),
        );
}
