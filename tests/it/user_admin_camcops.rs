//! User administration on a database CamCOPS 2.4.24 made (its own dummy data: SQLite and
//! MariaDB; PostgreSQL has no dump), adopted: CamCOPS' superuser adds a user into a CamCOPS
//! group and grants `may_use_webviewer`; the hash written is `$2a$` (CamCOPS' py-bcrypt
//! rejects `$2b$`) and the new user logs in; CamCOPS' group administrator may not edit the
//! superuser; a CamCOPS user records refer to is not deleted.

use camcops_web::auth::capability::{DELETE_PERMITTED, TARGET_SUPERUSER};
use camcops_web::models::group::{Group, Membership};
use camcops_web::models::user::User;

use crate::camcops_fixture::{
    adopt, agree_terms_for_all, camcops_test, demo_db, ADMIN, CLINICIAN, GRPADMIN,
};
use crate::helpers::{location, new_client, TestApp};
use crate::user_admin_world::{escaped, submit};

const NEW_PW: &str = "plum-tractor-violin-42";

camcops_test! {
    /// Issue 11: works on an adopted CamCOPS database; a user created here gets a `$2a$` hash
    /// and can log in.
    async fn user_admin_on_an_adopted_camcops_database(backend) {
        let Some(db) = demo_db(backend) else { return };
        adopt(&db);
        agree_terms_for_all(&mut db.conn());
        let app = TestApp::spawn(db).await;
        let su = app.browser(ADMIN.0, ADMIN.1).await;
        let list = app.body_with(&su, "/view_all_users").await;
        for name in [CLINICIAN.0, GRPADMIN.0] {
            assert!(list.contains(&format!("<td>{name}</td>")), "{name}: {list}");
        }
        let group = Group::all(&mut app.conn()).unwrap().into_iter().next().expect("a CamCOPS group");
        let gid = group.id.to_string();
        let r = submit(&app, &su, "/add_user", &[
            ("username", "webnew"), ("new_password", NEW_PW), ("new_password-confirm", NEW_PW),
            ("group_id_sequence", &gid), ("submit", "submit"),
        ]).await;
        assert_eq!(r.status(), 303);
        let mut conn = app.conn();
        let id = User::id_by_username(&mut conn, "webnew").unwrap().expect("created");
        let u = User::find(&mut conn, id).unwrap().unwrap();
        assert!(u.hashedpw.starts_with("$2a$"), "CamCOPS-readable hash: {}", u.hashedpw);
        let mid = Membership::for_user(&mut conn, id).unwrap()[0].id;
        let r = submit(&app, &su, &format!("/edit_user_group_membership?user_group_membership_id={mid}"), &[("may_use_webviewer", "true")]).await;
        assert_eq!(r.status(), 303);
        let r = app.login_with(&new_client(), "webnew", NEW_PW).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/".to_string()), "the new user logs in");
        // CamCOPS' clinician may still log in: not deletable.
        let clinician = User::id_by_username(&mut conn, CLINICIAN.0).unwrap().unwrap();
        let r = app.get_with(&su, &format!("/delete_user?user_id={clinician}")).await;
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains(&escaped(DELETE_PERMITTED)));
        // CamCOPS' group administrator may not edit CamCOPS' superuser.
        let admin = User::id_by_username(&mut conn, ADMIN.0).unwrap().unwrap();
        let ga = app.browser(GRPADMIN.0, GRPADMIN.1).await;
        let r = app.get_with(&ga, &format!("/edit_user?user_id={admin}")).await;
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains(TARGET_SUPERUSER));
    }
}
