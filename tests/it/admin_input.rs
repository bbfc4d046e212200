//! What administrators can reach and what input is refused: the sessions pages follow the
//! capability matrix (a group administrator never sees or ends another group administrator's
//! sessions); names are unique regardless of case; NUL and other control characters are
//! refused with a 400 on every form and the tablet API, and nothing is written.

use diesel::prelude::*;

use camcops_web::auth::capability::TARGET_GROUPADMIN;
use camcops_web::db::schema::{
    _security_devices as dev, _security_groups as grp, _security_users as usr,
    _security_webviewer_sessions as sess,
};
use camcops_web::db::DbConnection;

use crate::helpers::TestApp;
use crate::testdb::backend_test;
use crate::user_admin_world::{escaped, submit, world, PW};

fn session_ids(conn: &mut DbConnection, uid: i32) -> Vec<i32> {
    sess::table
        .filter(sess::user_id.eq(uid))
        .select(sess::id)
        .load(conn)
        .unwrap()
}

/// Every user and group row, as text (to show nothing changed).
fn everything(conn: &mut DbConnection) -> String {
    let users: Vec<(i32, String, Option<String>)> = usr::table
        .select((usr::id, usr::username, usr::fullname))
        .order(usr::id)
        .load(conn)
        .unwrap();
    let groups: Vec<(i32, String, Option<String>)> = grp::table
        .select((grp::id, grp::name, grp::description))
        .order(grp::id)
        .load(conn)
        .unwrap();
    let devices: i64 = dev::table.count().get_result(conn).unwrap();
    format!("{users:?} {groups:?} {devices}")
}

/// A page, its form fields, and the field that carries the bad text.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

backend_test! {
    /// `admin2` administers another group and is a plain member of admin1's group: admin1 does
    /// not see their sessions (nor their address), cannot end them all (403 with the matrix's
    /// reason), and ending one by id gets the same answer as an id that does not exist.
    async fn group_admin_cannot_reach_another_group_admins_sessions(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let admin2 = app.browser("admin2", PW).await;
        let _alice = app.browser("alice", PW).await;
        let ga = app.browser("admin1", PW).await;
        let page = app.body_with(&ga, "/view_sessions").await;
        assert!(page.contains("<td>alice</td>") && page.contains("<td>admin1</td>"), "{page}");
        assert!(!page.contains("<td>admin2</td>"), "another group administrator's session is listed");
        let sid = session_ids(&mut app.conn(), w.admin2)[0].to_string();
        let r = submit(&app, &ga, "/end_user_sessions", &[("user_id", &w.admin2.to_string())]).await;
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains(&escaped(TARGET_GROUPADMIN)));
        let r = submit(&app, &ga, "/end_session", &[("session_id", &sid)]).await;
        assert_eq!(r.status(), 303);
        let shown = app.body_with(&ga, "/view_sessions").await;
        assert!(shown.contains(&format!("Session {sid} is not a live session that you may end.")), "{shown}");
        assert_eq!(session_ids(&mut app.conn(), w.admin2).len(), 1, "admin2's session survived");
        assert_eq!(app.get_with(&admin2, "/").await.status(), 200);
    }

    /// Look-alike names are refused for new users, renamed users, new and renamed groups on
    /// every backend, with the form's message; nothing is written.
    async fn names_differing_only_in_case_are_refused(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let before = everything(&mut app.conn());
        let g = w.g_bob.to_string();
        let r = submit(&app, &su, "/add_user", &[("username", "ALICE"), ("new_password", "plum-tractor-violin-42"),
            ("new_password-confirm", "plum-tractor-violin-42"), ("group_id_sequence", &g)]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains(&escaped("User with username 'ALICE' already exists!")));
        let r = submit(&app, &su, &format!("/edit_user?user_id={}", w.bob), &[("username", "Alice"),
            ("fullname", ""), ("email", ""), ("language", "en_GB"), ("group_id_sequence", &g)]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("that conflicts with an existing user"));
        let r = submit(&app, &su, "/add_group", &[("name", "G_ALICE"), ("submit", "Add")]).await;
        assert_eq!(r.status(), 400);
        let r = submit(&app, &su, &format!("/edit_group?group_id={}", w.g_bob), &[("group_id", &g),
            ("name", "G_Alice"), ("description", "x"), ("upload_policy", "sex AND idnum1"),
            ("finalize_policy", "sex AND idnum1"), ("submit", "Apply")]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(everything(&mut app.conn()), before, "nothing written");
        // A name kept as it is, or changed in case only by its own user, stays allowed.
        let r = submit(&app, &su, &format!("/edit_user?user_id={}", w.bob), &[("username", "Bob"),
            ("fullname", ""), ("email", ""), ("language", "en_GB"), ("group_id_sequence", &g)]).await;
        assert_eq!(r.status(), 303);
    }

    /// NUL, escape, bell and line breaks in a field of each form, and in the tablet API's
    /// `camcops_version`: 400 naming the field, never a 500, and no row changed.
    async fn control_characters_are_refused_everywhere(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let g = w.g_bob.to_string();
        let edit_bob = format!("/edit_user?user_id={}", w.bob);
        let edit_group = format!("/edit_group?group_id={}", w.g_bob);
        let before = everything(&mut app.conn());
        for bad in ["Ann\u{0}Smith", "Ann\u{1b}[2J", "bell\u{7}", "two\nlines", "\u{85}"] {
            let cases: Vec<Case<'_>> = vec![
                (edit_bob.as_str(), vec![("username", "bob"), ("fullname", bad), ("email", ""),
                    ("language", "en_GB"), ("group_id_sequence", &g)], "fullname"),
                ("/add_user", vec![("username", bad), ("new_password", "plum-tractor-violin-42"),
                    ("new_password-confirm", "plum-tractor-violin-42"), ("group_id_sequence", &g)], "username"),
                ("/add_group", vec![("name", bad), ("submit", "Add")], "name"),
                (edit_group.as_str(), vec![("group_id", &g), ("name", "g_bob"), ("description", bad),
                    ("upload_policy", "sex AND idnum1"), ("finalize_policy", "sex AND idnum1"),
                    ("submit", "Apply")], "description"),
                ("/change_own_password", vec![("old_password", PW), ("new_password", bad),
                    ("new_password_confirm", bad)], "new_password"),
            ];
            for (path, form, field) in cases {
                let r = submit(&app, &su, path, &form).await;
                assert_eq!(r.status(), 400, "{path} {bad:?}");
                let text = r.text().await.unwrap();
                assert!(text.contains(&escaped(&format!("The field '{field}' contains a control character"))), "{path}: {text}");
            }
            let r = app.post_form("/login", &[("username", bad), ("password", PW)]).await;
            assert_eq!(r.status(), 400, "login {bad:?}");
            let api = reqwest::Client::new()
                .post(app.url("/api"))
                .form(&[("operation", "register"), ("device", "tab1"), ("camcops_version", bad),
                        ("user", "alice"), ("password", PW), ("devicefriendlyname", "x")])
                .send()
                .await
                .unwrap();
            assert_eq!(api.status(), 400, "api {bad:?}");
            assert!(api.text().await.unwrap().contains("The field 'camcops_version' contains a control character"));
        }
        assert_eq!(everything(&mut app.conn()), before, "no row changed");
    }
}
