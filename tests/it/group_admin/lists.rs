//! The groups list and visibility on every backend (admin §4.1, admin §4.3): what
//! `/view_groups` shows and how it pages, and `_security_group_group` taking effect on a
//! member's `/view_tasks` at once.

use super::*;

backend_test! {
    /// `_security_group_group`: a member of g_plain sees g_ga's tasks on `/view_tasks` as
    /// soon as edit_group lets g_plain see g_ga, and no longer once it is taken away.
    async fn group_visibility_takes_effect_on_view_tasks_at_once(db) {
        let app = TestApp::spawn(db).await;
        people(&app);
        let mut conn = app.conn();
        define_idnums(&mut conn, &[1]);
        let (plain_g, ga_g) = (group_id(&mut conn, "g_plain").unwrap(), group_id(&mut conn, "g_ga").unwrap());
        diesel::update(ugm::table.filter(ugm::group_id.eq(plain_g)))
            .set(ugm::view_all_patients_when_unfiltered.eq(true))
            .execute(&mut conn)
            .unwrap();
        let d = device(&mut conn);
        task_in(&mut conn, plain_g, d, 11);
        task_in(&mut conn, ga_g, d, 12);
        let user = logged_in(&app, "plain", PW).await;
        assert_eq!(task_days(&get_with(&app, &user, "/view_tasks").await.1), vec![11]);
        let root = logged_in(&app, "root", PW).await;
        let token = csrf(&app, &root).await;
        let (gs, gas) = (plain_g.to_string(), ga_g.to_string());
        let path = format!("/edit_group?group_id={plain_g}");
        let r = post_with(&app, &root, &path, &edit_form(&token, &gs, &[("group_ids", &gas)])).await;
        assert_eq!(r.status(), 303);
        assert_eq!(task_days(&get_with(&app, &user, "/view_tasks").await.1), vec![12, 11], "at once, same session");
        let r = post_with(&app, &root, &path, &edit_form(&token, &gs, &[])).await;
        assert_eq!(r.status(), 303);
        assert_eq!(task_days(&get_with(&app, &user, "/view_tasks").await.1), vec![11]);
    }

    /// admin §4.1: the list shows each group's description, visible groups, policies (warning
    /// colour when invalid, the principal ID number), IP use and non-auto-generated members,
    /// and pages; bad paging parameters are 400s.
    async fn view_groups_lists_policies_and_pages(db) {
        let app = TestApp::spawn(db).await;
        people(&app);
        let mut conn = app.conn();
        define_idnums(&mut conn, &[1]);
        let plain_g = group_id(&mut conn, "g_plain").unwrap();
        let ga_g = group_id(&mut conn, "g_ga").unwrap();
        diesel::update(g::table.find(plain_g))
            .set((g::upload_policy.eq("sex AND idnum1"), g::finalize_policy.eq("sex AND idnum9"), g::description.eq("Plain <people>")))
            .execute(&mut conn)
            .unwrap();
        Group::add_can_see(&mut conn, plain_g, ga_g).unwrap();
        let c = logged_in(&app, "root", PW).await;
        let (status, body) = get_with(&app, &c, "/view_groups").await;
        assert_eq!(status, 200);
        let row = &body[body.find("<td>g_plain</td>").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("Plain &#60;people&#62;"), "escaped: {row}");
        assert!(row.contains("<td>g_ga</td>"));
        assert!(row.contains("<td>sex AND idnum1</td>\n<td>1</td>"), "{row}");
        assert!(row.contains("<td class=\"warning\">sex AND idnum9</td>"), "{row}");
        assert!(row.contains("<td>plain</td>"), "members: {row}");
        let ga_row = &body[body.find("<td>g_ga</td>\n<td>").unwrap()..];
        assert!(ga_row[..ga_row.find("</tr>").unwrap()].contains("<i>None</i>"));
        let (_, p2) = get_with(&app, &c, "/view_groups?rows_per_page=1&page=2").await;
        assert!(p2.contains("Page 2 of 3; 3 groups in total.") && p2.contains("<td>g_plain</td>"), "{p2}");
        let (_, last) = get_with(&app, &c, "/view_groups?rows_per_page=1&page=99").await;
        assert!(last.contains("Page 3 of 3") && last.contains("<td>g_root</td>"));
        for bad in ["rows_per_page=0", "rows_per_page=-1", "rows_per_page=abc", "page=0", "page=1%27%20OR%201=1"] {
            assert_eq!(get_with(&app, &c, &format!("/view_groups?{bad}")).await.0, 400, "{bad}");
        }
    }
}
