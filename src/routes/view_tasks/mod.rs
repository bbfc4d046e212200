//! `/view_tasks` (sessions §4.5): the tasks the user may see through the session's filter, newest
//! first, one page at a time; the "Set n/page" form (saved to the session, sessions §2.13) and the
//! "Refresh" form (POST, then 303 back: post/redirect/get).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::form::Posted;
use super::page::{html, PageCtx};
use super::pager::{self, parse_params, parse_rows_per_page, session_page_size, PagerItem};
use crate::auth::principal::AuthUser;
use crate::config::TaskViewUrl;
use crate::db::{run_db, run_db_conn, DbConnection};
use crate::error::AppError;
use crate::models::task_filter::{decode_datetime, FilterNames, TaskFilter};
use crate::models::task_index::{query_tasks, IdNumNames, TaskPage, TaskRow, Visibility};
use crate::models::task_registry;
use crate::session::extract::HappyUser;
use crate::state::AppState;

const PATH: &str = "/view_tasks";

/// One task row, ready to show.
struct TaskLine {
    task: String,
    task_long: String,
    /// The task's page on the CamCOPS server (`CAMCOPS_TASK_VIEW_URL`), if configured.
    camcops_link: Option<String>,
    patient: String,
    patient_details: String,
    identifiers: String,
    created: String,
    live_on_tablet: bool,
    device: String,
    adding_user: String,
    group: String,
    complete: bool,
}

/// One radio button of the page-size form.
struct SizeChoice {
    n: i64,
    checked: bool,
}

#[derive(Template)]
#[template(path = "view_tasks.html")]
struct ViewTasksPage {
    ctx: PageCtx,
    filter_lines: Vec<String>,
    text_filter_not_applied: bool,
    no_groups: bool,
    restricted: bool,
    tasks: Vec<TaskLine>,
    pager: Vec<PagerItem>,
    pager_summary: String,
    sizes: Vec<SizeChoice>,
    refresh_action: String,
}

/// What `user` may see: their memberships and the groups those may also see are read with
/// the session (no statement here).
pub fn visibility(user: &AuthUser, seen_group_ids: &[i32]) -> Visibility {
    if user.is_superuser() {
        return Visibility::superuser();
    }
    Visibility::from_memberships(&user.memberships, seen_group_ids)
}

/// Everything the page shows, read in one unit.
struct Loaded {
    vis: Visibility,
    filter: TaskFilter,
    names: FilterNames,
    page: TaskPage,
}

/// The page's statements: the patient lookup if the filter has patient criteria, the capped
/// count, the page (tests/it/statement_budget.rs holds it to that), and the names the filter
/// description needs if it lists devices, users, groups or ID numbers. No transaction: the
/// statements only read, and each sees committed data (a task committed between the count and
/// the page may show in one and not the other, which the next view corrects).
fn load(
    conn: &mut DbConnection,
    vis: Visibility,
    filter: TaskFilter,
    page: i64,
    per_page: i64,
) -> Result<Loaded, AppError> {
    let page = query_tasks(conn, &vis, &filter, page, per_page)?;
    let names = FilterNames::load(conn, &filter)?;
    Ok(Loaded {
        vis,
        filter,
        names,
        page,
    })
}

fn line(r: &TaskRow, idnum_names: &IdNumNames, camcops: Option<&TaskViewUrl>) -> TaskLine {
    let (patient, patient_details, identifiers) = match &r.patient {
        None => ("—".to_owned(), "(anonymous task)".to_owned(), String::new()),
        Some(p) => {
            let mut details = Vec::new();
            if let Some(s) = p.sex.as_deref().filter(|s| !s.is_empty()) {
                details.push(s.to_owned());
            }
            if let Some(d) = p.dob {
                details.push(format!("DOB {}", d.format("%Y-%m-%d")));
            }
            let ids: Vec<String> = p
                .idnums
                .iter()
                .map(|(which, value)| {
                    let name = idnum_names
                        .get(which)
                        .cloned()
                        .unwrap_or_else(|| format!("ID{which}"));
                    let value = value.map_or_else(|| "?".to_owned(), |v| v.to_string());
                    format!("{name}: {value}")
                })
                .collect();
            let details = if details.is_empty() {
                String::new()
            } else {
                format!("({})", details.join(", "))
            };
            (p.display_name(), details, ids.join("; "))
        }
    };
    let created = decode_datetime(&r.when_created_iso).map_or_else(
        || format!("{} UTC", r.when_created_utc.format("%Y-%m-%d %H:%M")),
        |d| d.format("%Y-%m-%d %H:%M").to_string(),
    );
    TaskLine {
        task: r.task_display_name.clone(),
        task_long: task_registry::long_name(&r.task_table_name).to_owned(),
        camcops_link: camcops
            .zip(r.task_pk)
            .map(|(u, pk)| u.task_link(&r.task_table_name, pk)),
        patient,
        patient_details,
        identifiers,
        created,
        live_on_tablet: r.live_on_tablet,
        device: r.device_name.clone().unwrap_or_default(),
        adding_user: r.adding_username.clone().unwrap_or_default(),
        group: r.group_name.clone().unwrap_or_default(),
        complete: r.task_is_complete,
    }
}

/// `GET /view_tasks`: `rows_per_page` (10/25/50/100, this page only; else the session's
/// size), `page` (clamped), `via_index` (ignored). Bad values are a 400 page.
pub async fn view_tasks(
    req: HttpRequest,
    state: web::Data<AppState>,
    HappyUser(li): HappyUser,
) -> Result<HttpResponse, AppError> {
    let params = parse_params(req.query_string())?;
    let per_page = params
        .rows_per_page
        .unwrap_or_else(|| session_page_size(li.cs.session.number_to_view));
    // A session without a filter yet sees the empty filter: nothing is written for it here.
    let filter = li.cs.extras.filter.clone().unwrap_or_default();
    let vis = visibility(&li.user, &li.cs.extras.seen_group_ids);
    let wanted_page = params.page;
    let loaded = run_db_conn(&state.pool, move |conn| {
        load(conn, vis, filter, wanted_page, per_page)
    })
    .await?;
    let (pager, pager_summary) = pager::pager(PATH, &params.pairs, &loaded.page);
    let tasks = loaded
        .page
        .rows
        .iter()
        .map(|r| {
            line(
                r,
                &loaded.page.idnum_names,
                state.settings.camcops_task_view_url.as_ref(),
            )
        })
        .collect();
    let current_size = session_page_size(li.cs.session.number_to_view);
    let refresh_action = match req.query_string() {
        "" => PATH.to_owned(),
        q => format!("{PATH}?{q}"),
    };
    let page = ViewTasksPage {
        ctx: PageCtx::new(&li.cs),
        filter_lines: loaded.filter.description(&loaded.names),
        text_filter_not_applied: loaded.page.text_filter_not_applied,
        no_groups: loaded.vis.sees_nothing(),
        restricted: !loaded.vis.sees_nothing()
            && loaded.vis.restricted_when_unfiltered(&loaded.filter),
        tasks,
        pager,
        pager_summary,
        sizes: pager::ROWS_PER_PAGE_CHOICES
            .iter()
            .map(|&n| SizeChoice {
                n,
                checked: n == current_size,
            })
            .collect(),
        refresh_action,
    };
    html(StatusCode::OK, &page)
}

/// `POST /view_tasks` (CSRF): `submit_tpp` saves `rows_per_page` (one of the choices, else a
/// 400) as the session's `number_to_view`; `refresh_tasks` just reloads. Both answer 303 to
/// `GET /view_tasks`.
pub async fn view_tasks_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted {
        who: HappyUser(li),
        form,
    }: Posted<HappyUser>,
) -> Result<HttpResponse, AppError> {
    let target = if form.has("submit_tpp") {
        let n = parse_rows_per_page(form.text("rows_per_page"))?;
        let n = i32::try_from(n)
            .map_err(|_| AppError::BadRequest("Bad 'rows_per_page' parameter.".into()))?;
        let mut session = li.cs.session.clone();
        let was_saved = session.id.is_some();
        let session = run_db(&state.pool, move |conn| {
            session.set_number_to_view(conn, n)?;
            Ok(session)
        })
        .await?;
        if !was_saved {
            li.cs.remember(&session);
        }
        PATH.to_owned()
    } else if form.has("refresh_tasks") {
        // Keep the page's own parameters, after checking they are sane.
        parse_params(req.query_string())?;
        match req.query_string() {
            "" => PATH.to_owned(),
            q => format!("{PATH}?{q}"),
        }
    } else {
        return Err(AppError::BadRequest(
            "Unknown action: use the 'Set n/page' or 'Refresh' button.".into(),
        ));
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, target))
        .finish())
}
