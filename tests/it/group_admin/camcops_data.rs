//! Groups and audit rows that CamCOPS 2.4.24 itself wrote (its SQLite and MariaDB dumps,
//! adopted; PostgreSQL has no dump) show correctly on the pages, and an edit leaves rows
//! CamCOPS can read.

use super::*;
use crate::camcops_fixture::{adopt, agree_terms_for_all, camcops_test, demo_db, ADMIN};

camcops_test! {
    /// `/view_groups` shows CamCOPS' dummy group with its policies (valid, principal ID
    /// 1001) and members; `/view_audit_trail` shows CamCOPS' own audit rows with the acting
    /// username; editing the group writes a `_security_ip_use` row with CamCOPS' booleans;
    /// deleting a group with members is refused.
    async fn camcops_groups_and_audit_rows_show_correctly(backend) {
        let Some(db) = demo_db(backend) else { return };
        adopt(&db);
        agree_terms_for_all(&mut db.conn());
        let app = TestApp::spawn(db).await;
        let c = logged_in(&app, ADMIN.0, ADMIN.1).await;
        let (status, list) = get_with(&app, &c, "/view_groups").await;
        assert_eq!(status, 200);
        let row = &list[list.find("<td>dummygroup1</td>").expect("CamCOPS' group")..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("<td>Dummy group</td>"), "{row}");
        assert!(row.contains("<td>sex AND anyidnum</td>\n<td></td>"), "{row}");
        assert!(row.contains("<td>sex AND idnum1001</td>\n<td>1001</td>"), "{row}");
        assert!(row.contains("clinician") && row.contains("grpadmin"), "members: {row}");
        let (status, trail) = get_with(&app, &c, "/view_audit_trail?source=console").await;
        assert_eq!(status, 200);
        assert_eq!(unescape(&trail).matches("SUPERUSER CREATED: admin").count(), 1, "{trail}");
        // The acting user's name, whoever CamCOPS recorded (SQLite: its system user).
        let mut conn = app.conn();
        use camcops_web::db::schema::_security_users as u;
        let actor: String = audit::table
            .inner_join(u::table)
            .filter(audit::details.eq("SUPERUSER CREATED: admin"))
            .select(u::username)
            .first(&mut conn)
            .unwrap();
        assert!(trail.contains(&format!("<td>console</td>\n<td></td>\n<td>{actor}</td>")), "{trail}");
        let (_, trail) = get_with(&app, &c, "/view_audit_trail?source=webviewer&text_contains=password%20changed").await;
        assert!(trail.contains("Password changed for user admin"), "{trail}");
        // An edit on CamCOPS' group: the IP-use row is CamCOPS' table, booleans as it stores them.
        let gid = group_id(&mut conn, "dummygroup1").unwrap();
        let gs = gid.to_string();
        let token = csrf(&app, &c).await;
        let form = edit_form(&token, &gs, &[("name", "dummygroup1"), ("upload_policy", "sex AND anyidnum"), ("finalize_policy", "sex AND idnum1001"), ("research", "true")]);
        let r = post_with(&app, &c, &format!("/edit_group?group_id={gid}"), &form).await;
        assert_eq!(r.status(), 303);
        let ip_id = Group::find(&mut conn, gid).unwrap().unwrap().ip_use_id.expect("ip use");
        let flags: (bool, bool, bool, bool) = ip::table.find(ip_id).select((ip::clinical, ip::commercial, ip::educational, ip::research)).first(&mut conn).unwrap();
        assert_eq!(flags, (false, false, false, true));
        let path = format!("/delete_group?group_id={gid}");
        let r = post_with(&app, &c, &path, &[("csrf_token", &token), ("group_id", &gs), ("confirm", "true"), ("delete", "Delete")]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Unable to delete group; there are users who are members!"));
    }
}
