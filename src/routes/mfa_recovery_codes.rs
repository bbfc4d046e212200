//! `/mfa_recovery_codes` (new; CamCOPS has none): a user with a second factor makes ten
//! one-time recovery codes, shown once. Making them needs the current password (a session left
//! open must not be able to mint a way in); a wrong password counts as a failed login. New
//! codes void the old ones; the page says how many are left.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::Posted;
use super::page::{html, ok_or_bad_request, PageCtx};
use crate::auth::own_account::audit_own;
use crate::auth::{login, recovery};
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::models::audit::AuditSource;
use crate::session::extract::LoggedIn;
use crate::state::AppState;

/// Shown instead of the form to a user without a second factor.
pub const NO_SECOND_FACTOR: &str =
    "Recovery codes are for accounts with multi-factor authentication. Set it up first.";
/// Wrong current password.
pub const WRONG_PASSWORD: &str = "Password incorrect";

#[derive(Template)]
#[template(path = "mfa_recovery_codes.html")]
struct CodesPage<'a> {
    ctx: PageCtx,
    has_second_factor: bool,
    remaining: i64,
    /// The new codes, on the one response that shows them.
    codes: Vec<String>,
    error: Option<&'a str>,
}

fn has_second_factor(li: &LoggedIn) -> bool {
    li.user.user.mfa_method != "no_mfa"
}

async fn render(
    state: &AppState,
    li: &LoggedIn,
    codes: Vec<String>,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let uid = li.user.id();
    let remaining =
        run_db_read(&state.pool, move |conn| Ok(recovery::remaining(conn, uid)?)).await?;
    let page = CodesPage {
        ctx: PageCtx::new(&li.cs),
        has_second_factor: has_second_factor(li),
        remaining,
        codes,
        error,
    };
    html(ok_or_bad_request(error.is_some()), &page)
}

/// `GET /mfa_recovery_codes`: how many codes are left, and the form to make new ones.
pub async fn recovery_codes_form(
    state: web::Data<AppState>,
    li: LoggedIn,
) -> Result<HttpResponse, AppError> {
    render(&state, &li, Vec::new(), None).await
}

/// `POST /mfa_recovery_codes`: checks the password, makes a new set, shows it once.
pub async fn make_recovery_codes(
    state: web::Data<AppState>,
    Posted { who: li, form }: Posted<LoggedIn>,
) -> Result<HttpResponse, AppError> {
    // The one field: the current `password`.
    let password = form.text("password");
    if !has_second_factor(&li) {
        return render(&state, &li, Vec::new(), Some(NO_SECOND_FACTOR)).await;
    }
    let username = li.user.user.username.clone();
    if let Some(locked) = login::reauth_locked(&state, &username).await? {
        return render(&state, &li, Vec::new(), Some(&locked)).await;
    }
    if password.is_empty() || password.len() > 1024 {
        return render(&state, &li, Vec::new(), Some(WRONG_PASSWORD)).await;
    }
    let (ok, _) = login::check_password(&state, Some(&li.user), password).await?;
    if !ok {
        let now = state.clock.now();
        let locked = login::failed_login(
            &state,
            &username,
            &li.cs.client_ip,
            AuditSource::Webviewer,
            now,
        )
        .await?;
        let message = locked.unwrap_or_else(|| WRONG_PASSWORD.to_owned());
        return render(&state, &li, Vec::new(), Some(&message)).await;
    }
    let (uid, ip, now) = (li.user.id(), li.cs.client_ip.clone(), state.clock.now());
    let codes = run_db(&state.pool, move |conn| {
        let codes = recovery::make_set(conn, uid, now)?;
        let details = format!("MFA recovery codes made for user {username} (older codes void)");
        audit_own(conn, now, &ip, uid, &details)?;
        Ok(codes)
    })
    .await?;
    render(&state, &li, codes, None).await
}
