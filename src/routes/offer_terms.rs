//! `/offer_terms` (admin §5): the terms of use, and one button to agree them. Every
//! other page sends a user who has not agreed (or agreed before the terms last changed) here
//! first. Unlike the original the POST needs the CSRF token, and agreeing is audited.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::Posted;
use super::page::{html, see_other, PageCtx};
use crate::auth::own_account;
use crate::auth::terms::must_agree;
use crate::db::run_db;
use crate::error::AppError;
use crate::session::extract::LoggedIn;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "offer_terms.html")]
struct TermsPage {
    ctx: PageCtx,
    agreed: bool,
}

/// `GET /offer_terms`: the terms and the button (shown to those who agreed too).
pub async fn offer_terms_form(li: LoggedIn) -> Result<HttpResponse, AppError> {
    let page = TermsPage {
        ctx: PageCtx::new(&li.cs),
        agreed: !must_agree(li.user.user.when_agreed_terms_of_use.as_deref()),
    };
    html(StatusCode::OK, &page)
}

/// `POST /offer_terms`: stores the time of agreeing (as CamCOPS stores it), then 303 to `/`.
pub async fn agree_terms(
    state: web::Data<AppState>,
    Posted { who: li, .. }: Posted<LoggedIn>,
) -> Result<HttpResponse, AppError> {
    let (now, uid, ip) = (state.clock.now(), li.user.id(), li.cs.client_ip.clone());
    run_db(&state.pool, move |conn| {
        Ok(own_account::agree_terms(conn, now, &ip, uid)?)
    })
    .await?;
    Ok(see_other("/"))
}
