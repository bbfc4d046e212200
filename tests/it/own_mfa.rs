//! Choosing codes by e-mail or text message on `/edit_own_user_mfa`, and the code steps of
//! step-up pages for users whose codes are sent, on every backend: nothing is stored on the
//! user until a code sent to the new address or number is entered; a wrong code is a failed
//! login and keeps nothing; the next login uses the new method; codes on step-up pages are
//! sent when the step is first shown, not on every page view, and bounded. E-mail codes are
//! read from the messages a real SMTP server received; text messages go through the console
//! backend (the code is computed from the secret the wizard keeps server-side).

use std::time::Duration;

use camcops_web::auth::mfa;
use camcops_web::config::{MfaMethod, Settings};

use crate::accounts::{audits_like, failures, form_state, set_email, set_hotp, user_row};
use crate::helpers::{csrf_from, location, new_client, unescape, TestApp};
use crate::mail_server::{MailMessage, MailServer};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const NEW_PW: &str = "plum-tractor-violin-42";
const ADMIN_PW: &str = "admin horse battery";
const CODE_SUBJECT: &str = "CamCOPS authentication";

fn sms_settings(s: &mut Settings) {
    s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp, MfaMethod::HotpSms];
}

/// (method, secret, counter, e-mail, phone) as stored.
fn mfa_columns(
    app: &TestApp,
    uid: i32,
) -> (String, Option<String>, i32, Option<String>, Option<String>) {
    let r = user_row(app, uid);
    (
        r.mfa_method,
        r.mfa_secret_key,
        r.hotp_counter,
        r.email,
        r.phone_number,
    )
}

async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    let (status, loc) = (r.status().as_u16(), location(&r));
    (status, loc, unescape(&r.text().await.unwrap()))
}

/// POST with the client's CSRF token (from the logout form, which changes no state).
async fn post(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let t = app.csrf_with(c, "/logout").await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &t));
    let r = c.post(app.url(path)).form(&form).send().await.unwrap();
    let (status, loc) = (r.status().as_u16(), location(&r));
    (status, loc, unescape(&r.text().await.unwrap()))
}

/// The flashed messages (shown on the next page).
async fn flash(app: &TestApp, c: &reqwest::Client) -> String {
    get(app, c, "/view_own_user_info").await.2
}

/// A browser logged in as a user without a second factor.
async fn browser(app: &TestApp, name: &str) -> reqwest::Client {
    let c = new_client();
    let r = app.login_with(&c, name, PW).await;
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/".to_string()));
    c
}

/// The code messages delivered to `to` so far.
fn codes_to(server: &MailServer, to: &str) -> Vec<MailMessage> {
    server
        .messages_to(to)
        .into_iter()
        .filter(|m| m.subject == CODE_SUBJECT)
        .collect()
}

/// Waits for the `n`th code message to `to` and returns its code.
async fn nth_code(server: &MailServer, to: &str, n: usize) -> String {
    for _ in 0..500 {
        let got = codes_to(server, to);
        if got.len() >= n {
            return got[n - 1]
                .body
                .trim()
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("code message {n} to {to} not delivered");
}

/// A six-digit code that is not `right`.
fn other_code(right: &str) -> String {
    if right == "000000" {
        "000001".into()
    } else {
        "000000".into()
    }
}

backend_test! {
    /// hotp_email through a real SMTP server: choosing it asks for the address (pre-filled
    /// with the stored one); the code goes there; the user row is untouched until the right
    /// code; a wrong one is a failed login and keeps nothing; the right one (read from the
    /// delivered message) stores method, secret, counter and address together, audits it and
    /// sends the security notice; the next login sends its code by e-mail and logs in with it.
    async fn switching_to_email_codes_needs_the_sent_code(db) {
        let Some(server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::Totp, MfaMethod::HotpEmail]);
            s.security_notices = true;
        })
        .await;
        let alice = app.create_user("alice", PW);
        set_email(&app, alice, "old@example.org");
        let c = browser(&app, "alice").await;
        let (status, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(status, 200);
        assert!(body.contains("value=\"hotp_email\">"), "offered: {body}");
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "hotp_email")]).await;
        assert_eq!(status, 200);
        assert!(body.contains("name=\"email\" value=\"old@example.org\""), "pre-filled: {body}");
        // Bad addresses are refused with a 4xx page; nothing is sent.
        let long = format!("{}@example.org", "a".repeat(300));
        for (bad, message) in [
            ("", "Please enter your e-mail address."),
            ("not an address", "Invalid email address"),
            ("'; DROP TABLE _security_users; --", "Invalid email address"),
            (long.as_str(), "Longer than maximum length 255"),
        ] {
            let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("email", bad)]).await;
            assert_eq!(status, 400, "{bad:?}");
            assert!(body.contains(message), "{bad:?}: {body}");
        }
        // Control characters are refused before the page (the site-wide form rule): a 400.
        let (status, _, _) = post(&app, &c, "/edit_own_user_mfa", &[("email", "a\u{7}b@example.org")]).await;
        assert_eq!(status, 400);
        let before = mfa_columns(&app, alice);
        assert_eq!(before, ("no_mfa".into(), None, 0, Some("old@example.org".into()), None));
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("email", "alice@example.org")]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Let's test it! We've sent a code by email to a*****e@example.org."), "{body}");
        assert_eq!(mfa_columns(&app, alice), before, "nothing stored before the code");
        let code = nth_code(&server, "alice@example.org", 1).await;
        // A wrong code: a failed login, nothing kept, the same code still on offer.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &other_code(&code))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("You entered an invalid code. Please try again."), "{body}");
        assert_eq!(mfa_columns(&app, alice), before);
        assert_eq!(failures(&app, "alice"), 1);
        let pending = form_state(&app, alice).pending_secret.expect("pending secret");
        assert_eq!(code, mfa::hotp(&pending, 1).unwrap(), "the first code of a fresh secret: counter 1");
        // The right code switches.
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code)]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert!(flash(&app, &c).await.contains("Multi-factor authentication: success!"));
        let after = mfa_columns(&app, alice);
        assert_eq!(
            after,
            ("hotp_email".into(), Some(pending.clone()), 2, Some("alice@example.org".into()), None),
            "method, secret, counter (past the used code) and address together"
        );
        assert_eq!(audits_like(&app, "MFA method set to hotp_email for user alice"), 1);
        assert!(form_state(&app, alice).pending_secret.is_none(), "the wizard is finished");
        // The security notice goes to the address that was on file.
        let mut noticed = false;
        for _ in 0..500 {
            noticed = server.messages_to("old@example.org").iter().any(|m| m.subject.contains("multi-factor authentication was changed"));
            if noticed { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(noticed, "notice sent");
        // The next login sends its code by e-mail (counter 3) and the code logs in.
        let d = new_client();
        let r = app.login_with(&d, "alice", PW).await;
        assert_eq!(r.status(), 200);
        let body = unescape(&r.text().await.unwrap());
        assert!(body.contains("We've sent a code by email to a*****e@example.org."), "{body}");
        let token = csrf_from(&body).unwrap();
        let code = nth_code(&server, "alice@example.org", 2).await;
        assert_eq!(code, mfa::hotp(&pending, 3).unwrap());
        let r = d.post(app.url("/login")).form(&[
            ("one_time_password", code.as_str()), ("csrf_token", &token), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!(location(&r), "/");
        assert_eq!(get(&app, &d, "/view_own_user_info").await.0, 200);
    }

    /// hotp_sms: invalid phone numbers are refused ("Invalid phone number", a 4xx page, nothing
    /// sent or stored); a valid national number is sent a code (E.164 with REGION_CODE); the
    /// user row is untouched until the right code, which stores the number with the method.
    async fn switching_to_text_message_codes(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        let c = browser(&app, "alice").await;
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "hotp_sms")]).await;
        assert_eq!(status, 200);
        assert!(body.contains("name=\"phone_number\" value=\"\""), "{body}");
        let long = "9".repeat(5_000);
        for bad in ["", "123", "abc", "'; DROP TABLE _security_users; --", long.as_str()] {
            let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("phone_number", bad)]).await;
            assert_eq!(status, 400, "{bad:?}");
            assert!(body.contains("Invalid phone number"), "{bad:?}: {body}");
        }
        let (status, _, _) = post(&app, &c, "/edit_own_user_mfa", &[("phone_number", "+44 7400\u{0} 123456")]).await;
        assert_eq!(status, 400, "control characters");
        assert_eq!(audits_like(&app, "Second-factor code%"), 0, "nothing sent");
        let before = mfa_columns(&app, alice);
        assert_eq!(before, ("no_mfa".into(), None, 0, None, None));
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("phone_number", "07400 123456")]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Let's test it! We've sent a code by text message to **********56"), "{body}");
        assert_eq!(audits_like(&app, "Second-factor code sent by sms to user alice"), 1);
        assert_eq!(mfa_columns(&app, alice), before);
        let fs = form_state(&app, alice);
        assert_eq!(fs.pending.as_ref().map(|p| p.to.as_str()), Some("+447400123456"));
        let secret = fs.pending_secret.unwrap();
        let code = mfa::hotp(&secret, 1).unwrap();
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &other_code(&code))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("You entered an invalid code."), "{body}");
        assert_eq!(mfa_columns(&app, alice), before, "a wrong code keeps nothing");
        assert_eq!(failures(&app, "alice"), 1);
        // "Send a new code": a new counter, the old code no longer matches.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("resend", "1")]).await;
        assert_eq!(status, 200);
        assert!(body.contains("A new code has been sent."), "{body}");
        assert_eq!(form_state(&app, alice).pending.map(|p| p.counter), Some(2));
        let (status, _, _) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code)]).await;
        assert_eq!(status, 200, "the replaced code is refused");
        assert_eq!(failures(&app, "alice"), 2);
        let code = mfa::hotp(&secret, 2).unwrap();
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code)]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(
            mfa_columns(&app, alice),
            ("hotp_sms".into(), Some(secret.clone()), 3, None, Some("+447400123456".into()))
        );
        // The next login uses codes by text message.
        let d = new_client();
        let r = app.login_with(&d, "alice", PW).await;
        let body = unescape(&r.text().await.unwrap());
        assert!(body.contains("We've sent a code by text message to **********56"), "{body}");
        let token = csrf_from(&body).unwrap();
        let code = mfa::hotp(&secret, 4).unwrap();
        let r = d.post(app.url("/login")).form(&[
            ("one_time_password", code.as_str()), ("csrf_token", &token), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!(location(&r), "/");
    }

    /// A user with codes by text message changes their own password: the code step sends a
    /// code when first shown, showing the page again sends none, a wrong code is a failed
    /// login that changes nothing, the right code leads to the password form, and a used code
    /// cannot be replayed on the next visit.
    async fn sms_user_changes_own_password_with_a_sent_code(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        let c = browser(&app, "alice").await;
        let secret = set_hotp(&app, alice, "hotp_sms", None, Some("+447400123456"));
        let (status, _, body) = get(&app, &c, "/change_own_password").await;
        assert_eq!(status, 200);
        assert!(body.contains("We've sent a code by text message to **********56"), "{body}");
        assert_eq!(user_row(&app, alice).hotp_counter, 1);
        // Shown again while the code is live: nothing new is sent.
        get(&app, &c, "/change_own_password").await;
        assert_eq!(user_row(&app, alice).hotp_counter, 1, "not a code per page view");
        assert_eq!(audits_like(&app, "Second-factor code sent by sms to user alice"), 1);
        let hash = user_row(&app, alice).hashedpw;
        let right = mfa::hotp(&secret, 1).unwrap();
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[("one_time_password", &other_code(&right))]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert!(flash(&app, &c).await.contains("You entered an invalid code. Please try again."));
        assert_eq!(failures(&app, "alice"), 1);
        // A new visit: a new code (the failed step ended).
        let (_, _, body) = get(&app, &c, "/change_own_password").await;
        assert!(body.contains("We've sent a code"), "{body}");
        assert_eq!(user_row(&app, alice).hotp_counter, 2);
        let code = mfa::hotp(&secret, 2).unwrap();
        let (status, _, body) = post(&app, &c, "/change_own_password", &[("one_time_password", &code)]).await;
        assert_eq!(status, 200);
        assert!(body.contains("name=\"old_password\""), "{body}");
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_ne!(user_row(&app, alice).hashedpw, hash, "password changed");
        assert_eq!(user_row(&app, alice).hotp_counter, 3, "the used code is spent");
        // The used code replayed on the next visit is refused (that visit sent code 4).
        get(&app, &c, "/change_own_password").await;
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[("one_time_password", &code)]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(failures(&app, "alice"), 2);
    }

    /// A user with codes by text message must give one sent to them before changing their
    /// method: the first step sends a code (once per live step); a wrong one changes nothing
    /// and counts; the right one leads to the choice, and switching off works.
    async fn sms_user_needs_a_sent_code_to_change_method(db) {
        let app = TestApp::spawn_with(db, sms_settings).await;
        let alice = app.create_user("alice", PW);
        let c = browser(&app, "alice").await;
        let secret = set_hotp(&app, alice, "hotp_sms", None, Some("+447400123456"));
        let (status, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(status, 200);
        assert!(body.contains("We've sent a code by text message to **********56"), "{body}");
        get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(user_row(&app, alice).hotp_counter, 1, "one code for the live step");
        // Skipping the code step is not possible.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "no_mfa")]).await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(user_row(&app, alice).mfa_method, "hotp_sms");
        assert_eq!(failures(&app, "alice"), 1, "a missing code is a failed attempt");
        let (_, _, _) = get(&app, &c, "/edit_own_user_mfa").await;
        let code = mfa::hotp(&secret, i64::from(user_row(&app, alice).hotp_counter)).unwrap();
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code)]).await;
        assert_eq!(status, 200);
        assert!(body.contains("name=\"mfa_method\""), "{body}");
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "no_mfa")]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(user_row(&app, alice).mfa_method, "no_mfa");
    }

    /// An administrator with codes by e-mail passes the step-up on change_other_password with
    /// the code read from the delivered message. Nothing is sent for a target they may not
    /// act on; showing the form again sends no second code.
    async fn admin_with_email_codes_changes_another_password(db) {
        let Some(server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::HotpEmail]);
        })
        .await;
        let root = app.create_user_with("root", ADMIN_PW, true, |m| m.may_use_webviewer = Some(true));
        let bob = app.create_user("bob", PW);
        let c = new_client();
        let r = app.login_with(&c, "root", ADMIN_PW).await;
        assert_eq!(r.status(), 303);
        let secret = set_hotp(&app, root, "hotp_email", Some("root@example.org"), None);
        let (status, _, _) = get(&app, &c, "/change_other_password?user_id=99999").await;
        assert_eq!(status, 400);
        assert_eq!(user_row(&app, root).hotp_counter, 0, "no code for an unknown target");
        let path = format!("/change_other_password?user_id={bob}");
        let (status, _, body) = get(&app, &c, &path).await;
        assert_eq!(status, 200);
        assert!(body.contains("Your own code: We've sent a code by email to r*****t@example.org."), "{body}");
        get(&app, &c, &path).await;
        let code = nth_code(&server, "root@example.org", 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(codes_to(&server, "root@example.org").len(), 1, "one code for the live step");
        assert_eq!(code, mfa::hotp(&secret, 1).unwrap());
        let hash = user_row(&app, bob).hashedpw;
        let (status, loc, _) = post(&app, &c, &path, &[
            ("new_password", NEW_PW), ("new_password-confirm", NEW_PW), ("one_time_password", &code),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/view_all_users"));
        assert!(flash(&app, &c).await.contains("Password changed for user 'bob'"));
        assert_ne!(user_row(&app, bob).hashedpw, hash);
        // The same code again is refused (spent) and counted.
        let (status, loc, _) = post(&app, &c, &path, &[
            ("new_password", "another-long-pass-99"), ("new_password-confirm", "another-long-pass-99"),
            ("one_time_password", &code),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/view_all_users"));
        assert_eq!(failures(&app, "root"), 1);
    }

    /// The mail server down while switching to codes by e-mail: a 503 with Retry-After,
    /// nothing stored, no failed login, the failed send audited.
    async fn switching_with_the_mail_server_down_is_a_503(db) {
        let Some(mut server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::HotpEmail]);
        })
        .await;
        let alice = app.create_user("alice", PW);
        let c = browser(&app, "alice").await;
        server.stop();
        post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "hotp_email")]).await;
        let t = app.csrf_with(&c, "/logout").await;
        let r = c.post(app.url("/edit_own_user_mfa"))
            .form(&[("email", "alice@example.org"), ("csrf_token", t.as_str())])
            .send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("retry-after").is_some());
        let body = unescape(&r.text().await.unwrap());
        assert!(body.contains("The code could not be sent. Please try again"), "{body}");
        assert_eq!(mfa_columns(&app, alice), ("no_mfa".into(), None, 0, None, None));
        assert_eq!(failures(&app, "alice"), 0);
        assert_eq!(audits_like(&app, "Second-factor code could not be sent to user alice%"), 1);
    }
}
