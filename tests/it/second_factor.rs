//! Every second-factor attempt is a login attempt, on every backend: wrong codes at the login's
//! code step and at the step-up pages are counted and audited, guessing stops at the lockout
//! threshold (then even the right code is refused), and an accepted TOTP code cannot be used
//! again within its window.

use diesel::prelude::*;

use camcops_web::config::{MfaMethod, Settings};
use camcops_web::db::schema::_security_audit as au;
use camcops_web::models::totp_step;
use camcops_web::models::user::User;

use crate::accounts::{code, failures, login_page, set_totp, whoami, wrong_code};
use crate::helpers::{csrf_from, location, new_client, unescape, TestApp};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const THRESHOLD: i64 = 4;

fn settings(s: &mut Settings) {
    s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp];
    s.lockout_threshold = THRESHOLD;
}

fn failure_audits(app: &TestApp, username: &str) -> i64 {
    au::table
        .filter(au::details.eq(format!("Failed login as user: {username}")))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Passes the password step in `c`; returns the token page's CSRF token.
async fn password_step(app: &TestApp, c: &reqwest::Client) -> String {
    let r = app.login_with(c, "alice", PW).await;
    assert_eq!(r.status(), 200, "the code page");
    let body = r.text().await.unwrap();
    assert!(body.contains("one_time_password"), "{body}");
    csrf_from(&body).unwrap()
}

/// Posts a code to the login's code step: (status, location).
async fn post_code(app: &TestApp, c: &reqwest::Client, token: &str, code: &str) -> (u16, String) {
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("one_time_password", code),
            ("csrf_token", token),
            ("redirect_url", "/"),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), location(&r))
}

backend_test! {
    /// Wrong codes at the login's code step are failed logins (counted and audited); at the
    /// threshold the account locks, and then the right code is refused too, both in a
    /// browser that passed the password step before the lockout and after a new password
    /// step (which the lockout refuses).
    async fn totp_guessing_stops_at_the_lockout_threshold(db) {
        let app = TestApp::spawn_with(db, settings).await;
        let alice = app.create_user("alice", PW);
        let secret = set_totp(&app, alice);
        // A second browser at the code step before the guessing starts.
        let waiting = new_client();
        let waiting_token = password_step(&app, &waiting).await;
        let guesser = new_client();
        for i in 1..=THRESHOLD {
            let t = password_step(&app, &guesser).await;
            let (status, loc) = post_code(&app, &guesser, &t, &wrong_code(&app, &secret)).await;
            assert_eq!((status, loc.as_str()), (303, "/login?redirect_url=%2F"), "guess {i}");
            assert_eq!(failures(&app, "alice"), i, "guess {i} counted");
            assert_eq!(failure_audits(&app, "alice"), i, "guess {i} audited");
        }
        let page = login_page(&app, &guesser).await;
        assert!(page.contains("Account locked until"), "{page}");
        // The right code now gets nobody in.
        let (status, loc) = post_code(&app, &waiting, &waiting_token, &code(&app, &secret)).await;
        assert_eq!((status, loc.as_str()), (303, "/login?redirect_url=%2F"));
        assert!(login_page(&app, &waiting).await.contains("Account locked until"));
        assert_eq!(whoami(&app, &waiting).await, None);
        // Back at the password step, the lockout refuses the right password.
        let r = app.login_with(&guesser, "alice", PW).await;
        assert_eq!(r.status(), 303);
        assert!(login_page(&app, &guesser).await.contains("Account locked until"));
        assert_eq!(totp_step::last_step(&mut app.conn(), alice).unwrap(), None, "no code accepted");
        assert_eq!(failures(&app, "alice"), THRESHOLD, "locked attempts try nothing");
    }

    /// An accepted code cannot log in again within its window (another browser, same
    /// code): refused and counted; the next time step's code works.
    async fn totp_replayed_code_is_refused(db) {
        let app = TestApp::spawn_with(db, settings).await;
        let alice = app.create_user("alice", PW);
        let secret = set_totp(&app, alice);
        let first = new_client();
        let t = password_step(&app, &first).await;
        let used = code(&app, &secret);
        assert_eq!(post_code(&app, &first, &t, &used).await, (303, "/".to_string()));
        assert_eq!(whoami(&app, &first).await.as_deref(), Some("alice"));
        assert!(totp_step::last_step(&mut app.conn(), alice).unwrap().is_some());
        let second = new_client();
        let t = password_step(&app, &second).await;
        assert_eq!(post_code(&app, &second, &t, &used).await, (303, "/login?redirect_url=%2F".to_string()));
        assert!(login_page(&app, &second).await.contains("You entered an invalid code. Please try again."));
        assert_eq!(whoami(&app, &second).await, None);
        assert_eq!((failures(&app, "alice"), failure_audits(&app, "alice")), (1, 1));
        app.clock().advance(chrono::Duration::seconds(30));
        let t = password_step(&app, &second).await;
        assert_ne!(code(&app, &secret), used);
        assert_eq!(post_code(&app, &second, &t, &code(&app, &secret)).await, (303, "/".to_string()));
        assert_eq!(whoami(&app, &second).await.as_deref(), Some("alice"));
        assert_eq!(failures(&app, "alice"), 0, "a login clears the failures");
    }

    /// Wrong and replayed codes at the step-up pages (change own password, edit own MFA)
    /// are failed logins: counted and audited; a locked account gets nowhere with the right
    /// code.
    async fn step_up_codes_count_as_login_attempts(db) {
        let app = TestApp::spawn_with(db, settings).await;
        let alice = app.create_user("alice", PW);
        let secret = set_totp(&app, alice);
        let c = new_client();
        let t = password_step(&app, &c).await;
        let login_code = code(&app, &secret);
        assert_eq!(post_code(&app, &c, &t, &login_code).await.0, 303);
        let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
            let (app, c) = (&app, &c);
            async move {
                let t = app.csrf_with(c, "/logout").await;
                let mut form = fields;
                form.push(("csrf_token", t));
                let r = c.post(app.url(path)).form(&form).send().await.unwrap();
                let status = r.status().as_u16();
                (status, unescape(&r.text().await.unwrap()))
            }
        };
        // change_own_password: the login's code again (replay), then a wrong one.
        for (i, guess) in [login_code.clone(), wrong_code(&app, &secret)].into_iter().enumerate() {
            c.get(app.url("/change_own_password")).send().await.unwrap();
            let (status, _) = post("/change_own_password", vec![("one_time_password", guess)]).await;
            assert_eq!(status, 303);
            assert_eq!(failures(&app, "alice"), i as i64 + 1);
        }
        // edit_own_user_mfa: the used code and a wrong one, with a method chosen.
        for (i, guess) in [login_code.clone(), wrong_code(&app, &secret)].into_iter().enumerate() {
            c.get(app.url("/edit_own_user_mfa")).send().await.unwrap();
            let (status, body) = post("/edit_own_user_mfa", vec![("mfa_method", "no_mfa".into()), ("one_time_password", guess)]).await;
            assert_eq!(status, 200);
            let n = i as i64 + 3;
            if n < THRESHOLD {
                assert!(body.contains("Enter a current code from your authenticator app"), "{body}");
            } else {
                assert!(body.contains("Account locked until"), "{body}");
            }
            assert_eq!(failures(&app, "alice"), n);
        }
        assert_eq!(failure_audits(&app, "alice"), THRESHOLD);
        // Locked: the right, unused code changes nothing and is not counted again.
        app.clock().advance(chrono::Duration::seconds(30));
        let (status, body) = post("/edit_own_user_mfa", vec![("mfa_method", "no_mfa".into()), ("one_time_password", code(&app, &secret))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("Account locked until"), "{body}");
        let row = User::find(&mut app.conn(), alice).unwrap().unwrap();
        assert_eq!(row.mfa_method, "totp", "MFA not switched off");
        assert_eq!(failures(&app, "alice"), THRESHOLD);
    }
}
