//! A real SMTP server for tests: `tests/support/smtp_server.py` (Python's aiosmtpd) run as a
//! child process, plain or with STARTTLS (a CA and server certificate made here with rcgen),
//! writing each delivered message as JSON to a directory that tests read back.
//!
//! ```ignore
//! let Some(server) = MailServer::start_starttls() else { return };
//! settings.email = Some(server.email_settings());
//! // ... make the app send ...
//! let m = server.wait_for_message("alice@example.org", Duration::from_secs(10)).await.unwrap();
//! ```
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camcops_web::config::{EmailSettings, MfaMethod, Settings};

/// The sender address the settings of [`MailServer::email_settings`] use.
pub const FROM: &str = "CamCOPS server <camcops@example.org>";

/// One delivered message, as the server parsed it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailMessage {
    /// Envelope sender (MAIL FROM).
    pub mail_from: String,
    /// Envelope recipients (RCPT TO).
    pub rcpt_tos: Vec<String>,
    /// `From:` header.
    pub from: String,
    /// `To:` header.
    pub to: String,
    /// `Subject:` header (decoded).
    pub subject: String,
    /// `Sender:` header ("" when absent).
    pub sender: String,
    /// `Reply-To:` header ("" when absent).
    pub reply_to: String,
    /// MIME type of the message, e.g. `text/plain`.
    pub content_type: String,
    /// The text/plain body, decoded.
    pub body: String,
    /// Whether the session was encrypted (STARTTLS) when the message was sent.
    pub tls: bool,
    /// Whether the client authenticated.
    pub authenticated: bool,
}

/// A running test SMTP server; killed on drop.
pub struct MailServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    starttls: bool,
    auth: Option<(String, String)>,
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Writes a CA certificate and a server certificate for `localhost`/`127.0.0.1` signed by it;
/// returns (ca, cert, key) paths.
pub fn make_certificates(dir: &Path, tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("camcops-web test CA {tag}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca_path = dir.join(format!("{tag}-ca.pem"));
    let cert_path = dir.join(format!("{tag}-cert.pem"));
    let key_path = dir.join(format!("{tag}-key.pem"));
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

/// Whether the SMTP server can run here (python3 with aiosmtpd). Without it the `start_*`
/// functions return `None` and the mail tests skip with a note, as the PostgreSQL and MariaDB
/// variants do without their servers, so that `cargo test` works with Rust alone; under CI
/// (`CI` set, as `.ci/run` runs) a missing aiosmtpd fails instead.
pub fn available() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        let found = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but python3 with aiosmtpd is missing (pip install aiosmtpd)"
            );
            eprintln!(
                "note: mail tests skipped: python3 with aiosmtpd not found (pip install aiosmtpd)"
            );
        }
        found
    })
}

impl MailServer {
    /// The username the STARTTLS server requires.
    pub const USER: &'static str = "camcops-mailer";
    /// Its password (tests check it never reaches a log).
    pub const PASSWORD: &'static str = "smtp-Pa55word-never-logged";

    /// A plain server (no TLS, no AUTH).
    pub fn start_plain() -> Option<MailServer> {
        available().then(|| MailServer::start(false, None))
    }

    /// A plain server that requires AUTH with `user`/`password` (AUTH without TLS).
    pub fn start_plain_with_auth(user: &str, password: &str) -> Option<MailServer> {
        available().then(|| MailServer::start(false, Some((user.into(), password.into()))))
    }

    /// A server that requires STARTTLS (certificate from [`MailServer::ca_file`]) and then
    /// AUTH with [`MailServer::USER`]/[`MailServer::PASSWORD`].
    pub fn start_starttls() -> Option<MailServer> {
        available()
            .then(|| MailServer::start(true, Some((Self::USER.into(), Self::PASSWORD.into()))))
    }

    fn start(starttls: bool, auth: Option<(String, String)>) -> MailServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).arg("--dir").arg(dir.path().join("mail"));
        if starttls {
            let (_, cert, key) = make_certificates(dir.path(), "server");
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((u, p)) = &auth {
            cmd.arg("--user").arg(u).arg("--password").arg(p);
        }
        let stderr = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(port) = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!("test SMTP server did not start: {line:?}\n{log}");
        };
        MailServer {
            child: Some(child),
            port,
            dir,
            starttls,
            auth,
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA file that signed the STARTTLS server's certificate (`EMAIL_TLS_CA_FILE`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("server-ca.pem")
    }

    /// `EmailSettings` that reach this server: STARTTLS with its CA and its AUTH when it
    /// has them; From [`FROM`]; a 5-second timeout.
    /// Settings that send mail through this server and offer `methods`.
    pub fn configure(&self, s: &mut Settings, methods: &[MfaMethod]) {
        s.mfa_methods = methods.to_vec();
        s.email = Some(self.email_settings());
    }

    pub fn email_settings(&self) -> EmailSettings {
        EmailSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            use_tls: self.starttls,
            username: self.auth.as_ref().map(|a| a.0.clone()),
            password: self.auth.as_ref().map(|a| a.1.as_str().into()),
            from: FROM.into(),
            sender: None,
            reply_to: None,
            timeout_s: 5,
            tls_ca_file: self.starttls.then(|| self.ca_file()),
        }
    }

    /// The same as `[site]` config lines (for a config file).
    pub fn config_lines(&self) -> String {
        let s = self.email_settings();
        let mut out = format!(
            "EMAIL_HOST = {}\nEMAIL_PORT = {}\nEMAIL_USE_TLS = {}\nEMAIL_FROM = {}\nEMAIL_TIMEOUT_S = {}\n",
            s.host, s.port, s.use_tls, s.from, s.timeout_s
        );
        if let Some(u) = &s.username {
            out += &format!("EMAIL_HOST_USERNAME = {u}\n");
        }
        if let Some(p) = &s.password {
            out += &format!("EMAIL_HOST_PASSWORD = {}\n", p.expose());
        }
        if let Some(ca) = &s.tls_ca_file {
            out += &format!("EMAIL_TLS_CA_FILE = {}\n", ca.display());
        }
        out
    }

    /// Every message delivered so far, in order.
    pub fn messages(&self) -> Vec<MailMessage> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The messages whose envelope recipients include `to`.
    pub fn messages_to(&self, to: &str) -> Vec<MailMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits (asynchronously) until a message to `to` arrives; returns the latest one, or
    /// `None` after `timeout`.
    pub async fn wait_for_message(&self, to: &str, timeout: Duration) -> Option<MailMessage> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages_to(to).pop() {
                return Some(m);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// As [`MailServer::wait_for_message`], blocking the thread (for non-async tests).
    pub fn wait_for_message_blocking(&self, to: &str, timeout: Duration) -> Option<MailMessage> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages_to(to).pop() {
                return Some(m);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote to stderr (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server (the port then refuses connections); messages stay readable.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.stop();
    }
}
