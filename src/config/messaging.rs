//! The mail (`EMAIL_*`), text-message (`SMS_BACKEND`, `[sms_backend:*]`), `REGION_CODE` and
//! `SECURITY_NOTICES` settings: CamCOPS' keys read as CamCOPS writes them, checked at startup.

use std::path::PathBuf;
use std::str::FromStr;

use super::values::{SectionReader, Shown};
use super::ConfigError;
use crate::secret::Secret;

/// The `[sms_backend:kapow]` section.
pub const KAPOW_SECTION: &str = "sms_backend:kapow";
/// The `[sms_backend:twilio]` section.
pub const TWILIO_SECTION: &str = "sms_backend:twilio";

/// `[site]` keys read here.
pub(super) const SITE_KEYS: &[&str] = &[
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_USE_TLS",
    "EMAIL_HOST_USERNAME",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_FROM",
    "EMAIL_SENDER",
    "EMAIL_REPLY_TO",
    "EMAIL_TIMEOUT_S",
    "EMAIL_TLS_CA_FILE",
    "SMS_BACKEND",
    "SMS_TIMEOUT_S",
    "SMS_CONSOLE_SHOW_MESSAGES",
    "SMS_PROVIDER_URL_FOR_TESTS",
    "REGION_CODE",
    "SECURITY_NOTICES",
];

/// Keys of the `[sms_backend:*]` sections read here.
pub(super) const KAPOW_KEYS: &[&str] = &["USERNAME", "PASSWORD"];
/// Keys of `[sms_backend:twilio]`.
pub(super) const TWILIO_KEYS: &[&str] = &["SID", "TOKEN", "FROM_PHONE_NUMBER"];

/// How to reach the SMTP server. `Debug` hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// `EMAIL_HOST`.
    pub host: String,
    /// `EMAIL_PORT` (default 587).
    pub port: u16,
    /// `EMAIL_USE_TLS` (default true): STARTTLS required with a verified certificate; on port
    /// 465, TLS from the first byte instead.
    pub use_tls: bool,
    /// `EMAIL_HOST_USERNAME`: AUTH is used only when set.
    pub username: Option<String>,
    /// `EMAIL_HOST_PASSWORD`.
    pub password: Option<Secret>,
    /// `EMAIL_FROM` (required when mail is configured): the From of every message.
    pub from: String,
    /// `EMAIL_SENDER`: a Sender header when set.
    pub sender: Option<String>,
    /// `EMAIL_REPLY_TO`: a Reply-To header when set.
    pub reply_to: Option<String>,
    /// `EMAIL_TIMEOUT_S` (new; default 10): connect, and each read or write, time out after this.
    pub timeout_s: u64,
    /// `EMAIL_TLS_CA_FILE` (new): a PEM file of extra CA certificates trusted for the server's
    /// certificate (an internal CA), besides the public roots.
    pub tls_ca_file: Option<PathBuf>,
}

impl EmailSettings {
    /// Whether the connection is TLS from the first byte (port 465 with `EMAIL_USE_TLS`).
    pub fn implicit_tls(&self) -> bool {
        self.use_tls && self.port == 465
    }
}

/// `SMS_BACKEND` and its section. `Debug` hides passwords and tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsBackend {
    /// `console` (CamCOPS' default; for testing): logs that a message was sent.
    Console,
    /// `kapow`, with `[sms_backend:kapow]` `USERNAME`, `PASSWORD`.
    Kapow {
        /// `USERNAME`.
        username: String,
        /// `PASSWORD`.
        password: Secret,
    },
    /// `twilio`, with `[sms_backend:twilio]` `SID`, `TOKEN`, `FROM_PHONE_NUMBER`.
    Twilio {
        /// `SID` (account SID).
        sid: String,
        /// `TOKEN` (auth token).
        token: Secret,
        /// `FROM_PHONE_NUMBER`.
        from_phone_number: String,
    },
}

impl SmsBackend {
    /// The `SMS_BACKEND` name.
    pub fn name(&self) -> &'static str {
        match self {
            SmsBackend::Console => "console",
            SmsBackend::Kapow { .. } => "kapow",
            SmsBackend::Twilio { .. } => "twilio",
        }
    }
}

/// Text-message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    /// `SMS_BACKEND` (default `console`).
    pub backend: SmsBackend,
    /// `SMS_TIMEOUT_S` (new; default 10): the whole provider request is bounded by this.
    pub timeout_s: u64,
    /// `SMS_CONSOLE_SHOW_MESSAGES` (new; default false): the `console` backend logs the text
    /// (which holds the code) too. For debugging only.
    pub console_show_messages: bool,
    /// `SMS_PROVIDER_URL_FOR_TESTS` (new; FOR TESTS ONLY): replaces the provider's
    /// `https://host` part, so tests can stand in for Kapow or Twilio.
    pub provider_url_for_tests: Option<String>,
}

impl Default for SmsSettings {
    fn default() -> SmsSettings {
        SmsSettings {
            backend: SmsBackend::Console,
            timeout_s: 10,
            console_show_messages: false,
            provider_url_for_tests: None,
        }
    }
}

/// Everything read by [`read`].
pub(super) struct MessagingKeys {
    pub email: Option<EmailSettings>,
    pub sms: SmsSettings,
    pub region_code: String,
    pub security_notices: bool,
}

/// Checks an address (`user@host` or `Name <user@host>`) as the mailer will parse it.
pub fn check_mailbox(text: &str) -> Result<(), String> {
    lettre::message::Mailbox::from_str(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn mailbox(
    site: &SectionReader<'_>,
    key: &'static str,
    value: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => match check_mailbox(&v) {
            Ok(()) => Ok(Some(v)),
            Err(_) => Err(site.bad(
                key,
                &v,
                Shown::Plain,
                "an e-mail address: user@example.org or Name <user@example.org>",
            )),
        },
    }
}

/// Reads the mail, SMS, region and notice keys.
pub(super) fn read(
    site: &SectionReader<'_>,
    kapow: &SectionReader<'_>,
    twilio: &SectionReader<'_>,
) -> Result<MessagingKeys, ConfigError> {
    let email = read_email(site)?;
    let sms = read_sms(site, kapow, twilio)?;
    let region_code = match site.text("REGION_CODE", Shown::Plain)? {
        None => "GB".to_string(),
        Some(code) => {
            let upper = code.to_ascii_uppercase();
            if phonenumber::country::Id::from_str(&upper).is_err() {
                return Err(site.bad(
                    "REGION_CODE",
                    &code,
                    Shown::Plain,
                    "a two-letter ISO 3166 region code such as GB",
                ));
            }
            upper
        }
    };
    let security_notices = site.boolean("SECURITY_NOTICES", email.is_some())?;
    if security_notices && email.is_none() {
        log::warn!("config: SECURITY_NOTICES is on but EMAIL_HOST is not set; no notice is sent");
    }
    Ok(MessagingKeys {
        email,
        sms,
        region_code,
        security_notices,
    })
}

fn read_email(site: &SectionReader<'_>) -> Result<Option<EmailSettings>, ConfigError> {
    let host = site.text("EMAIL_HOST", Shown::Plain)?;
    let username = site.text("EMAIL_HOST_USERNAME", Shown::Plain)?;
    let password = site
        .text("EMAIL_HOST_PASSWORD", Shown::Hidden)?
        .map(Secret::from);
    let from = site.text("EMAIL_FROM", Shown::Plain)?;
    let sender = site.text("EMAIL_SENDER", Shown::Plain)?;
    let reply_to = site.text("EMAIL_REPLY_TO", Shown::Plain)?;
    let tls_ca = site.text("EMAIL_TLS_CA_FILE", Shown::Plain)?;
    let port = site.int("EMAIL_PORT", 587u16, 1, 65535)?;
    let use_tls = site.boolean("EMAIL_USE_TLS", true)?;
    let timeout_s = site.int("EMAIL_TIMEOUT_S", 10u64, 1, 300)?;
    let Some(host) = host else {
        let set: Vec<&str> = [
            ("EMAIL_HOST_USERNAME", username.is_some()),
            ("EMAIL_HOST_PASSWORD", password.is_some()),
            ("EMAIL_FROM", from.is_some()),
            ("EMAIL_SENDER", sender.is_some()),
            ("EMAIL_REPLY_TO", reply_to.is_some()),
            ("EMAIL_TLS_CA_FILE", tls_ca.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
        if !set.is_empty() {
            return Err(site.bad(
                "EMAIL_HOST",
                "",
                Shown::Plain,
                format!(
                    "the SMTP server's name, since {} is set (set EMAIL_HOST, or blank every \
                     EMAIL_* key to send no mail)",
                    set.join(", ")
                ),
            ));
        }
        return Ok(None);
    };
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) || host.contains('/') {
        return Err(site.bad(
            "EMAIL_HOST",
            &host,
            Shown::Plain,
            "a host name or address, e.g. smtp.example.org",
        ));
    }
    let Some(from) = mailbox(site, "EMAIL_FROM", from)? else {
        return Err(ConfigError::Missing {
            key: "EMAIL_FROM",
            section: super::SITE_SECTION,
        });
    };
    let sender = mailbox(site, "EMAIL_SENDER", sender)?;
    let reply_to = mailbox(site, "EMAIL_REPLY_TO", reply_to)?;
    if password.is_some() && username.is_none() {
        log::warn!("config: EMAIL_HOST_PASSWORD is set but EMAIL_HOST_USERNAME is not; mail is sent without AUTH");
    }
    let tls_ca_file = match tls_ca {
        None => None,
        Some(path) => {
            let p = PathBuf::from(&path);
            let ok = std::fs::read(&p).ok().is_some_and(|bytes| {
                lettre::transport::smtp::client::Certificate::from_pem(&bytes).is_ok()
            });
            if !ok {
                return Err(site.bad(
                    "EMAIL_TLS_CA_FILE",
                    &path,
                    Shown::Plain,
                    "a readable PEM file of CA certificates",
                ));
            }
            Some(p)
        }
    };
    if !use_tls {
        log::warn!(
            "config: EMAIL_USE_TLS is off: mail (and any password) goes to {host} unencrypted"
        );
    }
    Ok(Some(EmailSettings {
        host,
        port,
        use_tls,
        username,
        password,
        from,
        sender,
        reply_to,
        timeout_s,
        tls_ca_file,
    }))
}

fn read_sms(
    site: &SectionReader<'_>,
    kapow: &SectionReader<'_>,
    twilio: &SectionReader<'_>,
) -> Result<SmsSettings, ConfigError> {
    let name = site
        .text("SMS_BACKEND", Shown::Plain)?
        .unwrap_or_else(|| "console".into());
    let backend = match name.to_ascii_lowercase().as_str() {
        "console" => SmsBackend::Console,
        "kapow" => SmsBackend::Kapow {
            username: kapow.required("USERNAME", Shown::Plain)?,
            password: kapow.required("PASSWORD", Shown::Hidden)?.into(),
        },
        "twilio" => SmsBackend::Twilio {
            sid: twilio.required("SID", Shown::Plain)?,
            token: twilio.required("TOKEN", Shown::Hidden)?.into(),
            from_phone_number: twilio.required("FROM_PHONE_NUMBER", Shown::Plain)?,
        },
        _ => {
            return Err(site.bad(
                "SMS_BACKEND",
                &name,
                Shown::Plain,
                "one of console, kapow, twilio",
            ))
        }
    };
    let provider_url_for_tests = match site.text("SMS_PROVIDER_URL_FOR_TESTS", Shown::Plain)? {
        None => None,
        Some(u) => {
            let parsed = url::Url::parse(&u)
                .ok()
                .filter(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
            if parsed.is_none() {
                return Err(site.bad(
                    "SMS_PROVIDER_URL_FOR_TESTS",
                    &u,
                    Shown::Plain,
                    "an http(s) URL such as http://127.0.0.1:9000 (for tests only)",
                ));
            }
            log::warn!(
                "config: SMS_PROVIDER_URL_FOR_TESTS is set: text messages go to {u}, not to the \
                 provider (for tests only)"
            );
            Some(u.trim_end_matches('/').to_string())
        }
    };
    let console_show_messages = site.boolean("SMS_CONSOLE_SHOW_MESSAGES", false)?;
    if console_show_messages {
        log::warn!(
            "config: SMS_CONSOLE_SHOW_MESSAGES is on: the console SMS backend logs message texts, \
             codes included (for debugging only)"
        );
    }
    Ok(SmsSettings {
        backend,
        timeout_s: site.int("SMS_TIMEOUT_S", 10u64, 1, 300)?,
        console_show_messages,
        provider_url_for_tests,
    })
}
