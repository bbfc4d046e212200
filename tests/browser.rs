//! Browser tests in headless Chromium (fantoccini + chromedriver). One logs in, sets a filter,
//! changes the page size, sees the expected task rows, logs out, and checks that going back
//! shows no task data (screenshot `artifacts/view_tasks.png`). The other is user
//! administration: a superuser adds a user, puts them in a group with `may_use_webviewer`,
//! and that user logs in and sees the group's tasks (screenshots `artifacts/user_admin.png`,
//! `artifacts/user_admin_tasks.png`). The third adds a user with "may use the web viewer"
//! ticked, who logs in at once; the user's page and the users list (which must not scroll
//! sideways at 1280 px) are saved as `artifacts/user_ready.png` and `artifacts/user_list.png`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages chromium and
//! chromium-driver); `.ci/run` installs them and runs this with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "it/testdb.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
mod testdb;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use camcops_web::db::Backend;
use camcops_web::demo::{seed_demo_data_at, DemoOptions};
use fantoccini::{ClientBuilder, Locator};

use helpers::TestApp;
use testdb::TestDb;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_chromedriver() -> (Driver, String) {
    let port = free_port();
    let driver = Driver(
        Command::new(
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install -y chromium chromium-driver)"),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// The page source once `ok` holds for it (a click's navigation may still be in flight).
async fn source_when(c: &fantoccini::Client, ok: impl Fn(&str) -> bool) -> String {
    let mut html = String::new();
    for _ in 0..100 {
        html = c.source().await.unwrap();
        if ok(&html) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    html
}

fn tbody_rows(html: &str) -> Vec<&str> {
    let Some(start) = html.find("<tbody>") else {
        return vec![];
    };
    let end = html[start..]
        .find("</tbody>")
        .map(|e| start + e)
        .unwrap_or(html.len());
    html[start..end].split("<tr").skip(1).collect()
}

/// A fresh SQLite database with demo groups, patients and `tasks` tasks.
fn demo_db(tasks: u32) -> TestDb {
    let db = TestDb::new(Backend::Sqlite);
    let mut conn = db.conn();
    let now = camcops_web::clock::Clock::system().now();
    let opts = DemoOptions {
        patients: 60,
        tasks,
        seed: 7,
        bcrypt_cost: 4,
        progress: false,
    };
    seed_demo_data_at(&mut conn, &opts, now).unwrap();
    drop(conn);
    db
}

/// Headless Chromium through a chromedriver of its own (kept alive by the `Driver`).
async fn chromium() -> (Driver, fantoccini::Client) {
    // fantoccini's rustls client needs a process-wide crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (driver, driver_url) = start_chromedriver().await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,1000"]
        }),
    );
    let c = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("WebDriver session");
    (driver, c)
}

/// Types `text` into the field with id `id`.
async fn type_into(c: &fantoccini::Client, id: &str, text: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Clicks the element `css` selects.
async fn click(c: &fantoccini::Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Logs in through the login page and waits for the main menu.
async fn log_in(c: &fantoccini::Client, app: &TestApp, username: &str, password: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    type_into(c, "username", username).await;
    type_into(c, "password", password).await;
    click(c, "button[name=submit]").await;
    let menu = source_when(c, |h| h.contains("Logged in as")).await;
    assert!(menu.contains("Logged in as"), "{menu}");
}

/// Saves a screenshot under `artifacts/`.
async fn screenshot(c: &fantoccini::Client, name: &str) {
    std::fs::create_dir_all("artifacts").unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.len() > 1000);
    std::fs::write(format!("artifacts/{name}"), &png).unwrap();
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --ignored"]
async fn browser_login_filter_page_size_logout_back() {
    let app = TestApp::spawn(demo_db(400)).await;
    app.create_user_with("browser_admin", "correct horse battery", true, |m| {
        m.may_use_webviewer = Some(true)
    });
    let (_driver, c) = chromium().await;
    log_in(&c, &app, "browser_admin", "correct horse battery").await;

    // Set a filter: PHQ-9 tasks only.
    c.goto(&app.url("/set_filters")).await.unwrap();
    c.find(Locator::Css("input[name=tasks][value=phq9]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("button[name=set_filters]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    source_when(&c, |h| h.contains("Set n/page")).await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/view_tasks"));

    // Change the page size to 10.
    c.find(Locator::Css("input[name=rows_per_page][value='10']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("button[name=submit_tpp]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let html = source_when(&c, |h| tbody_rows(h).len() == 10).await;
    let rows = tbody_rows(&html);
    assert_eq!(rows.len(), 10, "ten rows per page");
    assert!(
        rows.iter().all(|r| r.contains("PHQ-9")),
        "only PHQ-9 tasks: {html}"
    );

    screenshot(&c, "view_tasks.png").await;

    // Log out, then go back: no task data.
    c.find(Locator::Css(".userbar button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let out = source_when(&c, |h| h.contains("You have logged out.")).await;
    assert!(out.contains("You have logged out."));
    c.back().await.unwrap();
    let after = source_when(&c, |h| h.contains("Log in to CamCOPS")).await;
    assert!(
        tbody_rows(&after).is_empty(),
        "going back must not show task rows"
    );
    assert!(
        !after.contains("PHQ-9"),
        "no task data after logout: {after}"
    );
    c.close().await.unwrap();
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --ignored"]
async fn browser_admin_adds_user_who_sees_group_tasks() {
    let app = TestApp::spawn(demo_db(200)).await;
    app.create_user_with("browser_admin", "correct horse battery", true, |m| {
        m.may_use_webviewer = Some(true)
    });
    let (_driver, c) = chromium().await;
    log_in(&c, &app, "browser_admin", "correct horse battery").await;

    // Main menu → Add a user: a name, a password twice, no forced change, one group.
    click(&c, "a[href='/add_user']").await;
    source_when(&c, |h| h.contains("<h1>Add user</h1>")).await;
    type_into(&c, "username", "clinician1").await;
    type_into(&c, "new_password", "plum-tractor-violin-42").await;
    type_into(&c, "new_password-confirm", "plum-tractor-violin-42").await;
    click(&c, "#must_change_password").await;
    let group = c
        .find(Locator::XPath(
            "//label[text()='demo_memory_clinic']/preceding-sibling::input",
        ))
        .await
        .unwrap();
    group.click().await.unwrap();
    click(&c, "button[name=submit]").await;
    // The new user's page: no web viewer permission yet, with the link to fix it.
    let page = source_when(&c, |h| h.contains("User clinician1 created")).await;
    assert!(page.contains("Information about user clinician1"), "{page}");
    assert!(
        page.contains("Can log in to the web pages: No</strong>"),
        "{page}"
    );

    // Its permissions in that group: may use the web viewer, sees all patients unfiltered.
    click(&c, ".readiness a[href^='/edit_user_group_membership']").await;
    source_when(&c, |h| h.contains("Edit group permissions")).await;
    click(&c, "#may_use_webviewer").await;
    click(&c, "#view_all_patients_when_unfiltered").await;
    click(&c, "button[name=submit]").await;
    source_when(&c, |h| h.contains("<h1>Users</h1>")).await;
    let details = {
        let id = camcops_web::models::user::User::id_by_username(&mut app.conn(), "clinician1")
            .unwrap()
            .unwrap();
        c.goto(&app.url(&format!("/view_user?user_id={id}")))
            .await
            .unwrap();
        source_when(&c, |h| h.contains("Information about user clinician1")).await
    };
    assert!(details.contains("<td>demo_memory_clinic</td>"), "{details}");
    screenshot(&c, "user_admin.png").await;

    // Log out; the new user logs in and sees the group's tasks, and only those.
    click(&c, ".userbar button").await;
    source_when(&c, |h| h.contains("You have logged out.")).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "username", "clinician1").await;
    type_into(&c, "password", "plum-tractor-violin-42").await;
    click(&c, "button[name=submit]").await;
    // A new user agrees the terms of use first (admin §5).
    source_when(&c, |h| h.contains("TERMS AND CONDITIONS OF USE")).await;
    click(&c, "button[name=submit]").await;
    source_when(&c, |h| h.contains("Logged in as")).await;
    c.goto(&app.url("/view_tasks")).await.unwrap();
    let html = source_when(&c, |h| !tbody_rows(h).is_empty()).await;
    let rows = tbody_rows(&html);
    assert!(!rows.is_empty(), "the group's tasks are listed: {html}");
    assert!(
        rows.iter()
            .all(|r| r.contains("<td>demo_memory_clinic</td>")),
        "only that group's tasks: {html}"
    );
    screenshot(&c, "user_admin_tasks.png").await;
    c.close().await.unwrap();
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --ignored"]
async fn browser_added_user_logs_in_at_once() {
    let app = TestApp::spawn(demo_db(10)).await;
    app.create_user_with("browser_admin", "correct horse battery", true, |m| {
        m.may_use_webviewer = Some(true)
    });
    let (_driver, c) = chromium().await;
    log_in(&c, &app, "browser_admin", "correct horse battery").await;

    // Add a user with "may use the web viewer" ticked, in one group, no forced change.
    c.goto(&app.url("/add_user")).await.unwrap();
    source_when(&c, |h| h.contains("<h1>Add user</h1>")).await;
    type_into(&c, "username", "ready_clinician").await;
    type_into(&c, "new_password", "plum-tractor-violin-42").await;
    type_into(&c, "new_password-confirm", "plum-tractor-violin-42").await;
    click(&c, "#must_change_password").await;
    c.find(Locator::XPath(
        "//label[text()='demo_memory_clinic']/preceding-sibling::input",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    click(&c, "#may_use_webviewer").await;
    click(&c, "button[name=submit]").await;

    // The new user's page says yes.
    let page = source_when(&c, |h| h.contains("User ready_clinician created")).await;
    assert!(
        page.contains("Can log in to the web pages: Yes</strong>"),
        "{page}"
    );
    screenshot(&c, "user_ready.png").await;

    // The users list fits the 1280 px window: no sideways scrolling.
    c.goto(&app.url("/view_all_users")).await.unwrap();
    let list = source_when(&c, |h| h.contains("<td>ready_clinician</td>")).await;
    assert!(list.contains("<td>ready_clinician</td>"), "{list}");
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, client) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(
        scroll <= client,
        "the list scrolls sideways: {scroll} > {client}"
    );
    screenshot(&c, "user_list.png").await;

    // Log out; the new user logs in at once (agreeing the terms of use first).
    click(&c, ".userbar button").await;
    source_when(&c, |h| h.contains("You have logged out.")).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "username", "ready_clinician").await;
    type_into(&c, "password", "plum-tractor-violin-42").await;
    click(&c, "button[name=submit]").await;
    source_when(&c, |h| h.contains("TERMS AND CONDITIONS OF USE")).await;
    click(&c, "button[name=submit]").await;
    let menu = source_when(&c, |h| h.contains("Logged in as")).await;
    assert!(menu.contains("Logged in as"), "{menu}");
    c.close().await.unwrap();
}
