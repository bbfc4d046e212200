//! Sessions through HTTP on every backend: cookie attributes, login/logout, fixation, replay,
//! timeouts, one human session per user, malformed cookies, no rows for anonymous visitors.

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::db::schema::{
    _security_audit, _security_login_failures, _security_webviewer_sessions as sess,
};

use crate::helpers::{count_sessions, location, new_client, TestApp};
use crate::testdb::backend_test;

/// The `name=value` part of the response's session cookie.
fn session_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .rev()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let first = v.split(';').next()?;
            (first.starts_with(&format!("{name}=")) && first.len() > name.len() + 1)
                .then(|| first.to_string())
        })
}

fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

backend_test! {
    /// Anonymous visitors never cause a session row (deliberate difference 5): 1,000 views.
    async fn anonymous_page_views_write_no_rows(db) {
        let app = TestApp::spawn(db).await;
        for i in 0..250 {
            let c = if i % 2 == 0 { &app.client } else { &raw_client() };
            assert_eq!(c.get(app.url("/login")).send().await.unwrap().status(), 200);
            assert_eq!(c.get(app.url("/")).send().await.unwrap().status(), 303);
            assert_eq!(c.get(app.url("/static/camcops.css")).send().await.unwrap().status(), 200);
            assert_eq!(c.get(app.url("/no/such/page")).send().await.unwrap().status(), 404);
        }
        assert_eq!(count_sessions(&mut app.conn()), 0);
    }

    /// Login: 303 to the redirect target, a row with the user, cookie HttpOnly + SameSite=Lax;
    /// authenticated pages say no-store and carry the security headers.
    async fn login_creates_one_row_and_a_safe_cookie(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", "correct horse battery");
        let r = app.login("alice", "correct horse battery").await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/");
        let sc: Vec<String> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let c = sc.iter().find(|c| c.starts_with("camcops=")).expect("session cookie");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"), "{c}");
        assert!(!c.contains("Domain"), "{c}");
        let mut conn = app.conn();
        let rows: Vec<(Option<i32>, Option<bool>)> = sess::table.select((sess::user_id, sess::is_api_session)).load(&mut conn).unwrap();
        assert_eq!(rows, vec![(Some(uid), Some(false))]);
        let page = app.get("/").await;
        assert_eq!(page.status(), 200);
        let h = page.headers().clone();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        let body = page.text().await.unwrap();
        assert!(body.contains("Logged in as <strong>alice</strong>") && body.contains("Log out"));
        let audits: i64 = _security_audit::table.filter(_security_audit::details.eq("Login")).count().get_result(&mut conn).unwrap();
        assert_eq!(audits, 1);
    }

    /// Without ALLOW_INSECURE_COOKIES the cookie is `__Host-camcops` with Secure.
    async fn secure_cookie_name_and_flags(db) {
        let app = TestApp::spawn_with(db, |s| s.allow_insecure_cookies = false).await;
        let r = raw_client().get(app.url("/login")).send().await.unwrap();
        let c = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("__Host-camcops=")).expect("cookie");
        assert!(c.contains("Secure") && c.contains("HttpOnly") && c.contains("Path=/") && !c.contains("Domain"), "{c}");
    }

    /// The login form needs its CSRF token (deliberate difference 1): none or a wrong one is
    /// a 400 and writes nothing.
    async fn login_without_csrf_is_rejected(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("bob", "correct horse battery");
        let _ = app.csrf().await;
        for token in ["", "forged"] {
            let r = app.post_form("/login", &[("username", "bob"), ("password", "correct horse battery"), ("csrf_token", token)]).await;
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains("CSRF"));
        }
        assert_eq!(count_sessions(&mut app.conn()), 0);
    }

    /// Wrong password: generic message via flash, failure recorded, no session row.
    async fn wrong_password_is_generic_and_recorded(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("carol", "correct horse battery");
        for user in ["carol", "nobody"] {
            let r = app.login(user, "wrong password!").await;
            assert_eq!(r.status(), 303);
            assert_eq!(location(&r), "/login?redirect_url=%2F");
            let body = app.get(&location(&r)).await.text().await.unwrap();
            assert!(body.contains("Invalid username/password (or user not authorized)."), "{body}");
        }
        let mut conn = app.conn();
        let n: i64 = _security_login_failures::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 2, "unknown usernames are recorded too");
        assert_eq!(count_sessions(&mut conn), 0);
    }

    /// Logout is a CSRF-checked POST that ends the session server-side; replaying the old
    /// cookie afterwards is anonymous.
    async fn logout_then_replay_is_anonymous(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("dave", "correct horse battery");
        let r = app.login("dave", "correct horse battery").await;
        let old_cookie = session_cookie(&r, "camcops").unwrap();
        assert_eq!(raw_client().get(app.url("/")).header("cookie", &old_cookie).send().await.unwrap().status(), 200);
        let page = app.get("/").await.text().await.unwrap();
        let token = crate::helpers::csrf_from(&page).unwrap();
        assert_eq!(app.post_form("/logout", &[]).await.status(), 400, "no CSRF token");
        let r = app.post_form("/logout", &[("csrf_token", &token)]).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["clear-site-data"].to_str().unwrap().contains("cookies"));
        assert!(r.text().await.unwrap().contains("You have logged out."));
        let (tok, uid): (Option<String>, Option<i32>) = sess::table.select((sess::token, sess::user_id)).first(&mut app.conn()).unwrap();
        assert_eq!((tok.as_deref(), uid), (Some(""), None));
        let replay = raw_client().get(app.url("/")).header("cookie", &old_cookie).send().await.unwrap();
        assert_eq!(replay.status(), 303);
        assert_eq!(location(&replay), "/login?redirect_url=%2F");
        assert_eq!(app.get("/").await.status(), 303);
    }

    /// Logging in elsewhere ends the first browser's session (one human session per user).
    async fn second_login_ends_the_first(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("erin", "correct horse battery");
        app.login("erin", "correct horse battery").await;
        assert_eq!(app.get("/").await.status(), 200);
        let other = new_client();
        app.login_with(&other, "erin", "correct horse battery").await;
        assert_eq!(other.get(app.url("/")).send().await.unwrap().status(), 200);
        assert_eq!(app.get("/").await.status(), 303);
        assert_eq!(count_sessions(&mut app.conn()), 1);
    }

    /// Idle timeout through HTTP with the injected clock.
    async fn idle_session_times_out(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("fay", "correct horse battery");
        app.login("fay", "correct horse battery").await;
        app.clock().advance(Duration::minutes(29));
        assert_eq!(app.get("/").await.status(), 200);
        app.clock().advance(Duration::minutes(29));
        assert_eq!(app.get("/").await.status(), 200, "activity at 29 min restarted the idle clock");
        app.clock().advance(Duration::minutes(31));
        let r = app.get("/").await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("/login"));
    }

    /// The login page refuses external redirect targets (deliberate difference 3).
    async fn open_redirects_are_refused(db) {
        let app = TestApp::spawn(db).await;
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"] {
            let r = app.get(&format!("/login?redirect_url={}", camcops_web::error::url_encode(bad))).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        assert_eq!(app.get("/login?redirect_url=%2Fview_tasks").await.status(), 200);
    }

    /// A user without web-viewer permission gets the generic failure; no session.
    async fn user_without_webviewer_is_refused(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("gus", "correct horse battery", false, |m| m.may_upload = Some(true));
        let r = app.login("gus", "correct horse battery").await;
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        assert!(app.get("/login").await.text().await.unwrap().contains("Invalid username/password"));
        assert_eq!(count_sessions(&mut app.conn()), 0);
    }

    /// At least 20 malformed cookies: anonymous, never a 5xx, no row written.
    async fn malformed_cookies_are_anonymous(db) {
        let app = TestApp::spawn(db).await;
        app.create_user("hal", "correct horse battery");
        let r = app.login("hal", "correct horse battery").await;
        let good = session_cookie(&r, "camcops").unwrap();
        let value = good.trim_start_matches("camcops=").to_string();
        // A cookie from another server (another key).
        let other_db = crate::testdb::TestDb::new(camcops_web::db::Backend::Sqlite);
        let other = TestApp::spawn_with(other_db, |s| s.session_cookie_secret = "another-secret-".repeat(4).into()).await;
        other.create_user("hal", "correct horse battery");
        let foreign = session_cookie(&other.login("hal", "correct horse battery").await, "camcops").unwrap();
        let mut flipped = value.clone().into_bytes();
        let mid = flipped.len() / 2;
        flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let cases: Vec<String> = vec![
            "camcops=".into(),
            "camcops=garbage".into(),
            format!("camcops={flipped}"),
            format!("camcops={}", &value[..value.len() / 2]),
            format!("camcops={value}x"),
            foreign.clone(),
            format!("camcops={}", "A".repeat(4000)),
            format!("camcops={}", "A".repeat(7000)),
            "camcops=%00%01%02".into(),
            "camcops={\"session_id\":\"1\",\"session_token\":\"x\"}".into(),
            "camcops=session_id=1; session_token=abc".into(),
            "camcops=' OR 1=1; --".into(),
            "camcops=1; camcops=2".into(),
            "camcops".into(),
            "=camcops".into(),
            ";;;;".into(),
            "camcops=%7F%7F%FF".into(),
            "camcops=====".into(),
            format!("camcops={}", base64_of("{\"session_id\":\"1\",\"session_token\":\"planted\"}")),
            "session_id=1; session_token=planted".into(),
            format!("{good}; camcops=garbage"),
            "camcops=\"quoted\"".into(),
        ];
        assert!(cases.len() >= 20);
        let before = count_sessions(&mut app.conn());
        for (i, cookie) in cases.iter().enumerate() {
            for path in ["/", "/login"] {
                let r = raw_client().get(app.url(path)).header("cookie", cookie.as_str()).send().await.unwrap();
                assert!(r.status().as_u16() < 500, "case {i} {path}: {}", r.status());
                if path == "/" && !cookie.contains(&value) {
                    assert_eq!(r.status(), 303, "case {i} must be anonymous");
                }
            }
        }
        // Non-UTF-8 bytes in the header.
        let bytes = reqwest::header::HeaderValue::from_bytes(b"camcops=\xff\xfe\xfd").unwrap();
        let r = raw_client().get(app.url("/")).header("cookie", bytes).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(count_sessions(&mut app.conn()), before);
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

backend_test! {
    /// An account with an e-mail code method but no address never logs in with the password
    /// alone: it is told that no code can be sent.
    async fn hotp_accounts_do_not_fall_back_to_password_only(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.mfa_methods = vec![camcops_web::config::MfaMethod::NoMfa, camcops_web::config::MfaMethod::HotpEmail]
        })
        .await;
        let uid = app.create_user("ivy", "correct horse battery");
        camcops_web::models::user::User::set_mfa(&mut app.conn(), uid, "hotp_email", Some("JBSWY3DPEHPK3PXP"), 0).unwrap();
        let r = app.login("ivy", "correct horse battery").await;
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        assert!(app.get("/login").await.text().await.unwrap().contains("Your account has no e-mail address to send a code to."));
        assert_eq!(app.get("/").await.status(), 303);
        assert_eq!(count_sessions(&mut app.conn()), 0);
    }
}
