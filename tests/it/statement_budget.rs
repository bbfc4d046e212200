//! Round trips per request, counted with diesel's connection instrumentation (the pool's
//! statement tally; pings and housekeeping apart), on every backend: each page is held to its
//! budget, so a change that adds a statement to a page fails here. Counts, never times.
//!
//! Budgets: authenticated `GET /` 1 statement (the session, user and memberships in one), and
//! when the coalesced activity write is due at most 2 more plus its transaction's own
//! `BEGIN`/`COMMIT`; `GET /view_tasks` at most 4 (no filter, surname, task type, a restricted
//! user; the session lookup included, and BEGIN/COMMIT if any); `GET /login` without a cookie
//! none; `POST /login` the statements listed in `LOGIN_STATEMENTS`.

use camcops_web::db::{Counts, DbConnection};
use camcops_web::demo::{seed_demo_data, DemoOptions};
use diesel::prelude::*;

use crate::helpers::{csrf_from, TestApp};
use crate::testdb::{backend_test, Backend};

const PW: &str = "budget-password-42";

/// Runs `request` and returns what it sent to the database, with the statement texts.
async fn measure<F, Fut>(app: &TestApp, request: F) -> (Counts, Vec<String>, reqwest::Response)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let tally = app.state.pool.tally();
    tally.start_recording();
    let before = tally.counts();
    let response = request().await;
    let counts = tally.counts() - before;
    (counts, tally.recorded(), response)
}

fn show(texts: &[String]) -> String {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\n  {}. {}", i + 1, t.chars().take(300).collect::<String>()))
        .collect()
}

/// A small demo data set (groups, the demo staff, patients with ID numbers, tasks) and a
/// superuser `budget_su`.
fn seed(app: &TestApp) {
    let mut conn = app.conn();
    seed_demo_data(
        &mut conn,
        &DemoOptions {
            patients: 60,
            tasks: 400,
            seed: 7,
            bcrypt_cost: 4,
            progress: false,
        },
    )
    .unwrap();
    app.create_user_with("budget_su", PW, true, |m| {
        m.may_use_webviewer = Some(true);
    });
    // The demo staff get PW too, and agreed terms (they are agreed by the demo data).
    let hash = camcops_web::auth::password::hash(PW, 4).unwrap();
    use camcops_web::db::schema::_security_users as u;
    diesel::update(u::table.filter(u::username.eq("demo_clinician")))
        .set(u::hashedpw.eq(hash))
        .execute(&mut conn)
        .unwrap();
}

fn first_surname(conn: &mut DbConnection) -> String {
    use camcops_web::db::schema::patient as p;
    p::table
        .filter(p::surname.is_not_null())
        .order(p::_pk)
        .select(p::surname)
        .first::<Option<String>>(conn)
        .unwrap()
        .unwrap()
}

fn commonest_task_type(conn: &mut DbConnection) -> String {
    use camcops_web::db::schema::_task_index as t;
    t::table
        .select(t::task_table_name)
        .order(t::index_entry_pk)
        .first::<Option<String>>(conn)
        .unwrap()
        .unwrap()
}

/// Logs `username` in and makes one warm-up request (a first use of a pooled connection is
/// pinged, which the tally keeps apart anyway).
async fn browser(app: &TestApp, username: &str) -> reqwest::Client {
    let c = app.browser(username, PW).await;
    let r = app.get_with(&c, "/").await;
    assert_eq!(r.status(), 200);
    c
}

async fn set_filter(app: &TestApp, c: &reqwest::Client, fields: &[(&str, &str)]) {
    let html = app.body_with(c, "/set_filters").await;
    let token = csrf_from(&html).unwrap();
    let mut form = vec![("csrf_token", token.as_str()), ("set_filters", "1")];
    form.extend_from_slice(fields);
    let r = app.post_with(c, "/set_filters", &form).await;
    assert_eq!(r.status(), 303, "set_filters {fields:?}");
}

/// `GET /view_tasks` in at most 4 statements, twice (the first on a session that may not have
/// a filter yet: none is written for it), showing at least one task.
async fn view_tasks_within_budget(app: &TestApp, c: &reqwest::Client, case: &str) {
    for _ in 0..2 {
        let (n, texts, r) = measure(app, || app.get_with(c, "/view_tasks")).await;
        assert_eq!(r.status(), 200, "{case}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<td class=\"patient\">"),
            "{case}: no task shown"
        );
        assert!(
            n.statements <= 4 && n.transactions == 0,
            "{case}: GET /view_tasks ran {} statements in {} transactions:{}",
            n.statements,
            n.transactions,
            show(&texts)
        );
    }
}

backend_test! {
    /// sessions §2.4 with coalescing (ARCHITECTURE.md items 1 and 8): one statement per page view
    /// when no activity write is due; the write itself is one guarded UPDATE in its own
    /// short transaction.
    async fn main_menu_is_one_statement(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("budget_su", PW, true, |m| m.may_use_webviewer = Some(true));
        let c = browser(&app, "budget_su").await;
        let (n, texts, r) = measure(&app, || app.get_with(&c, "/")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(n.statements, 1, "GET / (no write due):{}", show(&texts));
        assert_eq!(n.transactions, 0);

        // Past the write interval: the lookup, then BEGIN, the guarded UPDATE, COMMIT.
        app.clock().advance(chrono::Duration::seconds(61));
        let (n, texts, r) = measure(&app, || app.get_with(&c, "/")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(n.transactions, 1, "{}", show(&texts));
        assert!(n.statements <= 2 + 2, "GET / (write due):{}", show(&texts));
        assert!(texts.iter().any(|t| t.to_uppercase().starts_with("UPDATE")), "{}", show(&texts));
    }

    /// Architecture item 5: no session row, and no statement, for an anonymous login page.
    async fn login_page_without_cookie_runs_nothing(db) {
        let app = TestApp::spawn(db).await;
        let (n, texts, r) = measure(&app, || app.get("/login")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(n.statements, 0, "GET /login:{}", show(&texts));
    }

    /// sessions §4.5: the task list in at most 4 statements for each kind of view.
    async fn view_tasks_is_at_most_four_statements(db) {
        // The coalesced activity write (counted by `main_menu_is_one_statement`) must not
        // fall due between the login and the last page here, however slowly a loaded
        // machine runs the seven page views: it is made due at most every 15 minutes.
        let app = TestApp::spawn_with(db, |s| {
            s.session_timeout_minutes = 60;
            s.session_activity_write_interval_s = 15 * 60;
        })
        .await;
        seed(&app);
        let mut conn = app.conn();
        let surname = first_surname(&mut conn);
        let task = commonest_task_type(&mut conn);

        let c = browser(&app, "budget_su").await;
        view_tasks_within_budget(&app, &c, "superuser, no filter").await;
        set_filter(&app, &c, &[("surname", &surname)]).await;
        view_tasks_within_budget(&app, &c, "superuser, surname filter").await;
        set_filter(&app, &c, &[("tasks", &task)]).await;
        view_tasks_within_budget(&app, &c, "superuser, task-type filter").await;

        // demo_clinician: all outpatients, memory clinic only by patient (restricted).
        let c = browser(&app, "demo_clinician").await;
        view_tasks_within_budget(&app, &c, "restricted user, no filter").await;
    }

    /// The statements of a successful `POST /login`, each with its reason.
    async fn login_runs_the_listed_statements(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("budget_su", PW, true, |m| m.may_use_webviewer = Some(true));
        let c = crate::helpers::new_client();
        let html = app.body_with(&c, "/login").await;
        let token = csrf_from(&html).unwrap();
        let form = [
            ("username", "budget_su"),
            ("password", PW),
            ("csrf_token", token.as_str()),
            ("redirect_url", "/"),
        ];
        let (n, texts, r) = measure(&app, || app.post_with(&c, "/login", &form)).await;
        assert_eq!(r.status(), 303);
        let got: Vec<&str> = texts.iter().map(|t| classify(t)).collect();
        let want = login_statements(app.db.backend());
        assert_eq!(got, want, "POST /login ran {} statements:{}", n.statements, show(&texts));
    }
}

/// What a successful `POST /login` runs on `backend`, in order, and why.
fn login_statements(backend: Backend) -> Vec<&'static str> {
    let locking = backend != Backend::Sqlite;
    [
        // Reads, without a transaction (each needs no snapshot shared with the others):
        (
            true,
            "select _security_account_lockouts",
            "is the name locked out (sessions §1.5)",
        ),
        (
            true,
            "select _security_users",
            "the user: hash, MFA method, flags",
        ),
        (
            true,
            "select _security_user_group",
            "their memberships (may_use_webviewer)",
        ),
        // bcrypt runs here, off the database. Then the writes, in one transaction:
        (true, "begin", "the login's writes are all or nothing"),
        (
            true,
            "delete _security_login_failures",
            "a success clears the failures of the name",
        ),
        (true, "update _security_users", "last_login_at_utc"),
        (
            locking,
            "select _security_users",
            "FOR UPDATE: concurrent logins of one user queue, so one session survives",
        ),
        (
            true,
            "insert _security_webviewer_sessions",
            "the new session row (fixation-proof: new id and token)",
        ),
        (true, "last insert id", "its id, for the cookie"),
        (
            true,
            "select _security_webviewer_sessions",
            "the user's other human sessions, to end them (one per user)",
        ),
        (true, "insert _security_audit", "the audit row of the login"),
        (true, "commit", ""),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, kind, _why)| kind)
    .collect()
}

/// A statement's verb and first table, lower case (`select _security_users`), or `begin` /
/// `commit`, so that the list above reads the same on every backend.
fn classify(text: &str) -> &'static str {
    let t = text.to_lowercase();
    if ["last_insert_rowid()", "lastval()", "last_insert_id()"]
        .iter()
        .any(|f| t.contains(f))
    {
        return "last insert id";
    }
    let verb = t.split_whitespace().next().unwrap_or("");
    match verb {
        "begin" | "start" => return "begin",
        "commit" => return "commit",
        "savepoint" => return "savepoint",
        "release" => return "release",
        _ => {}
    }
    const TABLES: &[&str] = &[
        "_security_webviewer_sessions",
        "_security_user_group",
        "_security_users",
        "_security_account_lockouts",
        "_security_login_failures",
        "_security_audit",
        "_task_filters",
    ];
    let table_at = |name: &str| {
        let q = [
            format!("`{name}`"),
            format!("\"{name}\""),
            format!(" {name}"),
        ];
        q.iter().filter_map(|p| t.find(p.as_str())).min()
    };
    let first = TABLES
        .iter()
        .filter_map(|name| table_at(name).map(|at| (at, *name)))
        .min()
        .map(|(_, n)| n)
        .unwrap_or("?");
    let key = format!("{verb} {first}");
    KINDS
        .iter()
        .find(|k| **k == key)
        .copied()
        .unwrap_or("other")
}

/// Every verb-and-table pair `classify` may return.
const KINDS: &[&str] = &[
    "select _security_webviewer_sessions",
    "select _security_user_group",
    "select _security_users",
    "select _security_account_lockouts",
    "select _security_login_failures",
    "insert _security_webviewer_sessions",
    "insert _security_audit",
    "update _security_webviewer_sessions",
    "update _security_users",
    "delete _security_webviewer_sessions",
    "delete _task_filters",
    "delete _security_login_failures",
];

#[derive(diesel::QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Variable_name")]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Value")]
    value: String,
}

/// MariaDB's `Com_stmt_prepare` and `Com_stmt_execute` of the app's one pooled connection
/// (the statement reading them is itself prepared once per call).
async fn prepare_counts(app: &TestApp) -> (u64, u64) {
    let rows: Vec<StatusRow> = camcops_web::db::run_db_conn(&app.state.pool, |conn| {
        Ok(diesel::sql_query(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_execute')",
        )
        .load(conn)?)
    })
    .await
    .unwrap();
    let get = |n: &str| {
        rows.iter()
            .find(|r| r.name.eq_ignore_ascii_case(n))
            .and_then(|r| r.value.parse().ok())
            .unwrap()
    };
    (get("Com_stmt_prepare"), get("Com_stmt_execute"))
}

/// Issue 13 item 3: in the steady state no statement of a page view is prepared again: the
/// task list's value lists have fixed arities (`InList`) and the rest has static text.
#[test]
fn mariadb_reuses_prepared_statements() {
    let Some(db) = crate::testdb::TestDb::for_test(Backend::Mysql) else {
        return;
    };
    actix_web::rt::System::new().block_on(async move {
        let app = TestApp::spawn_with(db, |s| s.db_pool_size = 1).await;
        seed(&app);
        let surname = first_surname(&mut app.conn());
        let su = browser(&app, "budget_su").await;
        let restricted = browser(&app, "demo_clinician").await;
        app.create_user_with("budget_su2", PW, true, |m| m.may_use_webviewer = Some(true));
        let filtered = browser(&app, "budget_su2").await;
        set_filter(&app, &filtered, &[("surname", &surname)]).await;
        let pages = [(&su, "/view_tasks"), (&su, "/"), (&restricted, "/view_tasks"), (&filtered, "/view_tasks")];
        for (c, path) in pages {
            assert_eq!(app.get_with(c, path).await.status(), 200);
        }
        let before = prepare_counts(&app).await;
        for _ in 0..5 {
            for (c, path) in pages {
                assert_eq!(app.get_with(c, path).await.status(), 200);
            }
        }
        let after = prepare_counts(&app).await;
        let prepared = after.0 - before.0;
        let executed = after.1 - before.1;
        assert_eq!(prepared, 1, "statements prepared again over 20 page views (1 = the status query itself); {executed} executed");
        assert!(executed >= 20 * 2, "{executed} executed");
    });
}
