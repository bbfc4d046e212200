//! Tests of `Settings::from_ini_str`/`load`, `config_path` and `demo_config_text`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
const DB: &str = "/tmp/camcops-web-config-test.sqlite";
const ORIGINAL_DEMO: &str = include_str!("../../tests/fixtures/camcops_original_demo.conf");

fn minimal() -> String {
    format!("[site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET = {SECRET}\n")
}

fn load(text: &str) -> Result<Settings, ConfigError> {
    Settings::from_ini_str(text, "test.conf")
}

/// Loads the minimal file plus `extra` lines in `[site]` and `server` lines in `[server]`.
fn with(extra_site: &str, server: &str) -> Result<Settings, ConfigError> {
    load(&format!("{}{extra_site}\n[server]\n{server}\n", minimal()))
}

/// Asserts a `BadValue` for `key` in `section`, with the message naming both.
fn assert_bad(result: Result<Settings, ConfigError>, key: &str, section: &str) -> String {
    let err = result.expect_err("expected an error");
    let msg = err.to_string();
    match &err {
        ConfigError::BadValue {
            key: k, section: s, ..
        } => {
            assert_eq!((*k, *s), (key, section), "{msg}");
        }
        other => panic!("expected BadValue for {key}, got {other:?}"),
    }
    assert!(
        msg.contains(key) && msg.contains(&format!("[{section}]")),
        "{msg}"
    );
    msg
}

/// Asserts a `Missing` error for `key` in `section`.
fn assert_missing(e: &ConfigError, key: &str, section: &str) {
    assert!(
        matches!(e, ConfigError::Missing { key: k, section: s } if *k == key && *s == section),
        "{e}"
    );
}

fn assert_defaults_except_db_and_secret(s: &Settings) {
    let d = Settings::with_defaults(s.db_url.clone(), s.session_cookie_secret.clone());
    assert_eq!(format!("{s:?}"), format!("{d:?}"));
}

#[test]
fn minimal_file_gives_every_default() {
    let s = load(&minimal()).unwrap();
    assert_eq!(s.db_url.url, DB);
    assert_eq!(s.session_cookie_secret.expose(), SECRET);
    assert!(!s.db_echo);
    assert_eq!(s.db_pool_size, 10);
    assert_eq!(s.session_timeout_minutes, 30);
    assert_eq!(s.session_max_lifetime_minutes, 720);
    assert_eq!(s.session_activity_write_interval_s, 60);
    assert!(s.session_check_user_ip);
    assert_eq!(s.password_change_frequency_days, 0);
    assert_eq!(s.lockout_threshold, 10);
    assert_eq!(s.lockout_duration_increment_minutes, 10);
    assert_eq!(s.login_failures_per_address, 50);
    assert_eq!(s.login_failures_per_address_window_minutes, 10);
    assert!(s.disable_password_autocomplete);
    assert_eq!(s.mfa_methods, vec![MfaMethod::NoMfa]);
    assert_eq!(s.mfa_timeout_s, 600);
    assert!(!s.allow_insecure_cookies);
    assert_eq!(s.bcrypt_cost, 12);
    assert_eq!(s.host, "127.0.0.1");
    assert_eq!(s.port, 8000);
    assert_eq!(s.unix_domain_socket, None);
    assert_eq!(s.ssl_certificate, None);
    assert_eq!(s.ssl_private_key, None);
    assert_eq!(s.client_ip_source, ClientIpSource::Socket);
    assert_defaults_except_db_and_secret(&s);
}

#[test]
fn every_key_is_read() {
    let s = with(
        "DB_ECHO = yes\nDB_POOL_SIZE = 3\nSESSION_TIMEOUT_MINUTES = 5\n\
         SESSION_MAX_LIFETIME_MINUTES = 0\nSESSION_ACTIVITY_WRITE_INTERVAL_S = 0\n\
         SESSION_CHECK_USER_IP = off\nPASSWORD_CHANGE_FREQUENCY_DAYS = 90\n\
         LOCKOUT_THRESHOLD = 3\nLOCKOUT_DURATION_INCREMENT_MINUTES = 1\n\
         LOGIN_FAILURES_PER_ADDRESS = 0\nLOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES = 60\n\
         DISABLE_PASSWORD_AUTOCOMPLETE = 0\nMFA_TIMEOUT_S = 0\nALLOW_INSECURE_COOKIES = TRUE\n\
         BCRYPT_COST = 4",
        "HOST = 0.0.0.0\nPORT = 443\nUNIX_DOMAIN_SOCKET = /run/camcops/camcops.socket\n\
         TRUSTED_PROXY_HEADERS = HTTP_X_REAL_IP",
    )
    .unwrap();
    assert!(s.db_echo);
    assert_eq!(s.db_pool_size, 3);
    assert_eq!(s.session_timeout_minutes, 5);
    assert_eq!(s.session_max_lifetime_minutes, 0);
    assert_eq!(s.session_activity_write_interval_s, 0);
    assert!(!s.session_check_user_ip);
    assert_eq!(s.password_change_frequency_days, 90);
    assert_eq!(s.lockout_threshold, 3);
    assert_eq!(s.lockout_duration_increment_minutes, 1);
    assert_eq!(s.login_failures_per_address, 0);
    assert_eq!(s.login_failures_per_address_window_minutes, 60);
    assert!(!s.disable_password_autocomplete);
    assert_eq!(s.mfa_timeout_s, 0);
    assert!(s.allow_insecure_cookies);
    assert_eq!(s.cookie_name(), "camcops");
    assert_eq!(s.bcrypt_cost, 4);
    assert_eq!(s.host, "0.0.0.0");
    assert_eq!(s.port, 443);
    assert_eq!(
        s.unix_domain_socket,
        Some(PathBuf::from("/run/camcops/camcops.socket"))
    );
    assert_eq!(s.client_ip_source, ClientIpSource::XRealIp);
}

#[test]
fn empty_values_mean_default() {
    let s = with(
        "DB_ECHO =\nDB_POOL_SIZE =\nMFA_METHODS =\nBCRYPT_COST =   \nSESSION_TIMEOUT_MINUTES:",
        "HOST =\nPORT =\nSSL_CERTIFICATE = \nSSL_PRIVATE_KEY =\nTRUSTED_PROXY_HEADERS =",
    )
    .unwrap();
    assert_defaults_except_db_and_secret(&s);
}

#[test]
fn each_bad_value_is_a_named_error() {
    let site_cases = [
        ("DB_ECHO", "maybe"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_SIZE", "1001"),
        ("SESSION_TIMEOUT_MINUTES", "0"),
        ("SESSION_TIMEOUT_MINUTES", "thirty"),
        ("SESSION_MAX_LIFETIME_MINUTES", "-1"),
        ("SESSION_ACTIVITY_WRITE_INTERVAL_S", "-5"),
        ("SESSION_CHECK_USER_IP", "2"),
        ("PASSWORD_CHANGE_FREQUENCY_DAYS", "-1"),
        ("LOCKOUT_THRESHOLD", "0"),
        ("LOCKOUT_DURATION_INCREMENT_MINUTES", "0"),
        ("LOGIN_FAILURES_PER_ADDRESS", "-1"),
        ("LOGIN_FAILURES_PER_ADDRESS", "10001"),
        ("LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES", "0"),
        ("LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES", "1441"),
        ("DISABLE_PASSWORD_AUTOCOMPLETE", "yep"),
        ("MFA_METHODS", "sms"),
        ("MFA_TIMEOUT_S", "1.5"),
        ("ALLOW_INSECURE_COOKIES", "y"),
        ("BCRYPT_COST", "3"),
        ("BCRYPT_COST", "32"),
    ];
    for (key, value) in site_cases {
        let msg = assert_bad(with(&format!("{key} = {value}"), ""), key, "site");
        assert!(msg.contains(value), "{msg}");
    }
    let server_cases = [
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "http"),
        ("TRUSTED_PROXY_HEADERS", "X-Forwarded-For"),
    ];
    for (key, value) in server_cases {
        let msg = assert_bad(with("", &format!("{key} = {value}")), key, "server");
        assert!(msg.contains(value), "{msg}");
    }
}

#[test]
fn bad_value_messages_say_what_is_accepted() {
    let msg = assert_bad(with("DB_ECHO = maybe", ""), "DB_ECHO", "site");
    assert!(msg.contains("yes") && msg.contains("off"), "{msg}");
    let msg = assert_bad(with("BCRYPT_COST = 99", ""), "BCRYPT_COST", "site");
    assert!(msg.contains("from 4 to 31"), "{msg}");
    let msg = assert_bad(with("MFA_METHODS = email", ""), "MFA_METHODS", "site");
    assert!(msg.contains("hotp_email"), "{msg}");
    // Codes by e-mail need a mail server: the error names the keys to set.
    let msg = assert_bad(
        with("MFA_METHODS =\n    hotp_email\n    hotp_sms", ""),
        "MFA_METHODS",
        "site",
    );
    assert!(
        msg.contains("EMAIL_HOST") && msg.contains("EMAIL_FROM"),
        "{msg}"
    );
    // Every method alone is accepted when it can work (SMS by the console backend too).
    let s = with(
        "MFA_METHODS =\n    hotp_email\nEMAIL_HOST = smtp.example.org\nEMAIL_FROM = a@example.org",
        "",
    )
    .unwrap();
    assert_eq!(s.mfa_methods, vec![MfaMethod::HotpEmail]);
    assert_eq!(
        with("MFA_METHODS = hotp_sms", "").unwrap().mfa_methods,
        vec![MfaMethod::HotpSms]
    );
    let msg = assert_bad(
        with("", "TRUSTED_PROXY_HEADERS = HTTP_FORWARDED"),
        "TRUSTED_PROXY_HEADERS",
        "server",
    );
    for name in TRUSTED_PROXY_HEADER_NAMES {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn keys_are_case_insensitive_sections_are_not() {
    let s = load(&format!(
        "[site]\ndb_url = {DB}\nSession_Cookie_Secret: {SECRET}\nbcrypt_COST = 5\n\
         [server]\nport = 9000\n"
    ))
    .unwrap();
    assert_eq!(s.bcrypt_cost, 5);
    assert_eq!(s.port, 9000);
    let e = load(&format!(
        "[Site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET = {SECRET}\n"
    ))
    .unwrap_err();
    assert_missing(&e, "DB_URL", "site");
    let s = with("", "").unwrap();
    let t = load(&format!("{}[SERVER]\nPORT = 1\n", minimal())).unwrap();
    assert_eq!(s.port, t.port, "[SERVER] is not [server]");
}

#[test]
fn multiline_lists() {
    let s = with(
        "MFA_METHODS =\n    TOTP\n\n    no_mfa\n    hotp_email\n    totp\n\
         EMAIL_HOST = smtp.example.org\nEMAIL_FROM = a@example.org",
        "TRUSTED_PROXY_HEADERS =\n    HTTP_X_FORWARDED_HOST\n    http_x_real_ip\n\
         \x20   HTTP_X_FORWARDED_FOR\n",
    )
    .unwrap();
    assert_eq!(
        s.mfa_methods,
        vec![MfaMethod::Totp, MfaMethod::NoMfa, MfaMethod::HotpEmail]
    );
    assert_eq!(s.client_ip_source, ClientIpSource::XForwardedFor);
    let s = with(
        "MFA_METHODS = hotp_sms\n  totp",
        "TRUSTED_PROXY_HEADERS = HTTP_X_HOST",
    )
    .unwrap();
    assert_eq!(s.mfa_methods, vec![MfaMethod::HotpSms, MfaMethod::Totp]);
    assert_eq!(s.client_ip_source, ClientIpSource::Socket);
}

#[test]
fn comments_blank_lines_and_colons() {
    let text = format!(
        "# comment\n; another\n\n[site]\n  # indented comment\nDB_URL: {DB}\n\
         SESSION_COOKIE_SECRET = {SECRET}\n; LOCKOUT_THRESHOLD = 0\n# BCRYPT_COST = 99\n\
         [server]\nHOST = example.org # not a comment\n"
    );
    let s = load(&text).unwrap();
    assert_eq!(s.lockout_threshold, 10);
    assert_eq!(s.bcrypt_cost, 12);
    assert_eq!(s.host, "example.org # not a comment");
}

#[test]
fn secret_rules() {
    let e = load(&format!(
        "[site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET = tooshort\n"
    ))
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("SESSION_COOKIE_SECRET") && msg.contains("32 bytes"),
        "{msg}"
    );
    assert!(!msg.contains("tooshort"), "the secret leaked: {msg}");
    for text in [
        format!("[site]\nDB_URL = {DB}\n"),
        format!("[site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET =\n"),
    ] {
        let e = load(&text).unwrap_err();
        assert_missing(&e, "SESSION_COOKIE_SECRET", "site");
    }
    // exactly 32 bytes is enough
    let s = load(&format!(
        "[site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET = {}\n",
        "x".repeat(32)
    ));
    assert!(s.is_ok());
    // a bad % in the secret is an error that does not show it
    let e = load(&format!(
        "[site]\nDB_URL = {DB}\nSESSION_COOKIE_SECRET = {SECRET}%zz\n"
    ))
    .unwrap_err();
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(!format!("{:?}", load(&minimal()).unwrap()).contains(SECRET));
}

#[test]
fn db_url_rules() {
    for text in [
        format!("[site]\nSESSION_COOKIE_SECRET = {SECRET}\n"),
        format!("[site]\nDB_URL =\nSESSION_COOKIE_SECRET = {SECRET}\n"),
        "[server]\nPORT = 1\n".to_string(),
        String::new(),
    ] {
        let e = load(&text).unwrap_err();
        assert_missing(&e, "DB_URL", "site");
    }
    let e = load(&format!(
        "[site]\nDB_URL = oracle://scott:tiger123@h/db\nSESSION_COOKIE_SECRET = {SECRET}\n"
    ))
    .unwrap_err();
    let msg = assert_bad(Err(e), "DB_URL", "site");
    assert!(msg.contains("oracle") && !msg.contains("tiger123"), "{msg}");
    // %% is a literal % (as in Python configparser), so URL-encoded passwords work
    let s = load(&format!(
        "[site]\nDB_URL = /tmp/a%%20b.sqlite\nSESSION_COOKIE_SECRET = {SECRET}\n"
    ))
    .unwrap();
    assert_eq!(s.db_url.url, "/tmp/a%20b.sqlite");
}

#[test]
fn ssl_files() {
    let missing = "/nonexistent/camcops/cert.pem";
    let msg = assert_bad(
        with(
            "",
            &format!("SSL_CERTIFICATE = {missing}\nSSL_PRIVATE_KEY = {missing}"),
        ),
        "SSL_CERTIFICATE",
        "server",
    );
    assert!(msg.contains(missing), "{msg}");
    let mut cert = tempfile::NamedTempFile::new().unwrap();
    writeln!(cert, "-----BEGIN CERTIFICATE-----").unwrap();
    let key = tempfile::NamedTempFile::new().unwrap();
    let (c, k) = (cert.path().display(), key.path().display());
    let s = with("", &format!("SSL_CERTIFICATE = {c}\nSSL_PRIVATE_KEY = {k}")).unwrap();
    assert!(s.tls());
    assert_bad(
        with("", &format!("SSL_CERTIFICATE = {c}")),
        "SSL_PRIVATE_KEY",
        "server",
    );
    assert_bad(
        with("", &format!("SSL_PRIVATE_KEY = {k}")),
        "SSL_CERTIFICATE",
        "server",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    assert_bad(
        with("", &format!("SSL_CERTIFICATE = {d}\nSSL_PRIVATE_KEY = {k}")),
        "SSL_CERTIFICATE",
        "server",
    );
}

#[test]
fn scalar_keys_take_one_line_and_errors_show_only_that_line() {
    // an indented line continues the value above: here DB_URL would swallow the secret
    let text = format!("[site]\nDB_URL = oracle://u@h/db\n  SESSION_COOKIE_SECRET = {SECRET}\n");
    let msg = assert_bad(load(&text), "DB_URL", "site");
    assert!(
        msg.contains("single line") && !msg.contains(SECRET),
        "{msg}"
    );
    let msg = assert_bad(with("BCRYPT_COST = 10\n    11", ""), "BCRYPT_COST", "site");
    assert!(msg.contains("\"10\"") && !msg.contains("11"), "{msg}");
    // a value may start on the line after its key
    let s = with("BCRYPT_COST =\n    10", "").unwrap();
    assert_eq!(s.bcrypt_cost, 10);
}

#[test]
fn activity_interval_must_be_shorter_than_idle_timeout() {
    let msg = assert_bad(
        with(
            "SESSION_TIMEOUT_MINUTES = 1\nSESSION_ACTIVITY_WRITE_INTERVAL_S = 60",
            "",
        ),
        "SESSION_ACTIVITY_WRITE_INTERVAL_S",
        "site",
    );
    assert!(msg.contains("SESSION_TIMEOUT_MINUTES"), "{msg}");
    let s = with("SESSION_TIMEOUT_MINUTES = 1", "").unwrap();
    assert_eq!(s.session_activity_write_interval_s, 30);
    let s = with(
        "SESSION_TIMEOUT_MINUTES = 1\nSESSION_ACTIVITY_WRITE_INTERVAL_S = 59",
        "",
    )
    .unwrap();
    assert_eq!(s.session_activity_write_interval_s, 59);
}

#[test]
fn syntax_errors_name_the_origin_and_line() {
    let e = load(&format!("{}[server]\nPORT 8000\n", minimal())).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::File { .. }), "{msg}");
    assert!(msg.contains("test.conf") && msg.contains("line 5"), "{msg}");
    let e = load(&format!("{}DB_URL = x\n", minimal())).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
}

#[test]
fn other_sections_and_keys_are_ignored() {
    let s = load(&format!(
        "{}LANGUAGE = da_DK\nPATIENT_SPEC = {{surname}}\nNOT_A_REAL_KEY = 1\n\
         [server]\nCHERRYPY_THREADS_MAX = lots\nGUNICORN_TIMEOUT_S = 30\n\
         [export]\nCELERY_BROKER_URL = amqp://\nSCHEDULE = 50% of the time\n\
         [recipient:x]\nDB_URL = not a url\n[sms_backend:kapow]\nusername = u\n",
        minimal()
    ))
    .unwrap();
    assert_defaults_except_db_and_secret(&s);
}

#[test]
fn original_demo_config_loads() {
    let result = load(ORIGINAL_DEMO);
    if cfg!(feature = "mysql") {
        let s = result.unwrap();
        assert_eq!(
            s.db_url.url,
            "mysql://YYY_USERNAME_REPLACE_ME:ZZZ_PASSWORD_REPLACE_ME@localhost:3306/camcops"
        );
    } else {
        let msg = assert_bad(result, "DB_URL", "site");
        assert!(msg.contains("--features mysql"), "{msg}");
        assert!(!msg.contains("ZZZ_PASSWORD_REPLACE_ME"), "{msg}");
    }
    let sqlite = ORIGINAL_DEMO
        .lines()
        .map(|l| {
            if l.starts_with("DB_URL = mysql") {
                format!("DB_URL = {DB}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let s = load(&sqlite).unwrap();
    assert!(s
        .session_cookie_secret
        .expose()
        .starts_with("camcops_autogenerated_secret_"));
    assert_eq!(s.session_cookie_secret.expose().len(), 29 + 88);
    assert_eq!(s.client_ip_source, ClientIpSource::XForwardedFor);
    assert_eq!(s.ssl_certificate, None);
    // CamCOPS' demo mail settings are read as they are (no Sender: EMAIL_SENDER is blank).
    let email = super::EmailSettings {
        host: "mysmtpserver.mydomain".into(),
        port: 587,
        use_tls: true,
        username: Some("myusername".into()),
        password: Some("mypassword".into()),
        from: "CamCOPS computer <noreply@myinstitution.mydomain>".into(),
        sender: None,
        reply_to: Some("CamCOPS clinical administrator <admin@myinstitution.mydomain>".into()),
        timeout_s: 10,
        tls_ca_file: None,
    };
    assert_eq!(s.email.as_ref(), Some(&email));
    assert!(
        !format!("{s:?}").contains("mypassword"),
        "Debug hides the SMTP password"
    );
    let expected = Settings {
        client_ip_source: ClientIpSource::XForwardedFor,
        email: Some(email),
        security_notices: true,
        ..Settings::with_defaults(s.db_url.clone(), s.session_cookie_secret.clone())
    };
    assert_eq!(format!("{s:?}"), format!("{expected:?}"));
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/camcops_original_demo.conf");
    let r = Settings::load(&path);
    assert_eq!(r.is_ok(), cfg!(feature = "mysql"), "{r:?}");
    let e = Settings::load(Path::new("/nonexistent/camcops.conf")).unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }));
    assert!(e.to_string().contains("/nonexistent/camcops.conf"), "{e}");
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"[site]\nDB_URL = \xff\n").unwrap();
    let e = Settings::load(f.path()).unwrap_err();
    assert!(
        e.to_string().contains("line 2") && e.to_string().contains("UTF-8"),
        "{e}"
    );
}

#[test]
fn config_path_precedence() {
    let cli = Path::new("/etc/camcops/camcops.conf");
    let env = || Some(OsString::from("/from/env.conf"));
    assert_eq!(config_path_from(Some(cli), env()).unwrap(), cli);
    assert_eq!(
        config_path_from(None, env()).unwrap(),
        PathBuf::from("/from/env.conf")
    );
    assert!(matches!(
        config_path_from(None, None),
        Err(ConfigError::NoFile)
    ));
    assert!(matches!(
        config_path_from(None, Some(OsString::new())),
        Err(ConfigError::NoFile)
    ));
    assert_eq!(config_path(Some(cli)).unwrap(), cli);
}

#[test]
fn demo_config_round_trips_with_a_fresh_secret() {
    let a = demo_config_text(DB);
    let b = demo_config_text(DB);
    let sa = load(&a).unwrap();
    let sb = load(&b).unwrap();
    assert_ne!(sa.session_cookie_secret, sb.session_cookie_secret);
    for s in [&sa, &sb] {
        assert_eq!(s.db_url.url, DB);
        let suffix = s
            .session_cookie_secret
            .expose()
            .strip_prefix("camcops_autogenerated_secret_")
            .unwrap();
        assert_eq!(suffix.len(), 88);
        assert!(suffix.ends_with("=="));
        assert!(suffix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_=".contains(&c)));
        assert_defaults_except_db_and_secret(s);
    }
    // every key this program reads appears in the demo, in its section
    for key in load::SITE_KEYS_USED
        .iter()
        .chain(super::messaging::SITE_KEYS)
        .chain(load::SERVER_KEYS_USED)
    {
        assert!(
            a.contains(&format!("\n{key} =")),
            "{key} missing from the demo"
        );
    }
    let with_percent = demo_config_text("/tmp/50%.sqlite");
    assert_eq!(load(&with_percent).unwrap().db_url.url, "/tmp/50%.sqlite");
}

/// The mail, SMS and region keys: CamCOPS' names and defaults, and startup refusing what
/// cannot work (bad addresses, ports, a user without a host, unknown backends, missing
/// backend credentials, unknown regions) without showing a password.
#[test]
fn mail_and_sms_settings() {
    use super::{SmsBackend, KAPOW_SECTION, TWILIO_SECTION};
    let s = with("", "").unwrap();
    assert_eq!(s.email, None);
    assert!(!s.security_notices, "off without mail");
    assert_eq!(s.sms.backend, SmsBackend::Console);
    assert_eq!(s.region_code, "GB");
    let mail = "EMAIL_HOST = smtp.example.org\nEMAIL_FROM = CamCOPS <c@example.org>\n";
    let s = with(mail, "").unwrap();
    let e = s.email.clone().unwrap();
    assert_eq!((e.port, e.use_tls, e.timeout_s), (587, true, 10));
    assert!(!e.implicit_tls());
    assert!(s.security_notices, "on with mail");
    let s = with(
        &format!("{mail}EMAIL_PORT = 465\nSECURITY_NOTICES = off"),
        "",
    )
    .unwrap();
    assert!(s.email.unwrap().implicit_tls());
    assert!(!s.security_notices);

    let msg = assert_bad(
        with(&format!("{mail}EMAIL_PORT = 70000"), ""),
        "EMAIL_PORT",
        "site",
    );
    assert!(msg.contains("1 to 65535"), "{msg}");
    assert_bad(
        with(
            "EMAIL_HOST = smtp.example.org\nEMAIL_FROM = not an address",
            "",
        ),
        "EMAIL_FROM",
        "site",
    );
    assert_bad(
        with(&format!("{mail}EMAIL_REPLY_TO = a@b@c"), ""),
        "EMAIL_REPLY_TO",
        "site",
    );
    assert_bad(
        with(&format!("{mail}EMAIL_TLS_CA_FILE = /nonexistent.pem"), ""),
        "EMAIL_TLS_CA_FILE",
        "site",
    );
    assert_bad(
        with("EMAIL_HOST = smtp example\nEMAIL_FROM = a@b.org", ""),
        "EMAIL_HOST",
        "site",
    );
    let e = with("EMAIL_HOST = smtp.example.org", "").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Missing {
                key: "EMAIL_FROM",
                ..
            }
        ),
        "{e}"
    );
    let msg = assert_bad(
        with(
            "EMAIL_HOST_USERNAME = u\nEMAIL_HOST_PASSWORD = hunter2-secret",
            "",
        ),
        "EMAIL_HOST",
        "site",
    );
    assert!(
        msg.contains("EMAIL_HOST_USERNAME") && !msg.contains("hunter2-secret"),
        "{msg}"
    );
    let s = with(
        &format!("{mail}EMAIL_HOST_USERNAME = u\nEMAIL_HOST_PASSWORD = hunter2-secret"),
        "",
    )
    .unwrap();
    assert!(!format!("{s:?}").contains("hunter2-secret"));

    assert_bad(with("SMS_BACKEND = pigeon", ""), "SMS_BACKEND", "site");
    let e = with("SMS_BACKEND = kapow", "").unwrap_err();
    assert_missing(&e, "USERNAME", KAPOW_SECTION);
    let s = load(&format!(
        "{}SMS_BACKEND = Twilio\n[{TWILIO_SECTION}]\nsid = AC1\nToken = tok-secret\nFROM_PHONE_NUMBER = +441234567890\n",
        minimal()
    ))
    .unwrap();
    assert_eq!(
        s.sms.backend,
        SmsBackend::Twilio {
            sid: "AC1".into(),
            token: "tok-secret".into(),
            from_phone_number: "+441234567890".into()
        }
    );
    assert!(!format!("{s:?}").contains("tok-secret"));
    let s = load(&format!(
        "{}SMS_BACKEND = kapow\n[{KAPOW_SECTION}]\nUSERNAME = ku\nPASSWORD = kapow-secret\n",
        minimal()
    ))
    .unwrap();
    assert_eq!(
        s.sms.backend,
        SmsBackend::Kapow {
            username: "ku".into(),
            password: "kapow-secret".into()
        }
    );
    assert!(!format!("{s:?}").contains("kapow-secret"));
    assert_bad(
        with("SMS_PROVIDER_URL_FOR_TESTS = ftp://x", ""),
        "SMS_PROVIDER_URL_FOR_TESTS",
        "site",
    );
    assert_bad(with("REGION_CODE = XX", ""), "REGION_CODE", "site");
    assert_eq!(with("REGION_CODE = us", "").unwrap().region_code, "US");
}

mod properties {
    //! Property tests of the INI reader: any text never panics; what is written in the
    //! format reads back the same.

    use proptest::prelude::*;

    use super::super::ini::Ini;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary text (any characters, INI-looking lines included) never panics, and
        /// every value it yields can be interpolated without panicking.
        #[test]
        fn arbitrary_text_never_panics(
            text in prop::collection::vec(
                prop_oneof![
                    "\\PC{0,40}",
                    "\\[[a-zA-Z%()]{0,8}\\]",
                    "[ \t]{0,2}[a-zA-Z_]{1,8}[ ]?[=:][ ]?[%()a-z \\PC]{0,20}",
                    "[#;].{0,10}",
                ],
                0..20,
            ).prop_map(|lines| lines.join("\n"))
        ) {
            if let Ok(ini) = Ini::parse(&text) {
                for s in ini.sections() {
                    for o in &s.options {
                        let _ = ini.get(&s.name, &o.key);
                    }
                }
            }
        }

        /// `KEY = value` lines (a `%` written as `%%`, list items as indented lines) read
        /// back as the value, keys case-insensitively.
        #[test]
        fn written_values_read_back(
            entries in prop::collection::btree_map(
                "[a-z][a-z0-9_]{0,11}",
                prop::collection::vec("[A-Za-z0-9/][ -~]{0,20}[!-~]|[A-Za-z0-9]", 1..4),
                1..8,
            )
        ) {
            let mut text = String::from("[site]\n");
            for (k, items) in &entries {
                let esc: Vec<String> = items.iter().map(|v| v.replace('%', "%%")).collect();
                text.push_str(&format!("{} = {}\n", k.to_uppercase(), esc[0]));
                for more in &esc[1..] {
                    text.push_str(&format!("    {more}\n"));
                }
            }
            let ini = Ini::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            for (k, items) in &entries {
                let got = ini.get("site", k).expect("key present").expect("interpolates");
                prop_assert_eq!(got, items.join("\n"));
            }
        }
    }
}
