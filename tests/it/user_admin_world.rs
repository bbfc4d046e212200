//! The cast of the user administration tests (admin §2.2): actors and every kind of
//! target, plus helpers to read what the pages changed.

use diesel::prelude::*;

use camcops_web::db::schema::{_security_audit, _security_groups, _security_webviewer_sessions};
use camcops_web::db::DbConnection;
use camcops_web::models::group::{Membership, NewMembership, StoredFlags};
use camcops_web::models::user::User;
use camcops_web::session::CamcopsSession;

use crate::helpers::TestApp;

pub const PW: &str = "correct horse battery";

/// `root` (superuser), `root2` (another superuser), `admin1` (group admin of g_admin1),
/// `admin2` (group admin of g_admin2 and plain member of g_admin1), `alice` (g_alice and
/// g_admin1), `bob` (g_bob only), `dave` (ordinary user in g_admin1), `system`.
pub struct World {
    pub root: i32,
    pub root2: i32,
    pub admin1: i32,
    pub admin2: i32,
    pub alice: i32,
    pub bob: i32,
    pub dave: i32,
    pub system: i32,
    pub g_admin1: i32,
    pub g_alice: i32,
    pub g_bob: i32,
}

pub fn group_id(conn: &mut DbConnection, name: &str) -> i32 {
    _security_groups::table
        .filter(_security_groups::name.eq(name))
        .select(_security_groups::id)
        .first(conn)
        .unwrap()
}

/// Adds `uid` to `gid` with `may_use_webviewer` and what `set` adds.
pub fn add_member(app: &TestApp, uid: i32, gid: i32, set: impl FnOnce(&mut StoredFlags)) {
    let mut m = NewMembership {
        user_id: Some(uid),
        group_id: Some(gid),
        flags: StoredFlags {
            may_use_webviewer: Some(true),
            ..Default::default()
        },
    };
    set(&mut m.flags);
    Membership::insert(&mut app.conn(), &m).unwrap();
}

pub fn world(app: &TestApp) -> World {
    let web = |m: &mut StoredFlags| m.may_use_webviewer = Some(true);
    let admin = |m: &mut StoredFlags| {
        m.may_use_webviewer = Some(true);
        m.groupadmin = Some(true);
    };
    let root = app.create_user_with("root", PW, true, web);
    let root2 = app.create_user_with("root2", PW, true, web);
    let admin1 = app.create_user_with("admin1", PW, false, admin);
    let admin2 = app.create_user_with("admin2", PW, false, admin);
    let alice = app.create_user("alice", PW);
    let bob = app.create_user("bob", PW);
    let dave = app.create_user("dave", PW);
    let system = app.create_user_with("system", PW, false, |_| {});
    let mut conn = app.conn();
    let g_admin1 = group_id(&mut conn, "g_admin1");
    for uid in [admin2, alice, dave, system, root2] {
        add_member(app, uid, g_admin1, |_| {});
    }
    World {
        root,
        root2,
        admin1,
        admin2,
        alice,
        bob,
        dave,
        system,
        g_admin1,
        g_alice: group_id(&mut conn, "g_alice"),
        g_bob: group_id(&mut conn, "g_bob"),
    }
}

/// Everything the user pages can change about a user, as text (to compare before/after).
pub fn snapshot(conn: &mut DbConnection, uid: i32) -> String {
    let user = User::find(conn, uid).unwrap();
    let memberships = Membership::for_user(conn, uid).unwrap();
    format!("{user:?} {memberships:?}")
}

pub fn user(conn: &mut DbConnection, uid: i32) -> User {
    User::find(conn, uid).unwrap().unwrap()
}

pub fn session_count(conn: &mut DbConnection, uid: i32) -> i64 {
    _security_webviewer_sessions::table
        .filter(_security_webviewer_sessions::user_id.eq(uid))
        .count()
        .get_result(conn)
        .unwrap()
}

/// Audit rows with exactly `details` written by `actor`.
pub fn audits_by(conn: &mut DbConnection, actor: i32, details: &str) -> i64 {
    _security_audit::table
        .filter(_security_audit::details.eq(details))
        .filter(_security_audit::user_id.eq(actor))
        .count()
        .get_result(conn)
        .unwrap()
}

/// The newest audit row's (user_id, details).
pub fn last_audit(conn: &mut DbConnection) -> (Option<i32>, String) {
    let (uid, details): (Option<i32>, Option<String>) = _security_audit::table
        .order(_security_audit::id.desc())
        .select((_security_audit::user_id, _security_audit::details))
        .first(conn)
        .unwrap();
    (uid, details.unwrap_or_default())
}

/// A tablet (API) session of `uid`, written through the model.
pub fn api_session(app: &TestApp, uid: i32) -> i32 {
    let mut conn = app.conn();
    let now = app.clock().now();
    let mut s = CamcopsSession::new_unsaved("10.0.0.9", now);
    s.mark_api();
    s.login(&mut conn, uid, now).unwrap();
    s.id.unwrap()
}

/// `text` as askama escapes it in a page.
pub fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// POSTs `form` with the CSRF token of the logged-in `c`.
pub async fn submit(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.page_csrf(c).await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(form);
    app.post_with(c, path, &all).await
}
