//! Settings read from a CamCOPS-style INI file (`[site]` and `[server]`), their defaults and
//! validation, and the text of `demo_camcops_config`.

use std::path::PathBuf;

use crate::db::DbUrl;

/// Multi-factor authentication methods of the original (§3.2 `MFA_METHODS`).
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

/// All settings this server uses. Built by `Settings::load` (or `Settings::for_tests`).
#[derive(Debug, Clone)]
pub struct Settings {
    // [site]
    /// `DB_URL` (required).
    pub db_url: DbUrl,
    /// `DB_ECHO`: log every SQL statement (default false).
    pub db_echo: bool,
    /// `DB_POOL_SIZE` (new; default 10).
    pub db_pool_size: u32,
    /// `SESSION_COOKIE_SECRET` (required; at least 32 bytes).
    pub session_cookie_secret: String,
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
    #[error("config file: bad value {value:?} for {key} in section [{section}]: expected {expected}")]
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
    pub fn with_defaults(db_url: DbUrl, session_cookie_secret: String) -> Settings {
        Settings {
            db_url,
            db_echo: false,
            db_pool_size: 10,
            session_cookie_secret,
            session_timeout_minutes: 30,
            session_max_lifetime_minutes: 720,
            session_activity_write_interval_s: 60,
            session_check_user_ip: true,
            password_change_frequency_days: 0,
            lockout_threshold: 10,
            lockout_duration_increment_minutes: 10,
            disable_password_autocomplete: true,
            mfa_methods: vec![MfaMethod::NoMfa],
            mfa_timeout_s: 600,
            allow_insecure_cookies: false,
            bcrypt_cost: 12,
            host: "127.0.0.1".into(),
            port: 8000,
            unix_domain_socket: None,
            ssl_certificate: None,
            ssl_private_key: None,
            client_ip_source: ClientIpSource::Socket,
        }
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
