//! Typed reading of one section's values (strings, booleans, bounded integers, lists) with the
//! errors that name key, section, value and what is accepted; and the key names of the original
//! CamCOPS server, so that keys we do not use are told apart from typos.

use super::ini::Ini;
use super::ConfigError;

/// How a value may appear in an error message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// As written.
    Plain,
    /// Never (`SESSION_COOKIE_SECRET`).
    Hidden,
    /// With the password of a URL replaced by `***` (`DB_URL`).
    RedactedUrl,
}

/// Reads the options of one section (plus `[DEFAULT]`); a missing section reads as empty.
pub(crate) struct SectionReader<'a> {
    pub(crate) ini: &'a Ini,
    pub(crate) section: &'static str,
}

/// What `value` looks like in a message, given how the key may be shown.
pub(crate) fn shown(value: &str, how: Shown) -> String {
    match how {
        Shown::Plain => value.to_string(),
        Shown::Hidden => format!("<hidden, {} bytes>", value.len()),
        Shown::RedactedUrl => crate::db::url::redact(value),
    }
}

impl SectionReader<'_> {
    /// The error for `key` having `value`, expecting `expected`.
    pub(crate) fn bad(
        &self,
        key: &'static str,
        value: &str,
        how: Shown,
        expected: impl Into<String>,
    ) -> ConfigError {
        ConfigError::BadValue {
            key,
            section: self.section,
            value: shown(value, how),
            expected: expected.into(),
        }
    }

    /// The interpolated, stripped value, possibly of several lines; `None` when absent or
    /// blank ("use the default").
    fn value(&self, key: &'static str, how: Shown) -> Result<Option<String>, ConfigError> {
        let Some(found) = self.ini.get(self.section, key) else {
            return Ok(None);
        };
        match found {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Ok(Some(v.trim().to_string())),
            Err(e) => {
                let raw = self
                    .ini
                    .get_raw(self.section, key)
                    .map(|o| o.value.lines().next().unwrap_or(""))
                    .unwrap_or("");
                Err(self.bad(key, raw, how, e.to_string()))
            }
        }
    }

    /// A one-line value (`None` when absent or blank). Indented lines after a key continue its
    /// value, so a second line here is a mistake; only the first line is shown in the error,
    /// as the others may be anything (a secret, say).
    pub(crate) fn text(
        &self,
        key: &'static str,
        how: Shown,
    ) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.value(key, how)? else {
            return Ok(None);
        };
        match v.split_once('\n') {
            None => Ok(Some(v)),
            Some((first, _)) => Err(self.bad(
                key,
                first,
                how,
                "a single line (the indented line(s) after it continue its value; \
                 remove their indentation)",
            )),
        }
    }

    /// A required value: absent or blank is `ConfigError::Missing`.
    pub(crate) fn required(&self, key: &'static str, how: Shown) -> Result<String, ConfigError> {
        self.text(key, how)?.ok_or(ConfigError::Missing {
            key,
            section: self.section,
        })
    }

    /// A boolean: `1/yes/true/on` or `0/no/false/off`, any case.
    pub(crate) fn boolean(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(v) = self.text(key, Shown::Plain)? else {
            return Ok(default);
        };
        match v.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Ok(true),
            "0" | "no" | "false" | "off" => Ok(false),
            _ => Err(self.bad(
                key,
                &v,
                Shown::Plain,
                "a boolean: 1, yes, true, on, or 0, no, false, off (any case)",
            )),
        }
    }

    /// A whole number in `min..=max`, converted to `T`.
    pub(crate) fn int<T>(
        &self,
        key: &'static str,
        default: T,
        min: i64,
        max: i64,
    ) -> Result<T, ConfigError>
    where
        T: TryFrom<i64>,
    {
        let Some(v) = self.text(key, Shown::Plain)? else {
            return Ok(default);
        };
        let expected = if max == i64::MAX {
            format!("a whole number, at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        v.parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| self.bad(key, &v, Shown::Plain, expected))
    }

    /// A multiline list: one item per non-blank line, each stripped.
    pub(crate) fn list(&self, key: &'static str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .value(key, Shown::Plain)?
            .map(|v| {
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// `[site]` keys of the CamCOPS server (v2.4) that camcops-web reads or knowingly ignores.
pub(crate) const ORIGINAL_SITE_KEYS: &[&str] = &[
    "ALLOW_INSECURE_COOKIES",
    "CAMCOPS_LOGO_FILE_ABSOLUTE",
    "CLIENT_API_LOGLEVEL",
    "CTV_FILENAME_SPEC",
    "DB_URL",
    "DB_ECHO",
    "DISABLE_PASSWORD_AUTOCOMPLETE",
    "EMAIL_FROM",
    "EMAIL_HOST",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_HOST_PASSWORD_GNU_PASS_LOOKUP",
    "EMAIL_HOST_USERNAME",
    "EMAIL_PORT",
    "EMAIL_REPLY_TO",
    "EMAIL_SENDER",
    "EMAIL_USE_TLS",
    "EXTRA_STRING_FILES",
    "LANGUAGE",
    "LOCAL_INSTITUTION_URL",
    "LOCAL_LOGO_FILE_ABSOLUTE",
    "LOCKOUT_DURATION_INCREMENT_MINUTES",
    "LOCKOUT_THRESHOLD",
    "MFA_METHODS",
    "MFA_TIMEOUT_S",
    "PASSWORD_CHANGE_FREQUENCY_DAYS",
    "PATIENT_SPEC",
    "PATIENT_SPEC_IF_ANONYMOUS",
    "PERMIT_IMMEDIATE_DOWNLOADS",
    "REGION_CODE",
    "RESTRICTED_TASKS",
    "SESSION_COOKIE_SECRET",
    "SESSION_TIMEOUT_MINUTES",
    "SESSION_CHECK_USER_IP",
    "SMS_BACKEND",
    "SNOMED_TASK_XML_FILENAME",
    "SNOMED_ICD9_XML_FILENAME",
    "SNOMED_ICD10_XML_FILENAME",
    "SUMMARY_TABLES_LOCKFILE",
    "TASK_FILENAME_SPEC",
    "TRACKER_FILENAME_SPEC",
    "USER_DOWNLOAD_DIR",
    "USER_DOWNLOAD_FILE_LIFETIME_MIN",
    "USER_DOWNLOAD_MAX_SPACE_MB",
    "WEBVIEW_LOGLEVEL",
    "WKHTMLTOPDF_FILENAME",
];

/// `[server]` keys of the CamCOPS server (v2.4).
pub(crate) const ORIGINAL_SERVER_KEYS: &[&str] = &[
    "CHERRYPY_LOG_SCREEN",
    "CHERRYPY_ROOT_PATH",
    "CHERRYPY_SERVER_NAME",
    "CHERRYPY_THREADS_MAX",
    "CHERRYPY_THREADS_START",
    "DEBUG_REVERSE_PROXY",
    "DEBUG_SHOW_GUNICORN_OPTIONS",
    "DEBUG_TOOLBAR",
    "EXTERNAL_URL_SCHEME",
    "EXTERNAL_SERVER_NAME",
    "EXTERNAL_SERVER_PORT",
    "EXTERNAL_SCRIPT_NAME",
    "GUNICORN_DEBUG_RELOAD",
    "GUNICORN_NUM_WORKERS",
    "GUNICORN_TIMEOUT_S",
    "HOST",
    "PORT",
    "PROXY_HTTP_HOST",
    "PROXY_REMOTE_ADDR",
    "PROXY_REWRITE_PATH_INFO",
    "PROXY_SCRIPT_NAME",
    "PROXY_SERVER_NAME",
    "PROXY_SERVER_PORT",
    "PROXY_URL_SCHEME",
    "SHOW_REQUEST_IMMEDIATELY",
    "SHOW_REQUESTS",
    "SHOW_RESPONSE",
    "SHOW_TIMING",
    "SSL_CERTIFICATE",
    "SSL_PRIVATE_KEY",
    "STATIC_CACHE_DURATION_S",
    "TRUSTED_PROXY_HEADERS",
    "UNIX_DOMAIN_SOCKET",
];

/// Logs each option that camcops-web does not read: debug for keys of the original (or of
/// sections it does not use), a warning for unknown keys of `[site]`/`[server]` (likely typos).
/// Never logs values.
pub(crate) fn log_ignored(ini: &Ini, site_used: &[&str], server_used: &[&str]) {
    let is_in = |list: &[&str], key: &str| list.iter().any(|k| k.eq_ignore_ascii_case(key));
    for opt in ini.defaults() {
        log::debug!("config: [DEFAULT] {} applies to every section", opt.key);
    }
    for section in ini.sections() {
        let (used, original): (&[&str], &[&str]) = match section.name.as_str() {
            "site" => (site_used, ORIGINAL_SITE_KEYS),
            "server" => (server_used, ORIGINAL_SERVER_KEYS),
            super::messaging::KAPOW_SECTION => {
                (super::messaging::KAPOW_KEYS, super::messaging::KAPOW_KEYS)
            }
            super::messaging::TWILIO_SECTION => {
                (super::messaging::TWILIO_KEYS, super::messaging::TWILIO_KEYS)
            }
            _ => (&[], &[]),
        };
        for opt in &section.options {
            let key = opt.key.to_ascii_uppercase();
            if is_in(used, &key) {
                continue;
            }
            if original.is_empty() || is_in(original, &key) {
                log::debug!(
                    "config: [{}] {key} (line {}) is not used by camcops-web; ignored",
                    section.name,
                    opt.line
                );
            } else {
                log::warn!(
                    "config: [{}] {key} (line {}) is not a known CamCOPS setting (a typo?); ignored",
                    section.name,
                    opt.line
                );
            }
        }
    }
}
