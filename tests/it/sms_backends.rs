//! Text messages: the request each backend makes, checked field by field against a local HTTP
//! server standing in for Kapow or Twilio (`SMS_PROVIDER_URL_FOR_TESTS`); provider errors give
//! `SendError::Failed`; the console backend never logs the message text (and so the code) by
//! default.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use base64::Engine;

use camcops_web::config::{SmsBackend, SmsSettings};
use camcops_web::messaging::sms::SmsSender;
use camcops_web::messaging::{Channel, SendError};

/// One request as the stand-in provider received it.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request with `status` and `body`; returns its base URL and the request.
fn provider(status: u16, body: &'static str) -> (String, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap().to_string();
        let path = parts.next().unwrap().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut raw = vec![0u8; len];
        reader.read_exact(&mut raw).unwrap();
        let form = url::form_urlencoded::parse(&raw).into_owned().collect();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        Seen {
            method,
            path,
            headers,
            form,
        }
    });
    (base, handle)
}

fn settings(backend: SmsBackend, base: &str) -> SmsSettings {
    SmsSettings {
        backend,
        timeout_s: 5,
        console_show_messages: false,
        provider_url_for_tests: Some(base.to_string()),
    }
}

fn kapow() -> SmsBackend {
    SmsBackend::Kapow {
        username: "kuser".into(),
        password: "kpass&=+".into(),
    }
}

fn twilio() -> SmsBackend {
    SmsBackend::Twilio {
        sid: "AC0123".into(),
        token: "tok-secret".into(),
        from_phone_number: "+441234567890".into(),
    }
}

fn form(seen: &Seen) -> Vec<(&str, &str)> {
    seen.form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Kapow: a form POST to /scripts/sendsms.php with username, password, mobile (E.164) and
/// sms, exactly as CamCOPS sends it; "OK ..." is success.
#[test]
fn kapow_request_is_camcops_form_post() {
    let (base, seen) = provider(200, "OK 123 credits");
    SmsSender::new(&settings(kapow(), &base))
        .send("+447400123456", "Your CamCOPS verification code is 123456")
        .unwrap();
    let seen = seen.join().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/scripts/sendsms.php");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form(&seen),
        vec![
            ("username", "kuser"),
            ("password", "kpass&=+"),
            ("mobile", "+447400123456"),
            ("sms", "Your CamCOPS verification code is 123456"),
        ]
    );
    assert_eq!(seen.header("authorization"), None);
}

/// Kapow's error replies and HTTP errors are failures, and the reason holds no password or code.
#[test]
fn kapow_errors_are_failures() {
    for (status, body) in [
        (200, "ERROR"),
        (200, "USERPASS"),
        (200, "NOCREDIT"),
        (500, "OK"),
    ] {
        let (base, seen) = provider(status, body);
        let err = SmsSender::new(&settings(kapow(), &base))
            .send("+447400123456", "code 999111")
            .unwrap_err();
        seen.join().unwrap();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                SendError::Failed {
                    channel: Channel::Sms,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            !text.contains("kpass") && !text.contains("999111"),
            "{text}"
        );
    }
}

/// Twilio: POST /2010-04-01/Accounts/<SID>/Messages.json, form To, From, Body, HTTP Basic
/// SID:TOKEN; 2xx is success, anything else a failure.
#[test]
fn twilio_request_is_the_messages_api_call() {
    let (base, seen) = provider(201, "{\"sid\": \"SM1\"}");
    SmsSender::new(&settings(twilio(), &base))
        .send("+447400123456", "Your CamCOPS verification code is 654321")
        .unwrap();
    let seen = seen.join().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/2010-04-01/Accounts/AC0123/Messages.json");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("AC0123:tok-secret");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        form(&seen),
        vec![
            ("To", "+447400123456"),
            ("From", "+441234567890"),
            ("Body", "Your CamCOPS verification code is 654321"),
        ]
    );

    for status in [400, 401, 500] {
        let (base, seen) = provider(status, "{\"code\": 20003}");
        let err = SmsSender::new(&settings(twilio(), &base))
            .send("+447400123456", "x")
            .unwrap_err();
        seen.join().unwrap();
        assert!(matches!(err, SendError::Failed { .. }));
        assert!(!err.to_string().contains("tok-secret"));
    }
}

/// A provider that does not answer: a failure within SMS_TIMEOUT_S, not a hang.
#[test]
fn silent_provider_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut s = settings(twilio(), &base);
    s.timeout_s = 1;
    let err = SmsSender::new(&s).send("+447400123456", "x").unwrap_err();
    assert!(matches!(err, SendError::Failed { .. }), "{err}");
    drop(listener);
}

/// Log lines of this test binary (installed once; other tests' lines are in it too).
fn captured() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.target().starts_with("camcops_web::messaging")
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                if let Some(lines) = LINES.get() {
                    lines.lock().unwrap().push(r.args().to_string());
                }
            }
        }
        fn flush(&self) {}
    }
    LINES.get_or_init(|| {
        if log::set_boxed_logger(Box::new(Capture)).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
        Mutex::new(Vec::new())
    })
}

/// The console backend logs that a message went to a partly hidden number, never its text
/// (the code), unless SMS_CONSOLE_SHOW_MESSAGES is on.
#[test]
fn console_backend_never_logs_the_code_by_default() {
    let lines = captured();
    let mut s = SmsSettings::default();
    assert_eq!(s.backend, SmsBackend::Console);
    SmsSender::new(&s)
        .send("+447400123456", "Your CamCOPS verification code is 480713")
        .unwrap();
    let logged = lines.lock().unwrap().clone();
    assert!(
        logged.iter().any(|l| l.contains("+44*******456")),
        "{logged:?}"
    );
    assert!(!logged.iter().any(|l| l.contains("480713")), "{logged:?}");
    assert!(
        !logged.iter().any(|l| l.contains("+447400123456")),
        "{logged:?}"
    );

    s.console_show_messages = true;
    SmsSender::new(&s)
        .send("+447400123456", "Your CamCOPS verification code is 555019")
        .unwrap();
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("555019")));
}
