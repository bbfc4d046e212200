//! `/delete_group` on every backend (admin §4.4, admin §8.8, admin §8.9): the refusals with
//! the original's messages (never a 500), CSRF, confirmation and hidden id, and what a delete
//! removes and audits.

use super::*;

backend_test! {
    /// admin §4.4, admin §8.8, admin §8.9: delete_group refuses, with the original's messages and never a 500,
    /// a group with members (an orphan membership too), with records (tasks), that is
    /// someone's upload group, or that a row the checks do not know refers to (as a CamCOPS
    /// task schedule would); it needs CSRF, the confirmation and the right hidden id; a
    /// delete removes the group's visibility rows (both ways) and IP-use row and is audited.
    async fn delete_group_refusals_and_delete(db) {
        let app = TestApp::spawn(db).await;
        let (root, _, plain) = people(&app);
        let mut conn = app.conn();
        let c = logged_in(&app, "root", PW).await;
        let token = csrf(&app, &c).await;
        for name in ["orphaned", "with_task", "uploads", "scheduled", "doomed"] {
            let r = post_with(&app, &c, "/add_group", &[("csrf_token", &token), ("name", name), ("submit", "Add")]).await;
            assert_eq!(r.status(), 303, "add {name}");
        }
        let id = |conn: &mut DbConnection, n: &str| group_id(conn, n).unwrap();
        let members = id(&mut conn, "g_plain");
        let orphaned = id(&mut conn, "orphaned");
        Membership::insert(&mut conn, &NewMembership { user_id: None, group_id: Some(orphaned), ..Default::default() }).unwrap();
        let with_task = id(&mut conn, "with_task");
        let d = device(&mut conn);
        task_in(&mut conn, with_task, d, 3);
        let uploads = id(&mut conn, "uploads");
        diesel::update(camcops_web::db::schema::_security_users::table.find(plain))
            .set(camcops_web::db::schema::_security_users::upload_group_id.eq(uploads))
            .execute(&mut conn)
            .unwrap();
        let scheduled = id(&mut conn, "scheduled");
        conn.batch_execute("CREATE TABLE cw_test_task_schedule (id INTEGER NOT NULL PRIMARY KEY, group_id INTEGER NOT NULL, CONSTRAINT fk_cw_test_task_schedule_group_id FOREIGN KEY (group_id) REFERENCES _security_groups (id))").unwrap();
        conn.batch_execute(&format!("INSERT INTO cw_test_task_schedule (id, group_id) VALUES (1, {scheduled})")).unwrap();
        let before = snapshot(&mut conn);
        for (gid, msg) in [
            (members, "Unable to delete group; there are users who are members!"),
            (orphaned, "Unable to delete group; there are users who are members!"),
            (with_task, "Unable to delete group; records refer to it."),
            (uploads, "Unable to delete group; it is the upload group of one or more users."),
        ] {
            let path = format!("/delete_group?group_id={gid}");
            let (status, page) = get_with(&app, &c, &path).await;
            assert_eq!(status, 200);
            assert!(page.contains(msg) && !page.contains("name=\"confirm\""), "{gid}: {page}");
            let gs = gid.to_string();
            let r = post_with(&app, &c, &path, &[("csrf_token", &token), ("group_id", &gs), ("confirm", "true"), ("delete", "Delete")]).await;
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains(msg));
        }
        let (ss, spath) = (scheduled.to_string(), format!("/delete_group?group_id={scheduled}"));
        let r = post_with(&app, &c, &spath, &[("csrf_token", &token), ("group_id", &ss), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400, "a foreign key the checks do not know: refused, not a 500");
        assert!(r.text().await.unwrap().contains("Unable to delete group; records refer to it."));
        let doomed = id(&mut conn, "doomed");
        let (ds, dpath) = (doomed.to_string(), format!("/delete_group?group_id={doomed}"));
        let r = post_with(&app, &c, &dpath, &[("group_id", &ds), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400, "no CSRF");
        let r = post_with(&app, &c, &dpath, &[("csrf_token", &token), ("group_id", &ds), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Not fully confirmed"));
        let r = post_with(&app, &c, &dpath, &[("csrf_token", &token), ("group_id", &ss), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400, "hidden id differs");
        let r = post_with(&app, &c, "/delete_group?group_id=x'%20OR%20'1'='1", &[("csrf_token", &token), ("group_id", "x"), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(snapshot(&mut conn), before, "nothing deleted or audited");
        // Visibility both ways and IP use: all go with the group.
        Group::add_can_see(&mut conn, doomed, members).unwrap();
        Group::add_can_see(&mut conn, members, doomed).unwrap();
        let path = format!("/edit_group?group_id={doomed}");
        let form = edit_form(&token, &ds, &[("name", "doomed"), ("research", "true"), ("upload_policy", "sex AND anyidnum")]);
        assert_eq!(post_with(&app, &c, &path, &form).await.status(), 303);
        let ip_id = Group::find(&mut conn, doomed).unwrap().unwrap().ip_use_id.unwrap();
        let r = post_with(&app, &c, &dpath, &[("csrf_token", &token), ("group_id", &ds), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_groups".to_owned()));
        assert!(Group::find(&mut conn, doomed).unwrap().is_none());
        let links: i64 = gg::table.filter(gg::group_id.eq(doomed).or(gg::can_see_group_id.eq(doomed))).count().get_result(&mut conn).unwrap();
        assert_eq!(links, 0);
        assert_eq!(ip::table.filter(ip::id.eq(ip_id)).count().get_result::<i64>(&mut conn).unwrap(), 0);
        let last = audit_rows(&mut conn).pop().unwrap();
        assert_eq!(last, (Some(root), Some("_security_groups".into()), Some(doomed), format!("Group 'doomed' (#{doomed}) deleted")));
        assert!(Group::find(&mut conn, members).unwrap().is_some());
    }
}
