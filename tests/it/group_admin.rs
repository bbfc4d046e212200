//! Group administration through HTTP on every backend (admin §4): who may use
//! the pages (admin §2.2: superusers only), each form's validation with the original's messages
//! (admin §0.4, admin §4.2, admin §4.3), all four IP-use flags kept (admin §8.10), visibility taking effect on
//! `/view_tasks` at once, the delete refusals (admin §4.4, admin §8.9), bad input, and the audit rows of
//! every change.

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use camcops_web::db::schema::{
    _security_audit as audit, _security_group_group as gg, _security_groups as g,
    _security_ip_use as ip, _security_user_group as ugm,
};
use camcops_web::db::DbConnection;
use camcops_web::models::device::{Device, NewDevice};
use camcops_web::models::group::{Group, Membership, NewMembership};
use camcops_web::models::idnum::IdNumDefinition;
use camcops_web::models::task_index::{NewTaskIndexEntry, TaskIndexEntry};

use crate::helpers::{csrf_from, get_with, location, logged_in, post_with, unescape, TestApp};
use crate::testdb::backend_test;

mod camcops_data;
mod delete;
mod lists;

const PW: &str = "correct horse battery";

/// Every page of issue 12, for the permission checks.
pub const PAGES: [&str; 7] = [
    "/view_groups",
    "/add_group",
    "/edit_group?group_id=1",
    "/delete_group?group_id=1",
    "/audit_menu",
    "/offer_audit_trail",
    "/view_audit_trail",
];

/// `root` (superuser), `ga` (group administrator of g_ga), `plain` (ordinary user).
fn people(app: &TestApp) -> (i32, i32, i32) {
    let root = app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
    let ga = app.create_user_with("ga", PW, false, |m| {
        m.may_use_webviewer = Some(true);
        m.groupadmin = Some(true);
    });
    let plain = app.create_user("plain", PW);
    (root, ga, plain)
}

fn group_id(conn: &mut DbConnection, name: &str) -> Option<i32> {
    g::table
        .filter(g::name.eq(name))
        .select(g::id)
        .first(conn)
        .optional()
        .unwrap()
}

/// `(user_id, table_name, server_pk, details)` of a group audit row.
type GroupAudit = (Option<i32>, Option<String>, Option<i32>, String);

fn audit_rows(conn: &mut DbConnection) -> Vec<GroupAudit> {
    audit::table
        .filter(audit::table_name.eq("_security_groups"))
        .order(audit::id.asc())
        .select((
            audit::user_id,
            audit::table_name,
            audit::server_pk,
            audit::details.assume_not_null(),
        ))
        .load(conn)
        .unwrap()
}

/// Everything about the groups, to prove nothing was written.
#[allow(clippy::type_complexity)]
fn snapshot(
    conn: &mut DbConnection,
) -> (
    Vec<(
        i32,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i32>,
    )>,
    Vec<(i32, i32)>,
    i64,
    i64,
) {
    let groups = g::table
        .order(g::id.asc())
        .select((
            g::id,
            g::name,
            g::description,
            g::upload_policy,
            g::finalize_policy,
            g::ip_use_id,
        ))
        .load(conn)
        .unwrap();
    let seen = gg::table
        .order((gg::group_id.asc(), gg::can_see_group_id.asc()))
        .select((gg::group_id, gg::can_see_group_id))
        .load(conn)
        .unwrap();
    let ips: i64 = ip::table.count().get_result(conn).unwrap();
    let audits: i64 = audit::table
        .filter(audit::table_name.eq("_security_groups"))
        .count()
        .get_result(conn)
        .unwrap();
    (groups, seen, ips, audits)
}

async fn csrf(app: &TestApp, c: &reqwest::Client) -> String {
    csrf_from(&get_with(app, c, "/").await.1).unwrap()
}

fn define_idnums(conn: &mut DbConnection, which: &[i32]) {
    for &w in which {
        IdNumDefinition::insert(
            conn,
            &IdNumDefinition {
                which_idnum: w,
                description: Some(format!("ID {w}")),
                short_description: Some(format!("id{w}")),
                validation_method: None,
            },
        )
        .unwrap();
    }
}

/// A valid edit of group `gid` (every field), with `extra` replacing fields of the same name.
fn edit_form<'a>(
    token: &'a str,
    gid: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf_token", token),
        ("group_id", gid),
        ("name", "research_group"),
        ("description", "A research group"),
        ("upload_policy", "sex AND idnum1"),
        ("finalize_policy", "sex AND anyidnum"),
        ("submit", "Apply"),
    ];
    for (k, v) in extra {
        f.retain(|(name, _)| name != k);
        f.push((k, v));
    }
    f
}

backend_test! {
    /// admin §2.2: groups and audit pages are for superusers: anonymous visitors are sent to log
    /// in, group administrators and ordinary users get 403 on every page and action, and
    /// none of their POSTs writes anything.
    async fn only_superusers_reach_group_and_audit_pages(db) {
        let app = TestApp::spawn(db).await;
        people(&app);
        for page in PAGES {
            let r = app.get(page).await;
            assert_eq!(r.status(), 303, "anonymous GET {page}");
            assert!(location(&r).starts_with("/login?redirect_url="), "{page}");
        }
        let mut conn = app.conn();
        let before = snapshot(&mut conn);
        let gid = group_id(&mut conn, "g_plain").unwrap().to_string();
        for who in ["ga", "plain"] {
            let c = logged_in(&app, who, PW).await;
            let token = csrf(&app, &c).await;
            for page in PAGES {
                assert_eq!(get_with(&app, &c, page).await.0, 403, "{who} GET {page}");
            }
            let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
                ("/add_group".into(), vec![("csrf_token", &token), ("name", "sneaky"), ("submit", "Add")]),
                (format!("/edit_group?group_id={gid}"), edit_form(&token, &gid, &[])),
                (format!("/delete_group?group_id={gid}"), vec![("csrf_token", &token), ("group_id", &gid), ("confirm", "true"), ("delete", "Delete")]),
            ];
            for (path, form) in posts {
                assert_eq!(post_with(&app, &c, &path, &form).await.status(), 403, "{who} POST {path}");
            }
            let (_, menu) = get_with(&app, &c, "/").await;
            assert!(!menu.contains("/view_groups") && !menu.contains("/audit_menu"), "{who}'s menu");
        }
        assert_eq!(snapshot(&mut conn), before, "nothing written");
        let c = logged_in(&app, "root", PW).await;
        let (_, menu) = get_with(&app, &c, "/").await;
        assert!(menu.contains("href=\"/view_groups\"") && menu.contains("href=\"/audit_menu\""));
        for page in ["/view_groups", "/add_group", "/audit_menu", "/offer_audit_trail", "/view_audit_trail"] {
            assert_eq!(get_with(&app, &c, page).await.0, 200, "root GET {page}");
        }
    }

    /// admin §4.2, admin §0.4: the add form's name rules and messages, CSRF, and what a valid add
    /// writes (the name only) and audits.
    async fn add_group_validates_the_name_and_audits(db) {
        let app = TestApp::spawn(db).await;
        let (root, _, _) = people(&app);
        let c = logged_in(&app, "root", PW).await;
        let token = csrf(&app, &c).await;
        let mut conn = app.conn();
        let before = snapshot(&mut conn);
        let long = "n".repeat(10_000);
        for (name, want) in [
            ("", "Group name: Invalid string. Minimum length = 1. Maximum length = 191. Permitted characters: A-Z, a-z, 0-9, '_', '-'"),
            ("has space", "Permitted characters"),
            ("x'; DROP TABLE _security_groups; --", "Permitted characters"),
            (long.as_str(), "Maximum length = 191"),
            ("g_plain", "Name is used by another group!"),
        ] {
            let r = post_with(&app, &c, "/add_group", &[("csrf_token", &token), ("name", name), ("submit", "Add")]).await;
            assert_eq!(r.status(), 400, "{name:.40}");
            let body = unescape(&r.text().await.unwrap());
            assert!(body.contains(want), "{name:.40}: {body}");
        }
        let r = post_with(&app, &c, "/add_group", &[("name", "newgroup"), ("submit", "Add")]).await;
        assert_eq!(r.status(), 400, "no CSRF token");
        let r = post_with(&app, &c, "/add_group", &[("csrf_token", &token), ("name", "newgroup"), ("cancel", "Cancel")]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_groups".to_owned()));
        assert_eq!(snapshot(&mut conn), before, "nothing written by refused or cancelled adds");
        let r = post_with(&app, &c, "/add_group", &[("csrf_token", &token), ("name", " newgroup "), ("submit", "Add")]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_groups".to_owned()));
        let gid = group_id(&mut conn, "newgroup").expect("added");
        let row = Group::find(&mut conn, gid).unwrap().unwrap();
        assert_eq!((row.description, row.upload_policy, row.finalize_policy, row.ip_use_id), (None, None, None, None));
        assert_eq!(
            audit_rows(&mut conn),
            vec![(Some(root), Some("_security_groups".into()), Some(gid), format!("Group 'newgroup' (#{gid}) added"))]
        );
        let (_, list) = get_with(&app, &c, "/view_groups").await;
        assert!(list.contains("Group newgroup added") && list.contains(&format!("/edit_group?group_id={gid}")));
    }

    /// admin §4.3: every field of the edit form is validated with the original's messages
    /// (policies that parse and that do not, unknown ID numbers, the description, the
    /// visible groups), a refused edit writes nothing, SQL-looking and 10,000-character
    /// values are refused the same way, and a hidden id that differs is a 400.
    async fn edit_group_validation(db) {
        let app = TestApp::spawn(db).await;
        people(&app);
        let mut conn = app.conn();
        define_idnums(&mut conn, &[1, 2]);
        let c = logged_in(&app, "root", PW).await;
        let token = csrf(&app, &c).await;
        let gid = group_id(&mut conn, "g_plain").unwrap();
        let other = group_id(&mut conn, "g_ga").unwrap().to_string();
        let (gs, path) = (gid.to_string(), format!("/edit_group?group_id={gid}"));
        let before = snapshot(&mut conn);
        let long = "x".repeat(10_000);
        let sql = "sex AND idnum1'; DELETE FROM _security_groups; --";
        let invalid = "Invalid policy. Have you referred to non-existent ID numbers?";
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("upload_policy", "sex AND (idnum1")], "Upload ID policy: Syntactically invalid policy"),
            (vec![("finalize_policy", "sex AND")], "Finalize ID policy: Syntactically invalid policy"),
            (vec![("upload_policy", "sex AND idnum77")], invalid),
            (vec![("upload_policy", "sex")], invalid),
            (vec![("finalize_policy", "forename")], invalid),
            (vec![("upload_policy", "")], "Upload ID policy: Required"),
            (vec![("upload_policy", sql)], "Upload ID policy: Syntactically invalid policy"),
            (vec![("finalize_policy", &long)], "Finalize ID policy: Longer than maximum length 255"),
            (vec![("description", "")], "Description: Required"),
            (vec![("description", &long)], "Description: Longer than maximum length 255"),
            (vec![("name", "g_ga")], "Name is used by another group!"),
            (vec![("name", sql)], "Group name: Invalid string."),
            (vec![("name", &long)], "Group name: Invalid string."),
            (vec![("group_ids", &gs)], "is not one of"),
            (vec![("group_ids", "1 OR 1=1")], "is not one of"),
            (vec![("group_ids", &long)], "is not one of"),
        ];
        for (extra, want) in cases {
            let r = post_with(&app, &c, &path, &edit_form(&token, &gs, &extra)).await;
            assert_eq!(r.status(), 400, "{extra:.60?}");
            let body = unescape(&r.text().await.unwrap());
            assert!(body.contains(want), "{extra:.60?} lacks {want}");
            assert!(body.contains("name=\"upload_policy\""), "the form is shown again");
        }
        let mut dup = edit_form(&token, &gs, &[]);
        dup.extend([("group_ids", other.as_str()), ("group_ids", other.as_str())]);
        let body = post_with(&app, &c, &path, &dup).await.text().await.unwrap();
        assert!(body.contains("You have specified duplicate groups"));
        let r = post_with(&app, &c, &path, &edit_form(&token, &other, &[])).await;
        assert_eq!(r.status(), 400, "hidden group_id differs from the query");
        let r = post_with(&app, &c, "/edit_group?group_id=999999", &edit_form(&token, "999999", &[])).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Cannot find Group with id:999999"));
        for bad in ["/edit_group", "/edit_group?group_id=abc", "/edit_group?group_id=1%27%20OR%201=1"] {
            assert_eq!(get_with(&app, &c, bad).await.0, 400, "{bad}");
        }
        assert_eq!(snapshot(&mut conn), before, "nothing written by refused edits");
    }

    /// admin §4.3, admin §8.10: a valid edit stores every field, all four IP-use flags (and keeps them
    /// on the next save, reusing the same `_security_ip_use` row), rewrites the groups it may
    /// see, and audits what changed.
    async fn edit_group_saves_everything_and_audits_changes(db) {
        let app = TestApp::spawn(db).await;
        let (root, _, _) = people(&app);
        let mut conn = app.conn();
        define_idnums(&mut conn, &[1]);
        let c = logged_in(&app, "root", PW).await;
        let token = csrf(&app, &c).await;
        let gid = group_id(&mut conn, "g_plain").unwrap();
        let (ga, rootg) = (group_id(&mut conn, "g_ga").unwrap(), group_id(&mut conn, "g_root").unwrap());
        let (gs, gas, roots) = (gid.to_string(), ga.to_string(), rootg.to_string());
        let path = format!("/edit_group?group_id={gid}");
        let (_, page) = get_with(&app, &c, &path).await;
        assert!(page.contains("name=\"educational\"") && page.contains("name=\"research\""));
        let form = edit_form(&token, &gs, &[("educational", "true"), ("research", "true"), ("group_ids", &gas)]);
        let r = post_with(&app, &c, &path, &form).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_groups".to_owned()));
        let row = Group::find(&mut conn, gid).unwrap().unwrap();
        assert_eq!(row.name, "research_group");
        assert_eq!(row.description.as_deref(), Some("A research group"));
        assert_eq!(row.upload_policy.as_deref(), Some("sex AND idnum1"));
        assert_eq!(row.finalize_policy.as_deref(), Some("sex AND anyidnum"));
        let ip_id = row.ip_use_id.expect("ip use row");
        let flags: (bool, bool, bool, bool) = ip::table.find(ip_id).select((ip::clinical, ip::commercial, ip::educational, ip::research)).first(&mut conn).unwrap();
        assert_eq!(flags, (false, false, true, true));
        assert_eq!(Group::ids_seen_by(&mut conn, &[gid]).unwrap(), vec![ga]);
        // The form shows what is stored; saving it again with other flags reuses the row.
        let (_, page) = get_with(&app, &c, &path).await;
        assert!(page.contains("id=\"research\" name=\"research\" value=\"true\" checked"));
        assert!(page.contains(&format!("name=\"group_ids\" value=\"{ga}\" checked")));
        let form = edit_form(&token, &gs, &[("clinical", "true"), ("commercial", "true"), ("educational", "true"), ("research", "true"), ("group_ids", &roots), ("upload_policy", "SEX and IDNUM1")]);
        assert_eq!(post_with(&app, &c, &path, &form).await.status(), 303);
        let row = Group::find(&mut conn, gid).unwrap().unwrap();
        assert_eq!(row.ip_use_id, Some(ip_id), "the same _security_ip_use row");
        let flags: (bool, bool, bool, bool) = ip::table.find(ip_id).select((ip::clinical, ip::commercial, ip::educational, ip::research)).first(&mut conn).unwrap();
        assert_eq!(flags, (true, true, true, true));
        assert_eq!(ip::table.count().get_result::<i64>(&mut conn).unwrap(), 1);
        assert_eq!(Group::ids_seen_by(&mut conn, &[gid]).unwrap(), vec![rootg]);
        let rows = audit_rows(&mut conn);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.0 == Some(root) && r.2 == Some(gid)));
        assert_eq!(
            rows[0].3,
            format!("Group 'g_plain' (#{gid}) edited: name 'g_plain' → 'research_group'; description '' → 'A research group'; upload_policy '' → 'sex AND idnum1'; finalize_policy '' → 'sex AND anyidnum'; ip_use none → educational, research; may see none → g_ga")
        );
        assert_eq!(
            rows[1].3,
            format!("Group 'research_group' (#{gid}) edited: upload_policy 'sex AND idnum1' → 'SEX and IDNUM1'; ip_use educational, research → clinical, commercial, educational, research; may see g_ga → g_root")
        );
    }
}

/// An anonymous task in `group` (table `ref_satis_gen`), created on 2024-01-`day`.
fn task_in(conn: &mut DbConnection, group: i32, device: i32, day: u32) {
    let t = NaiveDate::from_ymd_opt(2024, 1, day)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    TaskIndexEntry::insert(
        conn,
        &NewTaskIndexEntry {
            indexed_at_utc: t,
            task_table_name: "ref_satis_gen",
            task_pk: Some(i32::try_from(day).unwrap()),
            patient_pk: None,
            device_id: device,
            era: "2024-01-20T00:00:00.000000+00:00",
            when_created_utc: t,
            when_created_iso: &t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            when_added_batch_utc: t,
            adding_user_id: None,
            group_id: group,
            task_is_complete: true,
        },
    )
    .unwrap();
}

fn device(conn: &mut DbConnection) -> i32 {
    Device::insert(
        conn,
        &NewDevice {
            name: "d1",
            friendly_name: None,
            camcops_version: None,
            registered_by_user_id: None,
            when_registered_utc: None,
            currently_preserving: None,
        },
    )
    .unwrap()
}

/// Creation days of the tasks on a `/view_tasks` page.
fn task_days(html: &str) -> Vec<u32> {
    let (Some(a), Some(b)) = (html.find("<tbody>"), html.find("</tbody>")) else {
        return Vec::new();
    };
    html[a..b]
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let i = row.find("2024-01-").expect("created date in row");
            row[i + 8..i + 10].parse().unwrap()
        })
        .collect()
}
