//! Database failures on the shared test servers (only this test's own connections are ended
//! or its own tables locked): 503 with `Retry-After`, never 500, within the bound, and
//! recovery without a restart; `Location` percent-encoding; `/metrics`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use camcops_web::clock::Clock;
use camcops_web::config::Settings;
use camcops_web::db::{build_pool, build_pool_with, Backend, DbConnection};
use camcops_web::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::helpers::{location, metric, test_settings, TestApp};
use crate::testdb::{backend_test, TestDb};

/// Settings with short database timeouts (1 s checkout, 1 s statements).
fn short_timeouts(db: &TestDb) -> Settings {
    let mut s = test_settings(db);
    s.db_pool_checkout_timeout_s = 1;
    s.db_statement_timeout_s = 1;
    s
}

async fn spawn_short(db: TestDb) -> TestApp {
    let settings = short_timeouts(&db);
    let pool = build_pool_with(&db.db_url(), settings.pool_options()).unwrap();
    TestApp::spawn_with_pool(db, pool, |s| *s = settings).await
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Ends every server connection of this test's database except `admin`'s own.
fn kill_connections(db: &TestDb, admin: &mut DbConnection) -> usize {
    let name = db.database_name().unwrap();
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "SELECT pg_terminate_backend(pid)::int::bigint AS id FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
        _ => format!(
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
             WHERE DB = '{name}' AND ID <> CONNECTION_ID()"
        ),
    };
    let rows: Vec<Pid> = diesel::sql_query(sql).load(admin).unwrap();
    if db.backend() == Backend::Mysql {
        for r in &rows {
            let _ = admin.batch_execute(&format!("KILL CONNECTION {}", r.id));
        }
    }
    rows.len()
}

backend_test! {
    /// Connections ended under the server: the request that meets a dead one gets a 503 with
    /// Retry-After (never a 500), the dead connections never come back, the same session
    /// works again at once, and after a pause the first request already succeeds.
    async fn lost_connections_give_503_and_recover(db) {
        if db.backend() == Backend::Sqlite {
            return; // a file cannot drop its connections; see the lock test
        }
        let app = spawn_short(db).await;
        app.create_user("alice", "correct horse battery");
        app.login("alice", "correct horse battery").await;
        assert_eq!(app.get("/").await.status(), 200);
        let mut admin = app.conn();
        assert!(kill_connections(&app.db, &mut admin) >= 1);
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let r = app.get("/").await;
            if r.status() == 503 {
                assert_eq!(r.headers()["retry-after"], "5");
            }
            statuses.push(r.status().as_u16());
        }
        assert!(statuses.iter().all(|&s| s == 200 || s == 503), "{statuses:?}");
        assert!(statuses.iter().filter(|&&s| s == 503).count() <= 1, "{statuses:?}");
        assert_eq!(*statuses.last().unwrap(), 200, "{statuses:?}");
        // Killed while idle: the connection is verified before use, nothing fails.
        kill_connections(&app.db, &mut admin);
        tokio::time::sleep(camcops_web::db::IDLE_VERIFY + Duration::from_millis(300)).await;
        assert_eq!(app.get("/").await.status(), 200);
        assert_eq!(app.get("/healthz").await.status(), 200);
    }

    /// A database locked by another connection: writes (a login) get a 503 with Retry-After
    /// within the statement timeout's bound, `/healthz` says 503 within 1 s on SQLite (where
    /// reads still work), and everything works again once the lock is gone.
    async fn locked_database_gives_503_within_the_bound(db) {
        let app = spawn_short(db).await;
        app.create_user("alice", "correct horse battery");
        let mut holder = app.conn();
        let lock = match app.db.backend() {
            Backend::Sqlite => "BEGIN EXCLUSIVE",
            Backend::Postgres => "BEGIN; LOCK TABLE _security_webviewer_sessions IN ACCESS EXCLUSIVE MODE",
            Backend::Mysql => "LOCK TABLES _security_webviewer_sessions WRITE",
        };
        holder.batch_execute(lock).unwrap();
        let started = Instant::now();
        let r = app.login("alice", "correct horse battery").await;
        let took = started.elapsed();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        // Bound: checkout 1 s + statement 1 s + 1 s, with room for a loaded machine.
        assert!(took < Duration::from_secs(6), "{took:?}");
        if app.db.backend() == Backend::Sqlite {
            let started = Instant::now();
            let r = app.get("/healthz").await;
            assert_eq!(r.status(), 503);
            assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
            assert!(!r.text().await.unwrap().contains("locked"));
        }
        let unlock = match app.db.backend() {
            Backend::Mysql => "UNLOCK TABLES",
            _ => "ROLLBACK",
        };
        holder.batch_execute(unlock).unwrap();
        assert_eq!(app.get("/healthz").await.status(), 200);
        let r = app.login("alice", "correct horse battery").await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/");
    }

    /// `redirect_url=/é` ends in a percent-encoded `Location` (ASCII only).
    async fn location_headers_are_percent_encoded(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("alice", "correct horse battery");
        let token = app.csrf().await;
        let r = app
            .post_form(
                "/login",
                &[
                    ("username", "alice"),
                    ("password", "correct horse battery"),
                    ("csrf_token", token.as_str()),
                    ("redirect_url", "/é x"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        let raw = r.headers()["location"].as_bytes();
        assert_eq!(raw, b"/%C3%A9%20x");
    }

    /// `/metrics` is served on its own listener only, and its counters move with requests.
    async fn metrics_count_real_requests_and_stay_off_the_public_port(db) {
        let settings = test_settings(&db);
        let pool = db.pool();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mlistener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::build_with_metrics(settings, pool, Clock::system(), listener, mlistener).unwrap();
        let (port, mport) = (app.port, app.metrics_port.unwrap());
        let state = app.state.clone();
        let server = app.server();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = crate::helpers::new_client();
        let base = format!("http://127.0.0.1:{port}");
        let scrape = || async {
            reqwest::get(format!("http://127.0.0.1:{mport}/metrics")).await.unwrap().text().await.unwrap()
        };
        let value = metric;
        let series = "camcops_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"}";
        let before = value(&scrape().await, series);
        for _ in 0..3 {
            assert_eq!(client.get(format!("{base}/login")).send().await.unwrap().status(), 200);
        }
        let r = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let text = scrape().await;
        assert_eq!(value(&text, series) - before, 3.0, "{text}");
        assert!(text.contains("camcops_db_pool_max_size 4"), "{text}");
        assert!(text.contains("camcops_sessions_active 0"), "{text}");
        assert!(value(&text, "camcops_db_pool_checkouts_total") >= 1.0);
        // A failed login counts.
        let token = crate::helpers::csrf_from(&client.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap()).unwrap();
        client.post(format!("{base}/login")).form(&[("username", "nobody"), ("password", "wrong password here"), ("csrf_token", token.as_str())]).send().await.unwrap();
        assert_eq!(value(&scrape().await, "camcops_login_failures_total"), 1.0);
        assert_eq!(state.metrics.login_failures.get(), 1);
        handle.stop(false).await;
        drop(db);
    }

    /// The tablet API's 503s (its own reply format, no error page) are counted in
    /// `camcops_db_errors_total` as the web pages' are: here a pool whose only connection is
    /// held elsewhere, for an operation open to anyone and for a login.
    async fn api_503s_are_counted_as_database_errors(db) {
        let pool = build_pool(&db.db_url(), 1, Duration::from_millis(300)).unwrap();
        let app = TestApp::spawn_with_pool(db, pool.clone(), |s| s.metrics_port = Some(0)).await;
        app.create_user("alice", "correct horse battery");
        let series = "camcops_db_errors_total{kind=\"pool_timeout\"}";
        let before = metric(&app.scrape().await, series);
        let api = |extra: &'static [(&'static str, &'static str)]| {
            let mut form = vec![
                ("operation", "check_device_registered"),
                ("device", "tab1"),
                ("camcops_version", "2.4.15"),
            ];
            form.extend_from_slice(extra);
            crate::helpers::new_client().post(app.url("/api")).form(&form).send()
        };
        let held = pool.get().unwrap();
        for extra in [&[][..], &[("user", "alice"), ("password", "correct horse battery")][..]] {
            let r = api(extra).await.unwrap();
            assert_eq!(r.status(), 503);
            assert_eq!(r.headers()["retry-after"], "5");
            let body = r.text().await.unwrap();
            assert!(body.starts_with("error:Database unavailable\nsuccess:0\n"), "{body}");
        }
        drop(held);
        let text = app.scrape().await;
        assert_eq!(metric(&text, series) - before, 2.0, "{text}");
        // The database is back: the API answers, and nothing more is counted.
        let r = api(&[]).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(metric(&app.scrape().await, series) - before, 2.0);
    }
}
