//! Mail delivery against a real SMTP server process (`mail_server`): CamCOPS' code mail with
//! its headers and body, STARTTLS with a verified certificate (an untrusted one is refused and
//! nothing is sent in clear), AUTH, a stopped server failing within the bound, metrics, and
//! security notices.

use std::time::{Duration, Instant};

use camcops_web::messaging::{self, Channel, Headers, Notice, SendError};

use crate::helpers::{metric, TestApp};
use crate::mail_server::{MailServer, FROM};
use crate::testdb::TestDb;

async fn app_with_mail(server: &MailServer) -> TestApp {
    let settings = server.email_settings();
    TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings);
        s.security_notices = true;
    })
    .await
}

fn sent(app: &TestApp, channel: &str, outcome: &str) -> f64 {
    let text = app.state.metrics.render(&app.state.pool);
    metric(
        &text,
        &format!("camcops_messages_total{{channel=\"{channel}\",outcome=\"{outcome}\"}}"),
    )
}

/// The code mail is From EMAIL_FROM, To the user, Subject "CamCOPS authentication", text/plain,
/// body "Your CamCOPS verification code is NNNNNN"; over STARTTLS with AUTH; no Sender or
/// Reply-To on code mails (as CamCOPS).
#[actix_web::test]
async fn code_mail_arrives_over_starttls_with_camcops_headers() {
    let Some(server) = MailServer::start_starttls() else {
        return;
    };
    let mut settings = server.email_settings();
    settings.reply_to = Some("Admin <admin@example.org>".into());
    settings.sender = Some("sender@example.org".into());
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings);
    })
    .await;
    messaging::send_code(&app.state, Channel::Email, "alice@example.org", "012345")
        .await
        .unwrap();
    let m = server
        .wait_for_message("alice@example.org", Duration::from_secs(10))
        .await
        .expect("delivered");
    assert_eq!(m.from, FROM);
    assert_eq!(m.mail_from, "camcops@example.org");
    assert_eq!(m.to, "alice@example.org");
    assert_eq!(m.subject, "CamCOPS authentication");
    assert_eq!(m.content_type, "text/plain");
    assert_eq!(
        m.body.trim_end(),
        "Your CamCOPS verification code is 012345"
    );
    assert_eq!(m.sender, "");
    assert_eq!(m.reply_to, "");
    assert!(m.tls, "sent after STARTTLS");
    assert!(m.authenticated, "AUTH with the username");
    assert_eq!(sent(&app, "email", "sent"), 1.0);
    assert_eq!(sent(&app, "email", "failed"), 0.0);
}

/// A plain server with AUTH: the message goes through, authenticated, unencrypted as set.
#[actix_web::test]
async fn plain_server_with_auth_delivers() {
    let Some(server) = MailServer::start_plain_with_auth("bob", "plain-secret") else {
        return;
    };
    let mut settings = server.email_settings();
    assert!(!settings.use_tls);
    settings.username = Some("bob".into());
    settings.password = Some("plain-secret".into());
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings.clone());
    })
    .await;
    messaging::send_email(
        &app.state,
        "Carol <carol@example.org>",
        "Hello",
        "Text ünïcode",
        Headers::FromOnly,
    )
    .await
    .unwrap();
    let m = server
        .wait_for_message("carol@example.org", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(m.authenticated && !m.tls);
    assert_eq!(m.subject, "Hello");
    assert_eq!(m.body.trim_end(), "Text ünïcode");

    // A wrong password is refused by the server: Failed, and the reason holds no password.
    let mut wrong = settings;
    wrong.password = Some("WRONG-pass-xyz".into());
    let app2 = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(wrong);
    })
    .await;
    let err = messaging::send_email(
        &app2.state,
        "carol@example.org",
        "x",
        "y",
        Headers::FromOnly,
    )
    .await
    .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        matches!(
            err,
            SendError::Failed {
                channel: Channel::Email,
                ..
            }
        ),
        "{text}"
    );
    assert!(!text.contains("WRONG-pass-xyz"), "{text}");
    assert_eq!(server.messages_to("carol@example.org").len(), 1);
    assert_eq!(sent(&app2, "email", "failed"), 1.0);
}

/// A certificate the client does not trust (no EMAIL_TLS_CA_FILE): the send fails after
/// STARTTLS and nothing is delivered, in clear or otherwise.
#[actix_web::test]
async fn untrusted_certificate_is_refused() {
    let Some(server) = MailServer::start_starttls() else {
        return;
    };
    let mut settings = server.email_settings();
    settings.tls_ca_file = None;
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings);
    })
    .await;
    let err = messaging::send_code(&app.state, Channel::Email, "dave@example.org", "111111")
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Failed { .. }), "{err}");
    assert!(!err.to_string().contains(MailServer::PASSWORD));
    assert!(server.messages().is_empty());
    assert_eq!(sent(&app, "email", "failed"), 1.0);

    // EMAIL_USE_TLS on against a server without STARTTLS: refused, not sent in clear.
    let Some(plain) = MailServer::start_plain() else {
        return;
    };
    let mut settings = plain.email_settings();
    settings.use_tls = true;
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings);
    })
    .await;
    assert!(
        messaging::send_code(&app.state, Channel::Email, "dave@example.org", "1")
            .await
            .is_err()
    );
    assert!(plain.messages().is_empty());
}

/// A stopped server: SendError::Failed well within the bound (no hang), counted.
#[actix_web::test]
async fn stopped_server_fails_within_the_bound() {
    let Some(mut server) = MailServer::start_plain() else {
        return;
    };
    let app = app_with_mail(&server).await;
    server.stop();
    let start = Instant::now();
    let err = messaging::send_code(&app.state, Channel::Email, "erin@example.org", "222222")
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Failed { .. }), "{err}");
    assert!(start.elapsed() <= app.state.messenger.email_bound());
    assert_eq!(sent(&app, "email", "failed"), 1.0);
}

/// A silent server (accepts the connection, never answers): the send gives up after the
/// timeout instead of hanging.
#[actix_web::test]
async fn silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let Some(server) = MailServer::start_plain() else {
        return;
    };
    let mut settings = server.email_settings();
    settings.port = port;
    settings.timeout_s = 1;
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings);
    })
    .await;
    let err = messaging::send_email(&app.state, "f@example.org", "s", "b", Headers::FromOnly)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Failed { .. }), "{err}");
    drop(listener);
}

/// No mail settings: NotConfigured, not counted as a failure.
#[actix_web::test]
async fn unconfigured_mail_is_not_configured() {
    let app = TestApp::spawn(TestDb::new(camcops_web::db::Backend::Sqlite)).await;
    let err = messaging::send_email(&app.state, "a@example.org", "s", "b", Headers::FromOnly)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::NotConfigured(Channel::Email)));
    assert_eq!(sent(&app, "email", "failed"), 0.0);
}

/// Notices go to the user's own address, with the site's Reply-To, naming the account and
/// holding no secret; switched off by SECURITY_NOTICES; a failure is swallowed but counted.
#[actix_web::test]
async fn security_notices_are_sent_and_can_be_switched_off() {
    let Some(server) = MailServer::start_plain() else {
        return;
    };
    let mut settings = server.email_settings();
    settings.reply_to = Some("Admin <admin@example.org>".into());
    let app = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings.clone());
        s.security_notices = true;
    })
    .await;
    messaging::send_notice(
        &app.state,
        Some("gina@example.org"),
        "gina",
        Notice::PasswordChanged { by_admin: true },
    )
    .await;
    let m = server
        .wait_for_message("gina@example.org", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(m.subject, "CamCOPS: your password was changed");
    assert!(m.body.contains("Account: gina"), "{}", m.body);
    assert!(m.body.contains("An administrator changed"), "{}", m.body);
    assert_eq!(m.reply_to, "Admin <admin@example.org>");
    // No address: nothing sent, nothing counted.
    messaging::send_notice(&app.state, None, "gina", Notice::AccountLocked).await;
    messaging::send_notice(&app.state, Some("  "), "gina", Notice::AccountLocked).await;
    assert_eq!(sent(&app, "email", "sent"), 1.0);

    let off = TestApp::spawn_with(TestDb::new(camcops_web::db::Backend::Sqlite), |s| {
        s.email = Some(settings.clone());
        s.security_notices = false;
    })
    .await;
    messaging::send_notice(
        &off.state,
        Some("hal@example.org"),
        "hal",
        Notice::MfaChanged,
    )
    .await;
    assert_eq!(sent(&off, "email", "sent"), 0.0);
    assert!(server.messages_to("hal@example.org").is_empty());
}
