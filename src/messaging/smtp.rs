//! E-mail over SMTP with `lettre` (rustls): STARTTLS required and the certificate verified when
//! `EMAIL_USE_TLS` is on (TLS from the first byte on port 465), AUTH only with a username, and
//! every connect, read and write bounded by `EMAIL_TIMEOUT_S`.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::channel::{Channel, SendError};
use crate::config::EmailSettings;

/// Which of the site's headers a message carries besides From.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// From only: code mails, as CamCOPS sends them.
    FromOnly,
    /// Also `EMAIL_SENDER` and `EMAIL_REPLY_TO` as Sender and Reply-To, where set: security
    /// notices and the test mail.
    WithReply,
}

/// A configured SMTP sender.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    sender: Option<Mailbox>,
    reply_to: Option<Mailbox>,
    server: String,
}

fn parse_mailbox(key: &str, text: &str) -> anyhow::Result<Mailbox> {
    Mailbox::from_str(text).map_err(|e| anyhow::anyhow!("{key}: not an e-mail address: {e}"))
}

impl Mailer {
    /// A sender for these settings (reads `EMAIL_TLS_CA_FILE`).
    pub fn new(s: &EmailSettings) -> anyhow::Result<Mailer> {
        let mut builder = SmtpTransport::builder_dangerous(s.host.as_str())
            .port(s.port)
            .timeout(Some(Duration::from_secs(s.timeout_s)));
        if s.use_tls {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(path) = &s.tls_ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("EMAIL_TLS_CA_FILE {}: {e}", path.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("EMAIL_TLS_CA_FILE {}: {e}", path.display()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| anyhow::anyhow!("mail TLS settings: {e}"))?;
            builder = builder.tls(if s.implicit_tls() {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        } else {
            builder = builder.tls(Tls::None);
        }
        if let Some(user) = &s.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                s.password
                    .as_ref()
                    .map(|p| p.expose().to_string())
                    .unwrap_or_default(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: parse_mailbox("EMAIL_FROM", &s.from)?,
            sender: s
                .sender
                .as_deref()
                .map(|t| parse_mailbox("EMAIL_SENDER", t))
                .transpose()?,
            reply_to: s
                .reply_to
                .as_deref()
                .map(|t| parse_mailbox("EMAIL_REPLY_TO", t))
                .transpose()?,
            server: format!("{}:{}", s.host, s.port),
        })
    }

    /// Sends one text/plain message with the site's headers `headers` says. Blocking.
    pub fn send(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        headers: Headers,
    ) -> Result<(), SendError> {
        let fail = |reason: String| SendError::Failed {
            channel: Channel::Email,
            reason,
        };
        let to = Mailbox::from_str(to.trim())
            .map_err(|_| fail("the recipient is not a valid e-mail address".into()))?;
        let mut message = Message::builder().from(self.from.clone()).to(to);
        if headers == Headers::WithReply {
            if let Some(sender) = &self.sender {
                message = message.sender(sender.clone());
            }
            if let Some(reply_to) = &self.reply_to {
                message = message.reply_to(reply_to.clone());
            }
        }
        let message = message
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| fail(format!("the message could not be built: {e}")))?;
        // lettre's errors name the stage and the server's reply; they hold no credentials.
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| fail(format!("SMTP server {}: {e}", self.server)))
    }
}
