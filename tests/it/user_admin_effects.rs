//! What user administration does beyond the original, on purpose (issue item 3; admin §7, admin §8): another user's password change, MFA switched off, `may_use_webviewer` removed
//! and deletion end that user's sessions at once; switching MFA off clears the secret; each
//! action is audited with actor and target; the pages need a "happy" administrator and a
//! CSRF token; deletion needs the code the server chose and takes memberships with it.

use diesel::prelude::*;

use camcops_web::auth::capability::{DELETE_OTHER_GROUPS, DELETE_RECORDS};
use camcops_web::auth::mfa;
use camcops_web::config::MfaMethod;
use camcops_web::db::schema::{_security_login_failures as lf, _security_user_group as ugm};
use camcops_web::models::audit::{audit, AuditSource};
use camcops_web::models::group::Membership;
use camcops_web::models::user::User;

use crate::helpers::{location, new_client, TestApp};
use crate::testdb::backend_test;
use crate::user_admin_world::{
    add_member, api_session, audits_by, escaped, last_audit, session_count, submit, user, world, PW,
};

const NEW_PW: &str = "plum-tractor-violin-42";

/// A user in `gid` with no permissions at all (deletable when nothing refers to them).
fn idle_user(app: &TestApp, name: &str, gid: i32) -> i32 {
    let uid = app.create_user_with(name, PW, false, |_| {});
    Membership::delete_for_user(&mut app.conn(), uid).unwrap();
    add_member(app, uid, gid, |m| m.may_use_webviewer = Some(false));
    uid
}

/// The confirmation code on a delete page.
fn code_of(page: &str) -> String {
    let i = page.find("Please enter the following: <strong>").unwrap() + 36;
    page[i..i + 4].to_string()
}

backend_test! {
    /// Another user's password: their web and tablet sessions end at once, "must change"
    /// takes effect, the old password stops working, and the audit row names the
    /// administrator (user_id) and the user (details).
    async fn other_password_change_ends_sessions(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let alice = app.browser("alice", PW).await;
        api_session(&app, w.alice);
        assert_eq!(session_count(&mut app.conn(), w.alice), 2);
        let ga = app.browser("admin1", PW).await;
        let path = format!("/change_other_password?user_id={}", w.alice);
        let r = submit(&app, &ga, &path, &[("new_password", NEW_PW), ("new_password-confirm", NEW_PW), ("must_change_password", "true")]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_all_users");
        assert!(app.body_with(&ga, "/view_all_users").await.contains(&escaped("Password changed for user 'alice'")));
        let mut conn = app.conn();
        assert_eq!(session_count(&mut conn, w.alice), 0, "all of alice's sessions ended");
        assert_eq!(audits_by(&mut conn, w.admin1, "Password changed for user alice"), 1);
        assert_eq!(user(&mut conn, w.alice).must_change_password, Some(true));
        let r = app.get_with(&alice, "/").await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/login?redirect_url=%2F".to_string()));
        let r = app.login_with(&new_client(), "alice", PW).await;
        assert_ne!(location(&r), "/", "the old password fails");
        let c = app.browser("alice", NEW_PW).await;
        let r = app.get_with(&c, "/").await;
        assert_eq!(location(&r), "/change_own_password", "forced change");
        assert!(!app.body_with(&ga, "/view_all_users").await.contains(NEW_PW), "no secret in pages");
        assert!(!last_audit(&mut conn).1.contains(NEW_PW), "no secret in audit rows");
    }

    /// Switching another user's MFA off clears the method and the secret, ends their
    /// sessions and is audited; without the box ticked nothing changes.
    async fn mfa_disable_clears_secret_and_ends_sessions(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let secret = mfa::new_secret();
        User::set_mfa(&mut app.conn(), w.alice, "totp", Some(&secret), 0).unwrap();
        api_session(&app, w.alice);
        let ga = app.browser("admin1", PW).await;
        let path = format!("/edit_other_user_mfa?user_id={}", w.alice);
        assert!(app.body_with(&ga, &path).await.contains("Edit multi-factor authentication for user: alice"));
        let r = submit(&app, &ga, &path, &[("submit", "submit")]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(user(&mut app.conn(), w.alice).mfa_method, "totp", "box not ticked: unchanged");
        let r = submit(&app, &ga, &path, &[("disable_mfa", "true")]).await;
        assert_eq!(r.status(), 303);
        let mut conn = app.conn();
        let u = user(&mut conn, w.alice);
        assert_eq!((u.mfa_method.as_str(), u.mfa_secret_key, u.hotp_counter), ("no_mfa", None, 0));
        assert_eq!(session_count(&mut conn, w.alice), 0);
        assert_eq!(audits_by(&mut conn, w.admin1, "Multi-factor authentication disabled for user alice"), 1);
        assert!(app.body_with(&ga, "/view_all_users").await.contains(&escaped("Multi-factor authentication disabled for user 'alice'")));
    }

    /// Taking `may_use_webviewer` away (the user's last) ends their sessions at once; a flag
    /// change that leaves web access alone does not. Both are audited.
    async fn removing_webviewer_ends_sessions(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let bob = app.browser("bob", PW).await;
        let su = app.browser("root", PW).await;
        let mid: i32 = ugm::table.filter(ugm::user_id.eq(w.bob)).select(ugm::id).first(&mut app.conn()).unwrap();
        let path = format!("/edit_user_group_membership?user_group_membership_id={mid}");
        let r = submit(&app, &su, &path, &[("may_use_webviewer", "true"), ("may_run_reports", "true")]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(app.get_with(&bob, "/").await.status(), 200, "still allowed: still logged in");
        let r = submit(&app, &su, &path, &[("may_run_reports", "true")]).await;
        assert_eq!(r.status(), 303);
        let mut conn = app.conn();
        assert_eq!(session_count(&mut conn, w.bob), 0);
        assert_eq!(app.get_with(&bob, "/").await.status(), 303, "logged out at once");
        assert_eq!(
            audits_by(&mut conn, w.root, &format!("Permissions of user bob (#{}) in group g_bob set: may_use_webviewer=false", w.bob)),
            1
        );
        // The same through edit_user: alice loses the groups that gave her web access.
        let alice = app.browser("alice", PW).await;
        let g_new = idle_user(&app, "carrier", w.g_bob);
        let _ = g_new;
        let g = w.g_bob.to_string();
        let r = submit(&app, &su, &format!("/edit_user?user_id={}", w.alice), &[("username", "alice"), ("group_id_sequence", &g)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(session_count(&mut conn, w.alice), 0);
        assert_eq!(app.get_with(&alice, "/").await.status(), 303);
        assert!(last_audit(&mut conn).1.starts_with(&format!("User alice (#{}) edited: ", w.alice)));
    }

    /// admin §3.10 with a server-chosen code: refusals with the original's reasons; the browser
    /// cannot pick its own code; deleting takes the memberships and sessions with the user
    /// in one transaction and is audited.
    async fn delete_user_rules_and_effects(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let idle = idle_user(&app, "idle", w.g_admin1);
        let mixed = idle_user(&app, "mixed", w.g_admin1);
        add_member(&app, mixed, w.g_bob, |m| m.may_use_webviewer = Some(false));
        let former = idle_user(&app, "former", w.g_admin1);
        let now = app.clock().now();
        audit(&mut app.conn(), now, AuditSource::Webviewer, None, Some(former), None, "Login").unwrap();
        api_session(&app, idle);
        let ga = app.browser("admin1", PW).await;
        for (uid, reason) in [(mixed, DELETE_OTHER_GROUPS), (former, DELETE_RECORDS)] {
            let r = app.get_with(&ga, &format!("/delete_user?user_id={uid}")).await;
            assert_eq!(r.status(), 403);
            assert!(r.text().await.unwrap().contains(&escaped(reason)), "{reason}");
        }
        let path = format!("/delete_user?user_id={idle}");
        let page = app.body_with(&ga, &path).await;
        let code = code_of(&page);
        assert!(!page.contains(&format!("value=\"{code}\"")), "the code is not a form field");
        let id = idle.to_string();
        let ticks = [("confirm_1_t", "true"), ("confirm_2_t", "true"), ("confirm_4_t", "true"), ("user_id", id.as_str())];
        let wrong = if code == "0000" { "1111" } else { "0000" };
        for (extra, message) in [
            (vec![("user_entry", code.as_str()), ("confirm_3_f", "true")], "Not fully confirmed".to_string()),
            (vec![("user_entry", wrong), ("target", wrong)], format!("Not correctly validated (user_entry_value=&#39;{wrong}&#39;, target_value=&#39;{code}&#39;)")),
        ] {
            let mut form = ticks.to_vec();
            form.extend(extra);
            form.push(("delete", "delete"));
            let r = submit(&app, &ga, &path, &form).await;
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains(&message), "{message}");
        }
        let mut form = ticks.to_vec();
        form.extend([("user_id", "99"), ("user_entry", code.as_str()), ("delete", "delete")]);
        form.remove(3);
        assert_eq!(submit(&app, &ga, &path, &form).await.status(), 400, "mismatched hidden user_id");
        let mut conn = app.conn();
        assert!(User::find(&mut conn, idle).unwrap().is_some(), "not deleted yet");
        let mut form = ticks.to_vec();
        form.extend([("user_entry", code.as_str()), ("delete", "delete")]);
        let r = submit(&app, &ga, &path, &form).await;
        assert_eq!(r.status(), 303);
        assert!(User::find(&mut conn, idle).unwrap().is_none());
        assert!(Membership::for_user(&mut conn, idle).unwrap().is_empty());
        let orphans: i64 = ugm::table.filter(ugm::user_id.is_null()).count().get_result(&mut conn).unwrap();
        assert_eq!(orphans, 0, "no orphan memberships (admin §8.8)");
        assert_eq!(session_count(&mut conn, idle), 0);
        assert_eq!(audits_by(&mut conn, w.admin1, &format!("User idle (#{idle}) deleted")), 1);
        // A superuser may delete a user in groups they all administer.
        let su = app.browser("root", PW).await;
        let page = app.body_with(&su, &format!("/delete_user?user_id={mixed}")).await;
        let code = code_of(&page);
        let id = mixed.to_string();
        let r = submit(&app, &su, &format!("/delete_user?user_id={mixed}"), &[("confirm_1_t", "true"), ("confirm_2_t", "true"), ("confirm_4_t", "true"), ("user_id", &id), ("user_entry", &code), ("delete", "delete")]).await;
        assert_eq!(r.status(), 303);
        assert!(User::find(&mut conn, mixed).unwrap().is_none());
    }

    /// The pages need a happy administrator (admin §8.3): one who must change their password or
    /// set up MFA is sent there first, for every page; a missing CSRF token is refused on
    /// every POST and changes nothing.
    async fn happy_gate_and_csrf(db) {
        let app = TestApp::spawn_with(db, |s| s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp]).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let a = w.alice.to_string();
        let mid: i32 = ugm::table.filter(ugm::user_id.eq(w.alice)).select(ugm::id).first(&mut app.conn()).unwrap();
        let pages = [
            "/view_all_users".to_string(), "/add_user".into(), format!("/view_user?user_id={a}"),
            format!("/edit_user?user_id={a}"), format!("/edit_user_group_membership?user_group_membership_id={mid}"),
            format!("/set_other_user_upload_group?user_id={a}"), format!("/change_other_password?user_id={a}"),
            format!("/edit_other_user_mfa?user_id={a}"), format!("/delete_user?user_id={a}"),
        ];
        let before = crate::user_admin_world::snapshot(&mut app.conn(), w.alice);
        for path in pages.iter().filter(|p| !p.starts_with("/view")) {
            let r = app.post_with(&ga, path, &[("username", "zed"), ("new_password", NEW_PW), ("new_password-confirm", NEW_PW), ("disable_mfa", "true"), ("may_upload", "true")]).await;
            assert_eq!(r.status(), 400, "POST {path} without CSRF");
        }
        assert_eq!(crate::user_admin_world::snapshot(&mut app.conn(), w.alice), before);
        assert!(User::id_by_username(&mut app.conn(), "zed").unwrap().is_none());
        User::set_must_change_password(&mut app.conn(), w.admin1, true).unwrap();
        for path in &pages {
            let r = app.get_with(&ga, path).await;
            assert_eq!((r.status().as_u16(), location(&r)), (303, "/change_own_password".to_string()), "{path}");
        }
        User::set_must_change_password(&mut app.conn(), w.admin1, false).unwrap();
        User::set_mfa(&mut app.conn(), w.admin1, "hotp_sms", None, 0).unwrap();
        let r = app.get_with(&ga, "/view_all_users").await;
        assert_eq!(location(&r), "/edit_own_user_mfa");
    }

    /// An administrator with TOTP confirms another user's password or MFA change with their
    /// own current code (the original's MFA step); a wrong code counts as a failed login and
    /// changes nothing.
    async fn administrator_reauthenticates_with_totp(db) {
        let app = TestApp::spawn_with(db, |s| s.mfa_methods = vec![MfaMethod::NoMfa, MfaMethod::Totp]).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let secret = mfa::new_secret();
        User::set_mfa(&mut app.conn(), w.admin1, "totp", Some(&secret), 0).unwrap();
        let path = format!("/change_other_password?user_id={}", w.alice);
        assert!(app.body_with(&ga, &path).await.contains("name=\"one_time_password\""));
        let hash = user(&mut app.conn(), w.alice).hashedpw;
        let r = submit(&app, &ga, &path, &[("new_password", NEW_PW), ("new_password-confirm", NEW_PW), ("one_time_password", "000000")]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_all_users".to_string()));
        assert!(app.body_with(&ga, "/view_all_users").await.contains("You entered an invalid code. Please try again."));
        let mut conn = app.conn();
        assert_eq!(user(&mut conn, w.alice).hashedpw, hash, "unchanged");
        let failures: i64 = lf::table.filter(lf::username.eq("admin1")).count().get_result(&mut conn).unwrap();
        assert_eq!(failures, 1, "counted towards the lockout");
        let code = mfa::current_code(&secret, app.clock().now().and_utc().timestamp()).unwrap();
        let r = submit(&app, &ga, &path, &[("new_password", NEW_PW), ("new_password-confirm", NEW_PW), ("one_time_password", &code)]).await;
        assert_eq!(r.status(), 303);
        let changed = user(&mut conn, w.alice).hashedpw;
        assert_ne!(changed, hash, "changed");
        // The same code again, still within its 30 s window: refused (a used code is never
        // accepted twice), counted, and nothing changes.
        let r = submit(&app, &ga, &path, &[("new_password", "another-Pass-987"), ("new_password-confirm", "another-Pass-987"), ("one_time_password", &code)]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/view_all_users".to_string()));
        assert!(app.body_with(&ga, "/view_all_users").await.contains("You entered an invalid code. Please try again."));
        assert_eq!(user(&mut conn, w.alice).hashedpw, changed, "the replayed code changed nothing");
        let failures: i64 = lf::table.filter(lf::username.eq("admin1")).count().get_result(&mut conn).unwrap();
        assert_eq!(failures, 2, "the replay counted towards the lockout");
    }

    /// The main menu shows the user administration links to administrators only (item 4).
    async fn main_menu_links(db) {
        let app = TestApp::spawn(db).await;
        world(&app);
        for (name, shown) in [("root", true), ("admin1", true), ("dave", false)] {
            let c = app.browser(name, PW).await;
            let menu = app.body_with(&c, "/").await;
            for link in ["href=\"/view_all_users\"", "href=\"/add_user\""] {
                assert_eq!(menu.contains(link), shown, "{name} {link}");
            }
        }
    }
}
