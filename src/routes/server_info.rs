//! `/view_server_info` (sessions §4.7): ID number definitions, the "Recent activity" session counts
//! (sessions §2.10) and the session timeout rules.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Duration;

use super::page::{html, PageCtx};
use crate::db::run_db_read;
use crate::error::AppError;
use crate::models::idnum::IdNumDefinition;
use crate::session::extract::HappyUser;
use crate::session::model::n_sessions_active_since;
use crate::state::AppState;

/// The activity windows of the original: minutes and label.
pub const WINDOWS: [(i64, &str); 4] = [
    (1, "Last 1 minute"),
    (5, "Last 5 minutes"),
    (10, "Last 10 minutes"),
    (60, "Last 1 hour"),
];

/// One ID number definition, ready to show.
struct IdNumRow {
    which_idnum: i32,
    description: String,
    short_description: String,
    validation_method: String,
}

/// One row of the "Recent activity" table.
struct ActivityRow {
    label: &'static str,
    count: i64,
}

#[derive(Template)]
#[template(path = "view_server_info.html")]
struct ServerInfoPage {
    ctx: PageCtx,
    idnums: Vec<IdNumRow>,
    activity: Vec<ActivityRow>,
    timeout_minutes: i64,
    max_lifetime_minutes: i64,
}

/// `GET /view_server_info`.
pub async fn view_server_info(
    state: web::Data<AppState>,
    HappyUser(li): HappyUser,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let (defs, counts) = run_db_read(&state.pool, move |conn| {
        let defs = IdNumDefinition::all(conn)?;
        let mut counts = Vec::with_capacity(WINDOWS.len());
        for (minutes, _) in WINDOWS {
            counts.push(n_sessions_active_since(
                conn,
                now - Duration::minutes(minutes),
            )?);
        }
        Ok((defs, counts))
    })
    .await?;
    let idnums = defs
        .into_iter()
        .map(|d| IdNumRow {
            which_idnum: d.which_idnum,
            description: d.description.unwrap_or_default(),
            short_description: d.short_description.unwrap_or_default(),
            validation_method: d.validation_method.unwrap_or_default(),
        })
        .collect();
    let activity = WINDOWS
        .iter()
        .zip(counts)
        .map(|(&(_, label), count)| ActivityRow { label, count })
        .collect();
    let page = ServerInfoPage {
        ctx: PageCtx::new(&li.cs),
        idnums,
        activity,
        timeout_minutes: state.settings.session_timeout_minutes,
        max_lifetime_minutes: state.settings.session_max_lifetime_minutes,
    };
    html(StatusCode::OK, &page)
}
