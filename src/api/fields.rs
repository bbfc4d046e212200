//! The request fields of sessions §5.2 (`TabletParam`) and their validation. Everything refused here
//! is a 400 `Not a valid CamCOPS API request` and touches no database.

use std::collections::HashMap;

use crate::auth::login::valid_username;
use crate::models::user::USER_NAME_FOR_SYSTEM;
use crate::secret::Secret;

/// The device name reserved for the server itself.
pub const DEVICE_NAME_FOR_SERVER: &str = "server";
/// Oldest client accepted (`MINIMUM_TABLET_VERSION`).
pub const MINIMUM_TABLET_VERSION: (u32, u32, u32) = (2, 0, 0);
/// Longest password accepted (bcrypt reads 72 bytes; anything this long is not a password).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest session token accepted (ours are 43 characters).
pub const MAX_TOKEN_CHARS: usize = 128;
/// Longest `camcops_version` (the device table's column is 32 characters).
pub const MAX_VERSION_CHARS: usize = 32;
/// Longest `devicefriendlyname` (the device table's column is 255 characters).
pub const MAX_FRIENDLY_NAME_CHARS: usize = 255;
/// Longest `operation`.
pub const MAX_OPERATION_CHARS: usize = 64;

/// A parsed, validated API request. `Debug` hides the password and the token.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// `operation`: letters, digits and `_`.
    pub operation: String,
    /// `device`: the client's device name (the username character rules).
    pub device: String,
    /// `user`: the username, if one was sent (an empty value counts as none).
    pub username: Option<String>,
    /// `password` ("" if absent).
    pub password: Secret,
    /// `session_id`: None if absent or not an integer (as the original).
    pub session_id: Option<i32>,
    /// `session_token` ("" if absent).
    pub session_token: Secret,
    /// `camcops_version` as sent.
    pub camcops_version: String,
    /// `devicefriendlyname` (used by `register`).
    pub friendly_name: Option<String>,
}

impl ApiRequest {
    /// Validates the fields; the error is a reason for the log (never shown to the client).
    pub fn from_fields(mut f: HashMap<String, String>) -> Result<ApiRequest, &'static str> {
        let mut take = |k: &str| f.remove(k).unwrap_or_default();
        let operation = take("operation");
        let device = take("device");
        let user = take("user");
        let password = take("password");
        let session_id = take("session_id");
        let session_token = take("session_token");
        let camcops_version = take("camcops_version");
        let friendly_name = f.remove("devicefriendlyname");

        if operation.is_empty() {
            return Err("no operation");
        }
        if operation.chars().count() > MAX_OPERATION_CHARS
            || !operation
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err("bad operation name");
        }
        if !valid_username(&device) {
            return Err("missing or bad device name");
        }
        if device == DEVICE_NAME_FOR_SERVER {
            return Err("device name 'server' is reserved");
        }
        let username = (!user.is_empty()).then_some(user);
        if let Some(u) = &username {
            if !valid_username(u) {
                return Err("bad username");
            }
            if u == USER_NAME_FOR_SYSTEM {
                return Err("username 'system' is reserved");
            }
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err("password too long");
        }
        if session_token.chars().count() > MAX_TOKEN_CHARS {
            return Err("session token too long");
        }
        if camcops_version.chars().count() > MAX_VERSION_CHARS {
            return Err("camcops_version too long");
        }
        match parse_version(&camcops_version) {
            Some(v) if v >= MINIMUM_TABLET_VERSION => {}
            Some(_) => return Err("client version too old"),
            None => return Err("missing or nonsensical client version"),
        }
        if let Some(name) = &friendly_name {
            if name.chars().count() > MAX_FRIENDLY_NAME_CHARS || name.chars().any(char::is_control)
            {
                return Err("bad device friendly name");
            }
        }
        Ok(ApiRequest {
            operation,
            device,
            username,
            password: password.into(),
            session_id: session_id.trim().parse::<i32>().ok(),
            session_token: session_token.into(),
            camcops_version,
            friendly_name,
        })
    }
}

/// `MAJOR[.MINOR[.PATCH]]`, optionally followed by a `-prerelease` or `+build` suffix (which
/// does not count). An empty string is 0.0.0 (the original's default, and too old).
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    if s.is_empty() {
        return Some((0, 0, 0));
    }
    let core = s.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let mut next = |required: bool| -> Option<u32> {
        match parts.next() {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
            None if !required => Some(0),
            _ => None,
        }
    };
    let v = (next(true)?, next(false)?, next(false)?);
    parts.next().is_none().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Result<ApiRequest, &'static str> {
        let mut f: HashMap<String, String> = [
            ("operation", "check_device_registered"),
            ("device", "tab1"),
            ("camcops_version", "2.4.15"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            f.insert(k.to_string(), v.to_string());
        }
        ApiRequest::from_fields(f)
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.4.15"), Some((2, 4, 15)));
        assert_eq!(parse_version("2"), Some((2, 0, 0)));
        assert_eq!(parse_version("2.0.0-beta+x"), Some((2, 0, 0)));
        assert_eq!(parse_version(""), Some((0, 0, 0)));
        for bad in ["x", "2..1", "2.1.1.1", "v2", "2.a", " 2", "99999999999"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn validation() {
        assert!(req(&[]).is_ok());
        assert_eq!(req(&[("session_id", "abc")]).unwrap().session_id, None);
        assert_eq!(req(&[("session_id", "12")]).unwrap().session_id, Some(12));
        assert_eq!(req(&[("user", "")]).unwrap().username, None);
        for bad in [
            ("operation", ""),
            ("operation", "drop table"),
            ("device", ""),
            ("device", "server"),
            ("device", "tab 1"),
            ("user", "system"),
            ("user", "a;b"),
            ("camcops_version", ""),
            ("camcops_version", "1.9.9"),
            ("camcops_version", "two"),
            ("devicefriendlyname", "a\u{0}b"),
        ] {
            assert!(req(&[bad]).is_err(), "{bad:?}");
        }
        let dbg = format!(
            "{:?}",
            req(&[("password", "hunter2"), ("session_token", "tok")]).unwrap()
        );
        assert!(!dbg.contains("hunter2") && !dbg.contains("tok\""));
    }
}
