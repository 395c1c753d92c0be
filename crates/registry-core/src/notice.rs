//! Notices the registry sends people by e-mail, and the port that delivers them.
//!
//! A notice is plain text to one person: it never carries another recipient's
//! address, so owners who have never met do not learn each other's. Its subject
//! and body are built from validated values (slugs, timestamps, the registry's
//! own URL) and a login name that [`crate::account::clean_login`] stripped of
//! control characters; the adapter encodes headers, so nothing in them can add
//! one.

use async_trait::async_trait;

use crate::account::EmailAddress;

/// One message to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Where it goes.
    pub to: EmailAddress,
    /// Its subject line.
    pub subject: String,
    /// Its plain-text body.
    pub body: String,
}

/// Why a notice was not handed to the relay.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoticeError(pub String);

/// Delivers notices (an SMTP relay in production).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands `notice` to the relay; returns once the relay accepted it.
    async fn send(&self, notice: &Notice) -> Result<(), NoticeError>;
}
