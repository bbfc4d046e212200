//! `/add_group` (name only, admin §4.2) and `/edit_group?group_id=N` (admin §4.3): GET shows the form,
//! POST (CSRF) with `cancel` goes back to the list, with `submit` validates, saves, audits
//! what changed and goes back; an invalid form is shown again with its messages (400) and
//! nothing is written.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::GroupForm;
use super::opening::{EditGroup, GroupPost};
use super::{defined_idnums, find_group, GroupIdQuery, PAGE};
use crate::auth::group_admin::{self, GroupEdit};
use crate::db::{run_db, run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::group::Group;
use crate::models::ip_use::IpUseFlags;
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{check_hidden_id, open_post, HiddenId};
use crate::routes::form::Fields;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::Superuser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "add_group.html")]
struct AddGroupPage {
    ctx: PageCtx,
    name: String,
    errors: Vec<String>,
}

/// `GET /add_group`.
pub async fn add_group_form(Superuser(li): Superuser) -> Result<HttpResponse, AppError> {
    let page = AddGroupPage {
        ctx: PageCtx::new(&li.cs),
        name: String::new(),
        errors: Vec::new(),
    };
    html(StatusCode::OK, &page)
}

/// `POST /add_group` (`name`, `submit` or `cancel`, `csrf_token`): inserts the group with its
/// name only and audits "Group 'x' added".
pub async fn add_group(
    state: web::Data<AppState>,
    su: Result<Superuser, AppError>,
    form: web::Form<Fields>,
) -> Result<HttpResponse, AppError> {
    let li = open_post(su, "/add_group", &form)?;
    if form.has("cancel") {
        return Ok(see_other(PAGE));
    }
    let f = GroupForm::from_fields(&form);
    let (mut admin, name) = (AdminRequest::new(&li, &state), f.name.clone());
    let errors = run_db(&state.pool, move |conn| {
        admin.lock_groups(conn, &[], PAGE)?;
        let taken = super::form::name_ok(&f.name) && Group::name_taken(conn, &f.name, None)?;
        let errors = f.name_errors(taken);
        if errors.is_empty() {
            group_admin::create_group(conn, admin.actor(), &f.name)?;
        }
        Ok(errors)
    })
    .await?;
    if errors.is_empty() {
        li.cs.cookie.flash("success", format!("Group {name} added"));
        return Ok(see_other(PAGE));
    }
    let page = AddGroupPage {
        ctx: PageCtx::new(&li.cs),
        name,
        errors,
    };
    html(StatusCode::BAD_REQUEST, &page)
}

/// One checkbox of "Other groups this group may see".
struct OtherGroup {
    id: i32,
    name: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "edit_group.html")]
struct EditGroupPage {
    ctx: PageCtx,
    group_id: i32,
    title_name: String,
    form: GroupForm,
    others: Vec<OtherGroup>,
    idnums: String,
    errors: Vec<String>,
}

/// What the edit page needs besides the form: `(id, name)` of every other group, the
/// defined ID numbers.
struct EditContext {
    group: Group,
    others: Vec<(i32, String)>,
    idnums: Vec<i32>,
}

fn edit_context(conn: &mut DbConnection, id: i32) -> Result<EditContext, AppError> {
    let group = find_group(conn, id)?;
    let others = Group::all(conn)?
        .into_iter()
        .filter(|g| g.id != id)
        .map(|g| (g.id, g.name))
        .collect();
    Ok(EditContext {
        group,
        others,
        idnums: defined_idnums(conn)?,
    })
}

fn edit_page(
    ctx: PageCtx,
    ec: &EditContext,
    form: GroupForm,
    errors: Vec<String>,
) -> EditGroupPage {
    let others = ec
        .others
        .iter()
        .map(|(id, name)| OtherGroup {
            id: *id,
            name: name.clone(),
            checked: form.group_ids.contains(&id.to_string()),
        })
        .collect();
    let idnums: Vec<String> = ec.idnums.iter().map(i32::to_string).collect();
    EditGroupPage {
        ctx,
        group_id: ec.group.id,
        title_name: ec.group.name.clone(),
        form,
        others,
        idnums: if idnums.is_empty() {
            "none".to_owned()
        } else {
            idnums.join(", ")
        },
        errors,
    }
}

/// The form showing the stored group.
fn stored_form(conn: &mut DbConnection, g: &Group) -> Result<GroupForm, AppError> {
    let ip_use = match g.ip_use_id {
        Some(id) => IpUseFlags::find(conn, id)?.unwrap_or_default(),
        None => IpUseFlags::default(),
    };
    let mut group_ids: Vec<i32> = Group::ids_seen_by(conn, &[g.id])?;
    group_ids.sort_unstable();
    Ok(GroupForm {
        name: g.name.clone(),
        description: g.description.clone().unwrap_or_default(),
        upload_policy: g.upload_policy.clone().unwrap_or_default(),
        finalize_policy: g.finalize_policy.clone().unwrap_or_default(),
        ip_use,
        group_ids: group_ids.iter().map(i32::to_string).collect(),
    })
}

/// `GET /edit_group?group_id=N`.
pub async fn edit_group_form(
    state: web::Data<AppState>,
    Superuser(li): Superuser,
    query: web::Query<GroupIdQuery>,
) -> Result<HttpResponse, AppError> {
    let id = query.id()?;
    let (ec, form) = run_db_read(&state.pool, move |conn| {
        let ec = edit_context(conn, id)?;
        let form = stored_form(conn, &ec.group)?;
        Ok((ec, form))
    })
    .await?;
    let page = edit_page(PageCtx::new(&li.cs), &ec, form, Vec::new());
    html(StatusCode::OK, &page)
}

/// "name 'a' → 'b'" parts of the audit row for what changed.
fn changes(old: &GroupForm, new: &GroupForm, names: &[(i32, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (label, a, b) in [
        ("name", &old.name, &new.name),
        ("description", &old.description, &new.description),
        ("upload_policy", &old.upload_policy, &new.upload_policy),
        (
            "finalize_policy",
            &old.finalize_policy,
            &new.finalize_policy,
        ),
    ] {
        if a.trim() != b.trim() {
            out.push(format!("{label} '{}' → '{}'", a.trim(), b.trim()));
        }
    }
    if old.ip_use != new.ip_use {
        out.push(format!(
            "ip_use {} → {}",
            old.ip_use.describe(),
            new.ip_use.describe()
        ));
    }
    let named = |ids: &[String]| {
        let mut v: Vec<String> = ids
            .iter()
            .map(|id| {
                names
                    .iter()
                    .find(|(g, _)| g.to_string() == *id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| id.clone())
            })
            .collect();
        v.sort();
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let (a, b) = (named(&old.group_ids), named(&new.group_ids));
    if a != b {
        out.push(format!("may see {a} → {b}"));
    }
    out
}

/// `POST /edit_group?group_id=N`: `cancel`, or `submit` with `group_id` (hidden, must be
/// N), `name`, `description`, `upload_policy`, `finalize_policy`, the four IP-use
/// checkboxes `clinical`, `commercial`, `educational`, `research` (all kept: the original's
/// form lost the last two) and `group_ids` (repeated: the other groups it may see).
pub async fn edit_group(
    state: web::Data<AppState>,
    post: GroupPost<EditGroup>,
) -> Result<HttpResponse, AppError> {
    let GroupPost { li, form, id, .. } = post;
    if form.has("cancel") {
        return Ok(see_other(PAGE));
    }
    let mismatch = "The form's group_id does not match the group being edited.";
    check_hidden_id(&form, "group_id", id, HiddenId::IfSent, mismatch)?;
    let mut f = GroupForm::from_fields(&form);
    f.upload_policy = f.upload_policy.trim().to_owned();
    f.finalize_policy = f.finalize_policy.trim().to_owned();
    let (mut admin, f2) = (AdminRequest::new(&li, &state), f.clone());
    let (ec, errors) = run_db(&state.pool, move |conn| {
        admin.lock_groups(conn, &[id], PAGE)?;
        let ec = edit_context(conn, id)?;
        // Unique regardless of case for a new name; a stored name kept as it is stays allowed
        // (clashes CamCOPS left are reported by upgrade-db, not refused here).
        let taken = super::form::name_ok(&f2.name)
            && f2.name != ec.group.name
            && Group::name_taken(conn, &f2.name, Some(id))?;
        match f2.validate(taken, &ec.others, &ec.idnums) {
            Err(errors) => Ok((ec, errors)),
            Ok((fields, can_see)) => {
                let old = stored_form(conn, &ec.group)?;
                let mut new = f2.clone();
                new.group_ids = can_see.iter().map(i32::to_string).collect();
                let what = changes(&old, &new, &ec.others);
                let edit = GroupEdit {
                    fields: &fields,
                    ip_use: &f2.ip_use,
                    can_see: &can_see,
                };
                group_admin::save_group(conn, admin.actor(), &ec.group, &edit, &what)?;
                Ok((ec, Vec::new()))
            }
        }
    })
    .await?;
    if errors.is_empty() {
        li.cs
            .cookie
            .flash("success", format!("Group {} saved", f.name));
        return Ok(see_other(PAGE));
    }
    let status = ok_or_bad_request(!errors.is_empty());
    html(status, &edit_page(PageCtx::new(&li.cs), &ec, f, errors))
}
