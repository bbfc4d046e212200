//! Own-account pages on every backend: `/view_server_info`, `/view_own_user_info`,
//! `/change_own_password` (wizard: TOTP step, then old/new passwords) and `/edit_own_user_mfa`
//! (TOTP set up through the pages), plus TOTP login: valid and invalid codes, steps that cannot
//! be skipped or mixed between browsers, and the MFA timeout (injected clock).

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::auth::{mfa, password};
use camcops_web::config::MfaMethod;
use camcops_web::db::schema::{
    _security_audit, _security_user_group as ug, _security_users as u,
    _security_webviewer_sessions as sess,
};
use camcops_web::models::idnum::IdNumDefinition;
use camcops_web::models::lockout;
use camcops_web::models::user::User;
use camcops_web::session::CamcopsSession;

use crate::accounts::{code, form_state, set_totp, user_row, whoami, wrong_code};
use crate::helpers::{csrf_from, location, new_client, unescape, TestApp};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const NEW_PW: &str = "plum-tractor-violin-42";

/// A new browser logged in as `username` (a user without MFA).
async fn browser(app: &TestApp, username: &str, pw: &str) -> reqwest::Client {
    let c = new_client();
    let r = app.login_with(&c, username, pw).await;
    assert_eq!(r.status(), 303, "login as {username}");
    assert_eq!(location(&r), "/");
    c
}

async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    let (status, loc) = (r.status().as_u16(), location(&r));
    (status, loc, unescape(&r.text().await.unwrap()))
}

/// The client's CSRF token (from the logout form, which changes no state).
async fn token(app: &TestApp, c: &reqwest::Client) -> String {
    app.csrf_with(c, "/logout").await
}

/// POST with the client's CSRF token added.
async fn post(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let t = token(app, c).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &t));
    post_raw(app, c, path, &form).await
}

/// POST exactly `fields`.
async fn post_raw(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let r = c.post(app.url(path)).form(fields).send().await.unwrap();
    let (status, loc) = (r.status().as_u16(), location(&r));
    (status, loc, unescape(&r.text().await.unwrap()))
}

/// The secret shown as text on the TOTP set-up page.
fn key_on_page(body: &str) -> String {
    let start = body
        .find("<code id=\"mfa_secret_key\">")
        .expect("key on page")
        + "<code id=\"mfa_secret_key\">".len();
    body[start..start + body[start..].find("</code>").unwrap()].to_string()
}

fn hashedpw(app: &TestApp, uid: i32) -> String {
    user_row(app, uid).hashedpw
}

fn totp_allowed(s: &mut camcops_web::config::Settings) {
    s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp];
}

backend_test! {
    /// Server information: ID definitions, session counts for 1/5/10/60 minutes (all rows,
    /// logged in or not), and the timeout sentence with the absolute lifetime.
    async fn server_info_counts_sessions_and_states_timeouts(db) {
        let app = TestApp::spawn(db).await;
        let users: Vec<i32> = ["alice", "bob", "carol", "dave"].iter().map(|n| app.create_user(n, PW)).collect();
        IdNumDefinition::insert(&mut app.conn(), &IdNumDefinition {
            which_idnum: 1,
            description: Some("NHS number".into()),
            short_description: Some("NHS".into()),
            validation_method: Some("uk_nhs_number".into()),
        }).unwrap();
        let alice = browser(&app, "alice", PW).await;
        for n in ["bob", "carol", "dave"] {
            browser(&app, n, PW).await;
        }
        // bob 3, carol 7 and dave 30 minutes ago.
        let now = app.clock().now();
        for (uid, ago) in [(users[1], 3), (users[2], 7), (users[3], 30)] {
            diesel::update(sess::table.filter(sess::user_id.eq(uid)))
                .set(sess::last_activity_utc.eq(now - Duration::minutes(ago)))
                .execute(&mut app.conn())
                .unwrap();
        }
        let (status, _, body) = get(&app, &alice, "/view_server_info").await;
        assert_eq!(status, 200);
        assert!(body.contains("<td>1</td><td>NHS number</td><td>NHS</td><td>uk_nhs_number</td>"), "{body}");
        assert!(body.contains("Recent activity") && body.contains("Number of active sessions"));
        for (label, n) in [("Last 1 minute", 1), ("Last 5 minutes", 2), ("Last 10 minutes", 3), ("Last 1 hour", 4)] {
            assert!(body.contains(&format!("<tr><td>{label}</td><td>{n}</td></tr>")), "{label}: {body}");
        }
        assert!(body.contains("Sessions time out after 30 minutes; sessions older than this are periodically deleted."));
        assert!(body.contains("A session also ends 720 minutes after it began"), "{body}");
        assert!(body.contains("Log out"));
    }

    /// Without an absolute lifetime the page does not mention one.
    async fn server_info_without_lifetime(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.session_max_lifetime_minutes = 0;
            s.session_timeout_minutes = 45;
        })
        .await;
        app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let (status, _, body) = get(&app, &c, "/view_server_info").await;
        assert_eq!(status, 200);
        assert!(body.contains("Sessions time out after 45 minutes;"));
        assert!(!body.contains("A session also ends"));
        assert!(body.contains("No ID numbers are defined."));
    }

    /// Own user information: names (escaped), e-mail, groups, upload group, last login, MFA
    /// method and the lockout state.
    async fn own_user_info_shows_the_account(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", PW);
        diesel::update(u::table.find(uid))
            .set((u::fullname.eq(Some("Alice <b>O'Hara</b>")), u::email.eq(Some("alice@example.org"))))
            .execute(&mut app.conn())
            .unwrap();
        let c = browser(&app, "alice", PW).await;
        let r = c.get(app.url("/view_own_user_info")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let raw = r.text().await.unwrap();
        assert!(!raw.contains("<b>O") && raw.contains("Alice &"), "names are escaped: {raw}");
        let body = unescape(&raw);
        assert!(body.contains("<td id=\"username\">alice</td>"));
        assert!(body.contains("<td id=\"fullname\">Alice <b>O'Hara</b></td>"));
        assert!(body.contains("<td id=\"email\">alice@example.org</td>"));
        assert!(body.contains("<td id=\"superuser\">No</td>"));
        assert!(body.contains("<td id=\"upload_group\">g_alice</td>"));
        assert!(body.contains("<tr><td>g_alice</td><td>Yes</td><td>No</td><td>No</td><td>No</td><td>No</td></tr>"), "{body}");
        assert!(body.contains("<td id=\"mfa_method\">None</td>"));
        assert!(body.contains("<td id=\"locked_out\">No</td>"));
        assert!(!body.contains("<td id=\"last_login\">(never)</td>"), "last login is shown");
        lockout::record_failure(&mut app.conn(), "alice", app.clock().now(), 1, 10).unwrap();
        let (_, _, body) = get(&app, &c, "/view_own_user_info").await;
        assert!(body.contains("<td id=\"locked_out\">Yes, until "), "{body}");
    }

    /// Anonymous visitors are sent to log in (with the page to come back to); a user whose
    /// web-viewer permission went away gets 403 on the `happy` pages but may still change
    /// their own password and MFA (the original's `Authenticated`).
    async fn permissions_of_the_account_pages(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", PW);
        let anon = new_client();
        for path in ["/view_server_info", "/view_own_user_info", "/change_own_password", "/edit_own_user_mfa"] {
            let r = anon.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 303, "{path}");
            assert_eq!(location(&r), format!("/login?redirect_url=%2F{}", &path[1..]), "{path}");
        }
        let t = app.csrf_with(&anon, "/login").await;
        for path in ["/change_own_password", "/edit_own_user_mfa"] {
            let r = anon.post(app.url(path)).form(&[("csrf_token", t.as_str())]).send().await.unwrap();
            assert_eq!(r.status(), 303, "{path}");
            assert!(location(&r).starts_with("/login?redirect_url="), "{path}");
        }
        let c = browser(&app, "alice", PW).await;
        for path in ["/view_server_info", "/view_own_user_info", "/change_own_password", "/edit_own_user_mfa"] {
            assert_eq!(get(&app, &c, path).await.0, 200, "{path}");
        }
        diesel::update(ug::table.filter(ug::user_id.eq(uid)))
            .set(ug::may_use_webviewer.eq(Some(false)))
            .execute(&mut app.conn())
            .unwrap();
        for path in ["/view_server_info", "/view_own_user_info"] {
            assert_eq!(get(&app, &c, path).await.0, 403, "{path}");
        }
        for path in ["/change_own_password", "/edit_own_user_mfa"] {
            assert_eq!(get(&app, &c, path).await.0, 200, "{path}");
        }
    }

    /// Every validation message of the password step; nothing changes in the database.
    async fn change_password_validation(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let (status, _, body) = get(&app, &c, "/change_own_password").await;
        assert_eq!(status, 200);
        for field in ["old_password", "new_password", "new_password_confirm"] {
            assert!(body.contains(&format!("<label for=\"{field}\">")), "label for {field}");
            assert!(body.contains(&format!("name=\"{field}\"")), "{field}");
        }
        assert!(body.contains("Change your password") && body.contains("Type the new password and confirm it"));
        let before = hashedpw(&app, uid);
        let cases: [(&str, &str, &str, &str); 7] = [
            ("", NEW_PW, NEW_PW, "Please enter your old password."),
            (PW, NEW_PW, "plum-tractor-violin-43", "Password did not match confirm"),
            (PW, "          ", "          ", "Passwords can't be blank"),
            (PW, "short", "short", "Passwords can't be shorter than 10 characters"),
            (PW, "Password123", "Password123", "That password is used too commonly; try again"),
            (PW, PW, PW, "New password must differ from old"),
            ("wrong old password", NEW_PW, NEW_PW, "Old password incorrect"),
        ];
        for (old, new, confirm, message) in cases {
            let (status, _, body) = post(&app, &c, "/change_own_password", &[
                ("old_password", old), ("new_password", new), ("new_password_confirm", confirm),
            ]).await;
            assert_eq!(status, 200, "{message}");
            assert!(body.contains(message), "{message}: {body}");
            assert!(body.contains("name=\"new_password_confirm\""), "the form again");
        }
        assert_eq!(hashedpw(&app, uid), before);
        assert_eq!(form_state(&app, uid).step.as_deref(), Some("change_password"));
    }

    /// Wrong old passwords count as failed logins (sessions §1.6): the threshold locks the account, the
    /// right old password is refused while locked, and works once the lockout has passed.
    async fn change_password_wrong_old_password_locks(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.lockout_threshold = 3;
            s.lockout_duration_increment_minutes = 10;
        }).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        assert_eq!(get(&app, &c, "/change_own_password").await.0, 200);
        let before = hashedpw(&app, uid);
        let attempt = |old: &'static str| {
            let (app, c) = (&app, &c);
            async move {
                post(app, c, "/change_own_password", &[
                    ("old_password", old), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
                ]).await
            }
        };
        for _ in 0..2 {
            let (status, _, body) = attempt("wrong old password").await;
            assert_eq!(status, 200);
            assert!(body.contains("Old password incorrect"), "{body}");
        }
        let (status, _, body) = attempt("wrong old password").await;
        assert_eq!(status, 200);
        assert!(body.contains("Account locked until"), "third failure locks: {body}");
        assert_eq!(lockout::failure_count(&mut app.conn(), "alice").unwrap(), 3);
        assert!(lockout::locked_until(&mut app.conn(), "alice", app.clock().now()).unwrap().is_some());
        let (status, _, body) = attempt(PW).await;
        assert_eq!(status, 200);
        assert!(body.contains("Account locked until"), "refused while locked: {body}");
        assert_eq!(hashedpw(&app, uid), before, "nothing changed while locked");
        let audits: i64 = _security_audit::table
            .filter(_security_audit::details.eq("Failed login as user: alice"))
            .count().get_result(&mut app.conn()).unwrap();
        assert_eq!(audits, 3);
        app.clock().advance(Duration::minutes(11));
        let (status, loc, _) = attempt(PW).await;
        assert_eq!((status, loc.as_str()), (303, "/"), "works after the lockout");
        assert_ne!(hashedpw(&app, uid), before);
    }

    /// Success: new hash, change time, the user's other sessions (here an API session) ended,
    /// this one kept, audit row, flash, 303 to `/`; deform's `new_password-confirm` works.
    async fn change_password_success(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", PW);
        let bob = app.create_user("bob", PW);
        let c = browser(&app, "alice", PW).await;
        let _bob_browser = browser(&app, "bob", PW).await;
        let api_id = {
            let mut conn = app.conn();
            let mut s = CamcopsSession::new_unsaved("10.0.0.9", app.clock().now());
            s.mark_api();
            s.login(&mut conn, uid, app.clock().now()).unwrap();
            s.id.unwrap()
        };
        let user_sessions = |app: &TestApp, who: i32| -> Vec<i32> {
            sess::table.filter(sess::user_id.eq(who)).select(sess::id).load(&mut app.conn()).unwrap()
        };
        assert_eq!(user_sessions(&app, uid).len(), 2);
        assert_eq!(get(&app, &c, "/change_own_password").await.0, 200);
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password-confirm", NEW_PW),
        ]).await;
        assert_eq!(status, 303);
        assert_eq!(loc, "/");
        let (status, _, body) = get(&app, &c, "/").await;
        assert_eq!(status, 200, "this session stays logged in");
        assert!(body.contains("You have changed your password."), "{body}");
        let row = user_row(&app, uid);
        let counter = std::sync::atomic::AtomicU64::new(0);
        assert!(password::verify(NEW_PW, &row.hashedpw, &counter));
        assert!(row.last_password_change_utc.is_some());
        let left = user_sessions(&app, uid);
        assert_eq!(left.len(), 1);
        assert_ne!(left[0], api_id, "the API session was ended");
        assert_eq!(user_sessions(&app, bob).len(), 1, "other users keep their sessions");
        let audits: i64 = _security_audit::table
            .filter(_security_audit::details.eq("Password changed for user alice"))
            .count().get_result(&mut app.conn()).unwrap();
        assert_eq!(audits, 1);
        assert!(form_state(&app, uid).finished);
        // The old password no longer logs in; the new one does.
        assert_eq!(location(&app.login_with(&new_client(), "alice", PW).await), "/login?redirect_url=%2F");
        browser(&app, "alice", NEW_PW).await;
    }

    /// CSRF: missing or wrong token → 400 on both wizards; nothing changes.
    async fn account_forms_need_csrf(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let before = hashedpw(&app, uid);
        for t in ["", "forged"] {
            let (status, _, body) = post_raw(&app, &c, "/change_own_password", &[
                ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW), ("csrf_token", t),
            ]).await;
            assert_eq!(status, 400);
            assert!(body.contains("CSRF"));
            let (status, _, _) = post_raw(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "totp"), ("csrf_token", t)]).await;
            assert_eq!(status, 400);
        }
        assert_eq!(hashedpw(&app, uid), before);
        assert!(form_state(&app, uid).pending_secret.is_none());
    }

    /// A user who must change their password is sent to the page, told why, and released
    /// once it is changed.
    async fn expired_password_must_be_changed(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user("alice", PW);
        User::set_must_change_password(&mut app.conn(), uid, true).unwrap();
        let c = browser(&app, "alice", PW).await;
        for path in ["/", "/view_server_info", "/view_own_user_info"] {
            let (status, loc, _) = get(&app, &c, path).await;
            assert_eq!((status, loc.as_str()), (303, "/change_own_password"), "{path}");
        }
        let (status, _, body) = get(&app, &c, "/change_own_password").await;
        assert_eq!(status, 200);
        assert!(body.contains("Your password has expired and must be changed."), "{body}");
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert!(!user_row(&app, uid).must_change_password());
        assert_eq!(get(&app, &c, "/").await.0, 200);
    }

    /// With TOTP the code comes first: the password step cannot be skipped (by a POST without
    /// a GET, or after the GET), a wrong code fails the wizard, a right one leads to the
    /// password form; the code step times out after MFA_TIMEOUT_S.
    async fn change_password_with_totp(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let secret = set_totp(&app, uid);
        let before = hashedpw(&app, uid);
        let change = [("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW)];
        // Skipping the code: straight POST, and POST after the GET.
        for with_get in [false, true] {
            if with_get {
                let (status, _, body) = get(&app, &c, "/change_own_password").await;
                assert_eq!(status, 200);
                assert!(body.contains("Enter the six-digit code") && body.contains("<label for=\"one_time_password\">"));
                assert_eq!(form_state(&app, uid).step.as_deref(), Some("mfa"));
            }
            let (status, loc, _) = post(&app, &c, "/change_own_password", &change).await;
            assert_eq!((status, loc.as_str()), (303, "/"));
            let (_, _, body) = get(&app, &c, "/").await;
            assert!(body.contains("You entered an invalid code. Please try again."), "{body}");
            assert!(form_state(&app, uid).is_clean());
        }
        // Wrong code.
        get(&app, &c, "/change_own_password").await;
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[("one_time_password", &wrong_code(&app, &secret))]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(hashedpw(&app, uid), before);
        // Timeout: the code step was shown more than MFA_TIMEOUT_S (600 s) ago.
        get(&app, &c, "/change_own_password").await;
        app.clock().advance(Duration::seconds(601));
        let (status, loc, _) = post(&app, &c, "/change_own_password", &[("one_time_password", &code(&app, &secret))]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        let (_, _, body) = get(&app, &c, "/").await;
        assert!(body.contains("Your code expired. Please try again."), "{body}");
        // Right code → password form (200, not a redirect) → change.
        get(&app, &c, "/change_own_password").await;
        let (status, _, body) = post(&app, &c, "/change_own_password", &[("one_time_password", &code(&app, &secret))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("Change your password") && body.contains("name=\"old_password\""));
        let fs = form_state(&app, uid);
        assert_eq!((fs.step.as_deref(), fs.mfa_user_id), (Some("change_password"), Some(uid)));
        let (status, loc, _) = post(&app, &c, "/change_own_password", &change).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_ne!(hashedpw(&app, uid), before);
    }

    /// One user's passed MFA step does not carry over to another browser or user: bob cannot
    /// use alice's wizard state, and bob's own form checks bob's password.
    async fn change_password_state_is_per_session(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let alice = app.create_user("alice", PW);
        let bob = app.create_user("bob", "bob's password 123");
        let a = browser(&app, "alice", PW).await;
        let b = browser(&app, "bob", "bob's password 123").await;
        let secret = set_totp(&app, alice);
        let bob_secret = set_totp(&app, bob);
        get(&app, &a, "/change_own_password").await;
        let (status, _, _) = post(&app, &a, "/change_own_password", &[("one_time_password", &code(&app, &secret))]).await;
        assert_eq!(status, 200, "alice passed her code step");
        let (alice_hash, bob_hash) = (hashedpw(&app, alice), hashedpw(&app, bob));
        // Bob (in his own browser) posts the password step with alice's password.
        let (status, loc, _) = post(&app, &b, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
            ("mfa_user_id", &alice.to_string()), ("step", "change_password"),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/"), "bob must enter his own code first");
        assert_eq!((hashedpw(&app, alice), hashedpw(&app, bob)), (alice_hash.clone(), bob_hash.clone()));
        // Bob passes his own code step; alice's password is still not his.
        get(&app, &b, "/change_own_password").await;
        post(&app, &b, "/change_own_password", &[("one_time_password", &code(&app, &bob_secret))]).await;
        let (status, _, body) = post(&app, &b, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
        ]).await;
        assert_eq!(status, 200);
        assert!(body.contains("Old password incorrect"));
        assert_eq!((hashedpw(&app, alice), hashedpw(&app, bob)), (alice_hash, bob_hash));
        // Alice's own wizard is still where she left it.
        let (status, loc, _) = post(&app, &a, "/change_own_password", &[
            ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(whoami(&app, &a).await.as_deref(), Some("alice"));
        assert_eq!(whoami(&app, &b).await.as_deref(), Some("bob"));
    }

    /// TOTP set up through the pages (secret server-side until a code proves it), then log
    /// out and log in with the code; an invalid code is refused.
    async fn totp_setup_then_login(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let (status, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(status, 200);
        assert!(body.contains("Configure multi-factor authentication settings"));
        assert!(body.contains("<label class=\"inline\" for=\"mfa_method_totp\">Use an app such as Google Authenticator or Twilio Authy</label>"));
        assert!(body.contains("<label class=\"inline\" for=\"mfa_method_no_mfa\">Disable multi-factor authentication</label>"));
        assert!(!body.contains("hotp_email"));
        // Choose TOTP: QR code (inline SVG) and key; nothing stored on the user yet.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "totp")]).await;
        assert_eq!(status, 200);
        assert!(body.contains("<svg") && body.contains("Add CamCOPS to the app by scanning this QR code:"));
        assert!(!body.contains("<?xml") && !body.contains("<script"));
        assert!(body.contains("<label for=\"one_time_password\">"));
        assert!(!body.contains("name=\"mfa_secret_key\""), "the secret is not a form field");
        let key = key_on_page(&body);
        assert_eq!(key.len(), 32);
        assert_eq!(form_state(&app, uid).pending_secret.as_deref(), Some(key.as_str()));
        let row = user_row(&app, uid);
        assert_eq!((row.mfa_method.as_str(), row.mfa_secret_key), ("no_mfa", None));
        // A wrong code: the same secret stays on offer.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &wrong_code(&app, &key))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("You entered an invalid code. Please try again."));
        assert_eq!(key_on_page(&body), key);
        assert_eq!(user_row(&app, uid).mfa_method, "no_mfa");
        // A posted secret is ignored: the stored one is the server's.
        let forged = mfa::new_secret();
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[
            ("one_time_password", &code(&app, &key)), ("mfa_secret_key", &forged),
        ]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        let (_, _, body) = get(&app, &c, "/").await;
        assert!(body.contains("Multi-factor authentication: success!"), "{body}");
        let row = user_row(&app, uid);
        assert_eq!((row.mfa_method.as_str(), row.mfa_secret_key.as_deref()), ("totp", Some(key.as_str())));
        let fs = form_state(&app, uid);
        assert!(fs.finished && fs.is_clean());
        let (_, _, body) = get(&app, &c, "/view_own_user_info").await;
        assert!(body.contains("<td id=\"mfa_method\">Authentication app (TOTP)</td>"));
        // Log out; log in: the password alone is not enough.
        let t = token(&app, &c).await;
        c.post(app.url("/logout")).form(&[("csrf_token", t.as_str())]).send().await.unwrap();
        assert_eq!(whoami(&app, &c).await, None);
        let r = app.login_with(&c, "alice", PW).await;
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        assert!(body.contains("Enter the six-digit code"));
        assert_eq!(whoami(&app, &c).await, None, "not logged in before the code");
        let t = csrf_from(&body).unwrap();
        let r = c.post(app.url("/login")).form(&[
            ("one_time_password", wrong_code(&app, &key).as_str()), ("csrf_token", &t), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/login?redirect_url=%2F"));
        let (_, _, body) = get(&app, &c, "/login").await;
        assert!(body.contains("You entered an invalid code. Please try again."));
        assert_eq!(whoami(&app, &c).await, None);
        // Password again, then the right code.
        let r = app.login_with(&c, "alice", PW).await;
        assert_eq!(r.status(), 200);
        let t = csrf_from(&r.text().await.unwrap()).unwrap();
        let r = c.post(app.url("/login")).form(&[
            ("one_time_password", code(&app, &key).as_str()), ("csrf_token", &t), ("redirect_url", "/view_server_info"),
        ]).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/view_server_info"));
        assert_eq!(whoami(&app, &c).await.as_deref(), Some("alice"));
    }

    /// The code step of the login cannot be reached without the password step, and one
    /// browser's passed password step cannot be completed by another browser.
    async fn login_code_step_needs_this_sessions_password_step(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let alice = app.create_user("alice", PW);
        app.create_user("bob", PW);
        let secret = set_totp(&app, alice);
        // Browser A passes alice's password step.
        let a = new_client();
        let r = app.login_with(&a, "alice", PW).await;
        assert_eq!(r.status(), 200);
        let a_token = csrf_from(&r.text().await.unwrap()).unwrap();
        // Browser B (anonymous) posts a valid code for alice, with or without her name.
        let b = new_client();
        let t = app.csrf_with(&b, "/login").await;
        for fields in [
            vec![("one_time_password", code(&app, &secret))],
            vec![("one_time_password", code(&app, &secret)), ("username", "alice".into()), ("mfa_user_id", alice.to_string()), ("step", "mfa".into())],
        ] {
            let mut form: Vec<(&str, String)> = fields;
            form.push(("csrf_token", t.clone()));
            let r = b.post(app.url("/login")).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 200, "back to the password form");
            assert!(unescape(&r.text().await.unwrap()).contains("Log in to CamCOPS"));
            assert_eq!(whoami(&app, &b).await, None);
        }
        // Browser C logged in as bob posts alice's code to the login form: still bob.
        let c = browser(&app, "bob", PW).await;
        let t = app.csrf_with(&c, "/login").await;
        let r = c.post(app.url("/login")).form(&[
            ("one_time_password", code(&app, &secret).as_str()), ("csrf_token", &t), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(whoami(&app, &c).await.as_deref(), Some("bob"));
        // Browser A finishes its own step.
        let r = a.post(app.url("/login")).form(&[
            ("one_time_password", code(&app, &secret).as_str()), ("csrf_token", &a_token), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/"));
        assert_eq!(whoami(&app, &a).await.as_deref(), Some("alice"));
        assert_eq!(whoami(&app, &b).await, None);
    }

    /// The login's code step expires MFA_TIMEOUT_S after the password step.
    async fn login_code_step_times_out(db) {
        let app = TestApp::spawn_with(db, |s| {
            totp_allowed(s);
            s.mfa_timeout_s = 120;
        })
        .await;
        let alice = app.create_user("alice", PW);
        let secret = set_totp(&app, alice);
        let c = new_client();
        let r = app.login_with(&c, "alice", PW).await;
        let t = csrf_from(&r.text().await.unwrap()).unwrap();
        app.clock().advance(Duration::seconds(121));
        let r = c.post(app.url("/login")).form(&[
            ("one_time_password", code(&app, &secret).as_str()), ("csrf_token", &t), ("redirect_url", "/"),
        ]).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/login?redirect_url=%2F"));
        let (_, _, body) = get(&app, &c, "/login").await;
        assert!(body.contains("Your code expired. Please try again."), "{body}");
        assert_eq!(whoami(&app, &c).await, None);
    }

    /// MFA_METHODS decides: without `no_mfa` a user without MFA is sent to set it up and may
    /// not choose `no_mfa`; codes by e-mail are listed but not available without the mail
    /// settings; codes by text message are offered (they ask for a number first).
    async fn mfa_methods_from_config(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.mfa_methods = vec![MfaMethod::Totp, MfaMethod::HotpEmail, MfaMethod::HotpSms];
        })
        .await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        for path in ["/", "/view_server_info"] {
            let (status, loc, _) = get(&app, &c, path).await;
            assert_eq!((status, loc.as_str()), (303, "/edit_own_user_mfa"), "{path}");
        }
        let (status, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(status, 200);
        assert!(body.contains("Your current method is not allowed on this server."));
        assert!(body.contains("Send me a code by email (not available on this server)"));
        assert!(!body.contains("Send me a code by text message (not available on this server)"));
        assert!(body.contains("value=\"hotp_email\" disabled"));
        assert!(!body.contains("value=\"hotp_sms\" disabled"));
        assert!(!body.contains("mfa_method_no_mfa"));
        for (method, message) in [
            ("no_mfa", "Please choose one of the methods offered."),
            ("", "Please choose one of the methods offered."),
            ("bogus", "Please choose one of the methods offered."),
            ("hotp_email", "That method is not available on this server."),
        ] {
            let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", method)]).await;
            assert_eq!(status, 200, "{method}");
            assert!(body.contains(message), "{method}: {body}");
        }
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "hotp_sms")]).await;
        assert_eq!(status, 200);
        assert!(body.contains("name=\"phone_number\""), "{body}");
        // Choosing is not switching: the restart below picks TOTP instead.
        get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(user_row(&app, uid).mfa_method, "no_mfa");
        let (_, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "totp")]).await;
        let key = key_on_page(&body);
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code(&app, &key))]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        assert_eq!(get(&app, &c, "/").await.0, 200, "now allowed in");
    }

    /// `no_mfa` (when allowed) switches TOTP off; a GET restarts the wizard and drops a
    /// pending secret, which then cannot be confirmed.
    async fn mfa_switch_off_and_restart(db) {
        let app = TestApp::spawn_with(db, totp_allowed).await;
        let uid = app.create_user("alice", PW);
        let c = browser(&app, "alice", PW).await;
        let (_, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "totp")]).await;
        let abandoned = key_on_page(&body);
        let (status, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert_eq!(status, 200);
        assert!(form_state(&app, uid).pending_secret.is_none());
        assert!(body.contains("id=\"mfa_method_no_mfa\" name=\"mfa_method\" value=\"no_mfa\" checked"), "current method preselected: {body}");
        // A code for the abandoned secret is just a method-step POST without a method.
        let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code(&app, &abandoned))]).await;
        assert_eq!(status, 200);
        assert!(body.contains("Please choose one of the methods offered."));
        assert_eq!(user_row(&app, uid).mfa_method, "no_mfa");
        // Set TOTP, then switch it off.
        let (_, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "totp")]).await;
        let key = key_on_page(&body);
        post(&app, &c, "/edit_own_user_mfa", &[("one_time_password", &code(&app, &key))]).await;
        assert_eq!(user_row(&app, uid).mfa_method, "totp");
        // With TOTP on, changing it needs a current code (ASVS V7.5.1); a missing or wrong
        // one changes nothing and counts as a failed login.
        let (_, _, body) = get(&app, &c, "/edit_own_user_mfa").await;
        assert!(body.contains("<label for=\"one_time_password\">"), "{body}");
        let long = "9".repeat(5_000);
        for bad in ["", wrong_code(&app, &key).as_str(), "'; DROP TABLE _security_users; --", long.as_str()] {
            let (status, _, body) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "no_mfa"), ("one_time_password", bad)]).await;
            assert_eq!(status, 200);
            assert!(body.contains("Enter a current code from your authenticator app"), "{body}");
            assert_eq!(user_row(&app, uid).mfa_method, "totp");
        }
        assert_eq!(lockout::failure_count(&mut app.conn(), "alice").unwrap(), 4);
        let (status, loc, _) = post(&app, &c, "/edit_own_user_mfa", &[("mfa_method", "no_mfa"), ("one_time_password", &code(&app, &key))]).await;
        assert_eq!((status, loc.as_str()), (303, "/"));
        let (_, _, body) = get(&app, &c, "/").await;
        assert!(body.contains("Multi-factor authentication disabled."));
        let row = user_row(&app, uid);
        assert_eq!((row.mfa_method.as_str(), row.mfa_secret_key), ("no_mfa", None));
        // The password alone logs in again.
        browser(&app, "alice", PW).await;
    }
}
