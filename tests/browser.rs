//! Browser test in headless Chromium (fantoccini + chromedriver): log in, set a filter, change
//! the page size, see the expected task rows, log out, and check that going back shows no task
//! data. Saves a screenshot of the task list to `artifacts/view_tasks.png`.
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

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --ignored"]
async fn browser_login_filter_page_size_logout_back() {
    // fantoccini's rustls client needs a process-wide crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new(Backend::Sqlite);
    {
        let mut conn = db.conn();
        let now = camcops_web::clock::Clock::system().now();
        let opts = DemoOptions {
            patients: 60,
            tasks: 400,
            seed: 7,
            bcrypt_cost: 4,
            progress: false,
        };
        seed_demo_data_at(&mut conn, &opts, now).unwrap();
    }
    let app = TestApp::spawn(db).await;
    app.create_user_with("browser_admin", "correct horse battery", true, |m| {
        m.may_use_webviewer = Some(true)
    });

    let (_driver, driver_url) = start_chromedriver().await;
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

    // Log in.
    c.goto(&app.url("/login")).await.unwrap();
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("browser_admin")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("correct horse battery")
        .await
        .unwrap();
    c.find(Locator::Css("button[name=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let menu = source_when(&c, |h| h.contains("Logged in as")).await;
    assert!(menu.contains("Logged in as"), "{menu}");

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

    std::fs::create_dir_all("artifacts").unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write("artifacts/view_tasks.png", &png).unwrap();
    assert!(png.len() > 1000);

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
