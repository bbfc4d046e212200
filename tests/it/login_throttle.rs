//! The failed-login budget per client address (`LOGIN_FAILURES_PER_ADDRESS`): password
//! spraying from one address is stopped with a 429 and `Retry-After`, one audit row per
//! blocked window, web and API failures count together, successes are not counted, and the
//! address is the one `TRUSTED_PROXY_HEADERS` resolves.

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::config::ClientIpSource;
use camcops_web::db::schema::_security_audit as au;
use camcops_web::db::DbConnection;

use crate::helpers::{location, new_client, TestApp};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const BLOCK_AUDIT: &str = "Too many failed logins from address%";

/// A login POST from a fresh browser, with an optional `X-Forwarded-For`.
async fn web_login(
    app: &TestApp,
    user: &str,
    pw: &str,
    forwarded: Option<&str>,
) -> reqwest::Response {
    let c = new_client();
    let mut get = c.get(app.url("/login"));
    if let Some(ip) = forwarded {
        get = get.header("x-forwarded-for", ip);
    }
    let body = get.send().await.unwrap().text().await.unwrap();
    let token = crate::helpers::csrf_from(&body).unwrap();
    let mut post = c.post(app.url("/login")).form(&[
        ("username", user),
        ("password", pw),
        ("csrf_token", token.as_str()),
        ("redirect_url", "/"),
    ]);
    if let Some(ip) = forwarded {
        post = post.header("x-forwarded-for", ip);
    }
    post.send().await.unwrap()
}

/// A tablet login (`check_device_registered` with a username and password).
async fn api_login(app: &TestApp, user: &str, pw: &str) -> reqwest::Response {
    new_client()
        .post(app.url("/api"))
        .form(&[
            ("operation", "check_device_registered"),
            ("device", "tab1"),
            ("camcops_version", "2.4.15"),
            ("user", user),
            ("password", pw),
        ])
        .send()
        .await
        .unwrap()
}

/// The address-block audit rows: (source, remote address).
fn block_audits(conn: &mut DbConnection) -> Vec<(String, Option<String>)> {
    au::table
        .filter(au::details.like(BLOCK_AUDIT))
        .select((au::source, au::remote_addr))
        .load(conn)
        .unwrap()
}

fn failure_audits(conn: &mut DbConnection) -> i64 {
    au::table
        .filter(au::details.like("Failed login as user:%"))
        .count()
        .get_result(conn)
        .unwrap()
}

fn assert_logged_in(r: &reqwest::Response, who: &str) {
    assert_eq!(r.status(), 303, "{who}");
    assert_eq!(location(r), "/", "{who}");
}

fn assert_failed(r: &reqwest::Response, who: &str) {
    assert_eq!(r.status(), 303, "{who}");
    assert!(location(r).starts_with("/login"), "{who}: {}", location(r));
}

backend_test! {
    /// One address trying one password against many accounts (each far below its own
    /// lockout) is refused after the budget: 429, `Retry-After`, no password tried (no new
    /// failure rows), even for the right password; one audit row however many refusals; a
    /// forged `X-Forwarded-For` is ignored when no proxy header is trusted.
    async fn spraying_from_one_address_is_refused(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.login_failures_per_address = 4;
            s.login_failures_per_address_window_minutes = 10;
        })
        .await;
        app.create_user("alice", PW);
        for (i, name) in ["u1", "u2", "u3", "alice"].iter().enumerate() {
            // Each from "another" forwarded address: ignored, the socket address counts.
            let fwd = format!("198.51.100.{i}");
            assert_failed(&web_login(&app, name, "Winter2026!", Some(&fwd)).await, name);
        }
        let mut conn = app.conn();
        assert_eq!(failure_audits(&mut conn), 4);
        assert_eq!(block_audits(&mut conn), vec![("webviewer".to_string(), Some("127.0.0.1".to_string()))]);
        for _ in 0..5 {
            let r = web_login(&app, "alice", PW, Some("203.0.113.9")).await;
            assert_eq!(r.status(), 429);
            let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=600).contains(&retry), "{retry}");
            assert!(r.text().await.unwrap().contains("Too many failed logins from your address"));
        }
        // The API is refused too, in its own format.
        let r = api_login(&app, "alice", PW).await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        let body = r.text().await.unwrap();
        assert!(body.contains("success:0\nsession_id:0\nsession_token:\n"), "{body}");
        assert_eq!(failure_audits(&mut conn), 4, "refused attempts try no password");
        assert_eq!(block_audits(&mut conn).len(), 1, "one audit row per blocked window");
        // After the window, the address may try again (and the right password works).
        app.clock().advance(Duration::minutes(11));
        assert_logged_in(&web_login(&app, "alice", PW, None).await, "alice after the window");
    }

    /// Behind a trusted proxy, `X-Forwarded-For` decides the address: two forwarded addresses
    /// have separate budgets (the blocked one is refused, the other logs in).
    async fn forwarded_addresses_have_separate_budgets(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.login_failures_per_address = 3;
            s.client_ip_source = ClientIpSource::XForwardedFor;
        })
        .await;
        app.create_user("alice", PW);
        for name in ["u1", "u2", "u3"] {
            assert_failed(&web_login(&app, name, "Winter2026!", Some("192.0.2.10")).await, name);
        }
        let r = web_login(&app, "alice", PW, Some("192.0.2.10")).await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        assert_logged_in(&web_login(&app, "alice", PW, Some("192.0.2.11")).await, "other address");
        // Only the proxy's (right-most) entry counts: a client-chosen left entry changes nothing.
        let r = web_login(&app, "alice", PW, Some("192.0.2.11, 192.0.2.10")).await;
        assert_eq!(r.status(), 429);
        let mut conn = app.conn();
        assert_eq!(block_audits(&mut conn), vec![("webviewer".to_string(), Some("192.0.2.10".to_string()))]);
    }

    /// Web and API failures count together; the API's failure that uses up the budget is
    /// audited with source `tablet`.
    async fn web_and_api_failures_share_the_budget(db) {
        let app = TestApp::spawn_with(db, |s| s.login_failures_per_address = 3).await;
        app.create_user("alice", PW);
        assert_failed(&web_login(&app, "u1", "nope-nope-nope", None).await, "u1");
        let r = api_login(&app, "u2", "nope-nope-nope").await;
        assert_eq!(r.status(), 200);
        let r = api_login(&app, "u3", "nope-nope-nope").await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("success:0"));
        assert_eq!(web_login(&app, "alice", PW, None).await.status(), 429);
        let mut conn = app.conn();
        assert_eq!(block_audits(&mut conn), vec![("tablet".to_string(), Some("127.0.0.1".to_string()))]);
    }

    /// Below the budget, the right password logs in; successes are not counted (many
    /// logins from one address with a budget of 2).
    async fn successes_are_not_counted_or_blocked(db) {
        let app = TestApp::spawn_with(db, |s| s.login_failures_per_address = 2).await;
        app.create_user("alice", PW);
        assert_failed(&web_login(&app, "alice", "wrong-password-1", None).await, "one failure");
        for i in 0..6 {
            assert_logged_in(&web_login(&app, "alice", PW, None).await, &format!("login {i}"));
            let r = api_login(&app, "alice", PW).await;
            assert_eq!(r.status(), 200);
        }
        assert!(block_audits(&mut app.conn()).is_empty());
        assert_eq!(app.state.login_throttle.blocked_for("127.0.0.1", app.clock().now()), None);
    }
}
