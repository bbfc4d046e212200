//! `GET /view_user_email_addresses` (admin §3.11): the users the requester manages who
//! have no e-mail address, then a `mailto:` link for each one who has. The address in the
//! href is percent-encoded (CamCOPS wrote it raw) and every text is HTML-escaped.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::capability;
use crate::db::run_db_read;
use crate::error::AppError;
use crate::models::user::User;
use crate::routes::page::{html, PageCtx};
use crate::session::extract::GroupAdmin;
use crate::state::AppState;

/// One user with an address.
struct Addressed {
    /// Full name, or the username when there is none.
    name: String,
    email: String,
    /// `email` percent-encoded for a `mailto:` URL.
    href: String,
}

#[derive(Template)]
#[template(path = "view_user_email_addresses.html")]
struct EmailsPage {
    ctx: PageCtx,
    missing: Vec<String>,
    addressed: Vec<Addressed>,
}

/// `addr` as the path of a `mailto:` URL: every byte but unreserved characters and `@`
/// percent-encoded, so no `?`, `&`, `#`, `,` or quote can add headers, recipients or markup.
pub fn mailto_path(addr: &str) -> String {
    let mut out = String::with_capacity(addr.len());
    for b in addr.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /view_user_email_addresses`: for a superuser every user but `system`, for a group
/// administrator the users they manage; auto-generated users left out; by username.
pub async fn view_user_email_addresses(
    state: web::Data<AppState>,
    GroupAdmin(li): GroupAdmin,
) -> Result<HttpResponse, AppError> {
    let scope = capability::managed_users_scope(&li.user);
    let users = run_db_read(&state.pool, move |conn| {
        let ids = User::ids_for_admin(conn, scope.as_deref(), false)?;
        Ok(User::with_ids(conn, &ids)?)
    })
    .await?;
    let mut missing = Vec::new();
    let mut addressed = Vec::new();
    for u in users {
        match u.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => missing.push(u.username),
            Some(email) => addressed.push(Addressed {
                name: u
                    .fullname
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&u.username)
                    .to_string(),
                href: mailto_path(email),
                email: email.to_string(),
            }),
        }
    }
    html(
        StatusCode::OK,
        &EmailsPage {
            ctx: PageCtx::new(&li.cs),
            missing,
            addressed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::mailto_path;

    #[test]
    fn mailto_paths_carry_no_syntax() {
        assert_eq!(
            mailto_path("a.b-c_d~e@example.org"),
            "a.b-c_d~e@example.org"
        );
        assert_eq!(
            mailto_path("x@y.org?bcc=z@evil.org&subject=\"<b>\""),
            "x@y.org%3Fbcc%3Dz@evil.org%26subject%3D%22%3Cb%3E%22"
        );
        assert_eq!(mailto_path("é@x.org"), "%C3%A9@x.org");
    }
}
