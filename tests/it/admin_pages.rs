//! Admin pages on every backend: `/view_all_users` with `POST /unlock_user`, and
//! `/view_sessions` with `POST /end_session` and `POST /end_user_sessions` — statuses for
//! anonymous, ordinary user, group admin and superuser; CSRF; the rows they change.

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::db::schema::{
    _security_account_lockouts as lk, _security_audit, _security_groups,
    _security_login_failures as lf, _security_webviewer_sessions as sess,
};
use camcops_web::db::DbConnection;
use camcops_web::models::group::{Membership, NewMembership, StoredFlags};
use camcops_web::models::lockout;

use crate::helpers::{location, new_client, TestApp};
use crate::testdb::backend_test;
use crate::user_admin_world::api_session;

const PW: &str = "correct horse battery";

/// Users: `root` (superuser), `admin1` (group admin of g_admin1), `alice` (in g_alice and
/// g_admin1), `bob` (only in g_bob). `root` is a member of g_admin1 too.
struct World {
    root: i32,
    admin1: i32,
    alice: i32,
    bob: i32,
}

fn group_id(conn: &mut DbConnection, name: &str) -> i32 {
    _security_groups::table
        .filter(_security_groups::name.eq(name))
        .select(_security_groups::id)
        .first(conn)
        .unwrap()
}

fn world(app: &TestApp) -> World {
    let root = app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
    let admin1 = app.create_user_with("admin1", PW, false, |m| {
        m.may_use_webviewer = Some(true);
        m.groupadmin = Some(true);
    });
    let alice = app.create_user("alice", PW);
    let bob = app.create_user("bob", PW);
    let mut conn = app.conn();
    let gid = group_id(&mut conn, "g_admin1");
    for uid in [alice, root] {
        let m = NewMembership {
            user_id: Some(uid),
            group_id: Some(gid),
            flags: StoredFlags {
                may_use_webviewer: Some(true),
                ..Default::default()
            },
        };
        Membership::insert(&mut conn, &m).unwrap();
    }
    World {
        root,
        admin1,
        alice,
        bob,
    }
}

async fn browser(app: &TestApp, username: &str) -> reqwest::Client {
    app.browser(username, PW).await
}

async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> reqwest::Response {
    app.get_with(c, path).await
}

async fn post(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.post_with(c, path, form).await
}

async fn body(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    app.body_with(c, path).await
}

async fn csrf(app: &TestApp, c: &reqwest::Client) -> String {
    app.page_csrf(c).await
}

fn session_ids(conn: &mut DbConnection, user_id: i32) -> Vec<i32> {
    sess::table
        .filter(sess::user_id.eq(user_id))
        .select(sess::id)
        .order(sess::id.asc())
        .load(conn)
        .unwrap()
}

fn lock_rows(conn: &mut DbConnection, username: &str) -> (i64, i64) {
    let l: i64 = lk::table
        .filter(lk::username.eq(username))
        .count()
        .get_result(conn)
        .unwrap();
    let f: i64 = lf::table
        .filter(lf::username.eq(username))
        .count()
        .get_result(conn)
        .unwrap();
    (l, f)
}

fn audits(conn: &mut DbConnection, details: &str) -> i64 {
    _security_audit::table
        .filter(_security_audit::details.eq(details))
        .count()
        .get_result(conn)
        .unwrap()
}

/// Ten failures: the tenth locks the account (as the login page would record them).
fn lock_directly(app: &TestApp, username: &str) {
    let mut conn = app.conn();
    let now = app.clock().now();
    for _ in 0..10 {
        lockout::record_failure(&mut conn, username, now, 10, 10).unwrap();
    }
}

backend_test! {
    /// Anonymous: every page and action is a 303 to the login page; the POSTs come back to
    /// their list page after login. GET on an action is a 405 that changes nothing.
    async fn anonymous_is_sent_to_login(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        for (path, back) in [("/view_all_users", "%2Fview_all_users"), ("/view_sessions", "%2Fview_sessions")] {
            let r = app.get(path).await;
            assert_eq!(r.status(), 303, "{path}");
            assert_eq!(location(&r), format!("/login?redirect_url={back}"));
        }
        let id = w.alice.to_string();
        for (path, field, back) in [
            ("/unlock_user", "user_id", "%2Fview_all_users"),
            ("/end_session", "session_id", "%2Fview_sessions"),
            ("/end_user_sessions", "user_id", "%2Fview_sessions"),
        ] {
            let r = app.post_form(path, &[(field, &id), ("csrf_token", "x")]).await;
            assert_eq!(r.status(), 303, "{path}");
            assert_eq!(location(&r), format!("/login?redirect_url={back}"));
            let r = app.get(&format!("{path}?{field}={id}")).await;
            assert_eq!(r.status(), 405, "GET {path}");
            assert_eq!(r.headers()["allow"], "POST");
            assert!(r.text().await.unwrap().contains("no longer works"));
        }
    }

    /// An ordinary user gets 403 on every admin page and action, with a valid CSRF token too.
    async fn ordinary_user_is_forbidden(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        lock_directly(&app, "bob");
        let c = browser(&app, "alice").await;
        let token = csrf(&app, &c).await;
        for path in ["/view_all_users", "/view_sessions"] {
            assert_eq!(get(&app, &c, path).await.status(), 403, "{path}");
        }
        let bob = w.bob.to_string();
        let sid = session_ids(&mut app.conn(), w.alice)[0].to_string();
        for (path, field, value) in [
            ("/unlock_user", "user_id", bob.as_str()),
            ("/end_session", "session_id", sid.as_str()),
            ("/end_user_sessions", "user_id", bob.as_str()),
        ] {
            let r = post(&app, &c, path, &[(field, value), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 403, "{path}");
        }
        let mut conn = app.conn();
        assert_eq!(lock_rows(&mut conn, "bob"), (1, 10));
        assert_eq!(session_ids(&mut conn, w.alice).len(), 1);
    }

    /// A group admin sees the non-superusers of the groups they administer; a superuser sees
    /// everyone but the system user. Columns and lockout state are shown.
    async fn user_list_is_scoped(db) {
        let app = TestApp::spawn(db).await;
        let _w = world(&app);
        lock_directly(&app, "alice");
        let ga = browser(&app, "admin1").await;
        let page = body(&app, &ga, "/view_all_users").await;
        // ID, full name and e-mail are on the user's page (the list fits 1280 px).
        for th in ["Username", "Role", "Groups", "Upload group", "Last login", "Locked out", "MFA method", "Can log in", "Can upload", "Actions"] {
            assert!(page.contains(&format!("<th scope=\"col\">{th}</th>")), "{th}");
        }
        // admin §2.1 managed_users: group administrators (the viewer included) are not listed.
        assert!(page.contains("<td>alice</td>") && !page.contains("<td>admin1</td>"), "{page}");
        assert!(!page.contains("<td>bob</td>") && !page.contains("<td>root</td>"), "{page}");
        assert!(page.contains("<td class=\"wrap\">g_admin1 <a href=\"/edit_user_group_membership?user_group_membership_id="), "{page}");
        assert!(page.contains("[Permissions]</a>; g_alice</td>"), "only groups the viewer administers get a link: {page}");
        assert!(page.contains("Locked until ") && page.contains("(10 failed logins)"), "{page}");
        assert!(page.contains("aria-label=\"Unlock alice\""), "{page}");
        let su = browser(&app, "root").await;
        assert!(!body(&app, &su, "/view_all_users").await.contains("aria-label=\"Unlock admin1\""), "no button without lockout or failures");
        let su = browser(&app, "root").await;
        let page = body(&app, &su, "/view_all_users").await;
        for name in ["alice", "admin1", "bob", "root"] {
            assert!(page.contains(&format!("<td>{name}</td>")), "{name}");
        }
        assert!(!page.contains("<td>system</td>"));
    }

    /// Unlock: CSRF first; then a lockout made by ten failed logins through POST /login is
    /// cleared (both tables), audited and flashed, and the correct password works again.
    async fn unlock_clears_lockout_and_failures(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let victim = new_client();
        for _ in 0..10 {
            let r = app.login_with(&victim, "alice", "wrong password!").await;
            assert_eq!(r.status(), 303);
        }
        let r = app.login_with(&victim, "alice", PW).await;
        assert_ne!(location(&r), "/", "locked: the correct password is refused");
        assert_eq!(lock_rows(&mut app.conn(), "alice"), (1, 10));
        let ga = browser(&app, "admin1").await;
        let token = csrf(&app, &ga).await;
        let id = w.alice.to_string();
        for bad in ["", "forged"] {
            let r = post(&app, &ga, "/unlock_user", &[("user_id", &id), ("csrf_token", bad)]).await;
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains("CSRF"));
        }
        assert_eq!(lock_rows(&mut app.conn(), "alice"), (1, 10));
        let r = post(&app, &ga, "/unlock_user", &[("user_id", &id), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_all_users");
        let page = body(&app, &ga, "/view_all_users").await;
        assert!(page.contains("User alice enabled"), "{page}");
        assert!(!page.contains("Locked until"), "{page}");
        let mut conn = app.conn();
        assert_eq!(lock_rows(&mut conn, "alice"), (0, 0));
        assert_eq!(audits(&mut conn, "User alice re-enabled"), 1);
        let r = app.login_with(&victim, "alice", PW).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/");
    }

    /// Unlock outside one's groups, of a superuser, of an unknown or malformed id; and GET.
    async fn unlock_permissions_and_bad_input(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = browser(&app, "root").await;
        lock_directly(&app, "bob");
        lock_directly(&app, "root");
        let ga = browser(&app, "admin1").await;
        let token = csrf(&app, &ga).await;
        for uid in [w.bob, w.root] {
            let r = post(&app, &ga, "/unlock_user", &[("user_id", &uid.to_string()), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 403, "user {uid}");
        }
        let r = post(&app, &ga, "/unlock_user", &[("user_id", "99999"), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("No such user ID: 99999"));
        for bad in ["abc", "", "1.5"] {
            let r = post(&app, &ga, "/unlock_user", &[("user_id", bad), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 400, "{bad:?}");
        }
        let r = get(&app, &ga, &format!("/unlock_user?user_id={}", w.bob)).await;
        assert_eq!(r.status(), 405, "the original's GET side effect is gone");
        let mut conn = app.conn();
        assert_eq!(lock_rows(&mut conn, "bob"), (1, 10));
        assert_eq!(lock_rows(&mut conn, "root"), (1, 10));
        let token = csrf(&app, &su).await;
        let r = post(&app, &su, "/unlock_user", &[("user_id", &w.bob.to_string()), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(lock_rows(&mut conn, "bob"), (0, 0));
    }

    /// The sessions list: a group admin sees their groups' users' sessions (human and API),
    /// never a token or its hash; a superuser sees them all.
    async fn session_list_is_scoped(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let _alice = browser(&app, "alice").await;
        let _bob = browser(&app, "bob").await;
        let _root = browser(&app, "root").await;
        let api = api_session(&app, w.alice);
        let ga = browser(&app, "admin1").await;
        let page = body(&app, &ga, "/view_sessions").await;
        for th in ["User", "IP address", "Created", "Last activity", "Type"] {
            assert!(page.contains(&format!("<th scope=\"col\">{th}</th>")), "{th}");
        }
        assert!(page.contains("<td>alice</td>") && page.contains("<td>admin1</td>"), "{page}");
        assert!(!page.contains("<td>bob</td>") && !page.contains("<td>root</td>"), "{page}");
        assert!(page.contains(&format!("aria-label=\"End session {api} of alice\"")), "{page}");
        assert!(page.contains("API (tablet)") && page.contains("Human (web)") && page.contains("(this session)"));
        assert!(page.contains("<td>127.0.0.1</td>") && page.contains("<td>10.0.0.9</td>"), "{page}");
        let mut conn = app.conn();
        let tokens: Vec<Option<String>> = sess::table.select(sess::token).load(&mut conn).unwrap();
        for t in tokens.into_iter().flatten().filter(|t| !t.is_empty()) {
            assert!(!page.contains(&t[..8]), "no part of a token hash is shown");
        }
        let su = browser(&app, "root").await;
        let page = body(&app, &su, "/view_sessions").await;
        for name in ["alice", "admin1", "bob", "root"] {
            assert!(page.contains(&format!("<td>{name}</td>")), "{name}");
        }
    }

    /// Ending one session: CSRF first; then the row goes, the audit says who did it, and that
    /// browser is anonymous on its next request. Outside one's groups: 403.
    async fn end_session_logs_that_browser_out(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let alice = browser(&app, "alice").await;
        let bob = browser(&app, "bob").await;
        let ga = browser(&app, "admin1").await;
        let token = csrf(&app, &ga).await;
        let sid = session_ids(&mut app.conn(), w.alice)[0];
        let sid_s = sid.to_string();
        let r = post(&app, &ga, "/end_session", &[("session_id", &sid_s), ("csrf_token", "forged")]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(get(&app, &alice, "/").await.status(), 200);
        let r = post(&app, &ga, "/end_session", &[("session_id", &sid_s), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_sessions");
        let page = body(&app, &ga, "/view_sessions").await;
        assert!(page.contains(&format!("Session {sid} of user alice ended.")), "{page}");
        let mut conn = app.conn();
        assert!(session_ids(&mut conn, w.alice).is_empty());
        assert_eq!(audits(&mut conn, &format!("Session {sid} of user alice ended by admin admin1")), 1);
        let r = get(&app, &alice, "/").await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/login?redirect_url=%2F");
        // Already gone, never existed, or not the administrator's to end: the same answer, so
        // that it tells nothing about which session ids are live.
        let bob_sid = session_ids(&mut conn, w.bob)[0].to_string();
        for id in [sid_s.as_str(), "987654", bob_sid.as_str()] {
            let r = post(&app, &ga, "/end_session", &[("session_id", id), ("csrf_token", &token)]).await;
            assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_sessions".to_string()), "{id}");
            let page = body(&app, &ga, "/view_sessions").await;
            assert!(page.contains(&format!("Session {id} is not a live session that you may end.")), "{id}: {page}");
        }
        assert_eq!(get(&app, &bob, "/").await.status(), 200);
        let r = post(&app, &ga, "/end_session", &[("session_id", "x1"), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 400);
        // A superuser may end any session.
        let su = browser(&app, "root").await;
        let token = csrf(&app, &su).await;
        let r = post(&app, &su, "/end_session", &[("session_id", &bob_sid), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(get(&app, &bob, "/").await.status(), 303);
        assert!(session_ids(&mut conn, w.bob).is_empty());
    }

    /// Ending all of a user's sessions deletes every row of theirs (human, API, expired),
    /// auditing each live one; outside one's groups or of a superuser: 403.
    async fn end_user_sessions_deletes_all_rows(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let alice = browser(&app, "alice").await;
        let _root = browser(&app, "root").await;
        let old = api_session(&app, w.alice);
        app.clock().advance(Duration::minutes(31));
        let alice = { drop(alice); browser(&app, "alice").await };
        let a1 = api_session(&app, w.alice);
        let a2 = api_session(&app, w.alice);
        let _bob = browser(&app, "bob").await;
        assert_eq!(session_ids(&mut app.conn(), w.alice).len(), 4, "one human, three API (one expired)");
        let ga = browser(&app, "admin1").await;
        let token = csrf(&app, &ga).await;
        for uid in [w.bob, w.root] {
            let r = post(&app, &ga, "/end_user_sessions", &[("user_id", &uid.to_string()), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 403, "user {uid}");
        }
        let r = post(&app, &ga, "/end_user_sessions", &[("user_id", "99999"), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 400);
        let id = w.alice.to_string();
        let r = post(&app, &ga, "/end_user_sessions", &[("user_id", &id), ("csrf_token", "")]).await;
        assert_eq!(r.status(), 400);
        let r = post(&app, &ga, "/end_user_sessions", &[("user_id", &id), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_sessions");
        assert!(body(&app, &ga, "/view_sessions").await.contains("Ended 4 session(s) of user alice."));
        let mut conn = app.conn();
        assert!(session_ids(&mut conn, w.alice).is_empty());
        assert_eq!(session_ids(&mut conn, w.bob).len(), 1);
        for sid in [a1, a2] {
            assert_eq!(audits(&mut conn, &format!("Session {sid} of user alice ended by admin admin1")), 1);
        }
        assert_eq!(audits(&mut conn, &format!("Session {old} of user alice ended by admin admin1")), 0, "expired: swept, not a live end");
        assert_eq!(get(&app, &alice, "/").await.status(), 303);
    }

    /// Ending one's own current session (or all of one's own) logs out: 303 to /login with a
    /// message, and the browser is anonymous afterwards.
    async fn ending_own_session_logs_out(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        for (path, field) in [("/end_session", "session_id"), ("/end_user_sessions", "user_id")] {
            let ga = browser(&app, "admin1").await;
            let token = csrf(&app, &ga).await;
            let value = if field == "session_id" {
                session_ids(&mut app.conn(), w.admin1)[0]
            } else {
                w.admin1
            };
            let r = post(&app, &ga, path, &[(field, &value.to_string()), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 303, "{path}");
            assert_eq!(location(&r), "/login");
            let login = body(&app, &ga, "/login").await;
            assert!(login.contains("You ended your own session, so you have been logged out."), "{login}");
            assert_eq!(get(&app, &ga, "/").await.status(), 303);
            assert!(session_ids(&mut app.conn(), w.admin1).is_empty());
        }
    }
}
