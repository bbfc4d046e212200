//! Text messages: the `console` backend (logs that a message went, to a partly hidden number),
//! and Kapow and Twilio, called as CamCOPS calls them (a form POST each) over HTTPS with `ureq`
//! (rustls), the whole request bounded by `SMS_TIMEOUT_S`.

use std::time::Duration;

use base64::Engine;

use super::channel::{Channel, SendError};
use crate::config::{SmsBackend, SmsSettings};

/// Kapow's send URL (as CamCOPS).
pub const KAPOW_URL: &str = "https://www.kapow.co.uk/scripts/sendsms.php";
/// Twilio's API base.
pub const TWILIO_BASE: &str = "https://api.twilio.com";

/// A configured SMS sender.
pub struct SmsSender {
    settings: SmsSettings,
    agent: ureq::Agent,
}

fn fail(reason: impl Into<String>) -> SendError {
    SendError::Failed {
        channel: Channel::Sms,
        reason: reason.into(),
    }
}

/// `+447700900123` as `+44*******123`: enough to recognise, not enough to reuse.
pub fn partial_number(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars.iter().skip(chars.len() - 3).collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

impl SmsSender {
    /// A sender for these settings.
    pub fn new(settings: &SmsSettings) -> SmsSender {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(settings.timeout_s)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        SmsSender {
            settings: settings.clone(),
            agent,
        }
    }

    /// The URL for a provider URL: its `https://host` replaced by `SMS_PROVIDER_URL_FOR_TESTS`
    /// when that is set.
    fn url(&self, real_base: &str, path: &str) -> String {
        match &self.settings.provider_url_for_tests {
            Some(base) => format!("{base}{path}"),
            None => format!("{real_base}{path}"),
        }
    }

    /// Sends `body` to `to_e164`. Blocking.
    pub fn send(&self, to_e164: &str, body: &str) -> Result<(), SendError> {
        match &self.settings.backend {
            SmsBackend::Console => {
                if self.settings.console_show_messages {
                    log::info!("SMS (console backend) to {to_e164}: {body:?}");
                } else {
                    log::info!(
                        "SMS (console backend): a message of {} characters to {} (text not \
                         logged; SMS_CONSOLE_SHOW_MESSAGES shows it)",
                        body.chars().count(),
                        partial_number(to_e164)
                    );
                }
                Ok(())
            }
            SmsBackend::Kapow { username, password } => {
                let url = self.url("https://www.kapow.co.uk", "/scripts/sendsms.php");
                let form = [
                    ("username", username.as_str()),
                    ("password", password.expose()),
                    ("mobile", to_e164),
                    ("sms", body),
                ];
                let mut response = self
                    .agent
                    .post(&url)
                    .send_form(form)
                    .map_err(|e| fail(format!("Kapow: {}", transport_error(&e))))?;
                let status = response.status().as_u16();
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_string()
                    .map_err(|e| {
                        fail(format!("Kapow: reading the reply: {}", transport_error(&e)))
                    })?;
                // Kapow answers "OK ..." when it accepted the message, and e.g. "ERROR",
                // "USERPASS" or "NOCREDIT" otherwise.
                if (200..300).contains(&status) && text.trim_start().starts_with("OK") {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "Kapow refused the message: HTTP {status}, reply {:?}",
                        first_word(&text)
                    )))
                }
            }
            SmsBackend::Twilio {
                sid,
                token,
                from_phone_number,
            } => {
                let path = format!(
                    "/2010-04-01/Accounts/{}/Messages.json",
                    url::form_urlencoded::byte_serialize(sid.as_bytes()).collect::<String>()
                );
                let url = self.url(TWILIO_BASE, &path);
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{sid}:{}", token.expose()));
                let form = [
                    ("To", to_e164),
                    ("From", from_phone_number.as_str()),
                    ("Body", body),
                ];
                let response = self
                    .agent
                    .post(&url)
                    .header("Authorization", &format!("Basic {basic}"))
                    .send_form(form)
                    .map_err(|e| fail(format!("Twilio: {}", transport_error(&e))))?;
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(fail(format!("Twilio refused the message: HTTP {status}")))
                }
            }
        }
    }
}

/// The first word of a provider's reply (its status), at most 40 characters of it.
fn first_word(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .take(40)
        .collect()
}

/// A transport error without the URL's query (never holds credentials: those travel in the
/// body or a header).
fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_numbers_hide_the_middle() {
        assert_eq!(partial_number("+447700900123"), "+44*******123");
        assert_eq!(partial_number("+1234"), "*****");
    }
}
