//! `Settings::load` / `Settings::from_ini_str`: every key this program reads, its default, its
//! accepted range and the checks between keys (secret length, SSL pair, proxy headers).

use std::path::{Path, PathBuf};

use super::ini::Ini;
use super::values::{self, SectionReader, Shown};
use super::{
    ClientIpSource, ConfigError, MfaMethod, Settings, MIN_SECRET_BYTES, SERVER_SECTION,
    SITE_SECTION, TRUSTED_PROXY_HEADER_NAMES,
};
use crate::db::DbUrl;

/// Upper bound for time settings (100 years), so that date arithmetic cannot overflow.
const MAX_MINUTES: i64 = 100 * 366 * 24 * 60;

/// `[site]` keys this program reads.
pub(super) const SITE_KEYS_USED: &[&str] = &[
    "DB_URL",
    "DB_ECHO",
    "DB_POOL_SIZE",
    "DB_POOL_CHECKOUT_TIMEOUT_S",
    "DB_STATEMENT_TIMEOUT_S",
    "SESSION_COOKIE_SECRET",
    "SESSION_TIMEOUT_MINUTES",
    "SESSION_MAX_LIFETIME_MINUTES",
    "SESSION_ACTIVITY_WRITE_INTERVAL_S",
    "SESSION_CHECK_USER_IP",
    "PASSWORD_CHANGE_FREQUENCY_DAYS",
    "LOCKOUT_THRESHOLD",
    "LOCKOUT_DURATION_INCREMENT_MINUTES",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES",
    "DISABLE_PASSWORD_AUTOCOMPLETE",
    "MFA_METHODS",
    "MFA_TIMEOUT_S",
    "ALLOW_INSECURE_COOKIES",
    "BCRYPT_COST",
    super::task_view_url::KEY,
];

/// `[server]` keys this program reads.
pub(super) const SERVER_KEYS_USED: &[&str] = &[
    "HOST",
    "PORT",
    "UNIX_DOMAIN_SOCKET",
    "SSL_CERTIFICATE",
    "SSL_PRIVATE_KEY",
    "TRUSTED_PROXY_HEADERS",
    "REQUEST_TIMEOUT_S",
    "MAX_CONNECTIONS",
    "METRICS_HOST",
    "METRICS_PORT",
];

impl Settings {
    /// Reads and validates the config file at `path` (UTF-8).
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigError::File {
            path: origin.clone(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            ConfigError::File {
                path: origin.clone(),
                message: format!("line {line}: not valid UTF-8"),
            }
        })?;
        log::info!("reading config file {origin}");
        Settings::from_ini_str(&text, &origin)
    }

    /// Parses and validates config text; `origin` names it in errors (a path, or e.g. "demo").
    pub fn from_ini_str(text: &str, origin: &str) -> Result<Settings, ConfigError> {
        let ini = Ini::parse(text).map_err(|e| ConfigError::File {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let site_used: Vec<&str> = SITE_KEYS_USED
            .iter()
            .chain(super::messaging::SITE_KEYS)
            .copied()
            .collect();
        values::log_ignored(&ini, &site_used, SERVER_KEYS_USED);
        if !ini.has_section(SERVER_SECTION) {
            log::debug!("config: no [{SERVER_SECTION}] section; using its defaults");
        }
        let site = SectionReader {
            ini: &ini,
            section: SITE_SECTION,
        };
        let server = SectionReader {
            ini: &ini,
            section: SERVER_SECTION,
        };
        let kapow = SectionReader {
            ini: &ini,
            section: super::messaging::KAPOW_SECTION,
        };
        let twilio = SectionReader {
            ini: &ini,
            section: super::messaging::TWILIO_SECTION,
        };
        let messaging = super::messaging::read(&site, &kapow, &twilio)?;
        let d = Settings::with_defaults(
            DbUrl {
                backend: crate::db::Backend::Sqlite,
                url: String::new(),
                notice: None,
            },
            String::new(),
        );

        let raw_url = site.required("DB_URL", Shown::RedactedUrl)?;
        let db_url = DbUrl::parse(&raw_url)
            .map_err(|msg| site.bad("DB_URL", &raw_url, Shown::RedactedUrl, msg))?;
        if let Some(notice) = &db_url.notice {
            log::info!("{notice}");
        }
        let secret = site.required("SESSION_COOKIE_SECRET", Shown::Hidden)?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(site.bad(
                "SESSION_COOKIE_SECRET",
                &secret,
                Shown::Hidden,
                format!(
                    "a secret of at least {MIN_SECRET_BYTES} bytes \
                     (`camcops-web demo-camcops-config` prints a fresh one)"
                ),
            ));
        }
        let session_timeout_minutes = site.int(
            "SESSION_TIMEOUT_MINUTES",
            d.session_timeout_minutes,
            1,
            MAX_MINUTES,
        )?;
        let session_activity_write_interval_s = activity_interval(
            &site,
            d.session_activity_write_interval_s,
            session_timeout_minutes,
        )?;

        let settings = Settings {
            db_url,
            db_echo: site.boolean("DB_ECHO", d.db_echo)?,
            db_pool_size: site.int("DB_POOL_SIZE", d.db_pool_size, 1, 1000)?,
            db_pool_checkout_timeout_s: site.int(
                "DB_POOL_CHECKOUT_TIMEOUT_S",
                d.db_pool_checkout_timeout_s,
                1,
                600,
            )?,
            db_statement_timeout_s: site.int(
                "DB_STATEMENT_TIMEOUT_S",
                d.db_statement_timeout_s,
                1,
                3600,
            )?,
            session_cookie_secret: secret.into(),
            session_timeout_minutes,
            session_max_lifetime_minutes: site.int(
                "SESSION_MAX_LIFETIME_MINUTES",
                d.session_max_lifetime_minutes,
                0,
                MAX_MINUTES,
            )?,
            session_activity_write_interval_s,
            session_check_user_ip: site
                .boolean("SESSION_CHECK_USER_IP", d.session_check_user_ip)?,
            password_change_frequency_days: site.int(
                "PASSWORD_CHANGE_FREQUENCY_DAYS",
                d.password_change_frequency_days,
                0,
                MAX_MINUTES / (24 * 60),
            )?,
            lockout_threshold: site.int("LOCKOUT_THRESHOLD", d.lockout_threshold, 1, i64::MAX)?,
            lockout_duration_increment_minutes: site.int(
                "LOCKOUT_DURATION_INCREMENT_MINUTES",
                d.lockout_duration_increment_minutes,
                1,
                MAX_MINUTES,
            )?,
            login_failures_per_address: site.int(
                "LOGIN_FAILURES_PER_ADDRESS",
                d.login_failures_per_address,
                0,
                10_000,
            )?,
            login_failures_per_address_window_minutes: site.int(
                "LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES",
                d.login_failures_per_address_window_minutes,
                1,
                24 * 60,
            )?,
            disable_password_autocomplete: site.boolean(
                "DISABLE_PASSWORD_AUTOCOMPLETE",
                d.disable_password_autocomplete,
            )?,
            mfa_methods: mfa_methods(&site, &d.mfa_methods, &messaging)?,
            mfa_timeout_s: site.int("MFA_TIMEOUT_S", d.mfa_timeout_s, 0, MAX_MINUTES * 60)?,
            allow_insecure_cookies: site
                .boolean("ALLOW_INSECURE_COOKIES", d.allow_insecure_cookies)?,
            bcrypt_cost: site.int("BCRYPT_COST", d.bcrypt_cost, 4, 31)?,
            camcops_task_view_url: super::task_view_url::read(&site)?,
            email: messaging.email,
            sms: messaging.sms,
            region_code: messaging.region_code,
            security_notices: messaging.security_notices,
            host: server.text("HOST", Shown::Plain)?.unwrap_or(d.host),
            port: server.int("PORT", d.port, 1, 65535)?,
            unix_domain_socket: server
                .text("UNIX_DOMAIN_SOCKET", Shown::Plain)?
                .map(PathBuf::from),
            ssl_certificate: ssl_file(&server, "SSL_CERTIFICATE")?,
            ssl_private_key: ssl_file(&server, "SSL_PRIVATE_KEY")?,
            client_ip_source: client_ip_source(&server)?,
            request_timeout_s: server.int("REQUEST_TIMEOUT_S", d.request_timeout_s, 1, 3600)?,
            max_connections: server.int("MAX_CONNECTIONS", d.max_connections, 1, 1_000_000)?,
            metrics_host: server
                .text("METRICS_HOST", Shown::Plain)?
                .unwrap_or(d.metrics_host),
            metrics_port: match server.text("METRICS_PORT", Shown::Plain)? {
                None => None,
                Some(_) => Some(server.int("METRICS_PORT", 0u16, 1, 65535)?),
            },
        };
        if settings.metrics_port == Some(settings.port)
            && settings.unix_domain_socket.is_none()
            && settings.metrics_host == settings.host
        {
            return Err(server.bad(
                "METRICS_PORT",
                &settings.port.to_string(),
                Shown::Plain,
                "a port other than PORT (/metrics is never served on the public listener)",
            ));
        }
        match (&settings.ssl_certificate, &settings.ssl_private_key) {
            (Some(_), None) => Err(server.bad(
                "SSL_PRIVATE_KEY",
                "",
                Shown::Plain,
                "the private key file too, since SSL_CERTIFICATE is set (set both or neither)",
            )),
            (None, Some(_)) => Err(server.bad(
                "SSL_CERTIFICATE",
                "",
                Shown::Plain,
                "the certificate file too, since SSL_PRIVATE_KEY is set (set both or neither)",
            )),
            _ => Ok(settings),
        }
    }
}

/// `SESSION_ACTIVITY_WRITE_INTERVAL_S`: must be shorter than the idle timeout, or an active
/// session could time out between two writes. The default shrinks to half the timeout if needed.
fn activity_interval(
    site: &SectionReader<'_>,
    default: i64,
    timeout_minutes: i64,
) -> Result<i64, ConfigError> {
    const KEY: &str = "SESSION_ACTIVITY_WRITE_INTERVAL_S";
    let timeout_s = timeout_minutes * 60;
    let Some(given) = site.text(KEY, Shown::Plain)? else {
        if default >= timeout_s {
            log::info!(
                "config: {KEY} defaults to {} s (half the idle timeout)",
                timeout_s / 2
            );
            return Ok(timeout_s / 2);
        }
        return Ok(default);
    };
    let value = site.int(KEY, default, 0, MAX_MINUTES * 60)?;
    if value >= timeout_s {
        return Err(site.bad(
            KEY,
            &given,
            Shown::Plain,
            format!(
                "fewer seconds than the idle timeout SESSION_TIMEOUT_MINUTES × 60 = {timeout_s}, \
                 or an active session could expire between two writes"
            ),
        ));
    }
    Ok(value)
}

/// `MFA_METHODS`: lower-cased names, one per line; empty means `no_mfa` (with a warning).
fn mfa_methods(
    site: &SectionReader<'_>,
    default: &[MfaMethod],
    messaging: &super::messaging::MessagingKeys,
) -> Result<Vec<MfaMethod>, ConfigError> {
    let items = site.list("MFA_METHODS")?;
    if items.is_empty() {
        log::warn!("config: MFA_METHODS not specified; using no_mfa");
        return Ok(default.to_vec());
    }
    let mut methods = Vec::new();
    for item in items {
        let method = MfaMethod::parse(&item).ok_or_else(|| {
            site.bad(
                "MFA_METHODS",
                &item,
                Shown::Plain,
                "one method per line, each one of no_mfa, totp, hotp_email, hotp_sms",
            )
        })?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    // Codes by e-mail need a mail server; a console SMS backend sends nothing real.
    if methods.contains(&MfaMethod::HotpEmail) && messaging.email.is_none() {
        return Err(site.bad(
            "MFA_METHODS",
            "hotp_email",
            Shown::Plain,
            "hotp_email only with mail configured: set EMAIL_HOST and EMAIL_FROM (and \
             EMAIL_PORT, EMAIL_USE_TLS, EMAIL_HOST_USERNAME, EMAIL_HOST_PASSWORD as needed)",
        ));
    }
    if methods.contains(&MfaMethod::HotpSms) && messaging.sms.backend == super::SmsBackend::Console
    {
        log::warn!(
            "config: MFA_METHODS lists hotp_sms but SMS_BACKEND is console: codes are not \
             sent to any phone, only logged (without the code unless SMS_CONSOLE_SHOW_MESSAGES)"
        );
    }
    Ok(methods)
}

/// `SSL_CERTIFICATE` / `SSL_PRIVATE_KEY`: if set, an existing file.
fn ssl_file(server: &SectionReader<'_>, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = server.text(key, Shown::Plain)? else {
        return Ok(None);
    };
    let p = PathBuf::from(&path);
    if !p.is_file() {
        return Err(server.bad(key, &path, Shown::Plain, "an existing, readable file"));
    }
    Ok(Some(p))
}

/// `TRUSTED_PROXY_HEADERS`: the original's names; which one gives the client address.
fn client_ip_source(server: &SectionReader<'_>) -> Result<ClientIpSource, ConfigError> {
    let mut names = Vec::new();
    for item in server.list("TRUSTED_PROXY_HEADERS")? {
        let name = item.to_ascii_uppercase();
        if !TRUSTED_PROXY_HEADER_NAMES.contains(&name.as_str()) {
            return Err(server.bad(
                "TRUSTED_PROXY_HEADERS",
                &item,
                Shown::Plain,
                format!(
                    "one name per line, each one of {}",
                    TRUSTED_PROXY_HEADER_NAMES.join(", ")
                ),
            ));
        }
        names.push(name);
    }
    let has = |n: &str| names.iter().any(|x| x == n);
    Ok(if has("HTTP_X_FORWARDED_FOR") {
        ClientIpSource::XForwardedFor
    } else if has("HTTP_X_REAL_IP") {
        ClientIpSource::XRealIp
    } else {
        ClientIpSource::Socket
    })
}
