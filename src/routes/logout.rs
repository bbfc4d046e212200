//! `/logout`: GET shows a one-button form; POST (CSRF) ends the session server-side, audits
//! it, clears the cookie and site data, and says so.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::Posted;
use super::page::{html, PageCtx};
use crate::auth::own_account::audit_own;
use crate::db::run_db;
use crate::error::AppError;
use crate::session::extract::{CurrentSession, LoggedIn};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    ctx: PageCtx,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage {
    ctx: PageCtx,
}

/// `GET /logout`: a form with one button.
pub async fn logout_form(li: LoggedIn) -> Result<HttpResponse, AppError> {
    let page = LogoutPage {
        ctx: PageCtx::new(&li.cs),
    };
    html(StatusCode::OK, &page)
}

/// `POST /logout`: audit "Logout", then user NULL and token "" on the row (sessions §2.8).
pub async fn log_out(
    state: web::Data<AppState>,
    Posted { who: cs, .. }: Posted<CurrentSession>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = cs.user.clone() {
        let now = state.clock.now();
        let ip = cs.client_ip.clone();
        let mut session = cs.session.clone();
        run_db(&state.pool, move |conn| {
            audit_own(conn, now, &ip, user.id(), "Logout")?;
            session.logout(conn)?;
            Ok(())
        })
        .await?;
        log::info!(
            "Logout: user {} from {}",
            cs.username().unwrap_or(""),
            cs.client_ip
        );
    }
    cs.cookie.0.purge();
    let page = LoggedOutPage {
        ctx: PageCtx {
            username: None,
            csrf_token: String::new(),
            flashes: Vec::new(),
        },
    };
    let mut res = html(StatusCode::OK, &page)?;
    res.headers_mut().insert(
        header::HeaderName::from_static("clear-site-data"),
        header::HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    Ok(res)
}
