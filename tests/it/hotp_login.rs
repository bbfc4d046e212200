//! Codes by e-mail and text message at login (hotp_email, hotp_sms), on every backend: the
//! code of the counter in the database logs in once (then the counter has moved on), a
//! replayed, wrong or expired code is a failed login, "Send a new code" is bounded, a user
//! without an address gets a message, and a mail server that is down gives a 503 with
//! Retry-After and no failed login. E-mail codes are read from the message a real SMTP server
//! received; text messages go through the console backend (which sends nothing).

use std::time::Duration;

use diesel::prelude::*;

use camcops_web::auth::mfa;
use camcops_web::config::{MfaMethod, Settings};
use camcops_web::db::schema::_security_users as u;
use camcops_web::models::user::User;

use crate::accounts::{audits_like, failures, login_page, set_hotp, whoami};
use crate::helpers::{csrf_from, location, new_client, unescape, TestApp};
use crate::mail_server::MailServer;
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";

fn sms_settings(s: &mut Settings) {
    s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp, MfaMethod::HotpSms];
}

fn counter(app: &TestApp, uid: i32) -> i32 {
    User::find(&mut app.conn(), uid)
        .unwrap()
        .unwrap()
        .hotp_counter
}

/// The password step: (status, body, CSRF token of the page).
async fn password_step(app: &TestApp, c: &reqwest::Client) -> (u16, String, Option<String>) {
    let r = app.login_with(c, "alice", PW).await;
    let status = r.status().as_u16();
    let body = unescape(&r.text().await.unwrap());
    let token = csrf_from(&body);
    (status, body, token)
}

async fn post_login(
    app: &TestApp,
    c: &reqwest::Client,
    token: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", token));
    form.push(("redirect_url", "/"));
    c.post(app.url("/login")).form(&form).send().await.unwrap()
}

backend_test! {
    /// hotp_sms: the code of the counter the password step left in the database logs in; the
    /// counter then moves on, so the same code (replayed from another browser) is refused and
    /// counted; a wrong and an expired code are failed logins too.
    async fn sms_code_logs_in_once(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        let secret = set_hotp(&app, alice, "hotp_sms", None, Some("+447700900123"));
        let c = new_client();
        let (status, body, token) = password_step(&app, &c).await;
        assert_eq!(status, 200);
        assert!(body.contains("Authenticate via SMS"), "{body}");
        assert!(body.contains("We've sent a code by text message to **********23"), "{body}");
        assert!(body.contains("Send a new code"));
        assert_eq!(counter(&app, alice), 1, "incremented before sending, as CamCOPS");
        let code = mfa::hotp(&secret, 1).unwrap();
        let r = post_login(&app, &c, &token.unwrap(), &[("one_time_password", &code)]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/".to_string()));
        assert!(whoami(&app, &c).await.is_some());
        assert_eq!(counter(&app, alice), 2, "the used code's counter is spent");
        // Replay from another browser (its own password step sends code 3).
        let other = new_client();
        let (_, _, token) = password_step(&app, &other).await;
        assert_eq!(counter(&app, alice), 3);
        let r = post_login(&app, &other, &token.unwrap(), &[("one_time_password", &code)]).await;
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        assert!(login_page(&app, &other).await.contains("You entered an invalid code. Please try again."));
        assert!(whoami(&app, &other).await.is_none());
        assert_eq!(failures(&app, "alice"), 1);
        // An expired code (MFA_TIMEOUT_S is 600 s by default) is a failed login.
        let (_, _, token) = password_step(&app, &other).await;
        let fresh = mfa::hotp(&secret, i64::from(counter(&app, alice))).unwrap();
        app.clock().advance(chrono::Duration::seconds(601));
        let r = post_login(&app, &other, &token.unwrap(), &[("one_time_password", &fresh)]).await;
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        assert!(login_page(&app, &other).await.contains("Your code expired. Please try again."));
        assert_eq!(failures(&app, "alice"), 2);
        assert!(whoami(&app, &other).await.is_none());
    }

    /// "Send a new code": a new counter and code each time (the old code no longer works), at
    /// most three codes per login.
    async fn send_a_new_code_is_bounded(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        let secret = set_hotp(&app, alice, "hotp_sms", None, Some("+447700900123"));
        let c = new_client();
        let (_, _, token) = password_step(&app, &c).await;
        let token = token.unwrap();
        let first = mfa::hotp(&secret, 1).unwrap();
        for n in 2..=3 {
            let r = post_login(&app, &c, &token, &[("resend", "1")]).await;
            assert_eq!(r.status(), 200);
            assert!(unescape(&r.text().await.unwrap()).contains("A new code has been sent."));
            assert_eq!(counter(&app, alice), n);
        }
        let r = post_login(&app, &c, &token, &[("resend", "1")]).await;
        assert_eq!(r.status(), 200);
        assert!(unescape(&r.text().await.unwrap()).contains("Too many codes have been sent."));
        assert_eq!(counter(&app, alice), 3, "no fourth code");
        assert_eq!(audits_like(&app, "Second-factor code sent by sms to user alice"), 3);
        assert_eq!(failures(&app, "alice"), 0, "asking for codes is no failed login");
        let last = mfa::hotp(&secret, 3).unwrap();
        assert_ne!(first, last);
        let r = post_login(&app, &c, &token, &[("one_time_password", &last)]).await;
        assert_eq!(location(&r), "/");
        assert!(whoami(&app, &c).await.is_some());
    }

    /// An e-mail or SMS user without an address or number gets a clear message, not a 500;
    /// nothing is counted.
    async fn missing_address_is_a_clear_message(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        for (method, message) in [
            ("hotp_sms", "Your account has no phone number to send a code to."),
            ("hotp_email", "Your account has no e-mail address to send a code to."),
        ] {
            set_hotp(&app, alice, method, None, None);
            let c = new_client();
            let (status, _, _) = password_step(&app, &c).await;
            assert_eq!(status, 303, "{method}");
            assert!(login_page(&app, &c).await.contains(message), "{method}");
            assert!(whoami(&app, &c).await.is_none());
        }
        assert_eq!(failures(&app, "alice"), 0);
    }

    /// hotp_email through a real SMTP server: the code read from the delivered message logs
    /// in. With the server stopped: a 503 with Retry-After, an audit row, no failed login, and
    /// the login can be tried again (again a 503 while it is down, never a lockout).
    async fn email_code_from_the_mail_server(db) {
        let Some(mut server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::HotpEmail]);
        })
        .await;
        let alice = app.create_user("alice", PW);
        let secret = set_hotp(&app, alice, "hotp_email", Some("alice@example.org"), None);
        let c = new_client();
        let (status, body, token) = password_step(&app, &c).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("We've sent a code by email to a*****e@example.org."), "{body}");
        let m = server
            .wait_for_message("alice@example.org", Duration::from_secs(10))
            .await
            .expect("delivered");
        assert_eq!(m.subject, "CamCOPS authentication");
        let code = m.body.trim().rsplit(' ').next().unwrap().to_string();
        assert_eq!(code, mfa::hotp(&secret, i64::from(counter(&app, alice))).unwrap());
        let r = post_login(&app, &c, &token.unwrap(), &[("one_time_password", &code)]).await;
        assert_eq!(location(&r), "/");
        assert!(whoami(&app, &c).await.is_some());
        // The mail server goes away.
        server.stop();
        for _ in 0..2 {
            let d = new_client();
            let r = app.login_with(&d, "alice", PW).await;
            assert_eq!(r.status(), 503);
            assert!(r.headers().get("retry-after").is_some());
            let body = unescape(&r.text().await.unwrap());
            assert!(body.contains("The code could not be sent. Please try again"), "{body}");
            assert!(whoami(&app, &d).await.is_none());
        }
        assert_eq!(failures(&app, "alice"), 0, "no lockout counted");
        assert_eq!(audits_like(&app, "Second-factor code could not be sent to user alice%"), 2);
    }
}

crate::camcops_fixture::camcops_test! {
    /// On CamCOPS' own data (adopted): a user switched to hotp_email as CamCOPS'
    /// set_mfa_method does (method, new secret, counter 0, e-mail) logs in with the code from
    /// the delivered message. The counter then follows CamCOPS' rule for the next code: CamCOPS
    /// increments it before sending and accepts the code of the counter it reaches, which is
    /// never the code just used; after CamCOPS' turn, camcops-web's next login works too.
    async fn camcops_user_switched_to_hotp_email_logs_in(backend) {
        let Some(db) = crate::camcops_fixture::demo_db(backend) else { return };
        crate::camcops_fixture::adopt(&db);
        let Some(server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::HotpEmail]);
        })
        .await;
        let (name, pw) = crate::camcops_fixture::CLINICIAN;
        let uid = User::id_by_username(&mut app.conn(), name).unwrap().unwrap();
        let secret = set_hotp(&app, uid, "hotp_email", Some("clinician@example.org"), None);
        let mut used = Vec::new();
        for round in 0..2 {
            let c = new_client();
            let r = app.login_with(&c, name, pw).await;
            assert_eq!(r.status(), 200, "round {round}");
            let token = csrf_from(&r.text().await.unwrap()).unwrap();
            let code = loop {
                let m = server.wait_for_message("clinician@example.org", Duration::from_secs(10)).await.expect("delivered");
                let code = m.body.trim().rsplit(' ').next().unwrap().to_string();
                if !used.contains(&code) {
                    break code;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let sent_counter = counter(&app, uid);
            assert_eq!(code, mfa::hotp(&secret, i64::from(sent_counter)).unwrap());
            let r = post_login(&app, &c, &token, &[("one_time_password", &code)]).await;
            assert_eq!(r.status(), 303, "round {round}");
            assert!(!location(&r).starts_with("/login"), "round {round}: {}", location(&r));
            assert_eq!(counter(&app, uid), sent_counter + 1, "the used code is spent");
            used.push(code.clone());
            // CamCOPS' turn: counter += 1, then its code is that of the new counter.
            diesel::update(u::table.find(uid))
                .set(u::hotp_counter.eq(u::hotp_counter + 1))
                .execute(&mut app.conn())
                .unwrap();
            let camcops_code = mfa::hotp(&secret, i64::from(counter(&app, uid))).unwrap();
            assert!(!used.contains(&camcops_code), "CamCOPS' next code is a new one");
        }
    }
}
