//! `/`: the main menu (sessions §4.4), with the links the user's permissions allow.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::page::{html, PageCtx};
use crate::error::AppError;
use crate::session::extract::HappyUser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "main_menu.html")]
struct MainMenu {
    ctx: PageCtx,
    groupadmin: bool,
    superuser: bool,
    now: String,
}

/// `GET /`.
pub async fn main_menu(
    state: web::Data<AppState>,
    HappyUser(li): HappyUser,
) -> Result<HttpResponse, AppError> {
    let now =
        chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(state.clock.now(), chrono::Utc)
            .with_timezone(&chrono::Local)
            .format("%d %b %Y, %H:%M:%S %z")
            .to_string();
    let page = MainMenu {
        ctx: PageCtx::new(&li.cs),
        groupadmin: li.user.authorized_as_groupadmin(),
        superuser: li.user.is_superuser(),
        now,
    };
    html(StatusCode::OK, &page)
}
