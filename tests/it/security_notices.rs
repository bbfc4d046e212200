//! Security notices through a real SMTP server, on every backend: the user is e-mailed when
//! they change their own password, switch their second factor off, or their account is locked
//! by failed logins; a notice names the account and never a password or code.

use std::time::Duration;

use camcops_web::auth::mfa;
use camcops_web::config::MfaMethod;
use camcops_web::models::user::User;

use crate::accounts::set_email;
use crate::helpers::{logged_in, new_client, TestApp};
use crate::mail_server::MailServer;
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";
const NEW_PW: &str = "plum-tractor-violin-42";
const WAIT: Duration = Duration::from_secs(10);

backend_test! {
    async fn notices_for_own_changes_and_lockout(db) {
        let Some(server) = MailServer::start_plain() else {
            return;
        };
        let app = TestApp::spawn_with(db, |s| {
            server.configure(s, &[MfaMethod::NoMfa, MfaMethod::Totp]);
            s.security_notices = true;
            s.lockout_threshold = 3;
        })
        .await;
        let uid = app.create_user("alice", PW);
        set_email(&app, uid, "alice@example.org");

        // Own password changed.
        let c = logged_in(&app, "alice", PW).await;
        let token = app.page_csrf(&c).await;
        let form = [("csrf_token", token.as_str()), ("old_password", PW), ("new_password", NEW_PW), ("new_password_confirm", NEW_PW)];
        let r = app.post_with(&c, "/change_own_password", &form).await;
        assert_eq!(r.status(), 303);
        let m = server.wait_for_message("alice@example.org", WAIT).await.expect("password notice");
        assert_eq!(m.subject, "CamCOPS: your password was changed");
        assert!(m.body.contains("Account: alice"), "{}", m.body);
        assert!(!m.body.contains(NEW_PW) && !m.body.contains(PW), "no password in a notice");

        // Own second factor switched off (with a current code, as the page asks).
        let secret = mfa::new_secret();
        User::set_mfa(&mut app.conn(), uid, "totp", Some(&secret), 0).unwrap();
        let now = app.clock().now().and_utc().timestamp();
        let code = mfa::current_code(&secret, now).unwrap();
        let form = [("csrf_token", token.as_str()), ("mfa_method", "no_mfa"), ("one_time_password", code.as_str())];
        let r = app.post_with(&c, "/edit_own_user_mfa", &form).await;
        assert_eq!(r.status(), 303);
        assert_eq!(User::find(&mut app.conn(), uid).unwrap().unwrap().mfa_method, "no_mfa");
        let deadline = std::time::Instant::now() + WAIT;
        while server.messages().len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let subjects: Vec<String> = server.messages().into_iter().map(|m| m.subject).collect();
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(subjects.contains(&"CamCOPS: multi-factor authentication switched off".to_owned()), "{subjects:?}");
        assert!(!server.messages().iter().any(|m| m.body.contains(&code)), "no code in a notice");

        // Locked by wrong passwords: one notice when the lock starts.
        for _ in 0..3 {
            let r = app.login_with(&new_client(), "alice", "wrong password here").await;
            assert_eq!(r.status(), 303);
        }
        let deadline = std::time::Instant::now() + WAIT;
        while server.messages().len() < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let last = server.messages().pop().unwrap();
        assert_eq!(last.subject, "CamCOPS: your account was locked");
        assert_eq!(server.messages().len(), 3);
    }
}
