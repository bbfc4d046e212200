//! `/add_user` (admin §3.3): a username, a password (the project's rules, typed twice),
//! "must change password" (ticked by default) and groups: any for a superuser, at least one of
//! their own for a group administrator; and, for those groups, "may use the web viewer" and
//! "may upload" (every other flag false), written in the same unit as the user. Then the
//! administrator lands on the new user's page, which says whether they can log in.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::{check_username, GROUP_ITEM};
use super::{check_new_password, group_choices, Errors, GroupChoice, LIST};
use crate::auth::capability::{self, GRANT_SUPERUSER};
use crate::auth::fresh::Need;
use crate::auth::password;
use crate::auth::user_admin::{self, NewAccount};
use crate::blocking::run_hashing;
use crate::db::{run_db, run_db_read};
use crate::error::AppError;
use crate::models::group::Group;
use crate::models::user::User;
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{open_post, report_write};
use crate::routes::form::Fields;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::GroupAdmin;
use crate::state::AppState;

const PATH: &str = "/add_user";

#[derive(Template)]
#[template(path = "add_user.html")]
struct AddPage {
    ctx: PageCtx,
    username: String,
    must_change_password: bool,
    grants: Grants,
    groups: Vec<GroupChoice>,
    errors: Errors,
    min_length: usize,
}

/// The permissions the form grants in every chosen group.
#[derive(Debug, Clone, Copy, Default)]
struct Grants {
    may_use_webviewer: bool,
    may_upload: bool,
}

fn render(
    li: &crate::session::extract::LoggedIn,
    username: String,
    must_change_password: bool,
    grants: Grants,
    groups: Vec<GroupChoice>,
    errors: Errors,
) -> Result<HttpResponse, AppError> {
    let has_errors = !errors.is_empty();
    html(
        ok_or_bad_request(has_errors),
        &AddPage {
            ctx: PageCtx::new(&li.cs),
            username,
            must_change_password,
            grants,
            groups,
            errors,
            min_length: password::MINIMUM_PASSWORD_LENGTH,
        },
    )
}

/// `GET /add_user`.
pub async fn add_user_form(
    state: web::Data<AppState>,
    GroupAdmin(li): GroupAdmin,
) -> Result<HttpResponse, AppError> {
    let me = li.user.clone();
    let groups = run_db_read(&state.pool, move |conn| group_choices(conn, &me, &[])).await?;
    render(
        &li,
        String::new(),
        true,
        Grants::default(),
        groups,
        Errors::default(),
    )
}

/// `POST /add_user`: `cancel` goes back to the list; otherwise validate, hash, insert.
pub async fn add_user(
    state: web::Data<AppState>,
    admin: Result<GroupAdmin, AppError>,
    form: web::Form<Fields>,
) -> Result<HttpResponse, AppError> {
    let li = open_post(admin, PATH, &form)?;
    if form.has("cancel") {
        return Ok(see_other(LIST));
    }
    if form.checked("superuser") && !capability::may_set_superuser(&li.user) {
        return Err(AppError::ForbiddenBecause(GRANT_SUPERUSER.into()));
    }
    let username = form.text("username").trim().to_string();
    let must_change = form.checked("must_change_password");
    let grants = Grants {
        may_use_webviewer: form.checked("may_use_webviewer"),
        may_upload: form.checked("may_upload"),
    };
    let mut errors = Errors::default();
    errors.check("username", check_username(&username));
    errors.check("new_password", check_new_password(&form));
    let submitted = errors
        .check("group_ids", form.ints(GROUP_ITEM))
        .unwrap_or_default();
    let me = li.user.clone();
    let (name, ticked) = (username.clone(), submitted.clone());
    let (groups, taken) = run_db_read(&state.pool, move |conn| {
        let groups = group_choices(conn, &me, &ticked)?;
        Ok((
            groups,
            User::id_by_username_any_case(conn, &name, None)?.is_some(),
        ))
    })
    .await?;
    let offered: Vec<i32> = groups.iter().map(|g| g.id).collect();
    let final_groups = errors.check(
        "group_ids",
        capability::final_groups(&li.user, &offered, &submitted, &[]).map_err(|e| e.to_string()),
    );
    if taken && errors.get("username").is_none() {
        errors.0.push((
            "username",
            format!("User with username '{username}' already exists!"),
        ));
    }
    let Some(final_groups) = final_groups.filter(|_| errors.is_empty()) else {
        return render(&li, username, must_change, grants, groups, errors);
    };
    let (pw, cost) = (
        form.text("new_password").to_string(),
        state.settings.bcrypt_cost,
    );
    let hash = run_hashing(move || password::hash(&pw, cost)).await??;
    let mut admin = AdminRequest::new(&li, &state);
    let language = li.user.user.language.clone();
    let name = username.clone();
    let created = run_db(&state.pool, move |conn| {
        // The administrator as they are now (locked), and the groups checked against that.
        admin.lock(conn, Need::GroupAdmin, &[])?;
        let all: Vec<i32> = Group::all(conn)?.into_iter().map(|g| g.id).collect();
        let offered = capability::assignable_groups(&admin.user, &all);
        capability::final_groups(&admin.user, &offered, &final_groups, &[])
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        // Checked again inside the writing transaction (a concurrent add), in any case.
        if User::id_by_username_any_case(conn, &name, None)?.is_some() {
            return Ok(None);
        }
        let new = NewAccount {
            username: &name,
            hash: &hash,
            must_change_password: must_change,
            language: language.as_deref(),
            group_ids: &final_groups,
            may_use_webviewer: grants.may_use_webviewer,
            may_upload: grants.may_upload,
        };
        Ok(Some(user_admin::create_user(conn, admin.actor(), &new)?))
    })
    .await?;
    let Some(id) = created else {
        errors.0.push((
            "username",
            format!("User with username '{username}' already exists!"),
        ));
        return render(&li, username, must_change, grants, groups, errors);
    };
    let done = format!("User {username} (#{id}) created");
    report_write(&li, &done, None, &format!("User {username} created"));
    Ok(see_other(&format!("/view_user?user_id={id}")))
}
