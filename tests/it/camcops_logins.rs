//! CamCOPS' own users on CamCOPS' own data (the SQLite and MariaDB dumps of CamCOPS 2.4.24;
//! PostgreSQL has no dump), adopted and served: they log in with their CamCOPS passwords, the
//! hashes written here stay `$2a$` (CamCOPS' py-bcrypt rejects `$2b$`), the system user and a
//! user without `may_use_webviewer` never log in, the terms of use come first (admin §5), CamCOPS' sessions are listed as made elsewhere, and `demo-data` refuses the database.

use camcops_web::db::{self, DbConnection};
use camcops_web::routes::admin::sessions::MADE_ELSEWHERE;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use reqwest::StatusCode;

use crate::camcops_fixture::{
    adopt, camcops_test, demo_db, ADMIN, CLINICIAN, GRPADMIN, RESEARCHER,
};
use crate::helpers::{count_sessions, csrf_from, location, new_client, TestApp};

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Text)]
    hashedpw: String,
    #[diesel(sql_type = Nullable<Text>)]
    when_agreed_terms_of_use: Option<String>,
}

fn user_row(conn: &mut DbConnection, name: &str) -> UserRow {
    diesel::sql_query(format!(
        "SELECT hashedpw, when_agreed_terms_of_use FROM _security_users WHERE username = '{name}'"
    ))
    .get_result(conn)
    .expect("user row")
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).expect(sql).n
}

/// An adopted copy of CamCOPS' data on `backend`, served with bcrypt cost 7 (CamCOPS' hashes
/// are cost 6, so every login rewrites the user's hash).
async fn served(backend: crate::testdb::Backend) -> Option<TestApp> {
    let db = demo_db(backend)?;
    adopt(&db);
    Some(TestApp::spawn_with(db, |s| s.bcrypt_cost = 7).await)
}

camcops_test! {
    /// Each staff user logs in with the password CamCOPS hashed; the terms page comes first,
    /// agreeing stores the time as CamCOPS does, then the main menu opens; the rewritten hash
    /// is `$2a$07$` and still verifies.
    async fn camcops_users_log_in_agree_terms_and_keep_2a_hashes(backend) {
        let Some(app) = served(backend).await else { return };
        for (name, pw) in [ADMIN, CLINICIAN, RESEARCHER, GRPADMIN] {
            let client = new_client();
            let r = app.login_with(&client, name, pw).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} could not log in");
            let r = client.get(app.url("/")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}: terms first");
            assert_eq!(location(&r), "/offer_terms");
            let page = client.get(app.url("/offer_terms")).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let html = page.text().await.unwrap();
            assert!(html.contains("I agree to these terms and conditions"));
            // Without the CSRF token nothing is stored.
            let r = client.post(app.url("/offer_terms")).form(&[("submit", "x")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert_eq!(user_row(&mut app.conn(), name).when_agreed_terms_of_use, None);
            let token = csrf_from(&html).expect("csrf");
            let r = client
                .post(app.url("/offer_terms"))
                .form(&[("csrf_token", token.as_str()), ("submit", "x")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&r), "/");
            let r = client.get(app.url("/")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{name}: main menu after agreeing");

            let row = user_row(&mut app.conn(), name);
            let agreed = row.when_agreed_terms_of_use.unwrap_or_default();
            assert_eq!(agreed.len(), 32, "{agreed}");
            assert!(agreed.ends_with("+00:00") && agreed.as_bytes()[10] == b'T', "{agreed}");
            assert!(row.hashedpw.starts_with("$2a$07$"), "{name}: {}", row.hashedpw);
            assert!(bcrypt::verify(pw, &row.hashedpw).unwrap());
        }
    }

    /// The system user never logs in, nor a user with `may_use_webviewer` in no group; neither
    /// gets a session row.
    async fn system_and_non_webviewer_users_cannot_log_in(backend) {
        let Some(app) = served(backend).await else { return };
        let mut conn = app.conn();
        diesel::sql_query(
            "UPDATE _security_user_group SET may_use_webviewer = 0 WHERE user_id = \
             (SELECT id FROM _security_users WHERE username = 'researcher')",
        )
        .execute(&mut conn)
        .expect("revoke");
        for (name, pw, message) in [
            ("system", "anything-at-all", "Cannot use system username"),
            (RESEARCHER.0, RESEARCHER.1, "Invalid username/password (or user not authorized)."),
        ] {
            let client = new_client();
            let r = app.login_with(&client, name, pw).await;
            let status = r.status();
            let body = if status == StatusCode::SEE_OTHER {
                let next = location(&r);
                client.get(app.url(&next)).send().await.unwrap().text().await.unwrap()
            } else {
                r.text().await.unwrap()
            };
            assert!(body.contains(message), "{name}: {status} {body}");
            assert_eq!(count_sessions(&mut conn), 0, "{name} got a session");
        }
    }

    /// The sessions page lists a session CamCOPS made without error, marked as such.
    async fn sessions_page_lists_camcops_sessions(backend) {
        let Some(app) = served(backend).await else { return };
        let mut conn = app.conn();
        crate::camcops_fixture::agree_terms_for_all(&mut conn);
        let now = app.clock().now().format("%Y-%m-%d %H:%M:%S");
        diesel::sql_query(format!(
            "INSERT INTO _security_webviewer_sessions (token, ip_address, user_id, \
             last_activity_utc, number_to_view, is_api_session) VALUES ('plain', '10.0.0.9', \
             (SELECT id FROM _security_users WHERE username = 'clinician'), '{now}', 25, FALSE)"
        ))
        .execute(&mut conn)
        .expect("CamCOPS row");
        assert_eq!(app.login(ADMIN.0, ADMIN.1).await.status(), StatusCode::SEE_OTHER);
        let r = app.get("/view_sessions").await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("10.0.0.9") && html.contains(MADE_ELSEWHERE), "{html}");
    }

    /// `demo-data` on a CamCOPS database: refused, nothing written.
    fn demo_data_refuses_a_camcops_database(backend) {
        let Some(db) = demo_db(backend) else { return };
        let mut conn = db.conn();
        let tables = ["_security_users", "_security_groups", "patient", "_task_index", "_security_devices"];
        let before: Vec<i64> = tables.iter().map(|t| count(&mut conn, &format!("SELECT COUNT(*) AS n FROM {t}"))).collect();
        let opts = camcops_web::demo::DemoOptions {
            patients: 10,
            tasks: 10,
            seed: 1,
            bcrypt_cost: 4,
            progress: false,
        };
        let err = camcops_web::demo::seed_demo_data(&mut conn, &opts).expect_err("refused");
        assert!(err.to_string().contains("CamCOPS database"), "{err}");
        let after: Vec<i64> = tables.iter().map(|t| count(&mut conn, &format!("SELECT COUNT(*) AS n FROM {t}"))).collect();
        assert_eq!(before, after);
        // Adopted or not.
        adopt(&db);
        assert!(camcops_web::demo::seed_demo_data(&mut conn, &opts).is_err());
        assert!(db::schema_problem(&mut conn).expect("check").is_none());
    }
}
