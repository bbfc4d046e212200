//! `TestApp`: the real application on a fresh database and a random port, a reqwest client
//! with a cookie store and no redirects, the shared clock, and helpers per endpoint.

use std::net::TcpListener;

use actix_web::web;
use camcops_web::auth::password;
use camcops_web::clock::Clock;
use camcops_web::config::Settings;
use camcops_web::db::DbConnection;
use camcops_web::models::group::{Group, Membership, NewGroup, NewMembership, StoredFlags};
use camcops_web::models::user::{NewUser, User};
use camcops_web::startup::Application;
use camcops_web::state::AppState;
use reqwest::redirect::Policy;
use reqwest::Response;

use crate::testdb::TestDb;

/// A running application for one test.
pub struct TestApp {
    /// Its database (dropped with the app).
    pub db: TestDb,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Shared state (pool, clock, settings, counters).
    pub state: web::Data<AppState>,
    /// A browser: cookie store, no automatic redirects.
    pub client: reqwest::Client,
    /// The port of the metrics listener, when the settings set `METRICS_PORT` (0: any).
    pub metrics_port: Option<u16>,
    server: actix_web::dev::ServerHandle,
}

/// A time of agreeing the terms of use, as CamCOPS stores it.
pub const AGREED: &str = "2026-12-01T12:00:00.000000+00:00";

/// A plain staff user to insert: no second factor, not a superuser, no forced password change,
/// terms not agreed, no upload group. A test overrides what it needs with `..plain_user(..)`.
pub fn plain_user<'a>(username: &'a str, hashedpw: &'a str) -> NewUser<'a> {
    NewUser {
        username,
        fullname: None,
        email: None,
        hashedpw,
        mfa_method: "no_mfa",
        hotp_counter: 0,
        superuser: Some(false),
        must_change_password: Some(false),
        last_password_change_utc: None,
        when_agreed_terms_of_use: None,
        upload_group_id: None,
        auto_generated: false,
    }
}

/// Test settings: insecure cookies (plain HTTP), bcrypt cost 4, defaults otherwise.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings::with_defaults(db.db_url(), "test-secret-".repeat(4));
    s.allow_insecure_cookies = true;
    s.bcrypt_cost = 4;
    s.db_pool_size = 4;
    s
}

/// A new browser-like client.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// Spawns with default test settings.
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Spawns after `tweak` adjusts the settings.
    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let pool = db.pool();
        Self::spawn_with_pool(db, pool, tweak).await
    }

    /// Spawns on a given pool (tests of pool exhaustion).
    pub async fn spawn_with_pool(
        db: TestDb,
        pool: camcops_web::db::DbPool,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = test_settings(&db);
        tweak(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::build_with(settings, pool, Clock::system(), Some(listener)).unwrap();
        let address = format!("http://127.0.0.1:{}", app.port);
        let metrics_port = app.metrics_port;
        let state = app.state.clone();
        let server = app.server();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            db,
            address,
            state,
            client: new_client(),
            metrics_port,
            server: handle,
        }
    }

    /// A direct database connection.
    pub fn conn(&self) -> DbConnection {
        self.db.conn()
    }

    /// The application's clock.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The text of `/metrics` (the settings must have set `METRICS_PORT`).
    pub async fn scrape(&self) -> String {
        let port = self.metrics_port.expect("METRICS_PORT set for this app");
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// GET with the default client.
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POST a form with the default client.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// GET `path` with `client` and return the CSRF token of its first form.
    pub async fn csrf_with(&self, client: &reqwest::Client, path: &str) -> String {
        let body = client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_from(&body).unwrap_or_else(|| panic!("no csrf_token on {path}: {body}"))
    }

    /// The CSRF token the default client gets on the login page.
    pub async fn csrf(&self) -> String {
        self.csrf_with(&self.client, "/login").await
    }

    /// Logs in with the default client; returns the response to the POST.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.login_with(&self.client, username, password).await
    }

    /// Logs in with `client`.
    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> Response {
        let token = self.csrf_with(client, "/login").await;
        client
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", token.as_str()),
                ("redirect_url", "/"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Creates a web-viewer user in a group of its own name; returns the id.
    pub fn create_user(&self, username: &str, pw: &str) -> i32 {
        self.create_user_with(username, pw, false, |m| m.may_use_webviewer = Some(true))
    }

    /// Creates a user with `superuser` and the membership flags `set` applies.
    pub fn create_user_with(
        &self,
        username: &str,
        pw: &str,
        superuser: bool,
        set: impl FnOnce(&mut StoredFlags),
    ) -> i32 {
        let mut conn = self.conn();
        let hash = password::hash(pw, 4).unwrap();
        let group_name = format!("g_{username}");
        let gid = Group::insert(
            &mut conn,
            &NewGroup {
                name: &group_name,
                description: None,
                upload_policy: None,
                finalize_policy: None,
            },
        )
        .unwrap();
        let uid = User::insert(
            &mut conn,
            &NewUser {
                superuser: Some(superuser),
                // Agreed, so that the terms page does not come first (tested in camcops_db).
                when_agreed_terms_of_use: Some(AGREED.into()),
                upload_group_id: Some(gid),
                ..plain_user(username, &hash)
            },
        )
        .unwrap();
        let mut m = NewMembership {
            user_id: Some(uid),
            group_id: Some(gid),
            ..Default::default()
        };
        set(&mut m.flags);
        Membership::insert(&mut conn, &m).unwrap();
        uid
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the runtime ends with the test.
        let h = self.server.clone();
        actix_web::rt::spawn(async move { h.stop(false).await });
    }
}

/// The value of the metric line that starts with `series` in a `/metrics` text (0 if absent).
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The value of the first `name="csrf_token"` input in `html`.
pub fn csrf_from(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[i + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The `Location` header.
pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Rows in `_security_webviewer_sessions`.
pub fn count_sessions(conn: &mut DbConnection) -> i64 {
    use camcops_web::db::schema::_security_webviewer_sessions as s;
    use diesel::prelude::*;
    s::table.count().get_result(conn).unwrap()
}

impl TestApp {
    /// A new browser logged in as `username` (asserts the login went to the main menu).
    pub async fn browser(&self, username: &str, pw: &str) -> reqwest::Client {
        let c = new_client();
        let r = self.login_with(&c, username, pw).await;
        assert_eq!(r.status(), 303, "login as {username}");
        assert_eq!(location(&r), "/", "login as {username}");
        c
    }

    /// GET `path` with `client`.
    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.unwrap()
    }

    /// POST the url-encoded `form` (repeated names allowed) to `path` with `client`.
    pub async fn post_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// GET `path` with `client`, asserting 200, and return the body.
    pub async fn body_with(&self, client: &reqwest::Client, path: &str) -> String {
        let r = self.get_with(client, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.text().await.unwrap()
    }

    /// The CSRF token of a logged-in `client` (from the main menu's logout form).
    pub async fn page_csrf(&self, client: &reqwest::Client) -> String {
        csrf_from(&self.body_with(client, "/").await).unwrap()
    }
}

/// A new browser logged in as `username` (asserts the login's 303 to `/`).
pub async fn logged_in(app: &TestApp, username: &str, password: &str) -> reqwest::Client {
    let c = new_client();
    let r = app.login_with(&c, username, password).await;
    assert_eq!(r.status(), 303, "login as {username}");
    assert_eq!(location(&r), "/");
    c
}

/// GET `path` with `c`: status and body.
pub async fn get_with(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POST a form to `path` with `c`.
pub async fn post_with(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    c.post(app.url(path)).form(form).send().await.unwrap()
}

/// `html` with askama's character references turned back into the characters (for
/// comparing page text with messages).
pub fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}
