//! The capability matrix of admin §2.2 as black-box HTTP tests: superuser, group
//! administrator and ordinary user, each action on each kind of target (self, superuser,
//! group administrator, user in own group, user in another group, `system`): the status,
//! the reason on a 403 page, and whether anything changed in the database.

use diesel::prelude::*;

use camcops_web::auth::capability::{
    DELETE_PERMITTED, DELETE_SELF, NO_SHARED_GROUP, SYSTEM_USER, TARGET_GROUPADMIN,
    TARGET_SUPERUSER,
};
use camcops_web::models::group::Membership;
use camcops_web::models::lockout;

use crate::helpers::{location, TestApp};
use crate::testdb::backend_test;
use crate::user_admin_world::{add_member, escaped, snapshot, world, PW};

const GENERIC_403: &str = "You do not have permission to view this page.";

/// The outcome of a plain action (view, edit, unlock) for an actor on a target (admin §2.2):
/// `Ok(())` or `Err(reason shown on the 403 page)`.
fn plain_rule(actor: &str, target: &str) -> Result<(), &'static str> {
    match (actor, target) {
        ("dave", _) => Err(GENERIC_403),
        (_, "system") => Err(SYSTEM_USER),
        ("root", _) => Ok(()),
        ("admin1", "alice") => Ok(()),
        ("admin1", "root2") => Err(TARGET_SUPERUSER),
        ("admin1", "admin1" | "admin2") => Err(TARGET_GROUPADMIN),
        _ => Err(NO_SHARED_GROUP),
    }
}

async fn expect(r: reqwest::Response, expected: Result<u16, &str>, what: &str) {
    let status = r.status().as_u16();
    match expected {
        Ok(code) => assert_eq!(status, code, "{what}"),
        Err(reason) => {
            assert_eq!(status, 403, "{what}");
            let body = r.text().await.unwrap();
            assert!(
                body.contains(&escaped(reason)),
                "{what}: {reason:?} in {body}"
            );
        }
    }
}

backend_test! {
    /// Every page of admin §3 on every kind of target, for each kind of actor: GET statuses and
    /// 403 reasons; POSTs (edit the full name, unlock) change the row only where allowed.
    async fn matrix_of_actors_actions_and_targets(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let targets = [
            ("root2", w.root2), ("admin2", w.admin2), ("alice", w.alice), ("bob", w.bob),
            ("system", w.system),
        ];
        for (actor, actor_id) in [("root", w.root), ("admin1", w.admin1), ("dave", w.dave)] {
            let c = app.browser(actor, PW).await;
            let token = app.page_csrf(&c).await;
            let mut all = vec![(actor, actor_id)];
            all.extend(targets);
            for (target, tid) in all {
                let is_self = tid == actor_id;
                let name = if is_self { "self" } else { target };
                let rule = plain_rule(actor, target);
                let plain = rule.map(|()| 200);
                for page in ["view_user", "edit_user"] {
                    let r = app.get_with(&c, &format!("/{page}?user_id={tid}")).await;
                    expect(r, plain, &format!("{actor} GET {page} {name}")).await;
                }
                // admin §7: a group administrator may set their own upload group.
                let upload = if is_self && actor == "admin1" { Ok(200) } else { plain };
                let r = app.get_with(&c, &format!("/set_other_user_upload_group?user_id={tid}")).await;
                expect(r, upload, &format!("{actor} GET upload group {name}")).await;
                // admin §7: a superuser's own password and MFA are changed on the own pages.
                for (page, own) in [
                    ("change_other_password", "/change_own_password"),
                    ("edit_other_user_mfa", "/edit_own_user_mfa"),
                ] {
                    let r = app.get_with(&c, &format!("/{page}?user_id={tid}")).await;
                    if is_self && actor == "root" {
                        assert_eq!(r.status(), 303, "{actor} GET {page} self");
                        assert_eq!(location(&r), own);
                    } else {
                        expect(r, plain, &format!("{actor} GET {page} {name}")).await;
                    }
                }
                // admin §3.10: everyone here may log in, so deletion is refused after the edit rule.
                let delete = match rule {
                    Ok(()) if is_self => Err(DELETE_SELF),
                    Ok(()) => Err(DELETE_PERMITTED),
                    Err(reason) => Err(reason),
                };
                let r = app.get_with(&c, &format!("/delete_user?user_id={tid}")).await;
                expect(r, delete.map(|()| 200), &format!("{actor} GET delete {name}")).await;

                // POST edit_user: a new full name, username and groups kept.
                let before = snapshot(&mut app.conn(), tid);
                let groups: Vec<String> = Membership::for_user(&mut app.conn(), tid)
                    .unwrap()
                    .iter()
                    .filter_map(|m| m.group_id)
                    .filter(|&g| actor == "root" || g == w.g_admin1)
                    .map(|g| g.to_string())
                    .collect();
                let fullname = format!("Renamed by {actor}");
                let id = tid.to_string();
                let mut form = vec![
                    ("csrf_token", token.as_str()), ("username", target), ("fullname", fullname.as_str()),
                    ("email", ""), ("language", "en_GB"), ("submit", "submit"),
                ];
                if actor == "root" && ["root", "root2"].contains(&target) {
                    form.push(("superuser", "true"));
                }
                form.extend(groups.iter().map(|g| ("group_id_sequence", g.as_str())));
                let r = app.post_with(&c, &format!("/edit_user?user_id={id}"), &form).await;
                let after = snapshot(&mut app.conn(), tid);
                match rule {
                    Ok(()) => {
                        assert_eq!(r.status(), 303, "{actor} POST edit {name}: {}", r.text().await.unwrap());
                        assert!(after.contains(&format!("fullname: Some({fullname:?})")), "{actor} edit {name}: {after}");
                    }
                    Err(reason) => {
                        expect(r, Err(reason), &format!("{actor} POST edit {name}")).await;
                        assert_eq!(before, after, "{actor} POST edit {name} changed nothing");
                    }
                }

                // POST unlock_user on a locked account.
                let now = app.clock().now();
                for _ in 0..10 {
                    lockout::record_failure(&mut app.conn(), target, now, 10, 10).unwrap();
                }
                let r = app.post_with(&c, "/unlock_user", &[("user_id", &id), ("csrf_token", &token)]).await;
                let still_locked = lockout::locked_until(&mut app.conn(), target, now).unwrap().is_some();
                match rule {
                    Ok(()) => {
                        assert_eq!(r.status(), 303, "{actor} unlock {name}");
                        assert!(!still_locked, "{actor} unlock {name}");
                    }
                    Err(reason) => {
                        expect(r, Err(reason), &format!("{actor} unlock {name}")).await;
                        assert!(still_locked, "{actor} unlock {name} changed nothing");
                        lockout::enable_user(&mut app.conn(), target).unwrap();
                    }
                }
            }
        }
    }

    /// The list shows what the matrix allows (admin §2.2 "See the user list"): a superuser sees all
    /// but `system`; a group administrator only the non-superuser, non-group-administrator
    /// users of their groups, each once however many groups they share; an ordinary user
    /// gets 403.
    async fn list_matches_the_matrix(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        // alice is in two of admin1's groups (the original listed her twice).
        add_member(&app, w.admin1, w.g_alice, |m| m.groupadmin = Some(true));
        let su = app.browser("root", PW).await;
        let page = app.body_with(&su, "/view_all_users").await;
        for name in ["root", "root2", "admin1", "admin2", "alice", "bob", "dave"] {
            assert!(page.contains(&format!("<td>{name}</td>")), "{name}: {page}");
        }
        assert!(!page.contains("<td>system</td>"));
        assert!(page.contains("total 7 records"), "{page}");
        let ga = app.browser("admin1", PW).await;
        let page = app.body_with(&ga, "/view_all_users").await;
        for name in ["alice", "dave"] {
            assert!(page.contains(&format!("<td>{name}</td>")), "{name}");
        }
        for name in ["root", "root2", "admin1", "admin2", "bob", "system"] {
            assert!(!page.contains(&format!("<td>{name}</td>")), "{name}: {page}");
        }
        assert!(page.contains("total 2 records"), "{page}");
        assert_eq!(page.matches("<td>alice</td>").count(), 1, "once (admin §8.11)");
        let p1 = app.body_with(&ga, "/view_all_users?rows_per_page=10&page=1").await;
        assert!(p1.contains("(Page 1 of 1; total 2 records)"), "{p1}");
        let p9 = app.body_with(&ga, "/view_all_users?page=9").await;
        assert!(p9.contains("(Page 1 of 1;"), "out of range: the last page");
        for bad in ["rows_per_page=0", "rows_per_page=-1", "rows_per_page=abc", "page=x"] {
            let r = app.get_with(&ga, &format!("/view_all_users?{bad}")).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        let user = app.browser("dave", PW).await;
        for path in ["/view_all_users", "/add_user", &format!("/view_user?user_id={}", w.alice)] {
            let r = app.get_with(&user, path).await;
            assert_eq!(r.status(), 403, "{path}");
        }
    }
}

/// Rows of `_security_users` (the add tests count them).
pub fn user_count(conn: &mut camcops_web::db::DbConnection) -> i64 {
    use camcops_web::db::schema::_security_users as u;
    u::table.count().get_result(conn).unwrap()
}
