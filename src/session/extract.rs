//! Actix extractors: `CurrentSession` (resolved once per request and cached), and the
//! permission extractors `LoggedIn`, `HappyUser`, `GroupAdmin`, `Superuser` (sessions §2.14).

use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::client_ip::client_ip;
use super::cookie::CookieData;
use super::model::{CamcopsSession, Miss, SessionExtras};
use crate::auth::principal::{AuthUser, UserState};
use crate::db::{run_db_conn, transaction};
use crate::error::AppError;
use crate::state::AppState;

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// The request's session, resolved from the cookie with one database unit (none at all for a
/// visitor without credentials).
#[derive(Clone)]
pub struct CurrentSession {
    /// The session (saved, or new and unsaved).
    pub session: CamcopsSession,
    /// The logged-in user, if any.
    pub user: Option<Arc<AuthUser>>,
    /// The client address used for binding.
    pub client_ip: String,
    /// The cookie's content.
    pub cookie: CookieData,
    /// Why presented credentials did not resolve, if they did not.
    pub miss: Option<Miss>,
    /// The session's task filter and the user's seen groups, read with the session.
    pub extras: Arc<SessionExtras>,
}

/// What the session lookup reads besides the session, its user and their memberships, set
/// per route with `app_data` (default: nothing more).
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionReads {
    /// The session's task filter and the groups the user's groups may also see (the task
    /// list needs them; see [`SessionExtras`]).
    pub task_list: bool,
}

impl CurrentSession {
    /// Points the cookie at `session` (after login or after the row was first written).
    pub fn remember(&self, session: &CamcopsSession) {
        match session.id {
            Some(id) if !session.token.is_empty() => {
                self.cookie.set_credentials(id, &session.token)
            }
            _ => self.cookie.clear_credentials(),
        }
    }

    /// The CSRF token for forms on the page.
    pub fn csrf_token(&self) -> String {
        self.cookie.csrf_token()
    }

    /// Fails with 400 unless `presented` is the cookie's CSRF token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), AppError> {
        if self.cookie.csrf_ok(presented) {
            Ok(())
        } else {
            log::warn!("Bad CSRF token from {}", self.client_ip);
            Err(AppError::BadRequest(
                "Bad or missing CSRF token. Go back, reload the page and try again.".into(),
            ))
        }
    }

    /// The username, if logged in.
    pub fn username(&self) -> Option<&str> {
        self.user.as_deref().map(|u| u.user.username.as_str())
    }

    async fn resolve(req: HttpRequest) -> Result<CurrentSession, AppError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("AppState missing")))?;
        let cookie = CookieData(req.get_session());
        let (id, token) = cookie.credentials();
        let ip = client_ip(&req, &state.settings.client_ip_source);
        let now = state.clock.now();
        let presented = id.is_some() || !token.is_empty();
        let reads = req.app_data::<SessionReads>().copied().unwrap_or_default();
        let (session, user, miss, extras) = if presented {
            let policy = state.policy;
            let ip2 = ip.clone();
            // One unit on one connection: the session, its user and their memberships in one
            // read statement (no BEGIN/COMMIT), then, only when the coalesced activity write
            // is due, a short write transaction.
            run_db_conn(&state.pool, move |conn| {
                let (mut r, user, extras) = CamcopsSession::lookup_with_user(
                    conn,
                    &policy,
                    (id, &token),
                    &ip2,
                    now,
                    reads.task_list,
                )?;
                if r.touched {
                    r.touched = transaction(conn, |conn| Ok(r.session.touch(conn, now)?))?;
                }
                Ok((r.session, user, r.miss, extras))
            })
            .await?
        } else {
            (
                CamcopsSession::new_unsaved(&ip, now),
                None,
                Some(Miss::NoCredentials),
                SessionExtras::default(),
            )
        };
        if presented && miss.is_some() {
            cookie.clear_credentials();
        }
        let cs = CurrentSession {
            session,
            user: user.map(Arc::new),
            client_ip: ip,
            cookie,
            miss,
            extras: Arc::new(extras),
        };
        req.extensions_mut().insert(cs.clone());
        Ok(cs)
    }
}

impl FromRequest for CurrentSession {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(cached) = req.extensions().get::<CurrentSession>() {
            let cached = cached.clone();
            return Box::pin(ready(Ok(cached)));
        }
        Box::pin(CurrentSession::resolve(req.clone()))
    }
}

/// An extractor of who made a request, holding the request's session (what a POST's CSRF
/// token is checked against: `routes::form::Posted`).
pub trait Requester {
    /// The request's session.
    fn session(&self) -> &CurrentSession;
}

impl Requester for CurrentSession {
    fn session(&self) -> &CurrentSession {
        self
    }
}

impl Requester for LoggedIn {
    fn session(&self) -> &CurrentSession {
        &self.cs
    }
}

impl Requester for HappyUser {
    fn session(&self) -> &CurrentSession {
        &self.0.cs
    }
}

fn login_target(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        match req.uri().query() {
            Some(q) => format!("{}?{}", req.path(), q),
            None => req.path().to_string(),
        }
    } else {
        req.path().to_string()
    }
}

/// A logged-in user, whatever their state ("Authenticated": logout, change password, MFA).
#[derive(Clone)]
pub struct LoggedIn {
    /// The session.
    pub cs: CurrentSession,
    /// The user.
    pub user: Arc<AuthUser>,
}

impl FromRequest for LoggedIn {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = CurrentSession::from_request(req, payload);
        let target = login_target(req);
        Box::pin(async move {
            let cs = fut.await?;
            match cs.user.clone() {
                Some(user) => Ok(LoggedIn { cs, user }),
                None => Err(AppError::LoginRequired(target)),
            }
        })
    }
}

fn happy(req: &HttpRequest, li: LoggedIn) -> Result<LoggedIn, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("AppState missing")))?;
    match li.user.state(&state.settings) {
        UserState::Happy => Ok(li),
        UserState::MustChangePassword => Err(AppError::Redirect("/change_own_password".into())),
        UserState::MustAgreeTerms => Err(AppError::Redirect("/offer_terms".into())),
        UserState::MustSetMfa => Err(AppError::Redirect("/edit_own_user_mfa".into())),
        UserState::NoWebviewer => Err(AppError::Forbidden),
    }
}

/// A user with the `happy` principal: may use the pages (default permission of every page).
#[derive(Clone)]
pub struct HappyUser(pub LoggedIn);

impl FromRequest for HappyUser {
    type Error = AppError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = LoggedIn::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { happy(&req, fut.await?).map(HappyUser) })
    }
}

/// A happy user who is a group administrator or superuser.
#[derive(Clone)]
pub struct GroupAdmin(pub LoggedIn);

/// A happy superuser.
#[derive(Clone)]
pub struct Superuser(pub LoggedIn);

/// A happy user who also passes `allowed`, else 403.
fn happy_and(
    req: &HttpRequest,
    payload: &mut Payload,
    allowed: fn(&AuthUser) -> bool,
) -> LocalFuture<LoggedIn> {
    let fut = LoggedIn::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let li = happy(&req, fut.await?)?;
        if allowed(&li.user) {
            Ok(li)
        } else {
            Err(AppError::Forbidden)
        }
    })
}

/// `FromRequest` for a role extractor: [`LoggedIn`], happy, and `$allowed`, else 403.
macro_rules! role_extractor {
    ($role:ident, $allowed:path) => {
        impl FromRequest for $role {
            type Error = AppError;
            type Future = LocalFuture<Self>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let fut = happy_and(req, payload, $allowed);
                Box::pin(async move { fut.await.map($role) })
            }
        }
    };
}

role_extractor!(GroupAdmin, AuthUser::authorized_as_groupadmin);
role_extractor!(Superuser, AuthUser::is_superuser);
