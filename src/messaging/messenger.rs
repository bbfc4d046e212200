//! The configured senders ([`Messenger`]: SMTP and the SMS backend, with their time bounds).
//! No application state: `state` holds a `Messenger`, and the async sending functions of the
//! parent module take the state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::channel::{Channel, SendError};
use super::sms::SmsSender;
use super::smtp::{Headers, Mailer};
use crate::config::Settings;

/// Sends in progress at once in one process; further sends wait (within their bound).
pub const MAX_CONCURRENT_SENDS: usize = 16;

/// The configured senders (built once at startup from the settings).
pub struct Messenger {
    mailer: Option<Mailer>,
    sms: SmsSender,
    pub(super) email_bound: Duration,
    pub(super) sms_bound: Duration,
    pub(super) slots: Arc<Semaphore>,
}

impl Messenger {
    /// Senders for these settings. Fails on settings that cannot work (startup error).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Messenger> {
        let mailer = settings.email.as_ref().map(Mailer::new).transpose()?;
        // A send makes several round trips, each bounded by EMAIL_TIMEOUT_S; the whole send
        // (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT) is bounded by three times it.
        let email_bound =
            Duration::from_secs(settings.email.as_ref().map_or(10, |e| e.timeout_s) * 3);
        Ok(Messenger {
            mailer,
            sms: SmsSender::new(&settings.sms),
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

    /// The longest a [`send_email`](super::send_email) call takes before it gives up.
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
        self.mailer()?.send(to, subject, body, Headers::FromOnly)
    }

    /// The SMTP sender, if e-mail is configured.
    pub(super) fn mailer(&self) -> Result<&Mailer, SendError> {
        self.mailer
            .as_ref()
            .ok_or(SendError::NotConfigured(Channel::Email))
    }

    /// Sends a text message to an E.164 number (`+447700900123`). Blocking.
    pub fn send_sms_blocking(&self, to_e164: &str, body: &str) -> Result<(), SendError> {
        self.sms.send(to_e164, body)
    }
}
