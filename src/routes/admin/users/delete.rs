//! `/delete_user?user_id=N` (admin §3.10): refused, with the original's reasons, for
//! oneself, a user who may still log in or upload, a user in groups the requester does not
//! administer, or a user records or audit rows refer to. Otherwise a confirmation form: three
//! ticks, one untick, and a code the server chose (kept in the requester's session, not in
//! the page; the original trusted both halves from the browser, admin §8.2). Deleting removes the
//! user's memberships and sessions in the same transaction (the original left memberships
//! behind, admin §8.8) and is audited.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use rand::Rng;

use super::opening::{NoSuchUser, UserGet};
use super::{target_for, Missing, TargetUser, UserIdQuery, LIST};
use crate::auth::capability::{self, Action, DELETE_RECORDS};
use crate::auth::fresh::Need;
use crate::auth::principal::AuthUser;
use crate::auth::user_admin;
use crate::db::{run_db, DbConnection};
use crate::error::AppError;
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{check_hidden_id, open_post, report_write, HiddenId};
use crate::routes::form::Fields;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::{GroupAdmin, LoggedIn};
use crate::state::AppState;

const ROUTE: &str = "delete_user";
/// The four boxes were not set as asked.
pub const NOT_CONFIRMED: &str = "Not fully confirmed";

#[derive(Template)]
#[template(path = "delete_user.html")]
struct DeletePage<'a> {
    ctx: PageCtx,
    target: TargetUser,
    code: String,
    error: Option<&'a str>,
}

/// Loads the target and applies admin §3.10's checks: `Err` with the first refusal.
fn deletable(conn: &mut DbConnection, me: &AuthUser, id: i32) -> Result<AuthUser, AppError> {
    let target = target_for(conn, me, id, Missing::NoSuchUser, Action::Delete)?;
    let records = user_admin::records_refer_to_user(conn, id)?;
    match capability::delete_refusal(me, &target, records) {
        Some(reason) => Err(AppError::ForbiddenBecause(reason.into())),
        None => Ok(target),
    }
}

fn render(
    li: &LoggedIn,
    target: &AuthUser,
    code: String,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    html(
        ok_or_bad_request(error.is_some()),
        &DeletePage {
            ctx: PageCtx::new(&li.cs),
            target: TargetUser::of(target),
            code,
            error,
        },
    )
}

/// `GET /delete_user?user_id=N`: the refusal, or the form with a fresh code.
pub async fn delete_user_form(
    state: web::Data<AppState>,
    get: UserGet<NoSuchUser>,
) -> Result<HttpResponse, AppError> {
    let UserGet { li, id, .. } = get;
    let code = format!("{:04}", rand::thread_rng().gen_range(0..10_000));
    let me = li.user.clone();
    let mut session = li.cs.session.clone();
    session.form_state.enter(ROUTE, true);
    session.form_state.target_user_id = Some(id);
    session.form_state.confirm_code = Some(code.clone());
    let target = run_db(&state.pool, move |conn| {
        let target = deletable(conn, &me, id)?;
        session.save_form_state(conn)?;
        Ok(target)
    })
    .await?;
    render(&li, &target, code, None)
}

/// `POST /delete_user?user_id=N` (`confirm_1_t`, `confirm_2_t`, `confirm_3_f`, `confirm_4_t`,
/// `user_id`, `user_entry`, `delete` or `cancel`).
pub async fn delete_user(
    state: web::Data<AppState>,
    admin: Result<GroupAdmin, AppError>,
    query: web::Query<UserIdQuery>,
    form: web::Form<Fields>,
) -> Result<HttpResponse, AppError> {
    let li = open_post(admin, LIST, &form)?;
    if form.has("cancel") {
        return Ok(see_other(LIST));
    }
    let id = query.id(Some(&form), Missing::NoSuchUser)?;
    let mismatch = "The form's user_id does not match the address's.";
    check_hidden_id(&form, "user_id", id, HiddenId::IfFilled, mismatch)?;
    let fs = &li.cs.session.form_state;
    let stored = (fs.route_name.as_deref() == Some(ROUTE) && fs.target_user_id == Some(id))
        .then(|| fs.confirm_code.clone())
        .flatten();
    let confirmed = form.checked("confirm_1_t")
        && form.checked("confirm_2_t")
        && !form.checked("confirm_3_f")
        && form.checked("confirm_4_t");
    let entry = form.text("user_entry").trim().to_string();
    let error = match &stored {
        _ if !confirmed => Some(NOT_CONFIRMED.to_string()),
        Some(code) if *code == entry => None,
        Some(code) => Some(format!(
            "Not correctly validated (user_entry_value='{}', target_value='{code}')",
            entry.chars().take(10).collect::<String>()
        )),
        None => Some("This confirmation has expired: enter the new code shown.".into()),
    };
    let admin = AdminRequest::new(&li, &state);
    let mut session = li.cs.session.clone();
    if let Some(error) = error {
        let code =
            stored.unwrap_or_else(|| format!("{:04}", rand::thread_rng().gen_range(0..10_000)));
        session.form_state.enter(ROUTE, true);
        session.form_state.target_user_id = Some(id);
        session.form_state.confirm_code = Some(code.clone());
        let target = run_db(&state.pool, move |conn| {
            let target = deletable(conn, &admin.user, id)?;
            session.save_form_state(conn)?;
            Ok(target)
        })
        .await?;
        return render(&li, &target, code, Some(&error));
    }
    session.form_state.finish();
    let mut admin = admin;
    let (username, ended) = run_db(&state.pool, move |conn| {
        // The refusals of the delete rules judged on the state under lock.
        admin.lock(conn, Need::GroupAdmin, &[id])?;
        let target = deletable(conn, &admin.user, id)?;
        let ended = match user_admin::delete_user(conn, admin.actor(), &target) {
            // A CamCOPS table this server does not know refers to the user.
            Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
                return Err(AppError::ForbiddenBecause(DELETE_RECORDS.into()))
            }
            other => other?,
        };
        session.save_form_state(conn)?;
        Ok((target.user.username, ended))
    })
    .await?;
    let done = format!("User {username} (#{id}) deleted");
    report_write(&li, &done, Some(ended), &format!("User {username} deleted"));
    Ok(see_other(LIST))
}
