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

/// Longest e-mail address kept, in bytes (RFC 5321's limit on a forward path).
pub const MAX_EMAIL_BYTES: usize = 254;

/// An e-mail address a provider vouched for (OpenID Connect's `email_verified`,
/// GitHub's verified primary address): where the registry's notices to the
/// person go. Only its shape is checked here; the relay decides the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address in `raw` if it has the shape of one (`local@domain`, no space,
    /// no control character, nothing that would break out of a header), else
    /// `None`: a provider's answer is data from elsewhere.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let (local, domain) = raw.rsplit_once('@')?;
        let plain =
            |c: char| !c.is_control() && !c.is_whitespace() && !"<>()[],;:\\\"@".contains(c);
        (raw.len() <= MAX_EMAIL_BYTES
            && !local.is_empty()
            && !domain.is_empty()
            && local.chars().all(plain)
            && domain.chars().all(plain)
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.'))
        .then(|| Self(raw.to_owned()))
    }

    /// Wraps a stored address.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    /// Their verified e-mail address at the last sign-in, if the provider gave
    /// one: where notices to them go.
    pub email: Option<EmailAddress>,
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

/// A random secret only its holder has: a session's or a sign-in attempt's (in a
/// browser's cookie), or a device sign-in's device code (in the CLI). The store
/// keeps its hash. Never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueSecret(String);

impl OpaqueSecret {
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

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret(…)")
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

/// How long a device sign-in waits for its person to approve it.
pub const DEVICE_GRANT_LIFETIME: time::Duration = time::Duration::minutes(10);

/// The fewest seconds between two polls of one device sign-in.
pub const DEVICE_POLL_INTERVAL_SECS: u32 = 5;

/// The letters of user codes: no vowels (no words), nothing mistaken for
/// another (RFC 8628 section 6.1).
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Letters in a user code: 20^8, about 2^34.6 codes, for ten-minute grants.
const USER_CODE_LETTERS: usize = 8;

/// The short code a person types or confirms to approve a device sign-in,
/// shown as `BCDF-GHJK`; stored without the dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh random code.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; USER_CODE_LETTERS];
        getrandom::fill(&mut bytes)?;
        // 256 is not a multiple of 20; redrawing the few biased bytes keeps
        // every letter equally likely.
        let mut code = String::with_capacity(USER_CODE_LETTERS);
        let mut i = 0;
        while code.len() < USER_CODE_LETTERS {
            if i == bytes.len() {
                getrandom::fill(&mut bytes)?;
                i = 0;
            }
            let b = bytes[i];
            i += 1;
            if usize::from(b) < 240 {
                code.push(char::from(USER_CODE_ALPHABET[usize::from(b) % 20]));
            }
        }
        Ok(Self(code))
    }

    /// Reads what a person typed: any case, dashes and spaces ignored; `None`
    /// for anything that cannot be a code.
    pub fn parse(raw: &str) -> Option<Self> {
        let code: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == USER_CODE_LETTERS && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
            .then_some(Self(code))
    }

    /// Wraps a stored code.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The code as stored (no dash).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, second) = self.0.split_at(self.0.len() / 2);
        write!(f, "{first}-{second}")
    }
}

/// Where a device sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceGrantState {
    /// Waiting for its person.
    Pending,
    /// Approved by the person signed in with `session`; the device may collect
    /// its key once.
    Approved {
        /// Who approved: the key will be theirs.
        principal: PrincipalId,
        /// The session they approved from.
        session: SessionId,
    },
    /// Refused by its person.
    Denied,
    /// Approved, and its key handed to the device.
    Redeemed,
}

impl DeviceGrantState {
    /// The state's stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved { .. } => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }
}

/// A device sign-in (the CLI's `auth login`), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    /// SHA-256 of the device code the CLI holds.
    pub hash: SecretHash,
    /// The code the person confirms.
    pub user_code: UserCode,
    /// The name the key will get.
    pub key_name: String,
    /// When the CLI asked.
    pub created_at: Timestamp,
    /// When the grant lapses unless redeemed.
    pub expires_at: Timestamp,
    /// Where it stands.
    pub state: DeviceGrantState,
    /// When the CLI last asked whether it is approved.
    pub last_polled_at: Option<Timestamp>,
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
    /// Their e-mail address, only if the provider says it is verified.
    pub email: Option<EmailAddress>,
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
        let secret = OpaqueSecret::generate().expect("entropy");
        let again = OpaqueSecret::from_presented(secret.expose()).expect("own shape");
        assert_eq!(secret.hash(), again.hash());
        assert!(!format!("{secret:?}").contains(secret.expose()));
        for bad in ["", "zz", &"g".repeat(64), &"a".repeat(63)] {
            assert!(OpaqueSecret::from_presented(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_csrf_token_belongs_to_one_session() {
        let one = OpaqueSecret::generate().expect("entropy");
        let other = OpaqueSecret::generate().expect("entropy");
        assert!(one.csrf_token_matches(&one.csrf_token()));
        assert!(!one.csrf_token_matches(&other.csrf_token()));
        assert!(!one.csrf_token_matches(""));
        assert_ne!(one.csrf_token(), one.expose());
    }

    #[test]
    fn an_email_address_is_kept_only_in_the_shape_of_one() {
        for good in [
            "ada@example.test",
            "a.b+tag@mail.example.org",
            " ada@example.test ",
        ] {
            assert_eq!(
                EmailAddress::parse(good).map(|a| a.as_str().to_owned()),
                Some(good.trim().to_owned())
            );
        }
        let long = format!("{}@example.test", "a".repeat(MAX_EMAIL_BYTES));
        for bad in [
            "",
            "ada",
            "@example.test",
            "ada@",
            "ada@localhost",
            "ada@.example",
            "ada smith@example.test",
            "ada@example.test\r\nBcc: eve@example.test",
            "Ada <ada@example.test>",
            "ada@example.test,eve@example.test",
            &long,
        ] {
            assert_eq!(EmailAddress::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_codes_read_as_people_type_them() {
        let code = UserCode::generate().expect("entropy");
        let shown = code.to_string();
        assert_eq!(shown.len(), 9);
        assert_eq!(UserCode::parse(&shown), Some(code.clone()));
        assert_eq!(UserCode::parse(&shown.to_lowercase()), Some(code.clone()));
        assert_eq!(UserCode::parse(&shown.replace('-', " ")), Some(code));
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1"] {
            assert_eq!(UserCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn logins_are_trimmed_and_never_empty() {
        assert_eq!(clean_login(" ada\u{7}\n"), "ada");
        assert_eq!(clean_login("\n"), "unnamed");
        assert_eq!(clean_login(&"x".repeat(500)).len(), MAX_LOGIN_CHARS);
    }
}
