//! "Why can't this user log in?": for each reason, the user's page and the users list name
//! it with a link to the page that fixes it; the login agrees (refused with the usual message
//! and an audit row naming the reason, or sent to the step the user must take first); after
//! the fix through that page the status says yes and the user logs in to the main menu.
//! The add form grants "may use the web viewer" / "may upload" in the same step.

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::auth::login::GENERIC_FAILURE;
use camcops_web::auth::mfa;
use camcops_web::db::schema::{_security_audit, _security_user_group as ugm, _security_users};
use camcops_web::db::DbConnection;
use camcops_web::models::group::Membership;
use camcops_web::models::lockout;
use camcops_web::models::user::User;

use crate::helpers::{csrf_from, location, new_client, unescape, TestApp};
use crate::testdb::backend_test;
use crate::user_admin_world::{escaped, submit, PW};

const NEW_PW: &str = "plum-tractor-violin-42";
const EXPIRY_DAYS: i64 = 30;

/// What the login does for a case before the fix.
#[derive(Debug, Clone, Copy)]
enum Login {
    /// Back to the login page with this flash (the usual message, or the lockout's).
    Refused(&'static str),
    /// Logged in, then the main menu sends the user here first.
    SentTo(&'static str),
}

/// How the administrator (or, for the terms, the user) fixes it.
#[derive(Debug, Clone, Copy)]
enum Fix {
    /// Tick `may_use_webviewer` on the membership's permissions page.
    Permissions,
    /// Put the user in a group on /edit_user, then tick the permission.
    Groups,
    /// The unlock button.
    Unlock,
    /// A new password on /change_other_password, no forced change.
    Password,
    /// Switch MFA off on /edit_other_user_mfa.
    MfaOff,
    /// The user agrees the terms when asked.
    AgreeTerms,
}

struct Case {
    name: &'static str,
    /// Sets the reason up on a ready user (id, their only membership).
    set_up: fn(&mut DbConnection, i32, i32, &TestApp),
    /// Whether the status line says "No" (else "Yes" with the reason as a step first).
    refuses: bool,
    /// Text on the page.
    text: &'static str,
    /// The fixing link (`{uid}` and `{mid}` replaced), if any.
    link: Option<&'static str>,
    login: Login,
    /// The reason in the audit row of the refused login.
    audit: Option<&'static str>,
    fix: Fix,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "nowebviewer",
            set_up: |c, _, mid, _| {
                diesel::update(ugm::table.find(mid))
                    .set(ugm::may_use_webviewer.eq(Some(false)))
                    .execute(c)
                    .unwrap();
            },
            refuses: true,
            text: "No web viewer permission in any group.",
            link: Some("/edit_user_group_membership?user_group_membership_id={mid}"),
            login: Login::Refused(GENERIC_FAILURE),
            audit: Some("no web viewer permission in any group"),
            fix: Fix::Permissions,
        },
        Case {
            name: "nogroups",
            set_up: |c, uid, _, _| {
                Membership::delete_for_user(c, uid).unwrap();
                User::set_upload_group(c, uid, None).unwrap();
            },
            refuses: true,
            text: "Not a member of any group.",
            link: Some("/edit_user?user_id={uid}"),
            login: Login::Refused(GENERIC_FAILURE),
            audit: Some("not a member of any group"),
            fix: Fix::Groups,
        },
        Case {
            name: "locked",
            set_up: |c, uid, _, app| {
                let name = User::find(c, uid).unwrap().unwrap().username;
                lockout::record_failure(c, &name, app.clock().now(), 1, 10).unwrap();
            },
            refuses: true,
            text: "Locked out after failed logins until",
            link: None,
            login: Login::Refused("due to multiple login failures"),
            audit: Some("locked out after failed logins until"),
            fix: Fix::Unlock,
        },
        Case {
            name: "emailcodes",
            set_up: |c, uid, _, _| {
                User::set_mfa(c, uid, "hotp_email", None, 0).unwrap();
            },
            refuses: true,
            text: "Second factor is codes by e-mail but there is no e-mail address.",
            link: Some("/edit_other_user_mfa?user_id={uid}"),
            login: Login::Refused("no e-mail address to send a code to"),
            audit: Some("second factor is codes by e-mail but there is no e-mail address"),
            fix: Fix::MfaOff,
        },
        Case {
            name: "smscodes",
            set_up: |c, uid, _, _| {
                User::set_mfa(c, uid, "hotp_sms", None, 0).unwrap();
            },
            refuses: true,
            text: "Second factor is codes by SMS but there is no phone number.",
            link: Some("/edit_other_user_mfa?user_id={uid}"),
            login: Login::Refused("no phone number to send a code to"),
            audit: Some("second factor is codes by SMS but there is no phone number"),
            fix: Fix::MfaOff,
        },
        Case {
            name: "mustchange",
            set_up: |c, uid, _, _| {
                User::set_must_change_password(c, uid, true).unwrap();
            },
            refuses: false,
            text: "Must change their password first.",
            link: Some("/change_other_password?user_id={uid}"),
            login: Login::SentTo("/change_own_password"),
            audit: None,
            fix: Fix::Password,
        },
        Case {
            name: "expired",
            set_up: |c, uid, _, app| {
                let old = app.clock().now() - Duration::days(EXPIRY_DAYS + 1);
                diesel::update(_security_users::table.find(uid))
                    .set(_security_users::last_password_change_utc.eq(Some(old)))
                    .execute(c)
                    .unwrap();
            },
            refuses: false,
            text: "Password has expired (PASSWORD_CHANGE_FREQUENCY_DAYS): must change it first.",
            link: Some("/change_other_password?user_id={uid}"),
            login: Login::SentTo("/change_own_password"),
            audit: None,
            fix: Fix::Password,
        },
        Case {
            name: "terms",
            set_up: |c, uid, _, _| {
                diesel::update(_security_users::table.find(uid))
                    .set(_security_users::when_agreed_terms_of_use.eq(None::<String>))
                    .execute(c)
                    .unwrap();
            },
            refuses: false,
            text: "Will be asked to agree the terms of use first.",
            link: None,
            login: Login::SentTo("/offer_terms"),
            audit: None,
            fix: Fix::AgreeTerms,
        },
        Case {
            // MFA_METHODS here allows no_mfa only: an authenticator app is not allowed.
            name: "mfanotallowed",
            set_up: |c, uid, _, _| {
                User::set_mfa(c, uid, "totp", Some(&mfa::new_secret()), 0).unwrap();
            },
            refuses: false,
            text: "Multi-factor authentication required by MFA_METHODS is not set up: must set it up first.",
            link: Some("/edit_other_user_mfa?user_id={uid}"),
            login: Login::SentTo("/edit_own_user_mfa"),
            audit: None,
            fix: Fix::MfaOff,
        },
    ]
}

/// The status section of the user's page.
async fn status_of(app: &TestApp, su: &reqwest::Client, uid: i32) -> String {
    let page = app
        .body_with(su, &format!("/view_user?user_id={uid}"))
        .await;
    let start = page
        .find("<section class=\"readiness\"")
        .expect("status section");
    let end = page[start..].find("</section>").unwrap() + start;
    unescape(&page[start..end])
}

/// The web login part of a status section (before the tablet line).
fn web_part(status: &str) -> &str {
    &status[..status.find("Can upload from a tablet").unwrap()]
}

/// One login attempt (with the TOTP step when the user has one): (status, Location).
async fn attempt(app: &TestApp, c: &reqwest::Client, name: &str, pw: &str) -> (u16, String) {
    let r = app.login_with(c, name, pw).await;
    if r.status() == 200 {
        let body = r.text().await.unwrap();
        assert!(body.contains("one_time_password"), "{body}");
        let secret = User::find_by_username(&mut app.conn(), name)
            .unwrap()
            .unwrap()
            .mfa_secret_key
            .unwrap();
        let code = mfa::current_code(&secret, app.clock().now().and_utc().timestamp()).unwrap();
        let token = csrf_from(&body).unwrap();
        let r = app
            .post_with(
                c,
                "/login",
                &[
                    ("one_time_password", &code),
                    ("csrf_token", &token),
                    ("redirect_url", "/"),
                ],
            )
            .await;
        return (r.status().as_u16(), location(&r));
    }
    (r.status().as_u16(), location(&r))
}

/// The newest audit row about a login as `name` (details starting "Failed login for name:").
fn refusal_audit(conn: &mut DbConnection, name: &str) -> Option<String> {
    _security_audit::table
        .filter(_security_audit::details.like(format!("Failed login for {name}:%")))
        .order(_security_audit::id.desc())
        .select(_security_audit::details)
        .first::<Option<String>>(conn)
        .optional()
        .unwrap()
        .flatten()
}

fn membership_of(conn: &mut DbConnection, uid: i32) -> i32 {
    ugm::table
        .filter(ugm::user_id.eq(uid))
        .select(ugm::id)
        .first(conn)
        .unwrap()
}

async fn apply_fix(app: &TestApp, su: &reqwest::Client, fix: Fix, uid: i32, name: &str, gid: i32) {
    let ok = |r: reqwest::Response, what: &str| {
        assert_eq!(r.status(), 303, "{what}");
    };
    match fix {
        Fix::Permissions => {
            let mid = membership_of(&mut app.conn(), uid);
            let path = format!("/edit_user_group_membership?user_group_membership_id={mid}");
            ok(
                submit(app, su, &path, &[("may_use_webviewer", "true")]).await,
                "permissions",
            );
        }
        Fix::Groups => {
            let g = gid.to_string();
            let path = format!("/edit_user?user_id={uid}");
            ok(
                submit(
                    app,
                    su,
                    &path,
                    &[("username", name), ("group_id_sequence", &g)],
                )
                .await,
                "groups",
            );
            // Now in a group without the permission: the page says so and links to it.
            let mid = membership_of(&mut app.conn(), uid);
            let status = status_of(app, su, uid).await;
            assert!(
                status.contains("No web viewer permission in any group."),
                "{status}"
            );
            let link = format!("/edit_user_group_membership?user_group_membership_id={mid}");
            assert!(status.contains(&link), "{status}");
            ok(
                submit(app, su, &link, &[("may_use_webviewer", "true")]).await,
                "permissions",
            );
        }
        Fix::Unlock => {
            let id = uid.to_string();
            ok(
                submit(app, su, "/unlock_user", &[("user_id", &id)]).await,
                "unlock",
            );
        }
        Fix::Password => {
            let path = format!("/change_other_password?user_id={uid}");
            ok(
                submit(
                    app,
                    su,
                    &path,
                    &[("new_password", NEW_PW), ("new_password-confirm", NEW_PW)],
                )
                .await,
                "password",
            );
        }
        Fix::MfaOff => {
            let path = format!("/edit_other_user_mfa?user_id={uid}");
            ok(
                submit(app, su, &path, &[("disable_mfa", "true")]).await,
                "mfa off",
            );
        }
        Fix::AgreeTerms => {
            // The user, asked at login, agrees.
            let c = new_client();
            let (status, loc) = attempt(app, &c, name, PW).await;
            assert_eq!((status, loc.as_str()), (303, "/"));
            let page = app.body_with(&c, "/offer_terms").await;
            let token = csrf_from(&page).unwrap();
            ok(
                app.post_with(&c, "/offer_terms", &[("csrf_token", &token)])
                    .await,
                "agree",
            );
        }
    }
}

backend_test! {
    /// Each reason: the page names it (No, or Yes with a step first) with the fixing link,
    /// the list names it too, the login does what the page says (refused with the usual
    /// message and the reason in the audit row, or sent to the step first); after the fix
    /// through that page the page says Yes with no reason and the login reaches the menu.
    async fn status_and_login_agree_for_each_reason(db) {
        let app = TestApp::spawn_with(db, |s| s.password_change_frequency_days = EXPIRY_DAYS).await;
        let now = app.clock().now();
        let root = app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
        let spare = app.create_user("spare", PW);
        let spare_group = User::find(&mut app.conn(), spare).unwrap().unwrap().upload_group_id.unwrap();
        let fresh = |conn: &mut DbConnection| {
            diesel::update(_security_users::table)
                .set(_security_users::last_password_change_utc.eq(Some(now)))
                .execute(conn)
                .unwrap();
        };
        fresh(&mut app.conn());
        let su = app.browser("root", PW).await;
        for case in cases() {
            let name = format!("u_{}", case.name);
            let uid = app.create_user(&name, PW);
            let mut conn = app.conn();
            fresh(&mut conn);
            let mid = membership_of(&mut conn, uid);
            (case.set_up)(&mut conn, uid, mid, &app);

            // The user's page.
            let whole = status_of(&app, &su, uid).await;
            let status = web_part(&whole);
            let verdict = if case.refuses { "No" } else { "Yes" };
            assert!(status.contains(&format!("Can log in to the web pages: {verdict}</strong>")), "{}: {status}", case.name);
            assert!(status.contains(case.text), "{}: {status}", case.name);
            if let Some(link) = case.link {
                let href = link.replace("{uid}", &uid.to_string()).replace("{mid}", &mid.to_string());
                assert!(status.contains(&format!("href=\"{href}\"")), "{}: {status}", case.name);
                assert_eq!(app.get_with(&su, &href).await.status(), 200, "{}: the link opens", case.name);
            }
            if matches!(case.fix, Fix::Unlock) {
                assert!(status.contains("action=\"/unlock_user\""), "{}: {status}", case.name);
            }
            // The list, same words.
            let list = unescape(&app.body_with(&su, "/view_all_users?rows_per_page=100").await);
            let row = &list[list.find(&format!("<td>{name}</td>")).unwrap()..];
            let row = &row[..row.find("</tr>").unwrap()];
            assert!(row.contains(case.text), "{}: {row}", case.name);

            // The login agrees.
            let c = new_client();
            let (code, loc) = attempt(&app, &c, &name, PW).await;
            assert_eq!(code, 303, "{}", case.name);
            match case.login {
                Login::Refused(message) => {
                    assert_eq!(loc, "/login?redirect_url=%2F", "{}", case.name);
                    let page = unescape(&app.body_with(&c, &loc).await);
                    assert!(page.contains(message), "{}: {page}", case.name);
                    assert!(app.get_with(&c, "/").await.status().is_redirection(), "{}: not logged in", case.name);
                    let audit = refusal_audit(&mut conn, &name).unwrap_or_default();
                    assert!(audit.contains(case.audit.unwrap()), "{}: {audit}", case.name);
                }
                Login::SentTo(path) => {
                    assert_eq!(loc, "/", "{}", case.name);
                    let r = app.get_with(&c, "/").await;
                    assert_eq!(location(&r), path, "{}", case.name);
                    assert_eq!(refusal_audit(&mut conn, &name), None, "{}: not a refusal", case.name);
                }
            }

            // The fix, then yes with no reason, and the menu.
            apply_fix(&app, &su, case.fix, uid, &name, spare_group).await;
            let whole = status_of(&app, &su, uid).await;
            let status = web_part(&whole);
            assert!(status.contains("Can log in to the web pages: Yes</strong>"), "{}: {status}", case.name);
            assert!(!status.contains("<li>"), "{}: no reason left: {status}", case.name);
            let pw = if matches!(case.fix, Fix::Password) { NEW_PW } else { PW };
            let c = new_client();
            assert_eq!(attempt(&app, &c, &name, pw).await, (303, "/".to_string()), "{}", case.name);
            let r = app.get_with(&c, "/").await;
            assert_eq!(r.status(), 200, "{}: the main menu, no step first", case.name);
        }
        let _ = root;
    }

    /// Tablet readiness on the user's page: no upload permission in the upload group (link
    /// to that membership's permissions), then yes once ticked; no upload group (link to set
    /// it).
    async fn upload_status_names_reason_and_fix(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
        let uid = app.create_user("tab", PW);
        let mid = membership_of(&mut app.conn(), uid);
        let su = app.browser("root", PW).await;
        let status = status_of(&app, &su, uid).await;
        assert!(status.contains("Can upload from a tablet: No</strong>"), "{status}");
        assert!(status.contains("No upload permission in the upload group."), "{status}");
        let link = format!("/edit_user_group_membership?user_group_membership_id={mid}");
        assert!(status.contains(&format!("href=\"{link}\"")), "{status}");
        let r = submit(&app, &su, &link, &[("may_use_webviewer", "true"), ("may_upload", "true"), ("may_register_devices", "true")]).await;
        assert_eq!(r.status(), 303);
        let status = status_of(&app, &su, uid).await;
        assert!(status.contains("Can upload from a tablet: Yes</strong>"), "{status}");
        User::set_upload_group(&mut app.conn(), uid, None).unwrap();
        let status = status_of(&app, &su, uid).await;
        assert!(status.contains("No upload group."), "{status}");
        assert!(status.contains(&format!("href=\"/set_other_user_upload_group?user_id={uid}\"")), "{status}");
    }

    /// "Add" with "may use the web viewer" and "may upload" ticked: the memberships carry
    /// both (every other flag false), the audit row says so, the administrator lands on the
    /// new user's page which says yes, and the user logs in at once. A group administrator
    /// does the same in their own group.
    async fn add_user_ready_in_one_step(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
        let ga_id = app.create_user_with("gadmin", PW, false, |m| {
            m.may_use_webviewer = Some(true);
            m.groupadmin = Some(true);
        });
        let g = User::find(&mut app.conn(), ga_id).unwrap().unwrap().upload_group_id.unwrap().to_string();
        for (admin, name) in [("root", "ready1"), ("gadmin", "ready2")] {
            let c = app.browser(admin, PW).await;
            let form = app.body_with(&c, "/add_user").await;
            assert!(form.contains("name=\"may_use_webviewer\"") && form.contains("name=\"may_upload\""), "{form}");
            let r = submit(&app, &c, "/add_user", &[
                ("username", name), ("new_password", NEW_PW), ("new_password-confirm", NEW_PW),
                ("group_id_sequence", &g), ("may_use_webviewer", "true"), ("may_upload", "true"),
                ("submit", "submit"),
            ]).await;
            assert_eq!(r.status(), 303, "{admin}");
            let mut conn = app.conn();
            let id = User::id_by_username(&mut conn, name).unwrap().unwrap();
            assert_eq!(location(&r), format!("/view_user?user_id={id}"), "{admin}");
            let ms = Membership::for_user(&mut conn, id).unwrap();
            assert_eq!(ms.len(), 1);
            assert_eq!((ms[0].flags.may_use_webviewer, ms[0].flags.may_upload, ms[0].flags.groupadmin, ms[0].flags.may_dump_data), (Some(true), Some(true), Some(false), Some(false)));
            let page = app.body_with(&c, &location(&r)).await;
            assert!(page.contains(&escaped(&format!("User {name} created"))), "{page}");
            assert!(page.contains("Can log in to the web pages: Yes</strong>"), "{page}");
            let audit: Option<String> = _security_audit::table
                .order(_security_audit::id.desc())
                .filter(_security_audit::details.like(format!("User {name} %")))
                .select(_security_audit::details)
                .first(&mut conn)
                .unwrap();
            assert!(audit.unwrap().ends_with("permissions in those groups: may_use_webviewer, may_upload"));
            // Logs in at once (to the terms first: a new user agrees them at first login).
            let u = new_client();
            assert_eq!(attempt(&app, &u, name, NEW_PW).await, (303, "/".to_string()));
        }
        // Nothing ticked: memberships without the permission, and the page says why.
        let su = app.browser("root", PW).await;
        let r = submit(&app, &su, "/add_user", &[
            ("username", "notready"), ("new_password", NEW_PW), ("new_password-confirm", NEW_PW),
            ("group_id_sequence", &g), ("submit", "submit"),
        ]).await;
        let id = User::id_by_username(&mut app.conn(), "notready").unwrap().unwrap();
        let page = unescape(&app.body_with(&su, &location(&r)).await);
        assert!(page.contains("Can log in to the web pages: No</strong>"), "{page}");
        assert!(page.contains("No web viewer permission in any group."), "{page}");
        let mid = membership_of(&mut app.conn(), id);
        assert!(page.contains(&format!("/edit_user_group_membership?user_group_membership_id={mid}")));
        let r = app.login_with(&new_client(), "notready", NEW_PW).await;
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        assert_eq!(
            refusal_audit(&mut app.conn(), "notready").as_deref(),
            Some("Failed login for notready: no web viewer permission in any group")
        );
    }
}
