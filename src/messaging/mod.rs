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

pub mod channel;
pub mod messenger;
pub mod notices;
pub mod phone;
pub mod sms;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

pub use channel::{Channel, SendError};
pub use messenger::Messenger;
pub use notices::{notice_text, send_notice, spawn_notice, Notice};
pub use smtp::Headers;

pub use messenger::MAX_CONCURRENT_SENDS;

/// CamCOPS' subject of a code e-mail.
pub const CODE_EMAIL_SUBJECT: &str = "CamCOPS authentication";

/// CamCOPS' text of a code message (e-mail body and SMS).
pub fn code_text(code: &str) -> String {
    format!("Your CamCOPS verification code is {code}")
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

/// Sends an e-mail with the site's headers `headers` says, off the async workers, within the
/// configured bound; counted in `/metrics`.
pub async fn send_email(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
    headers: Headers,
) -> Result<(), SendError> {
    let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
    run_send(
        state,
        Channel::Email,
        state.messenger.email_bound,
        move |m| m.mailer()?.send(&to, &subject, &body, headers),
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
        Channel::Email => send_email(state, to, CODE_EMAIL_SUBJECT, &text, Headers::FromOnly).await,
        Channel::Sms => send_sms(state, to, &text).await,
    }
}
