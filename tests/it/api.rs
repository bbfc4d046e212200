//! The tablet client API through HTTP on every backend: sessions §6.7's session-related tests, session
//! reuse without bcrypt, other usernames, human/API coexistence, lockout, reply escaping and
//! a table of bad requests (never a 5xx, never a row).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use chrono::Duration;
use diesel::prelude::*;

use camcops_web::api::wire::unescape;
use camcops_web::config::ClientIpSource;
use camcops_web::db::schema::{
    _security_account_lockouts as lk, _security_audit as au, _security_devices as dev,
    _security_groups as grp, _security_login_failures as lf, _security_users as usr,
    _security_webviewer_sessions as sess,
};
use camcops_web::db::DbConnection;
use camcops_web::models::device::{Device, NewDevice};
use camcops_web::models::idnum::IdNumDefinition;
use camcops_web::session::CamcopsSession;

use crate::helpers::{count_sessions, TestApp};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const VERSION: &str = "2.4.15";
const INVALID: &str = "Invalid username/password (or user not authorized)";

/// A reply: status, parsed `key:value` lines (values unescaped), raw body.
struct Answer {
    status: u16,
    map: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn get(&self, k: &str) -> &str {
        self.map
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} in {:?}", self.body))
    }

    fn ok(&self) -> bool {
        self.status == 200 && self.get("success") == "1"
    }

    fn session(&self) -> (String, String) {
        (
            self.get("session_id").to_string(),
            self.get("session_token").to_string(),
        )
    }

    fn assert_error(&self, msg: &str) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.get("success"), "0", "{}", self.body);
        assert_eq!(self.get("error"), msg, "{}", self.body);
    }

    fn assert_sessionless(&self) {
        assert_eq!(
            self.session(),
            ("0".to_string(), String::new()),
            "{}",
            self.body
        );
    }
}

/// Splits at the first colon of each line, as the original's test helper; unescapes values.
fn parse_reply(body: &str) -> HashMap<String, String> {
    body.split('\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), unescape(v)))
        .collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    Answer {
        status,
        map: parse_reply(&body),
        body,
    }
}

/// POSTs `fields` form-encoded to `/api`.
async fn call(app: &TestApp, fields: &[(&str, &str)]) -> Answer {
    call_from(app, fields, None).await
}

/// Same, with an `X-Forwarded-For` address.
async fn call_from<T: serde::Serialize + ?Sized>(
    app: &TestApp,
    fields: &T,
    ip: Option<&str>,
) -> Answer {
    let mut rb = client().post(app.url("/api")).form(fields);
    if let Some(ip) = ip {
        rb = rb.header("x-forwarded-for", ip);
    }
    answer(rb.send().await.unwrap()).await
}

/// The usual fields of `op` from device `tab1`.
fn base(op: &'static str) -> Vec<(&'static str, &'static str)> {
    base_on(op, "tab1")
}

/// The usual fields of `op` from `device`.
fn base_on(op: &'static str, device: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("operation", op),
        ("device", device),
        ("camcops_version", VERSION),
    ]
}

fn with<'a>(
    mut f: Vec<(&'a str, &'a str)>,
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    f.extend_from_slice(more);
    f
}

fn add_device(conn: &mut DbConnection, name: &str) -> i32 {
    Device::insert(
        conn,
        &NewDevice {
            name,
            friendly_name: None,
            camcops_version: Some(VERSION),
            registered_by_user_id: None,
            when_registered_utc: None,
            currently_preserving: Some(false),
        },
    )
    .unwrap()
}

/// A tablet user (upload + register devices) and the registered device `tab1`.
fn tablet_user(app: &TestApp, name: &str) -> i32 {
    let uid = app.create_user_with(name, PW, false, |m| {
        m.may_upload = Some(true);
        m.may_register_devices = Some(true);
        m.may_use_webviewer = Some(true);
    });
    let mut conn = app.conn();
    if Device::find_by_name(&mut conn, "tab1").unwrap().is_none() {
        add_device(&mut conn, "tab1");
    }
    uid
}

fn bcrypts(app: &TestApp) -> u64 {
    app.state.bcrypt_verifications.load(Ordering::SeqCst)
}

/// (id, user_id, is_api_session, token) of a session row.
type SessionRow = (i32, Option<i32>, Option<bool>, Option<String>);

/// A bad-request case: name, content type, body, expected status, expected error of a 200.
type Case = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    Option<String>,
);

/// Every session row, by id.
fn session_rows(conn: &mut DbConnection) -> Vec<SessionRow> {
    sess::table
        .select((sess::id, sess::user_id, sess::is_api_session, sess::token))
        .order(sess::id.asc())
        .load(conn)
        .unwrap()
}

/// Rows in a table.
macro_rules! count {
    ($conn:expr, $table:expr) => {{
        let n: i64 = $table.count().get_result($conn).unwrap();
        n
    }};
}

fn audits(conn: &mut DbConnection, like: &str) -> Vec<(String, Option<i32>)> {
    au::table
        .filter(au::details.like(like))
        .select((au::source, au::user_id))
        .load(conn)
        .unwrap()
}

backend_test! {
    /// sessions §6.7 MalformedRequestTests: a body of `rubbish` is a 400 "Not a valid CamCOPS API
    /// request" in plain text.
    async fn rubbish_is_not_a_valid_request(db) {
        let app = TestApp::spawn(db).await;
        let r = client()
            .post(app.url("/api"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("rubbish")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert!(r.text().await.unwrap().contains("Not a valid CamCOPS API request"));
    }

    /// sessions §6.7 OpCheckDeviceRegisteredTests / OpCheckUploadUserAndDeviceTests: success replies,
    /// `/database` as an alias, no cookie. An anonymous check's session lives in memory only
    /// (reply `session_id:0`, no row); a login then gets a saved API session.
    async fn device_and_upload_checks_succeed(db) {
        let app = TestApp::spawn(db).await;
        let uid = tablet_user(&app, "alice");
        let a = call(&app, &base("check_device_registered")).await;
        assert!(a.ok(), "{}", a.body);
        assert_eq!(a.get("result"), "check_device_registered");
        a.assert_sessionless();
        let mut conn = app.conn();
        assert_eq!(session_rows(&mut conn).len(), 0);

        let f = with(base("check_upload_user_and_device"), &[("user", "alice"), ("password", PW), ("session_id", "0"), ("session_token", "")]);
        let r = client().post(app.url("/database")).form(&f).send().await.unwrap();
        assert!(r.headers().get("set-cookie").is_none());
        let b = answer(r).await;
        assert!(b.ok(), "{}", b.body);
        assert_eq!(b.get("result"), "check_upload_user_and_device");
        let (id, token) = b.session();
        assert!(id.parse::<i32>().unwrap() > 0 && token.len() == 43, "{}", b.body);
        let rows = session_rows(&mut conn);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].1, rows[0].2), (Some(uid), Some(true)));

        let d = call(&app, &base_on("check_device_registered", "nosuch")).await;
        d.assert_error("Unregistered device");
        d.assert_sessionless();
    }

    /// A flood of anonymous calls (operations open to anyone, none with a user) writes no
    /// session row, so it cannot grow the session table; logged-in calls still get a saved
    /// session and reuse it.
    async fn anonymous_calls_write_no_session_rows(db) {
        let app = TestApp::spawn(db).await;
        let uid = tablet_user(&app, "carol");
        let mut conn = app.conn();
        let before = count_sessions(&mut conn);
        for _ in 0..100 {
            let a = call(&app, &base("check_device_registered")).await;
            assert!(a.ok(), "{}", a.body);
            a.assert_sessionless();
        }
        let r = call(&app, &base("register_patient")).await;
        r.assert_sessionless();
        assert_eq!(count_sessions(&mut conn), before, "anonymous calls wrote session rows");
        let login = call(&app, &with(base("check_upload_user_and_device"), &[("user", "carol"), ("password", PW)])).await;
        assert!(login.ok(), "{}", login.body);
        let (id, token) = login.session();
        let again = call(&app, &with(base("check_device_registered"), &[("user", "carol"), ("session_id", &id), ("session_token", &token)])).await;
        assert!(again.ok(), "{}", again.body);
        assert_eq!(again.session(), (id, token));
        let rows = session_rows(&mut conn);
        assert_eq!(rows.len() as i64, before + 1);
        assert_eq!((rows[0].1, rows[0].2), (Some(uid), Some(true)));
    }

    /// The first call costs one bcrypt; later calls with the username and the session's id
    /// and token (no password) cost none, keep the token and write no new rows.
    async fn password_only_on_the_first_call(db) {
        let app = TestApp::spawn(db).await;
        let uid = tablet_user(&app, "bob");
        let before = bcrypts(&app);
        let first = call(&app, &with(base("check_upload_user_and_device"), &[("user", "bob"), ("password", PW)])).await;
        assert!(first.ok(), "{}", first.body);
        assert_eq!(bcrypts(&app), before + 1);
        let (id, token) = first.session();
        for _ in 0..20 {
            let next = call(&app, &with(base("check_upload_user_and_device"), &[("user", "bob"), ("session_id", &id), ("session_token", &token)])).await;
            assert!(next.ok(), "{}", next.body);
            assert_eq!(next.session(), (id.clone(), token.clone()));
        }
        let info = call(&app, &with(base("get_id_info"), &[("user", "bob"), ("session_id", &id), ("session_token", &token)])).await;
        assert!(info.ok(), "{}", info.body);
        assert_eq!(bcrypts(&app), before + 1, "no bcrypt after the first call");
        let mut conn = app.conn();
        let rows = session_rows(&mut conn);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].1, rows[0].2), (Some(uid), Some(true)));
        assert_ne!(rows[0].3.as_deref(), Some(token.as_str()), "only the token's hash is stored");
        assert_eq!(audits(&mut conn, "Login"), vec![("tablet".to_string(), Some(uid))]);
        // Without the session, a missing password is no login attempt: nothing recorded.
        let bare = call(&app, &with(base("check_upload_user_and_device"), &[("user", "bob")])).await;
        bare.assert_error(INVALID);
        bare.assert_sessionless();
        assert_eq!(count!(&mut conn, lf::table), 0);
    }

    /// sessions §5.3: a found session of another username (or with no username) is logged out; the
    /// new user gets a new session; the old token never works again.
    async fn another_username_logs_the_old_session_out(db) {
        let app = TestApp::spawn(db).await;
        let alice = tablet_user(&app, "alice");
        let bob = tablet_user(&app, "bob");
        let a = call(&app, &with(base("check_upload_user_and_device"), &[("user", "alice"), ("password", PW)])).await;
        let (aid, atok) = a.session();
        let b = call(&app, &with(base("check_upload_user_and_device"), &[("user", "bob"), ("password", PW), ("session_id", &aid), ("session_token", &atok)])).await;
        assert!(b.ok(), "{}", b.body);
        let (bid, btok) = b.session();
        assert_ne!(bid, aid);
        let mut conn = app.conn();
        let rows = session_rows(&mut conn);
        let old = rows.iter().find(|r| r.0.to_string() == aid).unwrap();
        assert_eq!((old.1, old.3.as_deref()), (None, Some("")), "alice's session logged out");
        assert!(rows.iter().any(|r| r.0.to_string() == bid && r.1 == Some(bob)));
        let replay = call(&app, &with(base("check_upload_user_and_device"), &[("user", "alice"), ("session_id", &aid), ("session_token", &atok)])).await;
        replay.assert_error(INVALID);
        replay.assert_sessionless();
        // No username at all also ends the found session (as the original).
        let anon = call(&app, &with(base("check_upload_user_and_device"), &[("session_id", &bid), ("session_token", &btok)])).await;
        anon.assert_error(INVALID);
        let after = call(&app, &with(base("check_upload_user_and_device"), &[("user", "bob"), ("session_id", &bid), ("session_token", &btok)])).await;
        after.assert_error(INVALID);
        assert!(session_rows(&mut conn).iter().all(|r| r.1 != Some(alice) && r.1 != Some(bob)));
    }

    /// A human web login by the same user leaves the API session alive, and API logins end
    /// no human session (nor each other).
    async fn human_and_api_sessions_coexist(db) {
        let app = TestApp::spawn(db).await;
        tablet_user(&app, "carol");
        let a = call(&app, &with(base("check_upload_user_and_device"), &[("user", "carol"), ("password", PW)])).await;
        let (aid, atok) = a.session();
        assert_eq!(app.login("carol", PW).await.status(), 303);
        assert_eq!(app.get("/").await.status(), 200);
        let before = bcrypts(&app);
        let reuse = call(&app, &with(base("check_upload_user_and_device"), &[("user", "carol"), ("session_id", &aid), ("session_token", &atok)])).await;
        assert!(reuse.ok(), "API session survived the web login: {}", reuse.body);
        let second = call(&app, &with(base("check_upload_user_and_device"), &[("user", "carol"), ("password", PW)])).await;
        assert!(second.ok());
        assert_eq!(bcrypts(&app), before + 1);
        assert_eq!(app.get("/").await.status(), 200, "API login ended no human session");
        let again = call(&app, &with(base("check_upload_user_and_device"), &[("user", "carol"), ("session_id", &aid), ("session_token", &atok)])).await;
        assert!(again.ok(), "nor the first API session");
        let kinds: Vec<Option<bool>> = session_rows(&mut app.conn()).iter().map(|r| r.2).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Some(true)).count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == Some(false)).count(), 1);
    }

    /// Failed API logins count towards lockout (difference 10): the 10th locks; then even the
    /// correct password gets the generic error, with no bcrypt and no session row.
    async fn api_failures_lock_the_account(db) {
        let app = TestApp::spawn(db).await;
        tablet_user(&app, "dora");
        for _ in 0..10 {
            let r = call(&app, &with(base("check_upload_user_and_device"), &[("user", "dora"), ("password", "wrong password")])).await;
            r.assert_error(INVALID);
            r.assert_sessionless();
        }
        let mut conn = app.conn();
        assert_eq!(count!(&mut conn, lf::table), 10);
        assert_eq!(count!(&mut conn, lk::table), 1);
        let fails = audits(&mut conn, "Failed login as user: dora");
        assert_eq!(fails.len(), 10);
        assert!(fails.iter().all(|(src, _)| src == "tablet"));
        assert_eq!(audits(&mut conn, "Account dora locked out for 10 minutes").len(), 1);
        let before = bcrypts(&app);
        let r = call(&app, &with(base("check_upload_user_and_device"), &[("user", "dora"), ("password", PW)])).await;
        r.assert_error(INVALID);
        r.assert_sessionless();
        assert_eq!(bcrypts(&app), before, "a locked account costs no bcrypt");
        assert_eq!(count!(&mut conn, lf::table), 10, "no failures recorded while locked");
        assert_eq!(count_sessions(&mut conn), 0, "failed attempts write no session row");
        // The web login sees the same lockout.
        app.login("dora", PW).await;
        assert!(app.get("/login").await.text().await.unwrap().contains("Account locked until"));
        // After the lockout the correct password works and clears the failures.
        app.clock().advance(Duration::minutes(11));
        let ok = call(&app, &with(base("check_upload_user_and_device"), &[("user", "dora"), ("password", PW)])).await;
        assert!(ok.ok(), "{}", ok.body);
        assert_eq!(count!(&mut conn, lf::table), 0);
        // Unknown usernames are recorded too (and cost a dummy bcrypt).
        let before = bcrypts(&app);
        call(&app, &with(base("check_upload_user_and_device"), &[("user", "nobody"), ("password", PW)])).await.assert_error(INVALID);
        assert_eq!(bcrypts(&app), before + 1);
        assert_eq!(count!(&mut conn, lf::table), 1);
    }

    /// sessions §6.1 GetSessionTests through the API, and the web's other rules: IP binding (on by
    /// default), idle timeout, a wrong token, a non-integer id.
    async fn sessions_follow_the_web_rules(db) {
        let app = TestApp::spawn_with(db, |s| s.client_ip_source = ClientIpSource::XForwardedFor).await;
        tablet_user(&app, "erin");
        let creds = with(base("check_upload_user_and_device"), &[("user", "erin"), ("password", PW)]);
        let first = call_from(&app, &creds, Some("192.0.2.1")).await;
        let (id, tok) = first.session();
        let reuse = |id: &str, tok: &str| -> Vec<(String, String)> {
            with(base("check_upload_user_and_device"), &[("user", "erin")])
                .into_iter()
                .chain([("session_id", id), ("session_token", tok)])
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let same = reuse(&id, &tok);
        assert!(call_from(&app, &same, Some("192.0.2.1")).await.ok(), "same IP: same session");
        let moved = call_from(&app, &same, Some("192.0.2.2")).await;
        moved.assert_error(INVALID);
        moved.assert_sessionless();
        assert!(call_from(&app, &same, Some("192.0.2.1")).await.ok(), "the IP mismatch left the row alone");
        let wrong = reuse(&id, "x".repeat(43).as_str());
        call_from(&app, &wrong, Some("192.0.2.1")).await.assert_error(INVALID);
        let nonint = reuse("abc", &tok);
        call_from(&app, &nonint, Some("192.0.2.1")).await.assert_error(INVALID);
        app.clock().advance(Duration::minutes(29));
        assert!(call_from(&app, &same, Some("192.0.2.1")).await.ok());
        app.clock().advance(Duration::minutes(29));
        assert!(
            call_from(&app, &same, Some("192.0.2.1")).await.ok(),
            "activity at 29 min restarted the idle clock"
        );
        app.clock().advance(Duration::minutes(31));
        call_from(&app, &same, Some("192.0.2.1")).await.assert_error(INVALID);
    }

    /// sessions §6.1 test_old_session_for_different_ip_when_ip_ignored: with SESSION_CHECK_USER_IP off,
    /// a new address keeps the session.
    async fn ip_change_allowed_when_not_checked(db) {
        let app = TestApp::spawn_with(db, |s| {
            s.client_ip_source = ClientIpSource::XForwardedFor;
            s.session_check_user_ip = false;
        }).await;
        tablet_user(&app, "fred");
        let first = call_from(&app, &with(base("check_upload_user_and_device"), &[("user", "fred"), ("password", PW)]), Some("192.0.2.1")).await;
        let (id, tok) = first.session();
        let again = call_from(&app, &with(base("check_upload_user_and_device"), &[("user", "fred"), ("session_id", &id), ("session_token", &tok)]), Some("192.0.2.2")).await;
        assert!(again.ok(), "{}", again.body);
        assert_eq!(again.get("session_id"), id);
    }

    /// The absolute lifetime applies to API sessions too, however active they are.
    async fn lifetime_limits_api_sessions(db) {
        let app = TestApp::spawn_with(db, |s| s.session_max_lifetime_minutes = 60).await;
        tablet_user(&app, "gwen");
        let first = call(&app, &with(base("check_upload_user_and_device"), &[("user", "gwen"), ("password", PW)])).await;
        let (id, tok) = first.session();
        let again = with(base("check_upload_user_and_device"), &[("user", "gwen"), ("session_id", &id), ("session_token", &tok)]);
        for _ in 0..2 {
            app.clock().advance(Duration::minutes(29));
            assert!(call(&app, &again).await.ok());
        }
        app.clock().advance(Duration::minutes(3));
        call(&app, &again).await.assert_error(INVALID);
    }

    /// Only API sessions are API credentials: a web session's id and token (which normally
    /// never leave the encrypted cookie) are ignored, and that row is left alone.
    async fn web_sessions_are_not_api_credentials(db) {
        let app = TestApp::spawn(db).await;
        let uid = tablet_user(&app, "hugo");
        let mut conn = app.conn();
        let now = app.clock().now();
        let mut web = CamcopsSession::new_unsaved("127.0.0.1", now);
        web.login(&mut conn, uid, now).unwrap();
        let id = web.id.unwrap().to_string();
        let r = call(&app, &with(base("check_upload_user_and_device"), &[("user", "hugo"), ("session_id", &id), ("session_token", &web.token)])).await;
        r.assert_error(INVALID);
        r.assert_sessionless();
        let rows = session_rows(&mut conn);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].1, rows[0].2), (Some(uid), Some(false)), "the web session is untouched");
    }

    /// sessions §6.7 OpRegisterDeviceTests (new and existing device) and the registration checks of
    /// sessions §5.4 in order; the reply carries the server's ID information.
    async fn register_new_and_existing_devices(db) {
        let app = TestApp::spawn(db).await;
        let uid = app.create_user_with("gail", PW, false, |m| m.may_register_devices = Some(true));
        let nope = app.create_user_with("hank", PW, false, |m| m.may_upload = Some(true));
        let nogroup = app.create_user_with("ivan", PW, false, |m| m.may_register_devices = Some(true));
        let mut conn = app.conn();
        diesel::update(usr::table.find(nogroup)).set(usr::upload_group_id.eq(None::<i32>)).execute(&mut conn).unwrap();
        let gid: i32 = usr::table.find(uid).select(usr::upload_group_id.assume_not_null()).first(&mut conn).unwrap();
        diesel::update(grp::table.find(gid)).set((grp::upload_policy.eq(Some("sex AND idnum1")), grp::finalize_policy.eq(Some("sex AND idnum1 AND dob")))).execute(&mut conn).unwrap();
        IdNumDefinition::insert(&mut conn, &IdNumDefinition { which_idnum: 1, description: Some("NHS number".into()), short_description: Some("NHS".into()), validation_method: Some("uk_nhs_number".into()) }).unwrap();
        let reg = |user: &'static str| with(base_on("register", "newtab"), &[("user", user), ("password", PW), ("devicefriendlyname", "Ward 3 tablet")]);
        call(&app, &reg("hank")).await.assert_error("User not authorized to register devices for selected group");
        call(&app, &reg("ivan")).await.assert_error("No upload group set for user ivan");
        let anon = base_on("register", "newtab");
        call(&app, &anon).await.assert_error(INVALID);
        assert_eq!(count!(&mut conn, dev::table), 0);
        let _ = nope;

        let r = call(&app, &reg("gail")).await;
        assert!(r.ok(), "{}", r.body);
        for (k, v) in [("idPolicyUpload", "sex AND idnum1"), ("idPolicyFinalize", "sex AND idnum1 AND dob"), ("serverCamcopsVersion", "2.4.24"), ("idDescription1", "NHS number"), ("idShortDescription1", "NHS"), ("idValidationMethod1", "uk_nhs_number")] {
            assert_eq!(r.get(k), v, "{}", r.body);
        }
        assert!(!r.get("databaseTitle").is_empty());
        let d = Device::find_by_name(&mut conn, "newtab").unwrap().unwrap();
        assert_eq!((d.friendly_name.as_deref(), d.registered_by_user_id, d.camcops_version.as_deref()), (Some("Ward 3 tablet"), Some(uid), Some(VERSION)));
        let (sid, stok) = r.session();
        let again = call(&app, &with(base_on("register", "newtab"), &[("user", "gail"), ("session_id", &sid), ("session_token", &stok), ("devicefriendlyname", "Ward 4")])).await;
        assert!(again.ok(), "re-registration accepted: {}", again.body);
        let d2 = Device::find_by_name(&mut conn, "newtab").unwrap().unwrap();
        assert_eq!((d2.id, d2.friendly_name.as_deref()), (d.id, Some("Ward 4")));
        assert_eq!(count!(&mut conn, dev::table), 1);
        let regs: Vec<(String, Option<i32>)> = au::table.filter(au::details.like("register, device_id=%")).select((au::source, au::device_id)).load(&mut conn).unwrap();
        assert_eq!(regs, vec![("tablet".to_string(), Some(d.id)); 2]);
    }

    /// sessions §5.4 upload checks, in order: no user, no upload group, no upload permission, then an
    /// unregistered device; other operations are "not supported".
    async fn upload_checks_in_order(db) {
        let app = TestApp::spawn(db).await;
        app.create_user_with("jack", PW, false, |m| m.may_register_devices = Some(true));
        let kim = tablet_user(&app, "kim");
        let mut conn = app.conn();
        let op = |user: &'static str| with(base("check_upload_user_and_device"), &[("user", user), ("password", PW)]);
        call(&app, &base("check_upload_user_and_device")).await.assert_error(INVALID);
        call(&app, &op("jack")).await.assert_error("User not authorized to upload to selected group");
        diesel::update(usr::table.find(kim)).set(usr::upload_group_id.eq(None::<i32>)).execute(&mut conn).unwrap();
        call(&app, &op("kim")).await.assert_error("No upload group set for user kim");
        tablet_user(&app, "lee");
        let f = with(base_on("check_upload_user_and_device", "unknown_tab"), &[("user", "lee"), ("password", PW)]);
        call(&app, &f).await.assert_error("Unregistered device");
        let mut f = with(base("frobnicate"), &[("user", "lee"), ("password", PW)]);
        let r = call(&app, &f).await;
        r.assert_error("operation=frobnicate: not supported");
        assert_ne!(r.get("session_id"), "0", "the login itself succeeded");
        f[0] = ("operation", "upload_table");
        call(&app, &f).await.assert_error("operation=upload_table: not supported");
    }

    /// Reply values containing `:`, `\`, LF and CR survive the trip (escaped on the wire,
    /// one line per item).
    async fn reply_escaping_round_trips(db) {
        let app = TestApp::spawn(db).await;
        tablet_user(&app, "mia");
        let nasty = "a:b\\c\nd\re\\n:";
        IdNumDefinition::insert(&mut app.conn(), &IdNumDefinition { which_idnum: 3, description: Some(nasty.into()), short_description: Some("x:y".into()), validation_method: None }).unwrap();
        let r = call(&app, &with(base("get_id_info"), &[("user", "mia"), ("password", PW)])).await;
        assert!(r.ok(), "{}", r.body);
        assert_eq!(r.get("idDescription3"), nasty);
        assert_eq!(r.get("idShortDescription3"), "x:y");
        assert!(r.body.contains("idDescription3:a:b\\\\c\\nd\\re\\\\n:\n"), "{:?}", r.body);
        assert!(!r.body.contains('\r'));
        assert_eq!(r.body.lines().count(), r.map.len());
    }

    /// At least 20 bad requests: 400, 413, 405 or 200 with an error as documented, never a
    /// 5xx, and nothing written (sessions, devices, failures, lockouts, audit).
    async fn bad_requests_are_refused_without_writing(db) {
        let app = TestApp::spawn(db).await;
        tablet_user(&app, "ned");
        let mut conn = app.conn();
        let ok_fields = "operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=ned&password=correct+horse+battery";
        let form = "application/x-www-form-urlencoded";
        let long = |n: usize| "a".repeat(n);
        let mut cases: Vec<Case> = vec![
            ("empty body", Some(form), vec![], 400, None),
            ("rubbish", Some(form), b"rubbish".to_vec(), 400, None),
            ("missing operation", Some(form), b"device=tab1&camcops_version=2.4.15".to_vec(), 400, None),
            ("empty operation", Some(form), b"operation=&device=tab1&camcops_version=2.4.15".to_vec(), 400, None),
            ("operation with a space", Some(form), b"operation=drop+table&device=tab1&camcops_version=2.4.15".to_vec(), 400, None),
            ("operation with punctuation", Some(form), b"operation=x%3By&device=tab1&camcops_version=2.4.15".to_vec(), 400, None),
            ("huge operation", Some(form), format!("operation={}&device=tab1&camcops_version=2.4.15", long(10_000)).into_bytes(), 400, None),
            ("missing device", Some(form), b"operation=check_device_registered&camcops_version=2.4.15".to_vec(), 400, None),
            ("device 'server'", Some(form), b"operation=check_device_registered&device=server&camcops_version=2.4.15".to_vec(), 400, None),
            ("device with a space", Some(form), b"operation=check_device_registered&device=tab+1&camcops_version=2.4.15".to_vec(), 400, None),
            ("device with a quote", Some(form), b"operation=check_device_registered&device=tab%271&camcops_version=2.4.15".to_vec(), 400, None),
            ("device of 192 characters", Some(form), format!("operation=check_device_registered&device={}&camcops_version=2.4.15", long(192)).into_bytes(), 400, None),
            ("username 'system'", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=system&password=x".to_vec(), 400, None),
            ("username with a space", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=n+ed&password=x".to_vec(), 400, None),
            ("huge username", Some(form), format!("operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user={}&password=x", long(500)).into_bytes(), 400, None),
            ("missing version", Some(form), b"operation=check_device_registered&device=tab1".to_vec(), 400, None),
            ("old version", Some(form), b"operation=check_device_registered&device=tab1&camcops_version=1.9.9".to_vec(), 400, None),
            ("nonsense version", Some(form), b"operation=check_device_registered&device=tab1&camcops_version=banana".to_vec(), 400, None),
            ("huge password", Some(form), format!("{ok_fields}x{}", long(2000)).into_bytes(), 400, None),
            ("huge session token", Some(form), format!("{ok_fields}&session_id=1&session_token={}", long(1000)).into_bytes(), 400, None),
            ("NUL in friendly name", Some(form), b"operation=register&device=tab1&camcops_version=2.4.15&user=ned&password=correct+horse+battery&devicefriendlyname=a%00b".to_vec(), 400, None),
            ("duplicate operation", Some(form), format!("{ok_fields}&operation=register").into_bytes(), 400, None),
            ("duplicate user", Some(form), format!("{ok_fields}&user=ned").into_bytes(), 400, None),
            ("invalid UTF-8", Some(form), b"operation=check_device_registered&device=tab1&camcops_version=2.4.15&x=%FF%FE".to_vec(), 400, None),
            ("raw invalid UTF-8", Some(form), b"operation=check_device_registered&device=tab1&camcops_version=2.4.15&x=\xff".to_vec(), 400, None),
            ("bad percent escape", Some(form), b"operation=check_device_registered&device=tab%zz1&camcops_version=2.4.15".to_vec(), 400, None),
            ("JSON", Some("application/json"), br#"{"operation":"check_device_registered","device":"tab1","camcops_version":"2.4.15"}"#.to_vec(), 400, None),
            ("text/plain", Some("text/plain"), ok_fields.as_bytes().to_vec(), 400, None),
            ("no content type", None, ok_fields.as_bytes().to_vec(), 400, None),
            ("multipart", Some("multipart/form-data; boundary=x"), b"--x\r\nContent-Disposition: form-data; name=\"operation\"\r\n\r\ncheck_device_registered\r\n--x--\r\n".to_vec(), 400, None),
            ("oversized body", Some(form), format!("{ok_fields}&pad={}", long(1024 * 1024)).into_bytes(), 413, None),
            ("non-integer session id", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=ned&session_id=abc&session_token=tok".to_vec(), 200, Some(INVALID.into())),
            ("session id out of range", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=ned&session_id=99999999999999999999&session_token=tok".to_vec(), 200, Some(INVALID.into())),
            ("negative session id", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&session_id=-1&session_token=tok".to_vec(), 200, Some(INVALID.into())),
            ("unknown operation", Some(form), b"operation=frobnicate&device=tab1&camcops_version=2.4.15".to_vec(), 200, Some("operation=frobnicate: not supported".into())),
            ("register_patient", Some(form), b"operation=register_patient&device=tab1&camcops_version=2.4.15".to_vec(), 200, Some("operation=register_patient: not supported".into())),
            ("upload without a user", Some(form), b"operation=upload_table&device=tab1&camcops_version=2.4.15".to_vec(), 200, Some(INVALID.into())),
            ("unregistered device", Some(form), b"operation=check_device_registered&device=tab2&camcops_version=2.4.15".to_vec(), 200, Some("Unregistered device".into())),
            ("user without password", Some(form), b"operation=check_upload_user_and_device&device=tab1&camcops_version=2.4.15&user=ned".to_vec(), 200, Some(INVALID.into())),
        ];
        assert!(cases.len() >= 20);
        let snapshot = |conn: &mut DbConnection| [count!(conn, sess::table), count!(conn, dev::table), count!(conn, lf::table), count!(conn, lk::table), count!(conn, au::table)];
        let before = snapshot(&mut conn);
        for (name, ct, body, status, error) in cases.drain(..) {
            for path in ["/api", "/database"] {
                let mut rb = client().post(app.url(path)).body(body.clone());
                if let Some(ct) = ct {
                    rb = rb.header("content-type", ct);
                }
                let r = answer(rb.send().await.unwrap()).await;
                assert_eq!(r.status, status, "{name} on {path}: {}", r.body);
                match (status, &error) {
                    (200, Some(e)) => {
                        r.assert_error(e);
                        r.assert_sessionless();
                    }
                    // A control character is refused naming its field; the rest generically.
                    (400, _) if name.starts_with("NUL") => assert!(
                        r.body.starts_with("The field 'devicefriendlyname' contains a control character"),
                        "{name}: {}", r.body
                    ),
                    (400, _) => assert_eq!(r.body, "Not a valid CamCOPS API request\n", "{name}"),
                    _ => {}
                }
            }
        }
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = client().request(method.clone(), app.url("/api")).send().await.unwrap();
            assert_eq!(r.status(), 405, "{method}");
            assert_eq!(r.headers()["allow"], "POST");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        }
        // A chunked body (no Content-Length) over the limit, on a raw connection.
        let addr = app.address.trim_start_matches("http://").to_string();
        let raw = actix_web::rt::task::spawn_blocking(move || chunked_post(&addr, 20 * 64 * 1024)).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
        assert_eq!(snapshot(&mut conn), before, "nothing written");
    }
}

/// POSTs `size` bytes of form body with `Transfer-Encoding: chunked`; returns the raw reply.
fn chunked_post(addr: &str, size: usize) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < size {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if s.write_all(&frame).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).to_string()
}
