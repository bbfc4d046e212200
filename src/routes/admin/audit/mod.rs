//! The audit trail, superusers only (admin §6): `/audit_menu`,
//! `/offer_audit_trail` (the filter form, a GET form: choosing what to read changes nothing)
//! and `/view_audit_trail` (paged, newest first, filtered in the database). Reading the trail
//! is not itself audited.

pub mod params;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use self::params::{shown_details, AuditParams, ROWS_PER_PAGE_CHOICES};
use crate::db::run_db_read;
use crate::error::{url_encode, AppError};
use crate::models::audit::{query_audit, AuditPage};
use crate::models::task_index::TaskPage;
use crate::models::task_registry;
use crate::models::user::User;
use crate::routes::page::{html, PageCtx};
use crate::routes::pager::{page_href, pager_of, PagerItem};
use crate::session::extract::Superuser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "audit_menu.html")]
struct AuditMenu {
    ctx: PageCtx,
}

/// `GET /audit_menu`.
pub async fn audit_menu(Superuser(li): Superuser) -> Result<HttpResponse, AppError> {
    html(
        StatusCode::OK,
        &AuditMenu {
            ctx: PageCtx::new(&li.cs),
        },
    )
}

#[derive(Template)]
#[template(path = "offer_audit_trail.html")]
struct OfferAuditTrail {
    ctx: PageCtx,
    sizes: [i64; 4],
    usernames: Vec<String>,
    tables: Vec<(&'static str, &'static str)>,
}

/// `GET /offer_audit_trail`: the filter form, which submits to `/view_audit_trail`.
pub async fn offer_audit_trail(
    state: web::Data<AppState>,
    Superuser(li): Superuser,
) -> Result<HttpResponse, AppError> {
    let usernames = run_db_read(&state.pool, |conn| {
        Ok(User::all(conn)?
            .into_iter()
            .map(|u| u.username)
            .collect::<Vec<_>>())
    })
    .await?;
    let mut tables: Vec<(&str, &str)> = task_registry::all()
        .iter()
        .map(|t| (t.table, t.short_name))
        .collect();
    tables.sort_by_key(|t| t.1.to_ascii_lowercase());
    tables.push(("_security_groups", "Groups (_security_groups)"));
    html(
        StatusCode::OK,
        &OfferAuditTrail {
            ctx: PageCtx::new(&li.cs),
            sizes: ROWS_PER_PAGE_CHOICES,
            usernames,
            tables,
        },
    )
}

/// One row of the trail as shown.
struct AuditLine {
    id: i32,
    when: String,
    source: String,
    remote_addr: String,
    username: String,
    device_id: String,
    table_name: String,
    server_pk: String,
    task_link: Option<String>,
    patient_server_pk: String,
    details: String,
}

#[derive(Template)]
#[template(path = "view_audit_trail.html")]
struct ViewAuditTrail {
    ctx: PageCtx,
    conditions: String,
    truncate: bool,
    rows: Vec<AuditLine>,
    pager: Vec<PagerItem>,
    pager_summary: String,
    /// This page with details the other way (whole or cut).
    toggle_href: String,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn lines(page: AuditPage, truncate: bool) -> Vec<AuditLine> {
    page.rows
        .into_iter()
        .map(|(r, username)| {
            let task_link = match (&r.table_name, r.server_pk) {
                (Some(t), Some(pk)) if task_registry::lookup(t).is_some() => Some(format!(
                    "/task?table_name={}&server_pk={pk}&viewtype=html",
                    url_encode(t)
                )),
                _ => None,
            };
            AuditLine {
                id: r.id,
                when: r
                    .when_access_utc
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string(),
                source: r.source,
                remote_addr: opt(r.remote_addr),
                username: username.unwrap_or_default(),
                device_id: opt(r.device_id),
                table_name: opt(r.table_name),
                server_pk: opt(r.server_pk),
                task_link,
                patient_server_pk: opt(r.patient_server_pk),
                details: shown_details(r.details.as_deref(), truncate),
            }
        })
        .collect()
}

/// `GET /view_audit_trail?…`: see [`params`] for the parameters.
pub async fn view_audit_trail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Superuser(li): Superuser,
) -> Result<HttpResponse, AppError> {
    let p = AuditParams::parse(req.query_string())?;
    let (mut filter, username) = (p.filter.clone(), p.username.clone());
    let (page, per_page) = (p.page, p.rows_per_page);
    let loaded = run_db_read(&state.pool, move |conn| {
        if let Some(name) = username {
            match User::find_by_username(conn, &name)? {
                Some(u) => filter.user_id = Some(u.id),
                // Nobody of that name: nothing can match.
                None => return Ok(None),
            }
        }
        Ok(Some(query_audit(conn, &filter, page, per_page)?))
    })
    .await?;
    let loaded = loaded.unwrap_or(AuditPage {
        rows: Vec::new(),
        page: 1,
        per_page,
        total: 0,
        total_is_exact: true,
    });
    let shape = TaskPage {
        rows: Vec::new(),
        idnum_names: Default::default(),
        page: loaded.page,
        per_page: loaded.per_page,
        total: loaded.total,
        total_is_exact: loaded.total_is_exact,
        text_filter_not_applied: false,
    };
    let (pager, pager_summary) = pager_of("/view_audit_trail", &p.pairs, &shape, "record");
    let mut toggled: Vec<(String, String)> = p
        .pairs
        .iter()
        .filter(|(k, _)| k != "truncate")
        .cloned()
        .collect();
    let other = if p.truncate { "False" } else { "True" };
    toggled.push(("truncate".to_owned(), other.to_owned()));
    let page = ViewAuditTrail {
        toggle_href: page_href("/view_audit_trail", &toggled, loaded.page),
        ctx: PageCtx::new(&li.cs),
        conditions: p.conditions.join("; "),
        truncate: p.truncate,
        rows: lines(loaded, p.truncate),
        pager,
        pager_summary,
    };
    html(StatusCode::OK, &page)
}
