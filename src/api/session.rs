//! Session handling for the tablet API (sessions §5.3, with our differences): resolve the presented
//! id/token as the web does; reuse it for the same username without a password; log out a
//! session of another username; otherwise authenticate (lockout first, bcrypt off the
//! database and off the async workers, failures counted towards lockout) and log in an API
//! session. Then run the operation in the same unit of work as the session's writes.
//! Resuming a presented session is in `resume`.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::fields::ApiRequest;
use super::ops::{self, Ctx, INVALID_USER};
use super::outcome::Outcome;
use super::resume::{self, Mode, Resumed};
use super::wire::Reply;
use crate::auth::login::{self as svc, LoginLookup};
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::models::audit::{audit, AuditSource};
use crate::models::lockout;
use crate::models::user::User;
use crate::session::CamcopsSession;
use crate::state::AppState;

/// Handles one validated request.
pub async fn handle(state: &AppState, req: ApiRequest, ip: String) -> Result<Outcome, AppError> {
    let now = state.clock.now();
    let req = Arc::new(req);
    let ip = Arc::new(ip);
    let presented =
        req.session_id.is_some_and(|id| id > 0) && !req.session_token.expose().is_empty();
    let mut anon_session = None;
    if presented {
        // Usually nothing needs writing: a read-only unit (no write lock on SQLite). When the
        // activity time is due, another username must be logged out or the operation writes,
        // the same steps run again in a read-write unit.
        let mut resolved = None;
        if !ops::writes(&req.operation) {
            let (r, i, policy) = (req.clone(), ip.clone(), state.policy);
            resolved = run_db_read(&state.pool, move |conn| {
                Ok(resume::resume(conn, &policy, &r, &i, now, Mode::ReadOnly)?)
            })
            .await?;
        }
        if resolved.is_none() {
            let (r, i, policy) = (req.clone(), ip.clone(), state.policy);
            resolved = run_db(&state.pool, move |conn| {
                Ok(resume::resume(conn, &policy, &r, &i, now, Mode::ReadWrite)?)
            })
            .await?;
        }
        match resolved {
            Some(Resumed::Done(out)) => return Ok(out),
            Some(Resumed::Continue(s)) => anon_session = s,
            None => {}
        }
    }
    let login = req.username.is_some() && !req.password.expose().is_empty();
    let call = Call {
        req,
        ip,
        session: anon_session,
        now,
    };
    if login {
        authenticate(state, call).await
    } else {
        anonymous(state, call).await
    }
}

/// A call past its session step: what [`anonymous`] and [`authenticate`] take.
struct Call {
    req: Arc<ApiRequest>,
    ip: Arc<String>,
    /// The presented anonymous session, if it resumed.
    session: Option<CamcopsSession>,
    now: NaiveDateTime,
}

/// No login attempted: operations open to anyone run in a read-only unit; nothing is written.
/// A presented anonymous API session (already a row) is echoed back; otherwise the reply
/// carries no session (`session_id:0`): the call's session lives only in memory for its
/// duration, so a flood of anonymous calls cannot grow the session table.
async fn anonymous(state: &AppState, call: Call) -> Result<Outcome, AppError> {
    if !ops::is_anyone_op(&call.req.operation) {
        return Ok(Outcome::sessionless(ops::without_user(&call.req.operation)));
    }
    run_db_read(&state.pool, move |conn| {
        let ctx = Ctx {
            req: &call.req,
            user: None,
            now: call.now,
            ip: &call.ip,
        };
        let reply = ops::run(conn, &ctx)?;
        Ok(match call.session {
            Some(s) if reply.success && s.id.is_some() => Outcome::with(reply, &s),
            _ => Outcome::sessionless(reply),
        })
    })
    .await
}

/// Username and password: lockout check and lookup (read-only unit), bcrypt (blocking
/// thread, no transaction open), then the failure or the login and the operation (one unit).
async fn authenticate(state: &AppState, call: Call) -> Result<Outcome, AppError> {
    let Call {
        req,
        ip,
        session,
        now,
    } = call;
    let username = req.username.clone().unwrap_or_default();
    // An address that has used up its failure budget tries no password at all.
    svc::check_address(state, &ip)?;
    let found: LoginLookup = {
        let name = username.clone();
        run_db_read(&state.pool, move |conn| Ok(svc::lookup(conn, &name, now)?)).await?
    };
    if let Some(until) = found.locked_until {
        log::warn!(
            "API login refused for locked account {username} from {ip} (locked until {until} UTC)"
        );
        return Ok(Outcome::sessionless(Reply::error(INVALID_USER)));
    }
    let (ok, upgraded) =
        svc::check_password(state, found.user.as_ref(), req.password.expose()).await?;
    let user = match (ok, found.user) {
        (true, Some(u)) => u,
        _ => {
            svc::failed_login(state, &username, &ip, AuditSource::Tablet, now).await?;
            log::warn!("API login failed for user {username} from {ip}");
            return Ok(Outcome::sessionless(Reply::error(INVALID_USER)));
        }
    };
    let out = run_db(&state.pool, move |conn| {
        let mut s = session.unwrap_or_else(|| CamcopsSession::new_unsaved(&ip, now));
        s.mark_api();
        let device_id =
            crate::models::device::Device::find_by_name(conn, &req.device)?.map(|d| d.id);
        lockout::clear_failures(conn, &user.user.username)?;
        if let Some(h) = upgraded.as_deref() {
            User::upgrade_hash(conn, user.id(), h)?;
        }
        s.login(conn, user.id(), now)?;
        audit(
            conn,
            now,
            AuditSource::Tablet,
            Some(&ip),
            Some(user.id()),
            device_id,
            "Login",
        )?;
        let ctx = Ctx {
            req: &req,
            user: Some(&user),
            now,
            ip: &ip,
        };
        let reply = ops::run(conn, &ctx)?;
        Ok(Outcome::with(reply, &s))
    })
    .await?;
    state.metrics.logins.inc();
    log::info!(
        "API login: user {username} (session {:?})",
        out.session.as_ref().map(|s| s.0)
    );
    Ok(out)
}
