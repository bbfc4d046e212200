//! Outgoing messages: e-mail over SMTP and text messages through an SMS backend, used for
//! second-factor codes and security notices.
//!
//! The sending functions here are the one way pages send anything. The `*_blocking` methods do
//! network I/O and must run on a blocking thread; pages call the async [`send_email`] /
//! [`send_sms`] / [`send_code`], which do that, bound the time, and count the outcome. A
//! [`SendError`] never holds a secret (no password, no code, no message body).
//!
//! Sends run on a thread of their own (at most [`MAX_CONCURRENT_SENDS`] at once per process),
//! not on actix's per-worker blocking pool: that pool is sized for database units, and a slow
//! mail server must not hold the threads that serve page views.

pub mod notices;
pub mod phone;
pub mod sms;
pub mod smtp;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::state::AppState;

pub use notices::{notice_text, send_notice, spawn_notice, Notice};

/// Sends in progress at once in one process; further sends wait (within their bound).
pub const MAX_CONCURRENT_SENDS: usize = 16;

/// CamCOPS' subject of a code e-mail.
pub const CODE_EMAIL_SUBJECT: &str = "CamCOPS authentication";

/// CamCOPS' text of a code message (e-mail body and SMS).
pub fn code_text(code: &str) -> String {
    format!("Your CamCOPS verification code is {code}")
}

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

/// The configured senders (built once at startup from the settings).
pub struct Messenger {
    mailer: Option<smtp::Mailer>,
    sms: sms::SmsSender,
    email_bound: Duration,
    sms_bound: Duration,
    slots: Arc<Semaphore>,
}

impl Messenger {
    /// Senders for these settings. Fails on settings that cannot work (startup error).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Messenger> {
        let mailer = settings.email.as_ref().map(smtp::Mailer::new).transpose()?;
        // A send makes several round trips, each bounded by EMAIL_TIMEOUT_S; the whole send
        // (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT) is bounded by three times it.
        let email_bound =
            Duration::from_secs(settings.email.as_ref().map_or(10, |e| e.timeout_s) * 3);
        Ok(Messenger {
            mailer,
            sms: sms::SmsSender::new(&settings.sms),
            email_bound,
            // The HTTP request as a whole is bounded by SMS_TIMEOUT_S; a little more here.
            sms_bound: Duration::from_secs(settings.sms.timeout_s + 2),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_SENDS)),
        })
    }

    /// Whether e-mail can be sent at all (mail settings present).
    pub fn email_configured(&self) -> bool {
        self.mailer.is_some()
    }

    /// The longest a [`send_email`] call takes before it gives up.
    pub fn email_bound(&self) -> Duration {
        self.email_bound
    }

    /// Sends a plain-text e-mail to one address. Blocking: run on a blocking thread.
    pub fn send_email_blocking(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), SendError> {
        self.email_blocking(to, subject, body, false)
    }

    /// [`Messenger::send_email_blocking`], with the site's Sender/Reply-To when
    /// `reply_headers` (notices).
    fn email_blocking(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        reply_headers: bool,
    ) -> Result<(), SendError> {
        match &self.mailer {
            None => Err(SendError::NotConfigured(Channel::Email)),
            Some(m) => m.send(to, subject, body, reply_headers),
        }
    }

    /// Sends a text message to an E.164 number (`+447700900123`). Blocking.
    pub fn send_sms_blocking(&self, to_e164: &str, body: &str) -> Result<(), SendError> {
        self.sms.send(to_e164, body)
    }
}

/// Runs `f` on a thread of its own, within `bound`; counts the outcome for `channel`.
async fn run_send<F>(
    state: &AppState,
    channel: Channel,
    bound: Duration,
    f: F,
) -> Result<(), SendError>
where
    F: FnOnce(&Messenger) -> Result<(), SendError> + Send + 'static,
{
    let messenger = Arc::clone(&state.messenger);
    let slots = Arc::clone(&messenger.slots);
    let work = async move {
        let slot = slots.acquire_owned().await.map_err(|_| SendError::Failed {
            channel,
            reason: "the sender is shut down".into(),
        })?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("send-{channel}"))
            .spawn(move || {
                let result = f(&messenger);
                drop(slot);
                let _ = tx.send(result);
            })
            .map_err(|e| SendError::Failed {
                channel,
                reason: format!("could not start a sending thread: {e}"),
            })?;
        rx.await.unwrap_or_else(|_| {
            Err(SendError::Failed {
                channel,
                reason: "the sending thread stopped".into(),
            })
        })
    };
    let result = match actix_web::rt::time::timeout(bound, work).await {
        Ok(r) => r,
        Err(_) => Err(SendError::Failed {
            channel,
            reason: format!("no answer within {} s", bound.as_secs()),
        }),
    };
    match &result {
        Ok(()) => state.metrics.message_sent(channel),
        Err(SendError::NotConfigured(_)) => {}
        Err(e) => {
            log::warn!("{e}");
            state.metrics.message_failed(channel);
        }
    }
    result
}

/// Sends an e-mail off the async workers, within the configured bound; counted in `/metrics`.
pub async fn send_email(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), SendError> {
    email(state, to, subject, body, false).await
}

/// An e-mail with the site's Sender/Reply-To headers (security notices).
pub(crate) async fn send_email_with_reply_headers(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), SendError> {
    email(state, to, subject, body, true).await
}

/// [`send_email`], with the site's Sender/Reply-To when `reply_headers`.
async fn email(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
    reply_headers: bool,
) -> Result<(), SendError> {
    let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
    run_send(
        state,
        Channel::Email,
        state.messenger.email_bound,
        move |m| m.email_blocking(&to, &subject, &body, reply_headers),
    )
    .await
}

/// Sends a text message off the async workers, within the configured bound; counted.
pub async fn send_sms(state: &AppState, to_e164: &str, body: &str) -> Result<(), SendError> {
    let (to, body) = (to_e164.to_string(), body.to_string());
    run_send(state, Channel::Sms, state.messenger.sms_bound, move |m| {
        m.send_sms_blocking(&to, &body)
    })
    .await
}

/// Sends a second-factor code as CamCOPS does: by e-mail from `EMAIL_FROM` with the subject
/// "CamCOPS authentication", or by text message, both with the text
/// "Your CamCOPS verification code is NNNNNN". `to` is an e-mail address or an E.164 number.
pub async fn send_code(
    state: &AppState,
    channel: Channel,
    to: &str,
    code: &str,
) -> Result<(), SendError> {
    let text = code_text(code);
    match channel {
        Channel::Email => send_email(state, to, CODE_EMAIL_SUBJECT, &text).await,
        Channel::Sms => send_sms(state, to, &text).await,
    }
}
