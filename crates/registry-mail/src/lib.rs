//! The registry's notices by e-mail: [`SmtpMailer`] hands each one to the SMTP
//! relay an operator configured, behind registry-core's
//! [`Mailer`](registry_core::notice::Mailer) port.
//!
//! The relay is named by one URL, as lettre reads it: `smtps://user:pass@host`
//! (TLS from the first byte, port 465), `smtp://user:pass@host?tls=required`
//! (STARTTLS or nothing, port 587), or `smtp://host:port` (no TLS at all: for
//! a relay on the same host or a test's loopback server only).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{Address, AsyncTransport, Tokio1Executor};
use registry_core::notice::{Mailer, Notice, NoticeError};

/// How long one step of talking to the relay (connecting, each command) may
/// take before the notice counts as not sent.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where notices go out, and whom they come from.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The relay's URL (see the crate's documentation); it may hold a password.
    pub smtp_url: String,
    /// The `From` of every notice: `registry@example.com` or
    /// `OpenWorkflow Registry <registry@example.com>`.
    pub from: String,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &redacted(&self.smtp_url))
            .field("from", &self.from)
            .finish()
    }
}

/// The URL with its password replaced, for logs and errors.
fn redacted(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Setting a password only fails on URLs that cannot have one.
                let _ = url.set_password(Some("…"));
            }
            url.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): mail robots neither answer a
/// notice nor bounce an out-of-office reply back at the registry.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// Sends notices through one SMTP relay.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for `settings`; nothing is sent or connected until the first
    /// notice. Refuses a URL lettre cannot read and a `from` that is no address.
    pub fn new(settings: &MailSettings) -> Result<Self, String> {
        let from: Mailbox = settings.from.parse().map_err(|e| {
            format!(
                "the notices' From {:?} is not an e-mail address: {e}",
                settings.from
            )
        })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
            .map_err(|e| {
                format!(
                    "the SMTP relay URL {} cannot be used: {e}; write smtps://user:password@host, \
                     smtp://user:password@host?tls=required, or smtp://host:port for a local relay",
                    redacted(&settings.smtp_url)
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    /// The message for `notice`, as it goes on the wire.
    fn message(&self, notice: &Notice) -> Result<Message, NoticeError> {
        let to: Address = notice.to.as_str().parse().map_err(|e| {
            NoticeError(format!(
                "{:?} is not an address to send to: {e}",
                notice.to.as_str()
            ))
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(notice.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .header(AutoSubmitted)
            .body(notice.body.clone())
            .map_err(|e| NoticeError(format!("the notice could not be written: {e}")))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, notice: &Notice) -> Result<(), NoticeError> {
        let message = self.message(notice)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| NoticeError(format!("the SMTP relay did not take the notice: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use registry_core::account::EmailAddress;

    use super::*;

    fn settings(url: &str, from: &str) -> MailSettings {
        MailSettings {
            smtp_url: url.to_owned(),
            from: from.to_owned(),
        }
    }

    #[test]
    fn the_relay_password_never_shows() {
        let shown = format!(
            "{:?}",
            settings("smtps://mailer:hunter2@smtp.example.test", "r@example.test")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("smtp.example.test"), "{shown}");
        let refused = SmtpMailer::new(&settings(
            "imap://mailer:hunter2@smtp.example.test",
            "r@example.test",
        ))
        .err()
        .expect("an IMAP URL is no relay");
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!(
            refused.contains("smtps://"),
            "says what to write: {refused}"
        );
    }

    #[tokio::test]
    async fn settings_that_cannot_work_are_refused_when_read() {
        assert!(SmtpMailer::new(&settings("smtp://127.0.0.1:2525", "not an address")).is_err());
        assert!(SmtpMailer::new(&settings("not a url", "r@example.test")).is_err());
        assert!(
            SmtpMailer::new(&settings(
                "smtp://127.0.0.1:2525",
                "OpenWorkflow Registry <r@example.test>"
            ))
            .is_ok()
        );
    }

    #[tokio::test]
    async fn a_relay_takes_a_notice_and_delivers_it_as_written() {
        let relay = registry_testkit::smtp::SmtpServer::start();
        let mailer = SmtpMailer::new(&settings(&relay.url, "registry@example.test")).unwrap();
        let notice = Notice {
            to: EmailAddress::parse("ada@example.test").unwrap(),
            subject: "Trusted publishing lock lifted on widget".to_owned(),
            body: "ada lifted it.\n".to_owned(),
        };
        mailer.send(&notice).await.unwrap();
        let delivered = relay.messages();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].header("to"), Some("ada@example.test"));
        assert_eq!(delivered[0].body.trim_end(), "ada lifted it.");
    }

    #[tokio::test]
    async fn a_notice_is_plain_text_to_one_person_and_asks_for_no_reply() {
        let mailer = SmtpMailer::new(&settings(
            "smtp://127.0.0.1:2525",
            "OpenWorkflow Registry <registry@example.test>",
        ))
        .unwrap();
        let message = mailer
            .message(&Notice {
                to: EmailAddress::parse("ada@example.test").unwrap(),
                subject: "Trusted publishing lock lifted on widget".to_owned(),
                body: "ada lifted it.\n".to_owned(),
            })
            .unwrap();
        let wire = String::from_utf8(message.formatted()).unwrap();
        for line in [
            "From: \"OpenWorkflow Registry\" <registry@example.test>\r\n",
            "To: ada@example.test\r\n",
            "Subject: Trusted publishing lock lifted on widget\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Auto-Submitted: auto-generated\r\n",
        ] {
            assert!(wire.contains(line), "{line:?} in {wire}");
        }
        assert_eq!(
            message.envelope().to(),
            ["ada@example.test".parse::<Address>().unwrap()],
            "nobody else is on the envelope"
        );
    }
}
