//! `/set_filters` (sessions §4.6): edit or clear the session's task filter. "Set filters" validates
//! and saves, then 303 to `redirect_url` (same-site only; default `/view_tasks`); errors
//! re-render the form (200) and save nothing. "Clear" clears it and 303s back here. Both are
//! CSRF-checked. User and group choices are limited to what the requester may see (for
//! groups: all groups they may see, not only their own — sessions §7.3 item 14).

pub mod choices;
pub mod form;
pub mod hidden;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use self::choices::{load_choices, FilterChoices};
use self::form::{FilterForm, SEX_CHOICES};
use self::hidden::HiddenCriteria;
use super::form::{Fields, Posted};
use super::page::{html, safe_redirect, PageCtx};
use crate::db::{run_db, run_db_read};
use crate::error::{url_encode, AppError};
use crate::models::task_filter::TaskFilter;
use crate::models::task_registry;
use crate::session::extract::{CurrentSession, HappyUser};
use crate::state::AppState;

const DEFAULT_REDIRECT: &str = "/view_tasks";
/// ID number rows always offered (a browser without JavaScript cannot add rows).
const MIN_IDNUM_ROWS: usize = 3;

/// One `<option>` or checkbox.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One ID number row: a type select and a value.
struct IdRow {
    index: usize,
    options: Vec<Choice>,
    value: String,
}

#[derive(Template)]
#[template(path = "set_filters.html")]
struct SetFiltersPage {
    ctx: PageCtx,
    redirect_url: String,
    errors: Vec<String>,
    form: FilterForm,
    sexes: Vec<Choice>,
    idnum_rows: Vec<IdRow>,
    tasks: Vec<Choice>,
    devices: Vec<Choice>,
    users: Vec<Choice>,
    groups: Vec<Choice>,
    superuser: bool,
    hidden: Vec<String>,
}

fn choices_of(offered: &[(i32, String)], picked: &[String]) -> Vec<Choice> {
    offered
        .iter()
        .map(|(id, label)| {
            let value = id.to_string();
            Choice {
                selected: picked.contains(&value),
                value,
                label: label.clone(),
            }
        })
        .collect()
}

impl SetFiltersPage {
    fn build(
        ctx: PageCtx,
        redirect_url: String,
        errors: Vec<String>,
        form: FilterForm,
        choices: &FilterChoices,
        superuser: bool,
        hidden: &HiddenCriteria,
    ) -> SetFiltersPage {
        let sexes = std::iter::once(("", "Any"))
            .chain(SEX_CHOICES.iter().map(|s| (*s, *s)))
            .map(|(v, l)| Choice {
                value: v.to_owned(),
                label: l.to_owned(),
                selected: form.sex.trim() == v,
            })
            .collect();
        let n_rows = (form.idnums.len() + 1).max(MIN_IDNUM_ROWS);
        let idnum_rows = (0..n_rows)
            .map(|i| {
                let (which, value) = form.idnums.get(i).cloned().unwrap_or_default();
                let which = which.trim().to_owned();
                let mut options = vec![Choice {
                    value: String::new(),
                    label: "[ignore]".to_owned(),
                    selected: which.is_empty(),
                }];
                options.extend(choices.idnum_defs.iter().map(|d| {
                    let v = d.which_idnum.to_string();
                    Choice {
                        selected: v == which,
                        label: d.description.clone().unwrap_or_else(|| d.short_name()),
                        value: v,
                    }
                }));
                IdRow {
                    index: i + 1,
                    options,
                    value,
                }
            })
            .collect();
        let tasks = task_registry::all()
            .iter()
            .map(|t| Choice {
                value: t.table.to_owned(),
                label: format!("{} — {}", t.short_name, t.long_name),
                selected: form.tasks.iter().any(|x| x == t.table),
            })
            .collect();
        SetFiltersPage {
            ctx,
            redirect_url,
            errors,
            devices: choices_of(&choices.devices, &form.device_ids),
            users: choices_of(&choices.users, &form.user_ids),
            groups: choices_of(&choices.groups, &form.group_ids),
            form,
            sexes,
            idnum_rows,
            tasks,
            superuser,
            hidden: hidden.lines(),
        }
    }
}

/// The id of the session's task filter, creating it (and linking the session to it) on
/// first use (sessions §2.11). Only that first use writes.
pub async fn session_filter_id(state: &AppState, cs: &CurrentSession) -> Result<i32, AppError> {
    if let Some(id) = cs.session.task_filter_id {
        return Ok(id);
    }
    let mut session = cs.session.clone();
    let was_saved = session.id.is_some();
    let (fid, session) = run_db(&state.pool, move |conn| {
        let fid = session.get_task_filter_id(conn)?;
        Ok((fid, session))
    })
    .await?;
    if !was_saved {
        cs.remember(&session);
    }
    Ok(fid)
}

/// The query string's fields (the same reader as a form body).
fn query_fields(req: &HttpRequest) -> Result<Fields, AppError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|_| AppError::BadRequest("The address has bad query parameters.".into()))
}

/// The `redirect_url` field, when sent.
fn redirect_param(f: &Fields) -> Option<&str> {
    f.has("redirect_url").then(|| f.text("redirect_url"))
}

/// `GET /set_filters`: the current filter in the form.
pub async fn set_filters_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    HappyUser(li): HappyUser,
) -> Result<HttpResponse, AppError> {
    let query = query_fields(&req)?;
    let redirect_url = safe_redirect(redirect_param(&query), DEFAULT_REDIRECT)?;
    let filter_id = session_filter_id(&state, &li.cs).await?;
    let user = li.user.clone();
    let (filter, choices) = run_db_read(&state.pool, move |conn| {
        let filter = TaskFilter::load(conn, filter_id)?.unwrap_or_default();
        Ok((filter, load_choices(conn, &user)?))
    })
    .await?;
    html(
        StatusCode::OK,
        &SetFiltersPage::build(
            PageCtx::new(&li.cs),
            redirect_url,
            Vec::new(),
            FilterForm::from_filter(&filter),
            &choices,
            li.user.is_superuser(),
            &HiddenCriteria::of(&filter, &choices),
        ),
    )
}

/// Outcome of a "Set filters" unit.
enum SetOutcome {
    Saved,
    Invalid(Box<(Vec<String>, FilterChoices, HiddenCriteria)>),
}

/// `POST /set_filters`: `set_filters` or `clear_filters` (CSRF-checked), fields as plain
/// form fields with repeated names for lists.
pub async fn set_filters(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted {
        who: HappyUser(li),
        form,
    }: Posted<HappyUser>,
) -> Result<HttpResponse, AppError> {
    let query = query_fields(&req)?;
    let raw_redirect = redirect_param(&form).or_else(|| redirect_param(&query));
    let redirect_url = safe_redirect(raw_redirect, DEFAULT_REDIRECT)?;
    if form.has("set_filters") {
        let form = FilterForm::from_fields(&form);
        let mut session = li.cs.session.clone();
        let user = li.user.clone();
        let form2 = form.clone();
        let outcome = run_db(&state.pool, move |conn| {
            let choices = load_choices(conn, &user)?;
            let fid = session.get_task_filter_id(conn)?;
            let base = TaskFilter::load(conn, fid)?.unwrap_or_default();
            match form2.validate(&choices, &base) {
                Ok(filter) => {
                    TaskFilter::save(conn, fid, &filter)?;
                    Ok(SetOutcome::Saved)
                }
                Err(errors) => {
                    let hidden = HiddenCriteria::of(&base, &choices);
                    Ok(SetOutcome::Invalid(Box::new((errors, choices, hidden))))
                }
            }
        })
        .await?;
        match outcome {
            SetOutcome::Saved => Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, redirect_url))
                .finish()),
            SetOutcome::Invalid(invalid) => {
                let (errors, choices, hidden) = *invalid;
                html(
                    StatusCode::OK,
                    &SetFiltersPage::build(
                        PageCtx::new(&li.cs),
                        redirect_url,
                        errors,
                        form,
                        &choices,
                        li.user.is_superuser(),
                        &hidden,
                    ),
                )
            }
        }
    } else if form.has("clear_filters") {
        if let Some(fid) = li.cs.session.task_filter_id {
            run_db(&state.pool, move |conn| {
                TaskFilter::clear_stored(conn, fid)?;
                Ok(())
            })
            .await?;
        }
        li.cs.cookie.flash("info", "Filters cleared.");
        let back = if redirect_url == DEFAULT_REDIRECT {
            "/set_filters".to_owned()
        } else {
            format!("/set_filters?redirect_url={}", url_encode(&redirect_url))
        };
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .finish())
    } else {
        Err(AppError::BadRequest(
            "Unknown action: use the 'Set filters' or 'Clear' button.".into(),
        ))
    }
}
