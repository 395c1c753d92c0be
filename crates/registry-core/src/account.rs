//! People: who they are at a sign-in provider, their accounts, browser sessions and
//! sign-in attempts.
//!
//! An account is keyed by the provider's issuer and its **stable subject id**, never
//! by a login name: a renamed account keeps its principal (and so its plugins), and
//! whoever later takes the old name gets nothing of it. Session and sign-in secrets
//! live only in the browser's cookies; the store keeps their SHA-256.

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{PrincipalId, SecretHash, random_hex};
use crate::timestamp::Timestamp;

/// Random bytes in a session or sign-in secret.
const SECRET_RANDOM_BYTES: usize = 32;

/// How long a browser session lasts after sign-in.
pub const SESSION_LIFETIME: time::Duration = time::Duration::days(7);

/// How long a person has to come back from the provider.
pub const LOGIN_ATTEMPT_LIFETIME: time::Duration = time::Duration::minutes(10);

/// Longest login name kept from a provider, in characters.
pub const MAX_LOGIN_CHARS: usize = 100;

/// A person as a provider knows them: its issuer and the subject id it never reuses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The provider's issuer URL (`https://github.com` for GitHub).
    pub issuer: String,
    /// The provider's stable id of the person.
    pub subject: String,
}

/// A person's account: the link from an identity to their user principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Who they are at the provider.
    pub identity: Identity,
    /// The user principal that owns their plugins and keys.
    pub principal: PrincipalId,
    /// Their login name at the last sign-in (shown, never used to find them).
    pub login: String,
    /// When the account was made (the first sign-in).
    pub created_at: Timestamp,
    /// When they last signed in.
    pub signed_in_at: Timestamp,
}

/// Public identifier of a session (`ses_` + 16 hex characters), safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("ses_{}", random_hex(8)?)))
    }

    /// Wraps a stored id.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret held only by a browser's cookie: a session's, or a sign-in attempt's.
/// Never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserSecret(String);

impl BrowserSecret {
    /// A fresh secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(random_hex(SECRET_RANDOM_BYTES)?))
    }

    /// Wraps a cookie's value if it has the shape of a secret; anything else is not one.
    pub fn from_presented(raw: &str) -> Option<Self> {
        (raw.len() == 2 * SECRET_RANDOM_BYTES && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_owned()))
    }

    /// The secret text, for the cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which it is stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.0.as_bytes())
    }

    /// The anti-forgery token of the session this secret opens: derived from the
    /// secret, which another site can neither read nor guess, so a form carrying it
    /// came from a page of this registry. Nothing more is stored.
    pub fn csrf_token(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(b"openworkflow-csrf\0");
        digest.update(self.0.as_bytes());
        hex::encode(digest.finalize())
    }

    /// Whether `presented` is this session's anti-forgery token, compared in
    /// constant time.
    pub fn csrf_token_matches(&self, presented: &str) -> bool {
        self.csrf_token()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}

impl fmt::Debug for BrowserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserSecret(…)")
    }
}

/// A signed-in browser session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Public id (audit, logs).
    pub id: SessionId,
    /// SHA-256 of the cookie's secret.
    pub hash: SecretHash,
    /// Who is signed in.
    pub principal: PrincipalId,
    /// Their login name when they signed in, for the pages.
    pub login: String,
    /// When they signed in: a fresh sign-in is this recent.
    pub created_at: Timestamp,
    /// When the session ends.
    pub expires_at: Timestamp,
}

/// A sign-in in progress between the redirect to the provider and its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    /// SHA-256 of the secret in the browser's sign-in cookie: the callback must come
    /// back to the browser that started it.
    pub hash: SecretHash,
    /// Which provider.
    pub provider: String,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry (OpenID Connect only).
    pub nonce: Option<String>,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// The registry path to return to afterwards.
    pub return_to: String,
    /// When the attempt lapses.
    pub expires_at: Timestamp,
}

/// Where to send a browser to sign in, and what to keep for the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInStart {
    /// The provider's authorization URL, with every parameter.
    pub authorize_url: String,
    /// The `state` in that URL.
    pub state: String,
    /// The `nonce` in that URL (OpenID Connect only).
    pub nonce: Option<String>,
    /// The PKCE verifier whose challenge is in that URL.
    pub pkce_verifier: String,
}

/// Who signed in, as the provider proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The stable identity.
    pub identity: Identity,
    /// Their login name now.
    pub login: String,
}

/// Why a provider would not say who signed in.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider's answer proves nothing (a bad token, a refused code): the
    /// person should start again.
    #[error("{detail}")]
    Refused {
        /// A stable problem code (`id_token_invalid`, `code_refused`, …).
        code: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The provider could not be reached or answered nonsense.
    #[error("the sign-in provider is unavailable: {0}")]
    Unavailable(String),
}

/// A sign-in provider: OpenID Connect, or GitHub's OAuth.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Short name used in URLs (`oidc`, `github`).
    fn id(&self) -> &str;

    /// Name shown on the sign-in button.
    fn display_name(&self) -> &str;

    /// Starts a sign-in that returns to `redirect_uri`.
    async fn start(&self, redirect_uri: &str) -> Result<SignInStart, SignInError>;

    /// Trades the callback's `code` for who signed in, checking everything
    /// `attempt` promised (PKCE verifier, nonce).
    async fn finish(
        &self,
        code: &str,
        redirect_uri: &str,
        attempt: &LoginAttempt,
    ) -> Result<VerifiedIdentity, SignInError>;
}

/// Trims a provider's login name to something safe to keep and show.
pub fn clean_login(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LOGIN_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "unnamed".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_secret_round_trips_and_hides_itself() {
        let secret = BrowserSecret::generate().expect("entropy");
        let again = BrowserSecret::from_presented(secret.expose()).expect("own shape");
        assert_eq!(secret.hash(), again.hash());
        assert!(!format!("{secret:?}").contains(secret.expose()));
        for bad in ["", "zz", &"g".repeat(64), &"a".repeat(63)] {
            assert!(BrowserSecret::from_presented(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_csrf_token_belongs_to_one_session() {
        let one = BrowserSecret::generate().expect("entropy");
        let other = BrowserSecret::generate().expect("entropy");
        assert!(one.csrf_token_matches(&one.csrf_token()));
        assert!(!one.csrf_token_matches(&other.csrf_token()));
        assert!(!one.csrf_token_matches(""));
        assert_ne!(one.csrf_token(), one.expose());
    }

    #[test]
    fn logins_are_trimmed_and_never_empty() {
        assert_eq!(clean_login(" ada\u{7}\n"), "ada");
        assert_eq!(clean_login("\n"), "unnamed");
        assert_eq!(clean_login(&"x".repeat(500)).len(), MAX_LOGIN_CHARS);
    }
}
