//! The task pages on databases made by CamCOPS 2.4.24 and adopted by `upgrade-db`:
//! - `/view_tasks` for admin, clinician, researcher and grpadmin, with no filter, a surname,
//!   task types, trackers only (and trackers plus a surname), lists exactly the tasks that a
//!   reference query finds in the raw task tables by CamCOPS' rules (spec sessions §4.5 with sessions §1.7 and
//!   sessions §1.11; cc_taskcollection.py, cc_taskfilter.py): current records of every era, group
//!   visibility through `_security_group_group`, anonymous tasks,
//!   `view_all_patients_when_unfiltered`; on the SQLite and MariaDB data fixtures. Each row
//!   links to CamCOPS' task page (`CAMCOPS_TASK_VIEW_URL`); a task type of a newer CamCOPS shows
//!   its table name, escaped.
//! - A `_task_filters` row as CamCOPS writes it, naming task types outside any list and text
//!   phrases, survives a save of `/set_filters` (issue 10 item 2): every backend.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use camcops_web::config::TaskViewUrl;
use camcops_web::db::schema::{
    _security_users, _security_webviewer_sessions as sess, _task_filters,
};
use camcops_web::db::DbConnection;

use crate::camcops_fixture::{
    adopt, agree_terms_for_all, camcops_test, demo_db, schema_db, ADMIN, CLINICIAN, GRPADMIN,
    RESEARCHER,
};
use crate::helpers::{location, new_client, TestApp};
use crate::task_pages::{get, post, set_filter, tbody};

/// Where the test's CamCOPS server would be; the rows link under it.
const CAMCOPS: &str = "https://camcops.example.org/cc/";
const TASKS_TSV: &str = include_str!("../../data/camcops-2.4.24-tasks.tsv");
const TRACKERS: &str = include_str!("../../data/camcops-2.4.24-trackers.txt");

/// One filter to try: what the session's filter holds.
#[derive(Debug, Clone, Copy)]
struct Case {
    surname: Option<&'static str>,
    types: &'static [&'static str],
    trackers_only: bool,
}

const CASES: [Case; 5] = [
    Case {
        surname: None,
        types: &[],
        trackers_only: false,
    },
    // Lower case: CamCOPS compares UPPER() of both.
    Case {
        surname: Some("baldwin"),
        types: &[],
        trackers_only: false,
    },
    // Patient types, an anonymous tracker type and an anonymous non-tracker type.
    Case {
        surname: None,
        types: &["phq9", "bmi", "apeqpt", "ref_satis_gen"],
        trackers_only: false,
    },
    Case {
        surname: None,
        types: &[],
        trackers_only: true,
    },
    Case {
        surname: Some("Price"),
        types: &[],
        trackers_only: true,
    },
];

/// `(table name, is anonymous)` of every CamCOPS task type, from the copy of its task list.
fn camcops_task_types() -> Vec<(&'static str, bool)> {
    TASKS_TSV
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0], f[3] == "1")
        })
        .collect()
}

fn quoted_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "NULL".to_owned();
    }
    let v: Vec<String> = items.iter().map(|t| format!("'{t}'")).collect();
    v.join(", ")
}

#[derive(QueryableByName)]
struct Listed {
    #[diesel(sql_type = Text)]
    tt: String,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

/// The tasks CamCOPS lists for user `uid` and `case`, from the raw task tables: current rows,
/// each task's patient by (`patient_id`, `_device_id`, `_era`), then CamCOPS' rules.
fn reference(conn: &mut DbConnection, uid: i32, case: &Case) -> BTreeSet<(String, i32)> {
    let types = camcops_task_types();
    let trackers: Vec<&str> = TRACKERS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let all_tasks: Vec<String> = types
        .iter()
        .map(|(t, anonymous)| {
            if *anonymous {
                format!(
                    "SELECT '{t}' AS tt, t._pk AS pk, t._group_id AS gid, 1 AS anon, \
                     NULL AS surname FROM {t} t WHERE t._current = 1"
                )
            } else {
                format!(
                    "SELECT '{t}' AS tt, t._pk AS pk, t._group_id AS gid, 0 AS anon, \
                     p.surname AS surname FROM {t} t LEFT JOIN patient p ON p.id = t.patient_id \
                     AND p._device_id = t._device_id AND p._era = t._era AND p._current = 1 \
                     WHERE t._current = 1"
                )
            }
        })
        .collect();
    let superuser =
        format!("EXISTS (SELECT 1 FROM _security_users WHERE id = {uid} AND superuser = 1)");
    let mut conditions = vec![format!(
        "({superuser} OR a.gid IN (SELECT group_id FROM _security_user_group WHERE user_id = {uid} \
         UNION SELECT gg.can_see_group_id FROM _security_group_group gg \
         JOIN _security_user_group m ON m.group_id = gg.group_id WHERE m.user_id = {uid}))"
    )];
    // TaskFilter.task_classes: the listed types (or all), trackers only, no anonymous types
    // when a patient is filtered; a name condition unless every non-anonymous type is left.
    let skip_anonymous = case.surname.is_some();
    let classes: Vec<(&str, bool)> = types
        .iter()
        .copied()
        .filter(|(t, _)| case.types.is_empty() || case.types.contains(t))
        .filter(|(t, _)| !case.trackers_only || trackers.contains(t))
        .filter(|(_, anonymous)| !(skip_anonymous && *anonymous))
        .collect();
    let every_named = types
        .iter()
        .filter(|(_, anonymous)| !anonymous)
        .all(|(t, _)| classes.iter().any(|(c, _)| c == t));
    if !every_named {
        let names: Vec<&str> = classes.iter().map(|(t, _)| *t).collect();
        conditions.push(format!("a.tt IN ({})", quoted_list(&names)));
    }
    match case.surname {
        Some(s) => conditions.push(format!("a.anon = 0 AND UPPER(a.surname) = UPPER('{s}')")),
        // Unfiltered: everything if every membership may see all patients unfiltered, else
        // anonymous tasks and the flagged memberships' groups.
        None => conditions.push(format!(
            "({superuser} \
             OR NOT EXISTS (SELECT 1 FROM _security_user_group WHERE user_id = {uid} \
                AND COALESCE(view_all_patients_when_unfiltered, 0) = 0) \
             OR a.anon = 1 \
             OR a.gid IN (SELECT group_id FROM _security_user_group WHERE user_id = {uid} \
                AND view_all_patients_when_unfiltered = 1))"
        )),
    }
    let sql = format!(
        "SELECT a.tt AS tt, a.pk AS pk FROM ({}) a WHERE {}",
        all_tasks.join(" UNION ALL "),
        conditions.join(" AND ")
    );
    let rows: Vec<Listed> = diesel::sql_query(sql).load(conn).unwrap();
    let n = rows.len();
    let set: BTreeSet<(String, i32)> = rows.into_iter().map(|r| (r.tt, r.pk)).collect();
    assert_eq!(set.len(), n, "the reference lists a task twice");
    set
}

/// The `(table_name, server_pk)` of each row's CamCOPS link, in page order.
fn task_links(html: &str) -> Vec<(String, i32)> {
    let prefix = format!("href=\"{CAMCOPS}task?");
    tbody(html)
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let i = row
                .find(&prefix)
                .unwrap_or_else(|| panic!("no CamCOPS link in {row}"));
            let rest = &row[i + prefix.len()..];
            let query = rest[..rest.find('"').unwrap()]
                .replace("&#38;", "&")
                .replace("&amp;", "&");
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
            let value = |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            assert_eq!(value("viewtype"), "html");
            (value("table_name"), value("server_pk").parse().unwrap())
        })
        .collect()
}

/// "Page P of L; …" → L (`None` when the total is not exact or there is no pager).
fn last_page(html: &str) -> Option<u32> {
    let i = html.find("<span class=\"notice\">Page ")?;
    let rest = &html[i..];
    let of = rest.find(" of ")? + 4;
    let end = of + rest[of..].find(';')?;
    rest[of..end].parse().ok()
}

/// Every task `/view_tasks` lists through the session's filter, page by page.
async fn listed(app: &TestApp, c: &reqwest::Client) -> Vec<(String, i32)> {
    const PER_PAGE: usize = 100;
    let mut out = Vec::new();
    for page in 1..=100 {
        let (status, body) = get(
            app,
            c,
            &format!("/view_tasks?rows_per_page={PER_PAGE}&page={page}"),
        )
        .await;
        assert_eq!(status, 200);
        let rows = task_links(&body);
        let n = rows.len();
        out.extend(rows);
        let done = match last_page(&body) {
            Some(last) => page >= last,
            None => n < PER_PAGE,
        };
        if done {
            return out;
        }
    }
    panic!("more than 100 pages");
}

/// The session's filter id for user `uid` (after a page has created it).
fn filter_id(conn: &mut DbConnection, uid: i32) -> i32 {
    sess::table
        .filter(sess::user_id.eq(uid))
        .filter(sess::task_filter_id.is_not_null())
        .select(sess::task_filter_id.assume_not_null())
        .first(conn)
        .unwrap()
}

/// Makes the session's filter hold `case`: clear, the form's fields, then the trackers flag
/// (which the form cannot set; CamCOPS sets it for its tracker pages).
async fn apply(app: &TestApp, c: &reqwest::Client, uid: i32, case: &Case) {
    let token = app.csrf_with(c, "/set_filters").await;
    let r = post(
        app,
        c,
        "/set_filters",
        &[("csrf_token", &token), ("clear_filters", "Clear")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let mut conn = app.conn();
    let fid = filter_id(&mut conn, uid);
    diesel::update(_task_filters::table.find(fid))
        .set(_task_filters::tasks_offering_trackers_only.eq(Some(case.trackers_only)))
        .execute(&mut conn)
        .unwrap();
    let mut fields: Vec<(&str, &str)> = case.types.iter().map(|t| ("tasks", *t)).collect();
    if let Some(s) = case.surname {
        fields.push(("surname", s));
    }
    if !fields.is_empty() {
        let r = set_filter(app, c, &fields).await;
        assert_eq!(r.status(), 303, "{case:?}");
        assert_eq!(location(&r), "/view_tasks");
    }
}

camcops_test! {
    /// sessions §4.5: the same tasks as CamCOPS for each user and filter, on CamCOPS' own data.
    async fn view_tasks_lists_what_camcops_lists(backend) {
        let Some(db) = demo_db(backend) else { return };
        adopt(&db);
        agree_terms_for_all(&mut db.conn());
        let app = TestApp::spawn_with(db, |s| {
            s.camcops_task_view_url = Some(TaskViewUrl::parse(CAMCOPS).unwrap());
        })
        .await;
        let mut conn = app.conn();
        let mut seen = Vec::new();
        for (name, pw) in [ADMIN, CLINICIAN, RESEARCHER, GRPADMIN] {
            let uid: i32 = _security_users::table
                .filter(_security_users::username.eq(name))
                .select(_security_users::id)
                .first(&mut conn)
                .unwrap();
            let c = new_client();
            let r = app.login_with(&c, name, pw).await;
            assert_eq!(r.status(), 303, "login as {name}");
            assert_eq!(location(&r), "/", "login as {name}");
            assert_eq!(get(&app, &c, "/view_tasks").await.0, 200);
            for case in &CASES {
                apply(&app, &c, uid, case).await;
                let shown = listed(&app, &c).await;
                let unique: BTreeSet<(String, i32)> = shown.iter().cloned().collect();
                assert_eq!(unique.len(), shown.len(), "{name} {case:?}: a task listed twice");
                let want = reference(&mut conn, uid, case);
                assert_eq!(unique, want, "{name} {case:?}");
                seen.push((name, want.len()));
            }
        }
        // The data make the rules bite: the admin sees more than the clinician (MariaDB: two
        // groups) or as much (SQLite: one), the researcher (no view-all flag) far less.
        let count = |n: &str, i: usize| seen.iter().filter(|s| s.0 == n).nth(i).unwrap().1;
        for i in 0..CASES.len() {
            assert!(count("admin", i) >= count("clinician", i), "case {i}");
            assert!(count("admin", i) > 0, "case {i}");
        }
        assert!(count("researcher", 0) < count("clinician", 0));
        assert!(count("researcher", 1) > 0, "a surname shows a restricted user that patient");
    }
}

camcops_test! {
    /// Issue 10 item 2: a filter CamCOPS wrote (its encodings, a pre-2019 line end, a task
    /// type and an ID number type nobody here knows, text phrases, ids the user may not
    /// choose, the trackers flag) keeps every criterion through a save of the filter page.
    async fn a_camcops_filter_survives_a_save_of_the_filter_page(backend) {
        let Some(db) = schema_db(backend) else { return };
        adopt(&db);
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("staff", "correct horse battery");
        let mut conn = app.conn();
        agree_terms_for_all(&mut conn);
        let c = new_client();
        assert_eq!(app.login_with(&c, "staff", "correct horse battery").await.status(), 303);
        // The filter page makes the session's filter (the task list reads it, never writes).
        assert_eq!(get(&app, &c, "/set_filters").await.0, 200);
        let fid = filter_id(&mut conn, uid);
        let own_group: i32 = _security_users::table
            .find(uid)
            .select(_security_users::upload_group_id.assume_not_null())
            .first(&mut conn)
            .unwrap();
        let groups = format!("{own_group},66");
        diesel::update(_task_filters::table.find(fid))
            .set((
                _task_filters::task_types.eq(Some("\"phq9\",\"newer_camcops_task\"\r\n")),
                _task_filters::tasks_offering_trackers_only.eq(Some(true)),
                _task_filters::idnum_criteria.eq(Some("99,123")),
                _task_filters::device_ids.eq(Some("404")),
                _task_filters::user_ids.eq(Some("77")),
                _task_filters::group_ids.eq(Some(groups.as_str())),
                _task_filters::text_contents.eq(Some("\"paracetamol\",\"say \"\"hi\"\", then\"")),
            ))
            .execute(&mut conn)
            .unwrap();

        let (status, form) = get(&app, &c, "/set_filters").await;
        assert_eq!(status, 200);
        let hidden = &form[form.find("id=\"hidden-criteria\"").expect("hidden criteria listed")..];
        let hidden = &hidden[..hidden.find("</div>").unwrap()];
        for shown in ["newer_camcops_task", "“paracetamol”", "ID99 = 123", "#404", "#77", "#66"] {
            assert!(hidden.contains(shown), "{shown} in {hidden}");
        }
        assert!(form.contains("value=\"phq9\" checked"), "phq9 is ticked");
        let (_, list) = get(&app, &c, "/view_tasks").await;
        assert!(list.contains("Task is one of: PHQ-9, newer_camcops_task"), "{list}");

        // What a browser sends back: the ticked type, the user's own group, and a new surname.
        let own = own_group.to_string();
        let r = set_filter(&app, &c, &[("tasks", "phq9"), ("group_ids", &own), ("surname", "Smith")]).await;
        assert_eq!(r.status(), 303);
        type Stored = (
            Option<String>,
            Option<bool>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let stored: Stored = _task_filters::table
            .find(fid)
            .select((
                _task_filters::task_types,
                _task_filters::tasks_offering_trackers_only,
                _task_filters::idnum_criteria,
                _task_filters::device_ids,
                _task_filters::user_ids,
                _task_filters::group_ids,
                _task_filters::text_contents,
                _task_filters::surname,
            ))
            .first(&mut conn)
            .unwrap();
        // Written back in CamCOPS' own encodings (QUOTE_ALL CSV without a line end; CSV ints).
        assert_eq!(
            stored,
            (
                Some("\"phq9\",\"newer_camcops_task\"".to_owned()),
                Some(true),
                Some("99,123".to_owned()),
                Some("404".to_owned()),
                Some("77".to_owned()),
                Some(groups.clone()),
                Some("\"paracetamol\",\"say \"\"hi\"\", then\"".to_owned()),
                Some("Smith".to_owned()),
            )
        );
        // "Clear" removes them all, as in CamCOPS, but keeps the trackers flag.
        let token = app.csrf_with(&c, "/set_filters").await;
        let r = post(&app, &c, "/set_filters", &[("csrf_token", &token), ("clear_filters", "Clear")]).await;
        assert_eq!(r.status(), 303);
        let cleared: (Option<String>, Option<String>, Option<bool>) = _task_filters::table
            .find(fid)
            .select((
                _task_filters::task_types,
                _task_filters::text_contents,
                _task_filters::tasks_offering_trackers_only,
            ))
            .first(&mut conn)
            .unwrap();
        assert_eq!(cleared, (Some(String::new()), Some(String::new()), Some(true)));
    }
}

camcops_test! {
    /// A task of a type this server does not know (a newer CamCOPS) is listed unfiltered, as
    /// CamCOPS lists it, under its table name; its link is URL-encoded and HTML-escaped; the
    /// trackers-only filter leaves it out.
    async fn unknown_task_type_shows_its_table_name_and_an_escaped_link(backend) {
        let Some(db) = demo_db(backend) else { return };
        adopt(&db);
        agree_terms_for_all(&mut db.conn());
        let mut conn = db.conn();
        let added = diesel::sql_query(
            "INSERT INTO _task_index (indexed_at_utc, task_table_name, task_pk, patient_pk, \
             device_id, era, when_created_utc, when_created_iso, when_added_batch_utc, \
             adding_user_id, group_id, task_is_complete) \
             SELECT indexed_at_utc, 'newer&<task>', 7, NULL, device_id, era, \
             '2030-01-01 00:00:00', '2030-01-01T00:00:00.000000+00:00', when_added_batch_utc, \
             adding_user_id, group_id, task_is_complete FROM _task_index \
             ORDER BY index_entry_pk LIMIT 1",
        )
        .execute(&mut conn)
        .unwrap();
        assert_eq!(added, 1);
        let app = TestApp::spawn_with(db, |s| {
            s.camcops_task_view_url = Some(TaskViewUrl::parse(CAMCOPS).unwrap());
        })
        .await;
        let c = new_client();
        assert_eq!(app.login_with(&c, ADMIN.0, ADMIN.1).await.status(), 303);
        let (status, body) = get(&app, &c, "/view_tasks?rows_per_page=10").await;
        assert_eq!(status, 200);
        let first = tbody(&body).split("<tr>").nth(1).unwrap();
        assert!(
            first.contains(&format!(
                "<a href=\"{CAMCOPS}task?table_name=newer%26%3Ctask%3E&#38;server_pk=7&#38;viewtype=html\" class=\"camcops-task\"><abbr title=\"newer&#38;&#60;task&#62;\">newer&#38;&#60;task&#62;</abbr></a>"
            )),
            "{first}"
        );
        assert_eq!(task_links(&body)[0], ("newer&<task>".to_owned(), 7));
        let uid: i32 = _security_users::table
            .filter(_security_users::username.eq(ADMIN.0))
            .select(_security_users::id)
            .first(&mut conn)
            .unwrap();
        let trackers = CASES[3];
        assert!(trackers.trackers_only && trackers.surname.is_none());
        apply(&app, &c, uid, &trackers).await;
        assert!(!listed(&app, &c).await.iter().any(|(t, _)| t == "newer&<task>"));
    }
}
