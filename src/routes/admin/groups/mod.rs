//! Group administration, superusers only (admin §4): `/view_groups` (here),
//! `/add_group` and `/edit_group` (`edit`), `/delete_group` (`delete`). Every change is a
//! CSRF-checked POST and is audited (what changed); everyone else gets 403.

pub mod delete;
pub mod edit;
pub mod form;
pub mod opening;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{group_names, open_post, parse_id};
use crate::db::{run_db_read, DbConnection};
use crate::error::AppError;
use crate::models::group::Group;
use crate::models::idnum::IdNumDefinition;
use crate::models::ip_use::IpUseFlags;
use crate::models::policy::Policy;
use crate::routes::form::Fields;
use crate::routes::page::{html, PageCtx};
use crate::routes::pager::{page_href, DEFAULT_ROWS_PER_PAGE};
use crate::session::extract::{LoggedIn, Superuser};
use crate::state::AppState;

/// The list page, where every group action returns.
pub const PAGE: &str = "/view_groups";
/// Largest `rows_per_page` accepted.
const MAX_ROWS_PER_PAGE: i64 = 1000;

/// The opening of a POST on one group's page (`path`, e.g. `/edit_group`): [`open_post`] (an
/// anonymous visitor logs in and comes back to this group's page, or to the list when the
/// address names no group), then the group's id.
pub fn open_group_post(
    su: Result<Superuser, AppError>,
    path: &str,
    query: &GroupIdQuery,
    form: &Fields,
) -> Result<(LoggedIn, i32), AppError> {
    let back = query.id().map(|id| format!("{path}?group_id={id}"));
    let li = open_post(su, back.as_deref().unwrap_or(PAGE), form)?;
    Ok((li, query.id()?))
}

/// `?group_id=N` of the group pages.
#[derive(Deserialize)]
pub struct GroupIdQuery {
    group_id: Option<String>,
}

impl GroupIdQuery {
    /// The id: an integer, else 400 (the original's message when it is missing).
    pub fn id(&self) -> Result<i32, AppError> {
        match self.group_id.as_deref().map(str::trim) {
            None | Some("") => Err(AppError::BadRequest(
                "Cannot find Group with id:None".into(),
            )),
            Some(raw) => parse_id("group_id", raw),
        }
    }
}

/// The group, or 400 with the original's message.
pub fn find_group(conn: &mut DbConnection, id: i32) -> Result<Group, AppError> {
    Group::find(conn, id)?
        .ok_or_else(|| AppError::BadRequest(format!("Cannot find Group with id:{id}")))
}

/// The ids of the ID number types defined on the server.
pub fn defined_idnums(conn: &mut DbConnection) -> Result<Vec<i32>, AppError> {
    Ok(IdNumDefinition::all(conn)?
        .into_iter()
        .map(|d| d.which_idnum)
        .collect())
}

/// A policy cell: the text (or `None`), whether it is valid here, its principal ID number.
struct PolicyCell {
    text: Option<String>,
    valid: bool,
    principal: String,
}

impl PolicyCell {
    fn new(text: Option<&str>, idnums: &[i32]) -> PolicyCell {
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        let parsed = text.and_then(|t| Policy::parse(t).ok());
        PolicyCell {
            text: text.map(str::to_owned),
            valid: parsed.as_ref().is_some_and(|p| p.is_valid_for(idnums)),
            principal: parsed
                .and_then(|p| p.critical_single_idnum(idnums))
                .map(|n| n.to_string())
                .unwrap_or_default(),
        }
    }
}

/// One row of the groups table.
struct GroupLine {
    id: i32,
    name: String,
    description: String,
    can_see: Vec<String>,
    upload: PolicyCell,
    finalize: PolicyCell,
    ip_use: String,
    members: String,
}

#[derive(Template)]
#[template(path = "view_groups.html")]
struct GroupsPage {
    ctx: PageCtx,
    groups: Vec<GroupLine>,
    page: i64,
    pages: i64,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
}

/// Query of `GET /view_groups`.
#[derive(Deserialize)]
pub struct GroupsQuery {
    rows_per_page: Option<String>,
    page: Option<String>,
}

fn int_param(name: &str, raw: Option<&str>, default: i64, max: i64) -> Result<i64, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Bad '{name}' parameter: an integer from 1 to {max} is required."
                ))
            }),
    }
}

/// Builds the lines of one page: visibility, IP use and members in three batched queries.
fn lines(conn: &mut DbConnection, groups: Vec<Group>) -> Result<Vec<GroupLine>, AppError> {
    let idnums = defined_idnums(conn)?;
    let ids: Vec<i32> = groups.iter().map(|g| g.id).collect();
    let pairs = Group::can_see_pairs(conn, &ids)?;
    let mut seen_ids: Vec<i32> = pairs.iter().map(|p| p.1).collect();
    seen_ids.sort_unstable();
    seen_ids.dedup();
    let names = group_names(conn, &seen_ids)?;
    let mut can_see: HashMap<i32, Vec<String>> = HashMap::new();
    for (gid, other) in pairs {
        let name = names
            .get(&other)
            .cloned()
            .unwrap_or_else(|| other.to_string());
        can_see.entry(gid).or_default().push(name);
    }
    let ip_ids: Vec<i32> = groups.iter().filter_map(|g| g.ip_use_id).collect();
    let ip: HashMap<i32, IpUseFlags> = IpUseFlags::for_ids(conn, &ip_ids)?.into_iter().collect();
    let mut members: HashMap<i32, Vec<String>> = HashMap::new();
    for (gid, name) in Group::member_names(conn, &ids)? {
        members.entry(gid).or_default().push(name);
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let mut seen = can_see.remove(&g.id).unwrap_or_default();
            seen.sort_unstable();
            GroupLine {
                id: g.id,
                description: g.description.clone().unwrap_or_default(),
                can_see: seen,
                upload: PolicyCell::new(g.upload_policy.as_deref(), &idnums),
                finalize: PolicyCell::new(g.finalize_policy.as_deref(), &idnums),
                ip_use: g
                    .ip_use_id
                    .and_then(|i| ip.get(&i))
                    .map(IpUseFlags::describe)
                    .unwrap_or_else(|| "none".to_owned()),
                members: members.remove(&g.id).unwrap_or_default().join(", "),
                name: g.name,
            }
        })
        .collect())
}

/// `GET /view_groups`: every group by name, paged (`rows_per_page` 1–1,000, default 25).
pub async fn view_groups(
    state: web::Data<AppState>,
    Superuser(li): Superuser,
    query: web::Query<GroupsQuery>,
) -> Result<HttpResponse, AppError> {
    let per_page = int_param(
        "rows_per_page",
        query.rows_per_page.as_deref(),
        DEFAULT_ROWS_PER_PAGE,
        MAX_ROWS_PER_PAGE,
    )?;
    let wanted = int_param("page", query.page.as_deref(), 1, i64::from(i32::MAX))?;
    let (groups, total, page) = run_db_read(&state.pool, move |conn| {
        let total = Group::count(conn)?;
        let last = ((total + per_page - 1) / per_page).max(1);
        let page = wanted.min(last);
        let groups = Group::page(conn, (page - 1) * per_page, per_page)?;
        Ok((lines(conn, groups)?, total, page))
    })
    .await?;
    let pages = ((total + per_page - 1) / per_page).max(1);
    let params = vec![("rows_per_page".to_owned(), per_page.to_string())];
    let page = GroupsPage {
        ctx: PageCtx::new(&li.cs),
        groups,
        page,
        pages,
        total,
        prev: (page > 1).then(|| page_href(PAGE, &params, page - 1)),
        next: (page < pages).then(|| page_href(PAGE, &params, page + 1)),
    };
    html(StatusCode::OK, &page)
}
