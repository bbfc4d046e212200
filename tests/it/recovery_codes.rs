//! Recovery codes on every backend: `/mfa_recovery_codes` makes ten codes shown once (only
//! hashes stored), needs the current password (a wrong one counts as a failed login), voids
//! the older set, and refuses users without a second factor; each code is usable once.

use diesel::prelude::*;

use camcops_web::auth::{mfa, recovery};
use camcops_web::config::MfaMethod;
use camcops_web::db::schema::{
    _security_audit, _security_user_group as ug, cw_mfa_recovery_codes as rc,
};
use camcops_web::models::lockout;
use camcops_web::models::user::User;

use std::time::Duration;

use crate::accounts::set_email;
use crate::helpers::{location, logged_in, new_client, TestApp};
use crate::mail_server::MailServer;
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";

/// The codes listed on a page that shows a new set.
fn codes_on(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

fn stored_hashes(app: &TestApp, uid: i32) -> Vec<String> {
    rc::table
        .filter(rc::user_id.eq(uid))
        .select(rc::code_hash)
        .order(rc::id)
        .load(&mut app.conn())
        .unwrap()
}

fn audit_count(app: &TestApp, text: &str) -> i64 {
    _security_audit::table
        .filter(_security_audit::details.like(format!("%{text}%")))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

backend_test! {
    async fn recovery_codes_are_made_once_with_the_password(db) {
        let app = TestApp::spawn_with(db, |s| s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp]).await;
        let uid = app.create_user("alice", PW);
        let c = logged_in(&app, "alice", PW).await;
        // The second factor switched on after logging in (pages read the user afresh).
        User::set_mfa(&mut app.conn(), uid, "totp", Some(&mfa::new_secret()), 0).unwrap();

        let page = app.body_with(&c, "/mfa_recovery_codes").await;
        assert!(page.contains("<strong id=\"recovery_codes_left\">0</strong>"), "{page}");
        assert!(codes_on(&page).is_empty());
        let token = app.page_csrf(&c).await;

        // A wrong password: 400, nothing made, counted and audited as a failed login.
        let r = app
            .post_with(&c, "/mfa_recovery_codes", &[("csrf_token", &token), ("password", "wrong password!")])
            .await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Password incorrect"));
        assert!(stored_hashes(&app, uid).is_empty());
        assert_eq!(lockout::failure_count(&mut app.conn(), "alice").unwrap(), 1);
        assert_eq!(audit_count(&app, "Failed login as user: alice"), 1);

        // Without the CSRF token: refused, nothing made.
        let r = app.post_with(&c, "/mfa_recovery_codes", &[("password", PW)]).await;
        assert_eq!(r.status(), 400);
        assert!(stored_hashes(&app, uid).is_empty());

        // The right password: ten codes shown, only hashes stored.
        let r = app
            .post_with(&c, "/mfa_recovery_codes", &[("csrf_token", &token), ("password", PW)])
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
        let first = codes_on(&r.text().await.unwrap());
        assert_eq!(first.len(), 10, "{first:?}");
        let hashes = stored_hashes(&app, uid);
        assert_eq!(hashes.len(), 10);
        for code in &first {
            assert!(!hashes.iter().any(|h| h.contains(code.as_str()) || h.contains(&code.replace('-', ""))));
        }
        assert_eq!(audit_count(&app, "MFA recovery codes made for user alice"), 1);
        // Shown once: the page afterwards lists none, only the number left.
        let page = app.body_with(&c, "/mfa_recovery_codes").await;
        assert!(codes_on(&page).is_empty());
        assert!(page.contains("<strong id=\"recovery_codes_left\">10</strong>"));

        // Each code works once; a code of the old set stops working when a new set is made.
        let now = app.clock().now();
        assert!(recovery::consume(&mut app.conn(), uid, &first[0], now).unwrap());
        assert!(!recovery::consume(&mut app.conn(), uid, &first[0], now).unwrap(), "used twice");
        assert!(recovery::consume(&mut app.conn(), uid, &first[1].to_uppercase().replace('-', " "), now).unwrap());
        assert!(!recovery::consume(&mut app.conn(), uid, "123456", now).unwrap());
        assert_eq!(recovery::remaining(&mut app.conn(), uid).unwrap(), 8);
        let page = app.body_with(&c, "/mfa_recovery_codes").await;
        assert!(page.contains("<strong id=\"recovery_codes_left\">8</strong>"));

        let r = app
            .post_with(&c, "/mfa_recovery_codes", &[("csrf_token", &token), ("password", PW)])
            .await;
        assert_eq!(r.status(), 200);
        let second = codes_on(&r.text().await.unwrap());
        assert_eq!(second.len(), 10);
        assert!(!recovery::consume(&mut app.conn(), uid, &first[2], now).unwrap(), "old set void");
        assert_eq!(stored_hashes(&app, uid).len(), 10);
        assert!(recovery::consume(&mut app.conn(), uid, &second[0], now).unwrap());
    }

    async fn codes_belong_to_their_user_and_need_a_second_factor(db) {
        let app = TestApp::spawn(db).await;
        let alice = app.create_user("alice", PW);
        let bob = app.create_user("bob", PW);
        let c = logged_in(&app, "alice", PW).await;
        let token = app.page_csrf(&c).await;
        // No second factor: refused with the reason, nothing stored.
        let r = app
            .post_with(&c, "/mfa_recovery_codes", &[("csrf_token", &token), ("password", PW)])
            .await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Set it up first"));
        assert!(stored_hashes(&app, alice).is_empty());

        let now = app.clock().now();
        let codes = recovery::make_set(&mut app.conn(), alice, now).unwrap();
        assert!(!recovery::consume(&mut app.conn(), bob, &codes[0], now).unwrap(), "another user's code");
        assert!(recovery::consume(&mut app.conn(), alice, &codes[0], now).unwrap());
        // Switching the second factor off voids the codes (switched on again, they stay void).
        User::set_mfa(&mut app.conn(), alice, "no_mfa", None, 0).unwrap();
        assert!(stored_hashes(&app, alice).is_empty());
        assert!(!recovery::consume(&mut app.conn(), alice, &codes[1], now).unwrap());
        // Deleting a user removes their codes with them (foreign key, ON DELETE CASCADE).
        recovery::make_set(&mut app.conn(), bob, now).unwrap();
        diesel::delete(ug::table.filter(ug::user_id.eq(bob))).execute(&mut app.conn()).unwrap();
        User::delete(&mut app.conn(), bob).unwrap();
        assert!(stored_hashes(&app, bob).is_empty());
        // Anonymous visitors are sent to the login page.
        let r = app.get("/mfa_recovery_codes").await;
        assert_eq!(r.status(), 303);
    }
}

backend_test! {
    /// At the login's code step a recovery code logs in once in place of the code (audited,
    /// the user e-mailed through a real SMTP server); used again it is a wrong code, counted
    /// as a failed login.
    async fn a_recovery_code_logs_in_once_and_is_notified(db) {
        let Some(server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::Totp]);
            s.security_notices = true;
        })
        .await;
        let uid = app.create_user("alice", PW);
        set_email(&app, uid, "alice@example.org");
        User::set_mfa(&mut app.conn(), uid, "totp", Some(&mfa::new_secret()), 0).unwrap();
        let codes = recovery::make_set(&mut app.conn(), uid, app.clock().now()).unwrap();

        let code_step = |c: reqwest::Client| {
            let app = &app;
            async move {
                let r = app.login_with(&c, "alice", PW).await;
                assert_eq!(r.status(), 200, "the code step");
                let page = r.text().await.unwrap();
                assert!(page.contains("recovery codes"), "{page}");
                (c, crate::helpers::csrf_from(&page).unwrap())
            }
        };
        let post_code = |c: &reqwest::Client, token: &str, code: &str| {
            let form = [("one_time_password", code.to_owned()), ("csrf_token", token.to_owned()), ("redirect_url", "/".to_owned())];
            c.post(app.url("/login")).form(&form).send()
        };

        let (c, token) = code_step(new_client()).await;
        let r = post_code(&c, &token, &codes[0].to_uppercase()).await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/");
        assert_eq!(app.get_with(&c, "/").await.status(), 200, "logged in");
        assert_eq!(recovery::remaining(&mut app.conn(), uid).unwrap(), 9);
        assert_eq!(audit_count(&app, "Login with an MFA recovery code by user alice (9 left)"), 1);
        let m = server.wait_for_message("alice@example.org", Duration::from_secs(10)).await.expect("notice");
        assert!(m.subject.contains("recovery code"), "{}", m.subject);
        assert!(!m.body.contains(&codes[0]) && !m.body.contains(&codes[1]), "no code in the notice");

        // The same code again: refused like a wrong code, and counted.
        let (d, token) = code_step(new_client()).await;
        let r = post_code(&d, &token, &codes[0]).await.unwrap();
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("/login"), "{}", location(&r));
        assert_eq!(app.get_with(&d, "/").await.status(), 303, "not logged in");
        assert_eq!(lockout::failure_count(&mut app.conn(), "alice").unwrap(), 1);
        assert_eq!(recovery::remaining(&mut app.conn(), uid).unwrap(), 9);
    }
}
