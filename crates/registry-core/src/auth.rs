//! Principals, API keys and scopes.
//!
//! A key only authenticates; the principal it belongs to owns plugins. Keys are
//! `sk_` followed by 32 random bytes in hex, stored only as their SHA-256, and the
//! stored hash is compared in constant time.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::account::SessionId;
use crate::error::RegistryError;
use crate::request::RequestId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::trusted_publishing::{PublishTokenId, PublisherId};

/// Prefix of every API key secret.
pub const KEY_PREFIX: &str = "sk_";
/// Random bytes in a key secret.
pub const KEY_RANDOM_BYTES: usize = 32;
/// Prefix of every publish token secret (trusted publishing): distinct from a
/// key's, so secret scanners and logs tell the two apart.
pub const PUBLISH_TOKEN_PREFIX: &str = "owpt_";

/// What a key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read a private registry.
    Read,
    /// Publish, update, deprecate and unpublish the principal's plugins (implies `read`).
    Publish,
    /// Register MCP router instances (implies `read`).
    Router,
    /// Read any plugin's usage analytics (implies `read`).
    Analytics,
    /// Read, approve and reject versions held for review (implies `read`).
    Review,
    /// Everything, including managing every principal's keys.
    Admin,
}

impl Scope {
    /// All scopes, for help texts.
    pub const ALL: [Scope; 6] = [
        Scope::Read,
        Scope::Publish,
        Scope::Router,
        Scope::Analytics,
        Scope::Review,
        Scope::Admin,
    ];

    /// The scope's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Publish => "publish",
            Self::Router => "router",
            Self::Analytics => "analytics",
            Self::Review => "review",
            Self::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                format!("unknown scope {raw:?}; expected read, publish, router, analytics, review or admin")
            })
    }

    /// Whether a key holding `self` may act with `needed`.
    pub fn grants(self, needed: Scope) -> bool {
        self == needed
            || self == Scope::Admin
            || (needed == Scope::Read
                && matches!(
                    self,
                    Scope::Publish | Scope::Router | Scope::Analytics | Scope::Review
                ))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
pub type Scopes = BTreeSet<Scope>;

/// Whether any scope in `held` grants `needed`.
pub fn scopes_grant(held: &Scopes, needed: Scope) -> bool {
    held.iter().any(|s| s.grants(needed))
}

/// Whether `raw`, an id a client named, has the shape of one: `prefix` and 1 to
/// 64 ASCII letters, digits or underscores. Anything else names nothing and is
/// answered as unknown without reaching a store (PostgreSQL text, for one,
/// cannot hold the NUL a path may carry).
pub fn id_shaped(raw: &str, prefix: &str) -> bool {
    raw.strip_prefix(prefix).is_some_and(|rest| {
        (1..=64).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// Identifier of a principal (`prn_` + 16 hex characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrincipalId(String);

impl PrincipalId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("prn_{}", random_hex(8)?)))
    }

    /// Wraps a stored id.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// An id a client named, if it has the shape of one (see [`id_shaped`]).
    pub fn parse(raw: &str) -> Option<Self> {
        id_shaped(raw, "prn_").then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of party a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person.
    User,
    /// A team or service account.
    Team,
    /// An organisation.
    Org,
}

impl PrincipalKind {
    /// The kind's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Team => "team",
            Self::Org => "org",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "user" => Ok(Self::User),
            "team" => Ok(Self::Team),
            "org" => Ok(Self::Org),
            other => Err(format!(
                "unknown principal kind {other:?}; expected user, team or org"
            )),
        }
    }
}

/// A party that owns plugins and holds keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier.
    pub id: PrincipalId,
    /// Display name.
    pub name: String,
    /// User, team or org.
    pub kind: PrincipalKind,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Public identifier of a key (`key_` + 16 hex characters), safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("key_{}", random_hex(8)?)))
    }

    /// Wraps a stored id.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// An id a client named, if it has the shape of one (see [`id_shaped`]).
    pub fn parse(raw: &str) -> Option<Self> {
        id_shaped(raw, "key_").then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key secret as presented by a client. Never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Generates a new secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!(
            "{KEY_PREFIX}{}",
            random_hex(KEY_RANDOM_BYTES)?
        )))
    }

    /// Generates a new publish token secret ([`PUBLISH_TOKEN_PREFIX`]).
    pub fn generate_publish_token() -> Result<Self, getrandom::Error> {
        Ok(Self(format!(
            "{PUBLISH_TOKEN_PREFIX}{}",
            random_hex(KEY_RANDOM_BYTES)?
        )))
    }

    /// Whether this is a publish token's secret rather than a key's.
    pub fn is_publish_token(&self) -> bool {
        self.0.starts_with(PUBLISH_TOKEN_PREFIX)
    }

    /// Wraps a presented secret if it has the shape of a key or a publish token;
    /// anything else cannot be either.
    pub fn from_presented(raw: &str) -> Option<Self> {
        let body = raw
            .strip_prefix(KEY_PREFIX)
            .or_else(|| raw.strip_prefix(PUBLISH_TOKEN_PREFIX))?;
        (body.len() >= 2 * KEY_RANDOM_BYTES
            && body.len() <= 256
            && body.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| Self(raw.to_owned()))
    }

    /// The secret text, for showing once to its creator.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the key is stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.0.as_bytes())
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(sk_…)")
    }
}

/// SHA-256 of a secret (an API key, a session): the only form in which either is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The hash of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Parses a stored hex hash.
    pub fn from_hex(raw: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(raw, &mut out).ok()?;
        Some(Self(out))
    }

    /// The hash as hex, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time equality, so a lookup cannot leak how much of a hash matched.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

/// A stored API key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id.
    pub id: KeyId,
    /// SHA-256 of the secret.
    pub hash: SecretHash,
    /// The owning principal.
    pub principal: PrincipalId,
    /// Label given at creation ("CI/CD Pipeline").
    pub name: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it stops working; `None` for a key that never expires.
    pub expires_at: Option<Timestamp>,
    /// When it was last used, to the hour; `None` before its first use.
    pub last_used_at: Option<Timestamp>,
    /// The only plugins it may act on; `None`: every plugin of its principal.
    pub plugins: Option<PluginLimit>,
}

/// The plugins a credential is limited to (a key made for one project's CI).
pub type PluginLimit = BTreeSet<Slug>;

/// What a caller proved who they are with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key.
    Key(KeyId),
    /// A signed-in browser session.
    Session(SessionId),
    /// A publish token from trusted publishing, with the publishers it was
    /// granted through.
    PublishToken {
        /// The token's id.
        id: PublishTokenId,
        /// The publishers that granted it.
        publishers: BTreeSet<PublisherId>,
    },
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(id) => id.fmt(f),
            Self::Session(id) => id.fmt(f),
            Self::PublishToken { id, .. } => id.fmt(f),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal acting.
    pub principal: PrincipalId,
    /// The key or session used.
    pub credential: Credential,
    /// What the credential may do.
    pub scopes: Scopes,
    /// The only plugins it may act on; `None`: every plugin its principal may.
    pub plugins: Option<PluginLimit>,
    /// The request it acts in, for the audit log; `None` outside a request.
    pub request: Option<RequestId>,
}

impl Caller {
    /// The same caller, acting in `request`.
    #[must_use]
    pub fn in_request(mut self, request: Option<RequestId>) -> Self {
        self.request = request;
        self
    }

    /// The publishers a publish token was granted through; `None` for any other
    /// credential.
    pub fn publish_token_publishers(&self) -> Option<&BTreeSet<PublisherId>> {
        match &self.credential {
            Credential::PublishToken { publishers, .. } => Some(publishers),
            _ => None,
        }
    }

    /// Whether the caller's key grants `needed`.
    pub fn can(&self, needed: Scope) -> bool {
        scopes_grant(&self.scopes, needed)
    }

    /// Refuses a caller whose credential is limited to other plugins than `slug`.
    pub fn check_plugin_limit(&self, slug: &Slug) -> Result<(), RegistryError> {
        match &self.plugins {
            Some(allowed) if !allowed.contains(slug) => Err(RegistryError::KeyNotForPlugin {
                slug: slug.to_string(),
                allowed: allowed.iter().map(Slug::to_string).collect(),
            }),
            _ => Ok(()),
        }
    }
}

pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let secret = ApiKeySecret::generate().expect("entropy");
        assert!(secret.expose().starts_with("sk_"));
        assert_eq!(secret.expose().len(), 3 + 64);
        assert!(ApiKeySecret::from_presented(secret.expose()).is_some());
        assert!(!format!("{secret:?}").contains(&secret.expose()[3..]));
    }

    #[test]
    fn principal_ids_from_clients_must_have_the_shape_of_one() {
        let generated = PrincipalId::generate().expect("entropy");
        assert_eq!(PrincipalId::parse(generated.as_str()), Some(generated));
        assert!(PrincipalId::parse("prn_owner").is_some());
        for bad in [
            "", "prn_", "prn_\0", "prn_a\0b", "prn_a b", "usr_0123", "prn_../x",
        ] {
            assert!(PrincipalId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(PrincipalId::parse(&format!("prn_{}", "a".repeat(65))).is_none());
    }

    #[test]
    fn malformed_secrets_are_not_keys() {
        for bad in [
            "",
            "sk_",
            "sk_short",
            "pk_0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert!(ApiKeySecret::from_presented(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scope_implications() {
        assert!(Scope::Admin.grants(Scope::Publish));
        assert!(Scope::Publish.grants(Scope::Read));
        assert!(!Scope::Read.grants(Scope::Publish));
        assert!(!Scope::Publish.grants(Scope::Admin));
        assert!(!Scope::Router.grants(Scope::Publish));
    }
}
