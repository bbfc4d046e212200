//! Administrative writes decide on the state at the write, not on what the request read first:
//! a right revoked, a membership added or a session ended while a request waits is seen by it.
//! The interleavings are forced with a lock the test holds (a row lock on PostgreSQL and
//! MariaDB, the write lock on SQLite) while the other change is made and the request queues;
//! then real concurrent requests race each other and the rows are checked afterwards.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use camcops_web::db::schema::{_security_audit as audit, _security_user_group as ug};
use camcops_web::db::{Backend, DbConnection};

use crate::helpers::TestApp;
use crate::testdb::backend_test;
use crate::user_admin_world::{user, world, PW};

const NEW_PW: &str = "plum-tractor-violin-42";

/// Opens a transaction on `conn` that holds what an administrative write of user `uid` needs:
/// the database write lock on SQLite, `uid`'s row on the servers.
fn hold(conn: &mut DbConnection, backend: Backend, uid: i32) {
    match backend {
        Backend::Sqlite => conn.batch_execute("BEGIN IMMEDIATE").unwrap(),
        _ => {
            conn.batch_execute("BEGIN").unwrap();
            conn.batch_execute(&format!(
                "SELECT id FROM _security_users WHERE id = {uid} FOR UPDATE"
            ))
            .unwrap();
        }
    }
}

/// Long enough for a request to reach the lock the test holds (not an assertion on speed).
async fn let_it_queue() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

fn groups_of(conn: &mut DbConnection, uid: i32) -> Vec<i32> {
    let mut g: Vec<i32> = ug::table
        .filter(ug::user_id.eq(uid))
        .select(ug::group_id)
        .load::<Option<i32>>(conn)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    g.sort_unstable();
    g
}

fn set_groupadmin(conn: &mut DbConnection, uid: i32, value: bool) {
    diesel::update(ug::table.filter(ug::user_id.eq(uid)))
        .set(ug::groupadmin.eq(Some(value)))
        .execute(conn)
        .unwrap();
}

backend_test! {
    /// A password change queued behind another change is refused when that change took the
    /// administrator's groupadmin away: the write re-reads the administrator under lock.
    async fn revoked_groupadmin_stops_a_queued_password_change(db) {
        let backend = db.backend();
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let token = app.page_csrf(&ga).await;
        let before = user(&mut app.conn(), w.alice).hashedpw;
        let mut holder = app.conn();
        hold(&mut holder, backend, w.alice);
        set_groupadmin(&mut holder, w.admin1, false);
        let url = app.url(&format!("/change_other_password?user_id={}", w.alice));
        let request = actix_web::rt::spawn(async move {
            let form = [("csrf_token", token.as_str()), ("new_password", NEW_PW),
                        ("new_password-confirm", NEW_PW)];
            ga.post(url).form(&form).send().await.unwrap().status().as_u16()
        });
        let_it_queue().await;
        holder.batch_execute("COMMIT").unwrap();
        let status = request.await.unwrap();
        assert_eq!(status, 403, "the revoked administrator's change went through");
        let mut conn = app.conn();
        assert_eq!(user(&mut conn, w.alice).hashedpw, before, "password unchanged");
        let n: i64 = audit::table
            .filter(audit::details.eq("Password changed for user alice"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(n, 0);
    }

    /// A group administrator saving a user's edit page while a superuser adds that user to a
    /// group the administrator does not administer: the new membership is kept (the groups the
    /// administrator may not change are taken from the state at the write).
    async fn edit_page_keeps_a_membership_added_meanwhile(db) {
        let backend = db.backend();
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let token = app.page_csrf(&ga).await;
        // The administrator's page was read before the superuser's change.
        app.body_with(&ga, &format!("/edit_user?user_id={}", w.alice)).await;
        let mut holder = app.conn();
        hold(&mut holder, backend, w.alice);
        diesel::insert_into(ug::table)
            .values((ug::user_id.eq(w.alice), ug::group_id.eq(w.g_bob), ug::may_use_webviewer.eq(Some(true))))
            .execute(&mut holder)
            .unwrap();
        let url = app.url(&format!("/edit_user?user_id={}", w.alice));
        let g = w.g_admin1.to_string();
        let request = actix_web::rt::spawn(async move {
            let form = [("csrf_token", token.as_str()), ("username", "alice"),
                        ("fullname", "Alice Edited"), ("email", ""), ("language", "en_GB"),
                        ("group_id_sequence", g.as_str())];
            ga.post(url).form(&form).send().await.unwrap().status().as_u16()
        });
        let_it_queue().await;
        holder.batch_execute("COMMIT").unwrap();
        assert_eq!(request.await.unwrap(), 303);
        let mut conn = app.conn();
        let mut want = vec![w.g_admin1, w.g_alice, w.g_bob];
        want.sort_unstable();
        assert_eq!(groups_of(&mut conn, w.alice), want, "the superuser's membership survived");
        assert_eq!(user(&mut conn, w.alice).fullname.as_deref(), Some("Alice Edited"));
    }

    /// Racing for real: twelve password changes by a group administrator and, among them, a
    /// superuser revoking that administrator's groupadmin. No change is committed after the
    /// revocation (audit order), and nothing fails with a 500.
    async fn password_changes_racing_a_revocation(db) {
        let app = TestApp::spawn_with(db, |s| s.db_pool_size = 8).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let su = app.browser("root", PW).await;
        let ga_token = app.page_csrf(&ga).await;
        let su_token = app.page_csrf(&su).await;
        let membership: i32 = ug::table
            .filter(ug::user_id.eq(w.admin1))
            .filter(ug::group_id.eq(w.g_admin1))
            .select(ug::id)
            .first(&mut app.conn())
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (c, t) = (ga.clone(), ga_token.clone());
            let url = app.url(&format!("/change_other_password?user_id={}", w.alice));
            tasks.push(actix_web::rt::spawn(async move {
                let pw = format!("{NEW_PW}-{i}");
                let form = [("csrf_token", t.as_str()), ("new_password", pw.as_str()),
                            ("new_password-confirm", pw.as_str())];
                c.post(url).form(&form).send().await.unwrap().status().as_u16()
            }));
            if i == 3 {
                let (c, t) = (su.clone(), su_token.clone());
                let url = app.url(&format!("/edit_user_group_membership?user_group_membership_id={membership}"));
                tasks.push(actix_web::rt::spawn(async move {
                    let form = [("csrf_token", t.as_str()), ("may_use_webviewer", "true")];
                    c.post(url).form(&form).send().await.unwrap().status().as_u16()
                }));
            }
        }
        for t in tasks {
            let status = t.await.unwrap();
            assert!(matches!(status, 303 | 403), "status {status}");
        }
        let mut conn = app.conn();
        let revoked: i32 = audit::table
            .filter(audit::details.like("Permissions of user admin1%groupadmin=false%"))
            .select(audit::id)
            .first(&mut conn)
            .unwrap();
        let after: i64 = audit::table
            .filter(audit::details.eq("Password changed for user alice"))
            .filter(audit::id.gt(revoked))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(after, 0, "a password change was committed after the revocation");
    }

    /// Racing for real: ten superusers' saves each adding the same membership leave exactly one
    /// row, and none fails with a 500.
    async fn concurrent_membership_adds_make_one_row(db) {
        let app = TestApp::spawn_with(db, |s| s.db_pool_size = 8).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let token = app.page_csrf(&su).await;
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (c, t) = (su.clone(), token.clone());
            let url = app.url(&format!("/edit_user?user_id={}", w.bob));
            let g = w.g_bob.to_string();
            let g2 = w.g_alice.to_string();
            tasks.push(actix_web::rt::spawn(async move {
                let form = [("csrf_token", t.as_str()), ("username", "bob"), ("fullname", ""),
                            ("email", ""), ("language", "en_GB"), ("group_id_sequence", g.as_str()),
                            ("group_id_sequence", g2.as_str())];
                c.post(url).form(&form).send().await.unwrap().status().as_u16()
            }));
        }
        for t in tasks {
            let status = t.await.unwrap();
            assert!(matches!(status, 303 | 400), "status {status}");
        }
        let mut want = vec![w.g_alice, w.g_bob];
        want.sort_unstable();
        assert_eq!(groups_of(&mut app.conn(), w.bob), want);
    }
}
