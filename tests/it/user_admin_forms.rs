//! Each user administration form's validation (admin §0.4, admin §3.3–admin §3.8): the original's
//! messages, 400 when a form comes back with errors, 403 with a reason for what the actor
//! may not grant, and nothing written in either case. Garbage, SQL-looking and oversized
//! input included.

use diesel::prelude::*;

use camcops_web::auth::capability::{
    GRANT_GROUPADMIN, GRANT_SUPERUSER, NOT_YOUR_GROUP, OWN_SUPERUSER,
};
use camcops_web::db::schema::_security_user_group as ugm;
use camcops_web::models::group::Membership;

use crate::helpers::{location, TestApp};
use crate::testdb::backend_test;
use crate::user_admin_matrix::user_count;
use crate::user_admin_world::{snapshot, user, world, PW};

/// (username, other fields, message expected).
type AddCase<'a> = (String, Vec<(&'a str, &'a str)>, String);

const NEW_PW: &str = "plum-tractor-violin-42";

fn membership_id(conn: &mut camcops_web::db::DbConnection, uid: i32, gid: i32) -> i32 {
    ugm::table
        .filter(ugm::user_id.eq(uid))
        .filter(ugm::group_id.eq(gid))
        .select(ugm::id)
        .first(conn)
        .unwrap()
}

/// POSTs `form` (plus the CSRF token) and returns (status, body).
async fn submit(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = crate::user_admin_world::submit(app, c, path, form).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

backend_test! {
    /// admin §3.3 and admin §0.4: username and password rules, duplicates (case-insensitive on MariaDB,
    /// as its collation compares), groups; a valid form creates the user, memberships with
    /// every flag false, the creator audited, and the new user can log in.
    async fn add_user_validation_and_success(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let page = app.body_with(&su, "/add_user").await;
        assert!(page.contains("name=\"must_change_password\" value=\"true\" checked"), "ticked by default");
        assert!(page.contains(&format!("name=\"group_id_sequence\" value=\"{}\"", w.g_bob)), "a superuser may use any group");
        let n = user_count(&mut app.conn());
        let pw = [("new_password", NEW_PW), ("new_password-confirm", NEW_PW)];
        let cases: Vec<AddCase> = vec![
            ("a b".into(), pw.to_vec(), "Invalid string. Minimum length = 1. Maximum length = 191.".into()),
            ("system".into(), pw.to_vec(), "Cannot use system username &#39;system&#39;".into()),
            ("x'; DROP TABLE _security_users; --".into(), pw.to_vec(), "Invalid string.".into()),
            ("u".repeat(300), pw.to_vec(), "Invalid string.".into()),
            ("".into(), pw.to_vec(), "Required".into()),
            ("newbie".into(), vec![("new_password", "qwertyuiop"), ("new_password-confirm", "qwertyuiop")], "That password is used too commonly; try again".into()),
            ("newbie".into(), vec![("new_password", "short"), ("new_password-confirm", "short")], "Passwords can&#39;t be shorter than 10 characters".into()),
            ("newbie".into(), vec![("new_password", NEW_PW), ("new_password-confirm", "plum-tractor-violin-43")], "Password did not match confirm".into()),
            ("newbie".into(), vec![], "Required".into()),
            ("alice".into(), pw.to_vec(), "User with username &#39;alice&#39; already exists!".into()),
            ("newbie".into(), [pw.to_vec(), vec![("group_id_sequence", "abc")]].concat(), "&#34;abc&#34; is not a number".into()),
            ("newbie".into(), [pw.to_vec(), vec![("group_id_sequence", "99999")]].concat(), "&#34;99999&#34; is not one of".into()),
        ];
        for (username, fields, message) in &cases {
            let mut form = vec![("username", username.as_str()), ("submit", "submit")];
            form.extend(fields.iter().copied());
            let (status, body) = submit(&app, &su, "/add_user", &form).await;
            assert_eq!(status, 400, "{username:.20}: {message}");
            assert!(body.contains(message.as_str()), "{username:.20}: {message} in {body}");
            assert!(body.contains("There was a problem with your submission"));
        }
        assert_eq!(user_count(&mut app.conn()), n, "nothing was created");
        // The same name in another case is a duplicate on every backend (as CamCOPS on MariaDB).
        let (status, body) = submit(&app, &su, "/add_user", &[("username", "ALICE"), pw[0], pw[1]]).await;
        assert_eq!(status, 400);
        assert!(body.contains("User with username &#39;ALICE&#39; already exists!"), "{body}");
        let g = w.g_alice.to_string();
        let r = {
            let token = app.page_csrf(&su).await;
            app.post_with(&su, "/add_user", &[
                ("csrf_token", &token), ("username", " newbie "), pw[0], pw[1],
                ("must_change_password", "true"), ("__start__", "group_ids:sequence"),
                ("group_id_sequence", &g), ("__end__", "group_ids:sequence"), ("submit", "submit"),
            ]).await
        };
        assert_eq!(r.status(), 303);
        let mut conn = app.conn();
        let id = camcops_web::models::user::User::id_by_username(&mut conn, "newbie").unwrap().expect("created, whitespace stripped");
        // The administrator lands on the new user's page.
        assert_eq!(location(&r), format!("/view_user?user_id={id}"));
        let u = user(&mut conn, id);
        assert!(u.hashedpw.starts_with("$2") && u.must_change_password == Some(true), "{u:?}");
        assert_eq!((u.superuser, u.mfa_method.as_str(), u.upload_group_id), (Some(false), "no_mfa", None));
        let ms = Membership::for_user(&mut conn, id).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].group_id, Some(w.g_alice));
        assert_eq!(ms[0].flags.or_false(), Default::default(), "every flag false");
        assert_eq!(ms[0].flags.may_use_webviewer, Some(false), "stored as false, not NULL");
        let (actor, details) = crate::user_admin_world::last_audit(&mut conn);
        assert_eq!(actor, Some(w.root));
        assert_eq!(details, format!("User newbie (#{id}) created; groups: {}", w.g_alice));
        let counter = std::sync::atomic::AtomicU64::new(0);
        assert!(camcops_web::auth::password::verify(NEW_PW, &u.hashedpw, &counter), "the hash is of the password");
        // Cancel creates nothing.
        let n = user_count(&mut conn);
        let (status, _) = submit(&app, &su, "/add_user", &[("username", "other1"), pw[0], pw[1], ("cancel", "cancel")]).await;
        assert_eq!(status, 303);
        assert_eq!(user_count(&mut conn), n);
    }

    /// admin §2.2 for a group administrator adding a user: own groups only, at least one, and
    /// never a superuser (403 with the reason, nothing created).
    async fn add_user_as_group_admin(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let page = app.body_with(&ga, "/add_user").await;
        assert!(page.contains(&format!("value=\"{}\"", w.g_admin1)));
        assert!(!page.contains(&format!("name=\"group_id_sequence\" value=\"{}\"", w.g_bob)), "only own groups offered");
        let n = user_count(&mut app.conn());
        let pw = [("new_password", NEW_PW), ("new_password-confirm", NEW_PW)];
        let (status, body) = submit(&app, &ga, "/add_user", &[("username", "gnew"), pw[0], pw[1]]).await;
        assert_eq!(status, 400);
        assert!(body.contains("You must specify at least 1 group(s)"), "{body}");
        let bob_group = w.g_bob.to_string();
        let (status, body) = submit(&app, &ga, "/add_user", &[("username", "gnew"), pw[0], pw[1], ("group_id_sequence", &bob_group)]).await;
        assert_eq!(status, 400);
        assert!(body.contains(&format!("&#34;{}&#34; is not one of {}", w.g_bob, w.g_admin1)), "{body}");
        let own = w.g_admin1.to_string();
        let (status, body) = submit(&app, &ga, "/add_user", &[("username", "gnew"), pw[0], pw[1], ("group_id_sequence", &own), ("group_id_sequence", &own)]).await;
        assert_eq!(status, 400);
        assert!(body.contains("You have specified duplicate groups"), "{body}");
        let (status, body) = submit(&app, &ga, "/add_user", &[("username", "gnew"), pw[0], pw[1], ("group_id_sequence", &own), ("superuser", "1")]).await;
        assert_eq!(status, 403);
        assert!(body.contains(GRANT_SUPERUSER), "{body}");
        assert_eq!(user_count(&mut app.conn()), n);
        let (status, _) = submit(&app, &ga, "/add_user", &[("username", "gnew"), pw[0], pw[1], ("group_id_sequence", &own)]).await;
        assert_eq!(status, 303);
        let mut conn = app.conn();
        let id = camcops_web::models::user::User::id_by_username(&mut conn, "gnew").unwrap().unwrap();
        assert_eq!(user(&mut conn, id).superuser, Some(false));
        assert_eq!(Membership::for_user(&mut conn, id).unwrap()[0].group_id, Some(w.g_admin1));
    }

    /// admin §3.4: field messages, rename conflicts, the superuser flag (superusers only; not one's
    /// own), the fluid/frozen groups rule and the upload group cleared with its group.
    async fn edit_user_validation(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let alice = w.alice.to_string();
        let path = format!("/edit_user?user_id={alice}");
        let (ga_grp, alice_grp) = (w.g_admin1.to_string(), w.g_alice.to_string());
        let groups = [("group_id_sequence", ga_grp.as_str()), ("group_id_sequence", alice_grp.as_str())];
        let before = snapshot(&mut app.conn(), w.alice);
        let long = "x".repeat(256);
        let cases: [(&[(&str, &str)], String); 5] = [
            (&[("username", "bob")], format!("Can&#39;t rename user &#39;alice&#39; (#{alice}) → &#39;bob&#39;; that conflicts with an existing user with ID {}", w.bob)),
            (&[("username", "alice"), ("email", "not an email")], "Invalid email address".into()),
            (&[("username", "alice"), ("fullname", &long)], "Longer than maximum length 255".into()),
            (&[("username", "alice"), ("language", "fr_FR")], "&#34;fr_FR&#34; is not one of en_GB, da_DK".into()),
            (&[("username", "al ice")], "Invalid string.".into()),
        ];
        for (fields, message) in &cases {
            let mut form = fields.to_vec();
            form.extend(groups);
            let (status, body) = submit(&app, &su, &path, &form).await;
            assert_eq!(status, 400, "{message}");
            assert!(body.contains(message.as_str()), "{message} in {body}");
        }
        assert_eq!(snapshot(&mut app.conn(), w.alice), before, "nothing written");
        // A superuser may not clear their own flag; may set another user's.
        let root = w.root.to_string();
        let (status, body) = submit(&app, &su, &format!("/edit_user?user_id={root}"), &[("username", "root")]).await;
        assert_eq!(status, 403);
        assert!(body.contains(OWN_SUPERUSER));
        assert_eq!(user(&mut app.conn(), w.root).superuser, Some(true));
        // Removing alice's upload group (g_alice) clears it.
        let mut form = vec![("username", "alice"), ("superuser", "true"), ("group_id_sequence", ga_grp.as_str())];
        let (status, body) = submit(&app, &su, &path, &form).await;
        assert_eq!(status, 303, "{body}");
        let u = user(&mut app.conn(), w.alice);
        assert_eq!((u.superuser, u.upload_group_id), (Some(true), None));
        assert_eq!(Membership::for_user(&mut app.conn(), w.alice).unwrap().len(), 1);
        let (actor, details) = crate::user_admin_world::last_audit(&mut app.conn());
        assert_eq!(actor, Some(w.root));
        assert!(details.contains("superuser=true") && details.contains(&format!("removed from groups {}", w.g_alice)), "{details}");
        form[1] = ("superuser", "false");
        form.push(("group_id_sequence", alice_grp.as_str()));
        assert_eq!(submit(&app, &su, &path, &form).await.0, 303);

        // A group administrator: never the superuser flag; own groups only, one at least;
        // the other groups (frozen) are kept whatever is posted.
        let ga = app.browser("admin1", PW).await;
        let page = app.body_with(&ga, &path).await;
        assert!(!page.contains("name=\"superuser\""), "no superuser field for a group administrator");
        assert!(page.contains("Also a member of groups you do not administer (kept): g_alice"), "{page}");
        let before = snapshot(&mut app.conn(), w.alice);
        let (status, body) = submit(&app, &ga, &path, &[("username", "alice"), ("group_id_sequence", &ga_grp), ("superuser", "true")]).await;
        assert_eq!(status, 403);
        assert!(body.contains(GRANT_SUPERUSER));
        let (status, body) = submit(&app, &ga, &path, &[("username", "alice")]).await;
        assert_eq!(status, 400);
        assert!(body.contains("You must specify at least 1 group(s)"));
        assert_eq!(snapshot(&mut app.conn(), w.alice), before);
        let (status, _) = submit(&app, &ga, &path, &[("username", "alice2"), ("group_id_sequence", &ga_grp)]).await;
        assert_eq!(status, 303);
        let u = user(&mut app.conn(), w.alice);
        assert_eq!(u.username, "alice2");
        let mut gids: Vec<i32> = Membership::for_user(&mut app.conn(), w.alice).unwrap().iter().filter_map(|m| m.group_id).collect();
        gids.sort_unstable();
        let mut expected = vec![w.g_admin1, w.g_alice];
        expected.sort_unstable();
        assert_eq!(gids, expected, "g_alice (frozen) kept");
        // Unknown and malformed ids.
        for (bad, message) in [("99999", "Cannot find User with id:99999"), ("abc", "Cannot find User with id:None")] {
            let r = app.get_with(&ga, &format!("/edit_user?user_id={bad}")).await;
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains(message));
        }
    }

    /// admin §3.5: the ten flags; `groupadmin` only by a superuser; only in groups the editor
    /// administers; absent boxes are false.
    async fn membership_validation(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let own = membership_id(&mut app.conn(), w.alice, w.g_admin1);
        let other = membership_id(&mut app.conn(), w.alice, w.g_alice);
        let path = format!("/edit_user_group_membership?user_group_membership_id={own}");
        let page = app.body_with(&ga, &path).await;
        assert!(page.contains("May log in to web front end") && !page.contains("name=\"groupadmin\""), "{page}");
        let before = snapshot(&mut app.conn(), w.alice);
        let (status, body) = submit(&app, &ga, &path, &[("may_upload", "true"), ("groupadmin", "true")]).await;
        assert_eq!(status, 403);
        assert!(body.contains(GRANT_GROUPADMIN));
        let (status, body) = submit(&app, &ga, &format!("/edit_user_group_membership?user_group_membership_id={other}"), &[("may_upload", "true")]).await;
        assert_eq!(status, 403);
        assert!(body.contains(NOT_YOUR_GROUP), "{body}");
        assert_eq!(snapshot(&mut app.conn(), w.alice), before);
        let (status, _) = submit(&app, &ga, &path, &[("may_upload", "true"), ("may_run_reports", "true")]).await;
        assert_eq!(status, 303);
        let m = Membership::find(&mut app.conn(), own).unwrap().unwrap();
        assert_eq!((m.flags.may_upload, m.flags.may_run_reports, m.flags.may_use_webviewer, m.flags.groupadmin), (Some(true), Some(true), Some(false), Some(false)));
        let su = app.browser("root", PW).await;
        let su_path = format!("/edit_user_group_membership?user_group_membership_id={other}");
        assert!(app.body_with(&su, &su_path).await.contains("name=\"groupadmin\""));
        assert_eq!(submit(&app, &su, &su_path, &[("groupadmin", "true"), ("may_use_webviewer", "true")]).await.0, 303);
        assert_eq!(Membership::find(&mut app.conn(), other).unwrap().unwrap().flags.groupadmin, Some(true));
        for (bad, message) in [("99999", "Cannot find UserGroupMembership with id:99999"), ("1x", "Cannot find UserGroupMembership with id:None")] {
            let r = app.get_with(&su, &format!("/edit_user_group_membership?user_group_membership_id={bad}")).await;
            assert_eq!(r.status(), 400, "{bad}");
            assert!(r.text().await.unwrap().contains(message));
        }
    }

    /// admin §3.6 and admin §3.7: the upload group must be one of the user's groups; another user's new
    /// password follows the rules and must differ from their current one.
    async fn upload_group_and_password_validation(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let ga = app.browser("admin1", PW).await;
        let path = format!("/set_other_user_upload_group?user_id={}", w.alice);
        let bob_group = w.g_bob.to_string();
        for bad in [bob_group.as_str(), "abc", "1 OR 1=1"] {
            let (status, body) = submit(&app, &ga, &path, &[("upload_group_id", bad)]).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body.contains("is not one of"), "{body}");
        }
        assert_eq!(user(&mut app.conn(), w.alice).upload_group_id, Some(w.g_alice));
        let g = w.g_admin1.to_string();
        assert_eq!(submit(&app, &ga, &path, &[("upload_group_id", &g)]).await.0, 303);
        assert_eq!(user(&mut app.conn(), w.alice).upload_group_id, Some(w.g_admin1), "GA sets it");
        assert_eq!(submit(&app, &ga, &path, &[("upload_group_id", "")]).await.0, 303);
        assert_eq!(user(&mut app.conn(), w.alice).upload_group_id, None);

        let path = format!("/change_other_password?user_id={}", w.alice);
        let page = app.body_with(&ga, &path).await;
        assert!(page.contains("Change password for user: alice") && page.contains("value=\"true\" checked"), "{page}");
        let before = snapshot(&mut app.conn(), w.alice);
        for (new, confirm, message) in [
            ("qwertyuiop", "qwertyuiop", "That password is used too commonly; try again"),
            ("", "", "Required"),
            (NEW_PW, "different-words-here", "Password did not match confirm"),
            (PW, PW, "New password must differ from old"),
        ] {
            let (status, body) = submit(&app, &ga, &path, &[("new_password", new), ("new_password-confirm", confirm)]).await;
            assert_eq!(status, 400, "{message}");
            assert!(body.contains(message), "{message} in {body}");
        }
        assert_eq!(snapshot(&mut app.conn(), w.alice), before);
    }

    /// Bad bodies: not url-encoded, oversized, a missing CSRF token. Each is a 4xx page and
    /// changes nothing.
    async fn malformed_bodies(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let before = snapshot(&mut app.conn(), w.alice);
        let path = app.url(&format!("/edit_user?user_id={}", w.alice));
        let r = su.post(&path).header("content-type", "application/json").body("{\"username\": 1}").send().await.unwrap();
        assert_eq!(r.status(), 400);
        let huge = format!("username={}", "a".repeat(70_000));
        let r = su.post(&path).header("content-type", "application/x-www-form-urlencoded").body(huge).send().await.unwrap();
        assert_eq!(r.status(), 413);
        let r = app.post_with(&su, &format!("/edit_user?user_id={}", w.alice), &[("username", "alice2")]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("CSRF"));
        assert_eq!(snapshot(&mut app.conn(), w.alice), before);
    }
}
