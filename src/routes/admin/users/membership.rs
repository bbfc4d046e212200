//! `/edit_user_group_membership?user_group_membership_id=M` (admin §3.5): the ten
//! permission flags of one membership; `groupadmin` for superusers only. Every flag is
//! rewritten on save (an absent checkbox is false). Removing `may_use_webviewer` ends the
//! user's sessions when they can no longer use the web viewer at all.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{allow, load_target, Missing, LIST};
use crate::auth::capability::{self, Action, GRANT_GROUPADMIN, NOT_YOUR_GROUP};
use crate::auth::fresh::Need;
use crate::auth::principal::AuthUser;
use crate::auth::user_admin;
use crate::db::{run_db, run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::group::{Group, Membership, MembershipFlags};
use crate::routes::admin::post::{Opened, TargetPage};
use crate::routes::admin::request::AdminRequest;
use crate::routes::admin::{log_write, open_post, query_or_form_id};
use crate::routes::form::Fields;
use crate::routes::page::{html, see_other, PageCtx};
use crate::session::extract::{GroupAdmin, LoggedIn};
use crate::state::AppState;

/// The original's labels, in the order of [`MembershipFlags::named`].
const LABELS: [&str; 10] = [
    "Permitted to upload from a tablet/device",
    "Permitted to register tablet/client devices",
    "May log in to web front end",
    "May add, edit or delete patients created on the server",
    "May send emails to patients created on the server",
    "May view (browse) records from all patients when no patient filter set",
    "May perform bulk data dumps",
    "May run reports",
    "May add special notes to tasks",
    "User is a privileged group administrator for this group",
];

/// `?user_group_membership_id=M`.
#[derive(Debug, Deserialize)]
pub struct MembershipQuery {
    #[serde(default)]
    user_group_membership_id: Option<String>,
}

/// One checkbox.
struct FlagBox {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "edit_user_group_membership.html")]
struct MembershipPage {
    ctx: PageCtx,
    membership_id: i32,
    username: String,
    group_name: String,
    flags: Vec<FlagBox>,
}

/// The membership's id (query first, then the form), else 400 with the original's message.
fn membership_id(q: &MembershipQuery, f: Option<&Fields>) -> Result<i32, AppError> {
    let query = q.user_group_membership_id.as_deref();
    let missing = "Cannot find UserGroupMembership with id:None";
    query_or_form_id(query, f, "user_group_membership_id", missing)
}

/// The membership, its user and group name, after the checks of admin §3.5.
fn load(
    conn: &mut DbConnection,
    me: &AuthUser,
    id: i32,
) -> Result<(Membership, AuthUser, String), AppError> {
    let missing = || AppError::BadRequest(format!("Cannot find UserGroupMembership with id:{id}"));
    let m = Membership::find(conn, id)?.ok_or_else(missing)?;
    // An orphan row (the original's delete left them, admin §8.8): nothing to edit.
    let (Some(uid), Some(gid)) = (m.user_id, m.group_id) else {
        return Err(missing());
    };
    let target = load_target(conn, uid, Missing::CannotFind)?;
    allow(me, Action::EditMembership, &target)?;
    if !capability::may_administer_group(me, gid) {
        return Err(AppError::ForbiddenBecause(NOT_YOUR_GROUP.into()));
    }
    let group = Group::find(conn, gid)?.map(|g| g.name).unwrap_or_default();
    Ok((m, target, group))
}

fn render(
    li: &LoggedIn,
    m: &Membership,
    target: &AuthUser,
    group_name: String,
) -> Result<HttpResponse, AppError> {
    let su = capability::may_set_groupadmin(&li.user);
    let flags = m
        .flags
        .or_false()
        .named()
        .into_iter()
        .zip(LABELS)
        .filter(|((name, _), _)| su || *name != "groupadmin")
        .map(|((name, checked), label)| FlagBox {
            name,
            label,
            checked,
        })
        .collect();
    html(
        StatusCode::OK,
        &MembershipPage {
            ctx: PageCtx::new(&li.cs),
            membership_id: m.id,
            username: target.user.username.clone(),
            group_name,
            flags,
        },
    )
}

/// The membership page shown: the group administrator, then the membership's id.
pub struct Show;

impl TargetPage for Show {
    type Parts = (GroupAdmin, web::Query<MembershipQuery>);

    fn open((GroupAdmin(li), query): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        Ok((li, Fields::default(), membership_id(&query, None)?))
    }
}

/// The membership page posted to: [`open_post`] (back to the list), then the membership's id.
pub struct Save;

impl TargetPage for Save {
    type Parts = (
        Result<GroupAdmin, AppError>,
        web::Query<MembershipQuery>,
        web::Form<Fields>,
    );

    fn open((admin, query, form): Self::Parts) -> Result<(LoggedIn, Fields, i32), AppError> {
        let li = open_post(admin, LIST, &form)?;
        let id = membership_id(&query, Some(&form))?;
        Ok((li, form.into_inner(), id))
    }
}

/// `GET /edit_user_group_membership?user_group_membership_id=M`.
pub async fn edit_membership_form(
    state: web::Data<AppState>,
    get: Opened<Show>,
) -> Result<HttpResponse, AppError> {
    let (m, target, group) = get.read(&state, load).await?;
    render(&get.li, &m, &target, group)
}

/// `POST /edit_user_group_membership?user_group_membership_id=M`.
pub async fn edit_membership(
    state: web::Data<AppState>,
    post: Opened<Save>,
) -> Result<HttpResponse, AppError> {
    let Opened { li, form, id, .. } = post;
    let su = capability::may_set_groupadmin(&li.user);
    if !su && form.checked("groupadmin") {
        return Err(AppError::ForbiddenBecause(GRANT_GROUPADMIN.into()));
    }
    let cancel = form.has("cancel");
    let c = |name: &str| form.checked(name);
    let submitted = MembershipFlags {
        may_upload: c("may_upload"),
        may_register_devices: c("may_register_devices"),
        may_use_webviewer: c("may_use_webviewer"),
        may_manage_patients: c("may_manage_patients"),
        may_email_patients: c("may_email_patients"),
        view_all_patients_when_unfiltered: c("view_all_patients_when_unfiltered"),
        may_dump_data: c("may_dump_data"),
        may_run_reports: c("may_run_reports"),
        may_add_notes: c("may_add_notes"),
        groupadmin: c("groupadmin"),
    };
    // Whose membership it is, read first so that the write unit can lock that user's row
    // before it reads anything (and then checks the membership is still theirs).
    let owner = run_db_read(&state.pool, move |conn| {
        Ok(Membership::find(conn, id)?.and_then(|m| m.user_id))
    })
    .await?;
    let mut admin = AdminRequest::new(&li, &state);
    let ended = run_db(&state.pool, move |conn| {
        admin.lock(conn, Need::GroupAdmin, owner.as_slice())?;
        let (m, target, group) = load(conn, &admin.user, id)?;
        if m.user_id != owner {
            return Err(AppError::BadRequest(
                "This membership changed while you edited it. Go back and try again.".into(),
            ));
        }
        if cancel {
            return Ok(0);
        }
        let su = capability::may_set_groupadmin(&admin.user);
        if !su && submitted.groupadmin {
            return Err(AppError::ForbiddenBecause(GRANT_GROUPADMIN.into()));
        }
        let mut flags = submitted;
        if !su {
            flags.groupadmin = m.flags.or_false().groupadmin;
        }
        Ok(user_admin::set_membership_flags(
            conn,
            admin.actor(),
            &target,
            &m,
            &group,
            &flags,
        )?)
    })
    .await?;
    if ended > 0 {
        log_write(&li, &format!("Membership #{id} edited"), Some(ended));
    }
    Ok(see_other(LIST))
}
