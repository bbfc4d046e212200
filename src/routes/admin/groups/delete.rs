//! `/delete_group?group_id=N` (admin §4.4): GET shows the refusal (the original's messages) or a
//! confirmation form; POST (CSRF, `confirm` ticked, hidden `group_id` equal to N) deletes the
//! group with its visibility rows and IP-use row and audits it. A refusal is never a 500:
//! anything else that still refers to the group (a CamCOPS task schedule, a client table)
//! makes the database refuse, and that is shown as "records refer to it".

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::opening::{DeleteGroup, GroupPost};
use super::{find_group, GroupIdQuery, PAGE};
use crate::auth::group_admin;
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::models::group::Group;
use crate::models::group_admin::DeleteRefusal;
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{check_hidden_id, HiddenId};
use crate::routes::page::{html, see_other, PageCtx};
use crate::session::extract::Superuser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "delete_group.html")]
struct DeleteGroupPage {
    ctx: PageCtx,
    group_id: i32,
    name: String,
    refusal: Option<&'static str>,
    error: Option<&'static str>,
}

/// `GET /delete_group?group_id=N`.
pub async fn delete_group_form(
    state: web::Data<AppState>,
    Superuser(li): Superuser,
    query: web::Query<GroupIdQuery>,
) -> Result<HttpResponse, AppError> {
    let id = query.id()?;
    let (group, refusal) = run_db_read(&state.pool, move |conn| {
        let group = find_group(conn, id)?;
        Ok((group, Group::delete_refusal(conn, id)?))
    })
    .await?;
    let page = DeleteGroupPage {
        ctx: PageCtx::new(&li.cs),
        group_id: group.id,
        name: group.name,
        refusal: refusal.map(DeleteRefusal::message),
        error: None,
    };
    html(StatusCode::OK, &page)
}

fn is_fk_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _
        )
    )
}

/// What a delete attempt came to.
enum Outcome {
    Deleted(String),
    Refused(String, DeleteRefusal),
}

/// `POST /delete_group?group_id=N` (`delete` or `cancel`, `confirm`, `group_id`,
/// `csrf_token`).
pub async fn delete_group(
    state: web::Data<AppState>,
    post: GroupPost<DeleteGroup>,
) -> Result<HttpResponse, AppError> {
    let GroupPost { li, form, id, .. } = post;
    if form.has("cancel") {
        return Ok(see_other(PAGE));
    }
    let mismatch = "The form's group_id does not match the group being deleted.";
    check_hidden_id(&form, "group_id", id, HiddenId::Required, mismatch)?;
    // Only these four words (not every word of `Fields::checked`), as before.
    let confirmed = form
        .all("confirm")
        .iter()
        .any(|v| matches!(v.as_str(), "true" | "on" | "1" | "yes"));
    let mut admin = AdminRequest::new(&li, &state);
    let outcome = run_db(&state.pool, move |conn| {
        admin.lock_groups(conn, &[id], PAGE)?;
        let group = find_group(conn, id)?;
        if let Some(r) = Group::delete_refusal(conn, id)? {
            return Ok(Ok(Outcome::Refused(group.name, r)));
        }
        if !confirmed {
            return Ok(Err(group.name));
        }
        match group_admin::delete_group(conn, admin.actor(), &group) {
            Ok(()) => Ok(Ok(Outcome::Deleted(group.name))),
            // The transaction is rolled back by returning an error.
            Err(e) if is_fk_violation(&e) => Err(AppError::BadRequest(
                DeleteRefusal::RecordsReferToIt.message().into(),
            )),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let (name, refusal, error) = match outcome {
        Ok(Outcome::Deleted(name)) => {
            li.cs
                .cookie
                .flash("success", format!("Group {name} deleted"));
            return Ok(see_other(PAGE));
        }
        Ok(Outcome::Refused(name, r)) => (name, Some(r.message()), None),
        Err(name) => (name, None, Some("Not fully confirmed")),
    };
    let page = DeleteGroupPage {
        ctx: PageCtx::new(&li.cs),
        group_id: id,
        name,
        refusal,
        error,
    };
    html(StatusCode::BAD_REQUEST, &page)
}
