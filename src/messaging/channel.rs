//! What a send says: the [`Channel`] a message travels by and the [`SendError`] it may end
//! with. Imported by the senders (`smtp`, `sms`, `messenger`) and by `metrics`.

use std::fmt;

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

    /// Every channel (metric labels).
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];
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
