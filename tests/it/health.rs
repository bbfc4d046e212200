//! `/healthz`, error pages and statuses (deliberate difference 4): 404/405 as HTML pages, a
//! pool that cannot give a connection → 503 page, never internal text.

use std::time::Duration;

use camcops_web::db::build_pool;

use crate::helpers::TestApp;
use crate::testdb::backend_test;

backend_test! {
    /// 200 when the database answers.
    async fn healthz_is_ok(db) {
        let app = TestApp::spawn(db).await;
        let r = app.get("/healthz").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok\n");
    }

    /// Pool checkout failure → 503 page, for /healthz and for a page that needs a session.
    async fn exhausted_pool_gives_503_pages(db) {
        let pool = build_pool(&db.db_url(), 1, Duration::from_millis(300)).unwrap();
        let app = TestApp::spawn_with_pool(db, pool.clone(), |_| {}).await;
        app.create_user("alice", "correct horse battery");
        app.login("alice", "correct horse battery").await;
        let held = pool.get().unwrap();
        let r = app.get("/healthz").await;
        assert_eq!(r.status(), 503);
        let body = r.text().await.unwrap();
        assert!(body.contains("Service unavailable") && !body.contains("pool"), "{body}");
        let r = app.get("/").await;
        assert_eq!(r.status(), 503);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        drop(held);
        assert_eq!(app.get("/healthz").await.status(), 200);
        assert_eq!(app.get("/").await.status(), 200);
    }

    /// Unknown pages are 404 and wrong methods 405, both as HTML pages with the headers.
    async fn not_found_and_method_not_allowed_pages(db) {
        let app = TestApp::spawn(db).await;
        let r = app.get("/no_such_page").await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(r.text().await.unwrap().contains("Page not found"));
        let r = app.client.put(app.url("/login")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        // A malformed form body is a 400 page, an oversized one 413.
        let r = app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded").body("%%%=%%%&&&").send().await.unwrap();
        assert!(r.status() == 400, "{}", r.status());
        let r = app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded").body(format!("username={}", "a".repeat(100_000))).send().await.unwrap();
        assert_eq!(r.status(), 413);
    }
}
