//! `/edit_user?user_id=N` (admin §3.4): username, full name, e-mail, "must change
//! password", language, groups and (superusers only) the superuser flag. The form shows the
//! target's groups the editor administers ("fluid"); the others ("frozen") are kept (admin §2.1).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::form::{self, check_email, check_language, check_length, check_username};
use super::opening::{CannotFind, UserGet, UserPost};
use super::{group_choices, target_for, Errors, GroupChoice, Missing, LIST};
use crate::auth::capability::{self, Action, GRANT_SUPERUSER, OWN_SUPERUSER};
use crate::auth::principal::AuthUser;
use crate::auth::user_admin::{self, AccountEdit};
use crate::db::{run_db, DbConnection};
use crate::error::AppError;
use crate::messaging::phone;
use crate::models::group::Group;
use crate::models::user::{User, UserDetails};
use crate::routes::admin::log_write;
use crate::routes::admin::request::AdminRequest;
use crate::routes::form::Fields;
use crate::routes::page::{html, ok_or_bad_request, see_other, PageCtx};
use crate::session::extract::LoggedIn;
use crate::state::AppState;

/// Refusal of a blank e-mail while MFA codes go to it.
pub const EMAIL_USED_FOR_MFA: &str = "This user's email address is used for multi-factor \
    authentication. If you want to remove their email address, you must first disable \
    multi-factor authentication";

/// Refusal of a blank phone number while MFA codes go to it (the same rule for `hotp_sms`).
pub const PHONE_USED_FOR_MFA: &str = "This user's phone number is used for multi-factor \
    authentication. If you want to remove their phone number, you must first disable \
    multi-factor authentication";

#[derive(Template)]
#[template(path = "edit_user.html")]
struct EditPage {
    ctx: PageCtx,
    user_id: i32,
    old_username: String,
    username: String,
    fullname: String,
    email: String,
    phone_number: String,
    region_code: String,
    must_change_password: bool,
    language: String,
    languages: [(&'static str, &'static str); 2],
    superuser: Option<bool>,
    groups: Vec<GroupChoice>,
    frozen: Vec<String>,
    errors: Errors,
}

/// What the form needs from the database.
struct Loaded {
    target: AuthUser,
    groups: Vec<GroupChoice>,
    frozen: Vec<String>,
    /// Another user with the submitted username.
    conflict: Option<i32>,
}

fn load(
    conn: &mut DbConnection,
    me: &AuthUser,
    id: i32,
    username: Option<&str>,
    ticked: Option<&[i32]>,
) -> Result<Loaded, AppError> {
    let target = target_for(conn, me, id, Missing::CannotFind, Action::Edit)?;
    let (fluid, frozen) = capability::fluid_and_frozen(me, &target.group_ids());
    let groups = group_choices(conn, me, ticked.unwrap_or(&fluid))?;
    let frozen = Group::with_ids(conn, &frozen)?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let conflict = match username {
        Some(name) => name_conflict(conn, &target, name)?,
        None => None,
    };
    Ok(Loaded {
        target,
        groups,
        frozen,
        conflict,
    })
}

/// Another user whose name clashes with `name`: regardless of case when the name is new, exactly
/// when it is kept (a case clash CamCOPS left stays editable; `upgrade-db` reports it).
fn name_conflict(
    conn: &mut DbConnection,
    target: &AuthUser,
    name: &str,
) -> Result<Option<i32>, AppError> {
    let id = target.id();
    Ok(if name == target.user.username {
        User::id_by_username(conn, name)?.filter(|&other| other != id)
    } else {
        User::id_by_username_any_case(conn, name, Some(id))?
    })
}

fn render(
    state: &AppState,
    li: &LoggedIn,
    loaded: Loaded,
    f: Option<&Fields>,
    errors: Errors,
) -> Result<HttpResponse, AppError> {
    let u = &loaded.target.user;
    let text = |name: &str, stored: Option<&str>| match f {
        Some(f) => f.text(name).trim().to_string(),
        None => stored.unwrap_or("").to_string(),
    };
    let has_errors = !errors.is_empty();
    html(
        ok_or_bad_request(has_errors),
        &EditPage {
            ctx: PageCtx::new(&li.cs),
            user_id: u.id,
            old_username: u.username.clone(),
            username: text("username", Some(&u.username)),
            fullname: text("fullname", u.fullname.as_deref()),
            email: text("email", u.email.as_deref()),
            phone_number: text("phone_number", u.phone_number.as_deref()),
            region_code: state.settings.region_code.clone(),
            must_change_password: f.map_or(u.must_change_password(), |f| {
                f.checked("must_change_password")
            }),
            language: text("language", u.language.as_deref()),
            languages: form::LANGUAGES,
            superuser: capability::may_set_superuser(&li.user)
                .then(|| f.map_or(u.is_superuser(), |f| f.checked("superuser"))),
            groups: loaded.groups,
            frozen: loaded.frozen,
            errors,
        },
    )
}

/// `GET /edit_user?user_id=N`.
pub async fn edit_user_form(
    state: web::Data<AppState>,
    get: UserGet<CannotFind>,
) -> Result<HttpResponse, AppError> {
    let loaded = get
        .read(&state, |conn, me, id| load(conn, me, id, None, None))
        .await?;
    render(&state, &get.li, loaded, None, Errors::default())
}

/// `POST /edit_user?user_id=N`.
pub async fn edit_user(
    state: web::Data<AppState>,
    post: UserPost<CannotFind>,
) -> Result<HttpResponse, AppError> {
    let mut errors = Errors::default();
    let username = post.form.text("username").trim().to_string();
    let submitted = errors
        .check("group_ids", post.form.ints(form::GROUP_ITEM))
        .unwrap_or_default();
    let (name, ticked) = (username.clone(), submitted.clone());
    let loaded = post
        .read(&state, move |conn, me, id| {
            load(conn, me, id, Some(&name), Some(&ticked))
        })
        .await?;
    let UserPost { li, form, id, .. } = post;
    if form.has("cancel") {
        return Ok(see_other(LIST));
    }
    let superuser = if capability::may_set_superuser(&li.user) {
        Some(form.checked("superuser"))
    } else if form.checked("superuser") {
        return Err(AppError::ForbiddenBecause(GRANT_SUPERUSER.into()));
    } else {
        None
    };
    if superuser == Some(false) && id == li.user.id() {
        return Err(AppError::ForbiddenBecause(OWN_SUPERUSER.into()));
    }
    errors.check("username", check_username(&username));
    let fullname = form.text("fullname").trim().to_string();
    errors.check("fullname", check_length(&fullname));
    let email = form.text("email").trim().to_string();
    errors.check("email", check_email(&email));
    if email.is_empty() && loaded.target.user.mfa_method == "hotp_email" {
        errors.0.push(("email", EMAIL_USED_FOR_MFA.into()));
    }
    // Stored in E.164; numbers without +country are read in REGION_CODE's region.
    let phone_input = form.text("phone_number").trim().to_string();
    let phone_number = if phone_input.is_empty() {
        if loaded.target.user.mfa_method == "hotp_sms" {
            errors.0.push(("phone_number", PHONE_USED_FOR_MFA.into()));
        }
        None
    } else {
        errors.check(
            "phone_number",
            phone::parse(&phone_input, &state.settings.region_code).map_err(|e| e.to_string()),
        )
    };
    let language = errors
        .check("language", check_language(form.text("language").trim()))
        .unwrap_or("en_GB")
        .to_string();
    if let Some(other) = loaded.conflict {
        errors.0.push((
            "username",
            format!(
                "Can't rename user '{}' (#{id}) → '{username}'; that conflicts with an \
                 existing user with ID {other}",
                loaded.target.user.username
            ),
        ));
    }
    let offered: Vec<i32> = loaded.groups.iter().map(|g| g.id).collect();
    let (_, frozen) = capability::fluid_and_frozen(&li.user, &loaded.target.group_ids());
    let final_groups = errors.check(
        "group_ids",
        capability::final_groups(&li.user, &offered, &submitted, &frozen)
            .map_err(|e| e.to_string()),
    );
    if final_groups.is_none() || !errors.is_empty() {
        return render(&state, &li, loaded, Some(&form), errors);
    }
    let must_change_password = form.checked("must_change_password");
    let mut admin = AdminRequest::new(&li, &state);
    let outcome = run_db(&state.pool, move |conn| {
        // Decided again on the state under lock: the administrator's rights, the target's
        // groups (a group added by someone else since the form was read is kept, not removed),
        // and the username.
        let target = admin.lock_target(conn, id, Missing::CannotFind, Action::Edit)?;
        if superuser.is_some() && !capability::may_set_superuser(&admin.user) {
            return Err(AppError::ForbiddenBecause(GRANT_SUPERUSER.into()));
        }
        let all: Vec<i32> = Group::all(conn)?.into_iter().map(|g| g.id).collect();
        let offered = capability::assignable_groups(&admin.user, &all);
        let (_, frozen) = capability::fluid_and_frozen(&admin.user, &target.group_ids());
        let final_groups = capability::final_groups(&admin.user, &offered, &submitted, &frozen)
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        if name_conflict(conn, &target, &username)?.is_some() {
            return Ok(None);
        }
        let edit = AccountEdit {
            details: UserDetails {
                username: &username,
                fullname: &fullname,
                email: &email,
                phone_number: phone_number.as_deref(),
                must_change_password,
                language: &language,
            },
            superuser,
            group_ids: &final_groups,
        };
        Ok(Some(user_admin::edit_user(
            conn,
            admin.actor(),
            &target,
            &edit,
        )?))
    })
    .await?;
    match outcome {
        Some(ended) => {
            log_write(&li, &format!("User #{id} edited"), Some(ended));
            Ok(see_other(LIST))
        }
        None => Err(AppError::BadRequest(
            "That username was taken a moment ago. Go back and choose another.".into(),
        )),
    }
}
