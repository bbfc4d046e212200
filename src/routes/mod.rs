//! The route table (paths as the original, sessions §4.1) and the page handlers, one file per page.

use actix_web::web;

use crate::session::extract::SessionReads;

pub mod admin;
pub mod change_own_password;
pub mod datetime;
pub mod edit_own_user_mfa;
pub mod form;
pub mod health;
pub mod home;
pub mod login;
pub mod logout;
pub mod mfa_recovery_codes;
pub mod offer_terms;
pub mod own_user_info;
pub mod page;
pub mod pager;
pub mod server_info;
pub mod set_filters;
pub mod static_files;
pub mod step_up;
pub mod view_tasks;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::configure(cfg);
    cfg.service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/static/camcops.css").route(web::get().to(static_files::css)))
        .service(web::resource("/").route(web::get().to(home::main_menu)))
        .service(
            web::resource("/view_server_info").route(web::get().to(server_info::view_server_info)),
        )
        .service(
            web::resource("/view_own_user_info")
                .route(web::get().to(own_user_info::view_own_user_info)),
        )
        .service(
            web::resource("/change_own_password")
                .route(web::get().to(change_own_password::change_own_password_form))
                .route(web::post().to(change_own_password::change_own_password)),
        )
        .service(
            web::resource("/edit_own_user_mfa")
                .route(web::get().to(edit_own_user_mfa::edit_own_user_mfa_form))
                .route(web::post().to(edit_own_user_mfa::edit_own_user_mfa)),
        )
        .service(
            web::resource("/mfa_recovery_codes")
                .route(web::get().to(mfa_recovery_codes::recovery_codes_form))
                .route(web::post().to(mfa_recovery_codes::make_recovery_codes)),
        )
        .service(
            web::resource("/login")
                .route(web::get().to(login::login_form))
                .route(web::post().to(login::login)),
        )
        .service(
            web::resource("/offer_terms")
                .route(web::get().to(offer_terms::offer_terms_form))
                .route(web::post().to(offer_terms::agree_terms)),
        )
        .service(
            web::resource("/logout")
                .route(web::get().to(logout::logout_form))
                .route(web::post().to(logout::log_out)),
        )
        .service(
            web::resource("/view_tasks")
                .app_data(SessionReads { task_list: true })
                .route(web::get().to(view_tasks::view_tasks))
                .route(web::post().to(view_tasks::view_tasks_post)),
        )
        .service(
            web::resource("/set_filters")
                .route(web::get().to(set_filters::set_filters_form))
                .route(web::post().to(set_filters::set_filters)),
        )
        .configure(admin::users::configure)
        .service(
            web::resource("/view_sessions").route(web::get().to(admin::sessions::view_sessions)),
        )
        .service(
            web::resource("/end_session")
                .route(web::get().to(admin::sessions::end_session_get))
                .route(web::post().to(admin::sessions::end_session)),
        )
        .service(
            web::resource("/end_user_sessions")
                .route(web::get().to(admin::sessions::end_user_sessions_get))
                .route(web::post().to(admin::sessions::end_user_sessions)),
        );
    configure_groups_and_audit(cfg);
}

/// Group administration and the audit trail (superusers only).
fn configure_groups_and_audit(cfg: &mut web::ServiceConfig) {
    use admin::{audit, groups};
    cfg.service(web::resource("/view_groups").route(web::get().to(groups::view_groups)))
        .service(
            web::resource("/add_group")
                .route(web::get().to(groups::edit::add_group_form))
                .route(web::post().to(groups::edit::add_group)),
        )
        .service(
            web::resource("/edit_group")
                .route(web::get().to(groups::edit::edit_group_form))
                .route(web::post().to(groups::edit::edit_group)),
        )
        .service(
            web::resource("/delete_group")
                .route(web::get().to(groups::delete::delete_group_form))
                .route(web::post().to(groups::delete::delete_group)),
        )
        .service(web::resource("/audit_menu").route(web::get().to(audit::audit_menu)))
        .service(web::resource("/offer_audit_trail").route(web::get().to(audit::offer_audit_trail)))
        .service(web::resource("/view_audit_trail").route(web::get().to(audit::view_audit_trail)));
}
