//! Settings read from a CamCOPS-style INI file (`[site]` and `[server]`), their defaults and
//! validation, and the text of `demo_camcops_config`.
//!
//! `ini` reads the file with Python-configparser semantics, `values` turns text into typed
//! values with errors naming key and section, `load` knows every key and its default, `demo`
//! writes the commented demo file. The key table for users is `docs/configuration.md`.

mod demo;
mod ini;
mod load;
mod messaging;
mod task_view_url;
#[cfg(test)]
mod tests;
mod values;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::DbUrl;
use crate::secret::Secret;

pub use demo::{demo_config_text, new_session_cookie_secret};
pub use messaging::{
    check_mailbox, EmailSettings, SmsBackend, SmsSettings, KAPOW_SECTION, TWILIO_SECTION,
};
pub use task_view_url::TaskViewUrl;

/// Environment variable naming the config file (as the original's `CAMCOPS_CONFIG_FILE`).
pub const ENV_CONFIG_FILE: &str = "CAMCOPS_CONFIG_FILE";
/// The `[site]` section.
pub const SITE_SECTION: &str = "site";
/// The `[server]` section.
pub const SERVER_SECTION: &str = "server";
/// The shortest `SESSION_COOKIE_SECRET` accepted, in bytes (the cookie key derivation needs 32).
pub const MIN_SECRET_BYTES: usize = 32;
/// The header names of the original's `TRUSTED_PROXY_HEADERS` (cardinal_pythonlib's
/// `ReverseProxiedMiddleware.ALL_CANDIDATES`).
pub const TRUSTED_PROXY_HEADER_NAMES: &[&str] = &[
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_REAL_IP",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_SCHEME",
    "HTTP_X_FORWARDED_HTTPS",
    "HTTP_X_SCRIPT_NAME",
    "HTTP_X_FORWARDED_SCRIPT_NAME",
    "HTTP_X_HOST",
    "HTTP_X_SCHEME",
    "HTTP_X_HTTPS",
];

/// The config file path: `--config FILE` if given, else `$CAMCOPS_CONFIG_FILE`, else
/// `ConfigError::NoFile`.
pub fn config_path(cli: Option<&Path>) -> Result<PathBuf, ConfigError> {
    config_path_from(cli, std::env::var_os(ENV_CONFIG_FILE))
}

fn config_path_from(cli: Option<&Path>, env: Option<OsString>) -> Result<PathBuf, ConfigError> {
    match (cli, env) {
        (Some(p), _) if !p.as_os_str().is_empty() => Ok(p.to_path_buf()),
        (_, Some(e)) if !e.is_empty() => Ok(PathBuf::from(e)),
        _ => Err(ConfigError::NoFile),
    }
}

/// Multi-factor authentication methods of the original (sessions §3.2 `MFA_METHODS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    /// No second factor.
    NoMfa,
    /// Time-based codes from an authenticator app.
    Totp,
    /// Counter-based codes sent by e-mail.
    HotpEmail,
    /// Counter-based codes sent by SMS.
    HotpSms,
}

impl MfaMethod {
    /// The name used in the config file and the `mfa_method` column.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::NoMfa => "no_mfa",
            MfaMethod::Totp => "totp",
            MfaMethod::HotpEmail => "hotp_email",
            MfaMethod::HotpSms => "hotp_sms",
        }
    }

    /// Whether `/edit_own_user_mfa` offers the method to users choosing one with these
    /// settings: codes by e-mail need the mail settings; every other method is always offered.
    pub fn is_offered(self, settings: &Settings) -> bool {
        match self {
            MfaMethod::HotpEmail => settings.email.is_some(),
            MfaMethod::NoMfa | MfaMethod::Totp | MfaMethod::HotpSms => true,
        }
    }

    /// Parses a config/column value (case-insensitive).
    pub fn parse(s: &str) -> Option<MfaMethod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "no_mfa" => Some(MfaMethod::NoMfa),
            "totp" => Some(MfaMethod::Totp),
            "hotp_email" => Some(MfaMethod::HotpEmail),
            "hotp_sms" => Some(MfaMethod::HotpSms),
            _ => None,
        }
    }
}

/// Which forwarded header, if any, gives the client's address (`TRUSTED_PROXY_HEADERS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIpSource {
    /// The socket's peer address.
    Socket,
    /// The right-most address of `X-Forwarded-For` (the one our proxy appended).
    XForwardedFor,
    /// `X-Real-IP`.
    XRealIp,
}

/// All settings this server uses. Built by `Settings::load` (or `Settings::with_defaults`).
/// `Debug` never shows the cookie secret or a password (they are [`Secret`]s; `DbUrl` redacts).
#[derive(Debug, Clone)]
pub struct Settings {
    // [site]
    /// `DB_URL` (required).
    pub db_url: DbUrl,
    /// `DB_ECHO`: log every SQL statement (default false).
    pub db_echo: bool,
    /// `DB_POOL_SIZE` (new; default 10).
    pub db_pool_size: u32,
    /// `DB_POOL_CHECKOUT_TIMEOUT_S` (new; default 2): how long a request waits for a pooled
    /// connection (and a new connection may take to open) before a 503.
    pub db_pool_checkout_timeout_s: u64,
    /// `DB_STATEMENT_TIMEOUT_S` (new; default 5): statement and lock timeout on every backend.
    pub db_statement_timeout_s: u64,
    /// `SESSION_COOKIE_SECRET` (required; at least 32 bytes).
    pub session_cookie_secret: Secret,
    /// `SESSION_TIMEOUT_MINUTES` (default 30).
    pub session_timeout_minutes: i64,
    /// `SESSION_MAX_LIFETIME_MINUTES` (new; default 720; 0 = no absolute lifetime).
    pub session_max_lifetime_minutes: i64,
    /// `SESSION_ACTIVITY_WRITE_INTERVAL_S` (new; default 60; 0 = write every request).
    pub session_activity_write_interval_s: i64,
    /// `SESSION_CHECK_USER_IP` (default true).
    pub session_check_user_ip: bool,
    /// `PASSWORD_CHANGE_FREQUENCY_DAYS` (default 0 = never).
    pub password_change_frequency_days: i64,
    /// `LOCKOUT_THRESHOLD` (default 10).
    pub lockout_threshold: i64,
    /// `LOCKOUT_DURATION_INCREMENT_MINUTES` (default 10).
    pub lockout_duration_increment_minutes: i64,
    /// `LOGIN_FAILURES_PER_ADDRESS` (new; default 50; 0 = no limit): failed logins (and wrong
    /// codes) allowed from one client address within the window below.
    pub login_failures_per_address: i64,
    /// `LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES` (new; default 10).
    pub login_failures_per_address_window_minutes: i64,
    /// `DISABLE_PASSWORD_AUTOCOMPLETE` (default true).
    pub disable_password_autocomplete: bool,
    /// `MFA_METHODS` (default `no_mfa`).
    pub mfa_methods: Vec<MfaMethod>,
    /// `MFA_TIMEOUT_S` (default 600; 0 = never).
    pub mfa_timeout_s: i64,
    /// `ALLOW_INSECURE_COOKIES` (default false).
    pub allow_insecure_cookies: bool,
    /// `BCRYPT_COST` (new; default 12; 4..=31).
    pub bcrypt_cost: u32,
    /// `CAMCOPS_TASK_VIEW_URL` (new; optional): the task list links each task to its page there.
    pub camcops_task_view_url: Option<TaskViewUrl>,
    /// The `EMAIL_*` keys; `None` when `EMAIL_HOST` is not set (no mail is sent).
    pub email: Option<EmailSettings>,
    /// `SMS_BACKEND`, its `[sms_backend:*]` section and the `SMS_*` keys.
    pub sms: SmsSettings,
    /// `REGION_CODE` (default GB): the region of phone numbers written without `+country`.
    pub region_code: String,
    /// `SECURITY_NOTICES` (new; default on when mail is configured): e-mail users about
    /// changes to their own account.
    pub security_notices: bool,
    // [server]
    /// `HOST` (default 127.0.0.1).
    pub host: String,
    /// `PORT` (default 8000).
    pub port: u16,
    /// `UNIX_DOMAIN_SOCKET` (optional; replaces HOST/PORT).
    pub unix_domain_socket: Option<PathBuf>,
    /// `SSL_CERTIFICATE` (optional; with `SSL_PRIVATE_KEY` turns on TLS).
    pub ssl_certificate: Option<PathBuf>,
    /// `SSL_PRIVATE_KEY`.
    pub ssl_private_key: Option<PathBuf>,
    /// From `TRUSTED_PROXY_HEADERS`: where the client address comes from.
    pub client_ip_source: ClientIpSource,
    /// `REQUEST_TIMEOUT_S` (new; default 10): a request's head, and then its body, must arrive
    /// within this many seconds (else 408 and the connection is closed).
    pub request_timeout_s: u64,
    /// `MAX_CONNECTIONS` (new; default 1000): concurrent client connections per process.
    pub max_connections: u32,
    /// `METRICS_HOST` (new; default 127.0.0.1): address of the `/metrics` listener.
    pub metrics_host: String,
    /// `METRICS_PORT` (new; default none = no metrics listener).
    pub metrics_port: Option<u16>,
}

/// The error that stops startup: names the key, the section and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed as INI.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A required key is missing or blank.
    #[error("config file: missing/blank parameter {key} in section [{section}]")]
    Missing {
        /// Key name.
        key: &'static str,
        /// Section name.
        section: &'static str,
    },
    /// A value is not acceptable.
    #[error(
        "config file: bad value {value:?} for {key} in section [{section}]: expected {expected}"
    )]
    BadValue {
        /// Key name.
        key: &'static str,
        /// Section name.
        section: &'static str,
        /// The value found.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// No config file was given.
    #[error("no config file: pass --config FILE or set CAMCOPS_CONFIG_FILE (see `camcops-web demo-camcops-config`)")]
    NoFile,
}

impl Settings {
    /// Settings for tests and the demo: defaults, the given database, a fixed-length secret.
    pub fn with_defaults(db_url: DbUrl, session_cookie_secret: impl Into<Secret>) -> Settings {
        Settings {
            db_url,
            db_echo: false,
            db_pool_size: 10,
            db_pool_checkout_timeout_s: 2,
            db_statement_timeout_s: 5,
            session_cookie_secret: session_cookie_secret.into(),
            session_timeout_minutes: 30,
            session_max_lifetime_minutes: 720,
            session_activity_write_interval_s: 60,
            session_check_user_ip: true,
            password_change_frequency_days: 0,
            lockout_threshold: 10,
            lockout_duration_increment_minutes: 10,
            login_failures_per_address: 50,
            login_failures_per_address_window_minutes: 10,
            disable_password_autocomplete: true,
            mfa_methods: vec![MfaMethod::NoMfa],
            mfa_timeout_s: 600,
            allow_insecure_cookies: false,
            bcrypt_cost: 12,
            camcops_task_view_url: None,
            email: None,
            sms: SmsSettings::default(),
            region_code: "GB".into(),
            security_notices: false,
            host: "127.0.0.1".into(),
            port: 8000,
            unix_domain_socket: None,
            ssl_certificate: None,
            ssl_private_key: None,
            client_ip_source: ClientIpSource::Socket,
            request_timeout_s: 10,
            max_connections: 1000,
            metrics_host: "127.0.0.1".into(),
            metrics_port: None,
        }
    }

    /// How the database pool is built from these settings.
    pub fn pool_options(&self) -> crate::db::PoolOptions {
        crate::db::PoolOptions {
            size: self.db_pool_size,
            checkout_timeout: Duration::from_secs(self.db_pool_checkout_timeout_s),
            connection: crate::db::ConnOptions {
                statement_timeout: Duration::from_secs(self.db_statement_timeout_s),
                echo: self.db_echo,
                tally: crate::db::StatementTally::default(),
            },
        }
    }

    /// `REQUEST_TIMEOUT_S` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_s)
    }

    /// Whether TLS is configured.
    pub fn tls(&self) -> bool {
        self.ssl_certificate.is_some() && self.ssl_private_key.is_some()
    }

    /// The cookie name: `__Host-camcops` when Secure, `camcops` otherwise.
    pub fn cookie_name(&self) -> &'static str {
        if self.allow_insecure_cookies {
            "camcops"
        } else {
            "__Host-camcops"
        }
    }
}
