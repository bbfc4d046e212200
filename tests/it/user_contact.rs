//! Contact details on the admin pages: the phone number on `/edit_user` (E.164, REGION_CODE,
//! not blanked while it receives MFA codes, nor the e-mail address) and
//! `/view_user_email_addresses` (who is listed for a superuser and for a group administrator,
//! `mailto:` hrefs percent-encoded and texts escaped).

use diesel::prelude::*;

use camcops_web::db::schema::_security_users as su_t;

use crate::helpers::TestApp;
use crate::testdb::backend_test;
use crate::user_admin_world::{submit, user, world, PW};

fn set(app: &TestApp, uid: i32, email: Option<&str>, fullname: Option<&str>, mfa: &str) {
    diesel::update(su_t::table.find(uid))
        .set((
            su_t::email.eq(email),
            su_t::fullname.eq(fullname),
            su_t::mfa_method.eq(mfa),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn phone(app: &TestApp, uid: i32) -> Option<String> {
    user(&mut app.conn(), uid).phone_number
}

backend_test! {
    /// The phone number is stored in E.164 (national numbers in REGION_CODE's region), garbage
    /// gets a 400 with nothing written, and a number or address that receives MFA codes cannot
    /// be blanked (CamCOPS' message for e-mail, the same rule for SMS).
    async fn edit_user_sets_phone_numbers(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        let su = app.browser("root", PW).await;
        let path = format!("/edit_user?user_id={}", w.alice);
        let g = w.g_admin1.to_string();
        let form = |phone: &'static str, email: &'static str| {
            vec![("username", "alice"), ("email", email), ("phone_number", phone), ("group_id_sequence", Box::leak(g.clone().into_boxed_str()) as &str)]
        };
        let page = app.body_with(&su, &path).await;
        assert!(page.contains("name=\"phone_number\""), "{page}");

        let r = submit(&app, &su, &path, &form("07400 123456", "alice@example.org")).await;
        assert_eq!(r.status(), 303);
        assert_eq!(phone(&app, w.alice).as_deref(), Some("+447400123456"));
        let page = app.body_with(&su, &path).await;
        assert!(page.contains("value=\"+447400123456\""), "shown as stored");
        let (_, details) = crate::user_admin_world::last_audit(&mut app.conn());
        assert!(details.contains("phone number changed"), "{details}");

        for bad in ["abc", "123", "'; DROP TABLE _security_users; --", &"9".repeat(300)] {
            let r = submit(&app, &su, &path, &[("username", "alice"), ("email", "alice@example.org"), ("phone_number", bad), ("group_id_sequence", g.as_str())]).await;
            assert_eq!(r.status(), 400, "{bad:.20}");
            assert!(r.text().await.unwrap().contains("Invalid phone number"), "{bad:.20}");
            assert_eq!(phone(&app, w.alice).as_deref(), Some("+447400123456"), "nothing written");
        }

        // A control character is refused before the form is read (400 naming the field).
        let r = submit(&app, &su, &path, &[("username", "alice"), ("email", "alice@example.org"), ("phone_number", "+44 7400\u{7} 123456"), ("group_id_sequence", g.as_str())]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("phone_number"));
        assert_eq!(phone(&app, w.alice).as_deref(), Some("+447400123456"), "nothing written");

        // Codes by SMS go to this number: it cannot be blanked (nor changed to nothing).
        set(&app, w.alice, Some("alice@example.org"), None, "hotp_sms");
        let r = submit(&app, &su, &path, &form("", "alice@example.org")).await;
        assert_eq!(r.status(), 400);
        let body = r.text().await.unwrap();
        assert!(body.contains("This user&#39;s phone number is used for multi-factor authentication"), "{body}");
        assert_eq!(phone(&app, w.alice).as_deref(), Some("+447400123456"));
        // ...but may be changed to another valid number (+country kept as given).
        let r = submit(&app, &su, &path, &form("+1 (201) 234-5678", "alice@example.org")).await;
        assert_eq!(r.status(), 303);
        assert_eq!(phone(&app, w.alice).as_deref(), Some("+12012345678"));

        // Codes by e-mail: the address cannot be blanked (CamCOPS' message).
        set(&app, w.alice, Some("alice@example.org"), None, "hotp_email");
        let r = submit(&app, &su, &path, &form("", "")).await;
        assert_eq!(r.status(), 400);
        let body = r.text().await.unwrap();
        assert!(body.contains("This user&#39;s email address is used for multi-factor authentication. If you want to remove their email address, you must first disable multi-factor authentication"), "{body}");
        assert_eq!(user(&mut app.conn(), w.alice).email.as_deref(), Some("alice@example.org"));

        // Without MFA by SMS a blank number is stored as NULL.
        set(&app, w.alice, Some("alice@example.org"), None, "no_mfa");
        let r = submit(&app, &su, &path, &form("", "alice@example.org")).await;
        assert_eq!(r.status(), 303);
        assert_eq!(phone(&app, w.alice), None);
    }

    /// A superuser sees every user but `system`; a group administrator the plain members of
    /// the groups they administer; others are refused. Users without an address are listed by
    /// name; the others as mailto: links with the address percent-encoded in the href and
    /// every text HTML-escaped.
    async fn user_email_addresses_page(db) {
        let app = TestApp::spawn(db).await;
        let w = world(&app);
        set(&app, w.alice, Some("alice@example.org"), Some("<b>Alice</b> & Co"), "no_mfa");
        set(&app, w.bob, Some("bob@example.org?bcc=evil@example.com&x=\"><script>"), None, "no_mfa");
        set(&app, w.dave, None, None, "no_mfa");
        set(&app, w.admin2, Some("admin2@example.org"), None, "no_mfa");
        set(&app, w.root2, Some(""), None, "no_mfa");

        let ga = app.browser("admin1", PW).await;
        let menu = app.body_with(&ga, "/").await;
        assert!(menu.contains("href=\"/view_user_email_addresses\""), "menu link");
        let r = app.get_with(&ga, "/view_user_email_addresses").await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        let missing = page.split("id=\"missing\"").nth(1).unwrap().split("</ul>").next().unwrap().to_string();
        let links = page.split("id=\"addresses\"").nth(1).unwrap().split("</p>").next().unwrap().to_string();
        assert!(page.contains("Users’ e-mail addresses"));
        assert!(page.contains("Users that you manage who have missing e-mail addresses"));
        assert!(page.contains("E-mail addresses for users that you manage"));
        assert!(missing.contains("<li>dave</li>"), "{missing}");
        assert!(links.contains("<a href=\"mailto:alice@example.org\">&#60;b&#62;Alice&#60;/b&#62; &#38; Co &lt;alice@example.org&gt;</a>"), "{links}");
        // Not managed by admin1: bob (other group), admin2 (a group administrator), root2 (a
        // superuser), system.
        for other in ["bob", "admin2", "root2", "system", "admin1"] {
            assert!(!missing.contains(&format!("<li>{other}</li>")), "{other}: {missing}");
            assert!(!links.contains(&format!("{other}@")), "{other}: {links}");
        }

        let su = app.browser("root", PW).await;
        let page = app.body_with(&su, "/view_user_email_addresses").await;
        let missing = page.split("id=\"missing\"").nth(1).unwrap().split("</ul>").next().unwrap().to_string();
        assert!(page.contains("href=\"mailto:bob@example.org%3Fbcc%3Devil@example.com%26x%3D%22%3E%3Cscript%3E\""), "{page}");
        assert!(!page.contains("<script>"), "escaped");
        assert!(page.contains("href=\"mailto:admin2@example.org\""));
        for name in ["dave", "root2", "root"] {
            assert!(missing.contains(&format!("<li>{name}</li>")), "{name}: {missing}");
        }
        assert!(!missing.contains("<li>system</li>"));

        let plain = app.browser("alice", PW).await;
        let r = app.get_with(&plain, "/view_user_email_addresses").await;
        assert_ne!(r.status(), 200);
        assert!(!r.text().await.unwrap().contains("bob@example.org"));
    }
}

backend_test! {
    /// An administrator changing a user's password or switching their MFA off e-mails the user
    /// a notice (to their own address, no password in it); a failing mail server changes
    /// nothing for the administrator (303 as usual), and is counted.
    async fn admin_changes_send_security_notices(db) {
        use std::time::Duration;
        let Some(mut server) = crate::mail_server::MailServer::start_plain() else {
        return;
    };
        let mail = server.email_settings();
        let app = TestApp::spawn_with(db, |s| {
            s.email = Some(mail);
            s.security_notices = true;
        })
        .await;
        let w = world(&app);
        set(&app, w.alice, Some("alice@example.org"), None, "totp");
        let ga = app.browser("admin1", PW).await;
        let new_pw = "plum-tractor-violin-42";
        let path = format!("/change_other_password?user_id={}", w.alice);
        let r = submit(&app, &ga, &path, &[("new_password", new_pw), ("new_password-confirm", new_pw)]).await;
        assert_eq!(r.status(), 303);
        let m = server.wait_for_message("alice@example.org", Duration::from_secs(10)).await.expect("notice");
        assert_eq!(m.subject, "CamCOPS: your password was changed");
        assert!(m.body.contains("Account: alice") && m.body.contains("An administrator"), "{}", m.body);
        assert!(!m.body.contains(new_pw));

        let path = format!("/edit_other_user_mfa?user_id={}", w.alice);
        let r = submit(&app, &ga, &path, &[("disable_mfa", "true")]).await;
        assert_eq!(r.status(), 303);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.messages_to("alice@example.org").len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all = server.messages_to("alice@example.org");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].subject, "CamCOPS: multi-factor authentication switched off");
        // Already off: no second MFA notice.
        let r = submit(&app, &ga, &path, &[("disable_mfa", "true")]).await;
        assert_eq!(r.status(), 303);

        // The mail server down: the change is made, the page is as usual, the failure counted.
        server.stop();
        let other_pw = "quartz-lantern-meadow-77";
        let path = format!("/change_other_password?user_id={}", w.alice);
        let r = submit(&app, &ga, &path, &[("new_password", other_pw), ("new_password-confirm", other_pw)]).await;
        assert_eq!(r.status(), 303);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let failed = || {
            crate::helpers::metric(
                &app.state.metrics.render(&app.state.pool),
                "camcops_messages_total{channel=\"email\",outcome=\"failed\"}",
            )
        };
        while failed() < 1.0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(failed(), 1.0);
        assert_eq!(server.messages_to("alice@example.org").len(), 2);
    }
}
