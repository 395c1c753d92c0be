//! The registry's Ed25519 index key: signs bins, the snapshot and the timestamp.
//!
//! Signatures cover the canonical JSON of the `signed` payload, so verification
//! re-encodes what it parsed and never depends on the file's exact whitespace.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use registry_core::store::owner_only;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::canonical::to_canonical_json;
use crate::format::{KeySignature, PublicKeyInfo, SIGNATURE_ALGORITHM, Signed};

/// Why a key could not be loaded or a signature did not verify.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The key material is not 32 bytes of hex.
    #[error("an index signing key is 64 hex characters (32 bytes): {0}")]
    BadKey(String),
    /// No signature by the expected key.
    #[error("no signature by key {key_id}")]
    Unsigned {
        /// The key looked for.
        key_id: String,
    },
    /// A signature by the expected key does not verify.
    #[error("the signature by key {key_id} does not match the content")]
    BadSignature {
        /// The key.
        key_id: String,
    },
    /// The payload could not be encoded or decoded.
    #[error("payload is not valid: {0}")]
    Payload(#[from] serde_json::Error),
    /// The key file could not be read or written.
    #[error("index key file: {0}")]
    KeyFile(#[source] std::io::Error),
    /// The system has no entropy to make a key.
    #[error("no entropy to generate a key")]
    Entropy,
}

/// The private index key.
#[derive(Clone)]
pub struct IndexSigningKey {
    key: SigningKey,
}

impl std::fmt::Debug for IndexSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexSigningKey")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

impl IndexSigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SigningError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| SigningError::Entropy)?;
        Ok(Self::from_seed(seed))
    }

    /// The key with this 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Parses a seed written as 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, SigningError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed)
            .map_err(|e| SigningError::BadKey(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    /// The key derived from a generated secret string (SHA-256 of it), so a secret
    /// that AWS Secrets Manager generates can be the key without any other tooling.
    pub fn derive_from_secret(secret: &str) -> Self {
        Self::from_seed(Sha256::digest(secret.trim().as_bytes()).into())
    }

    /// Reads the key stored at `file`, or creates one there (mode 0600) if there
    /// is none; says whether it was created.
    pub fn load_or_create(file: &std::path::Path) -> Result<(Self, bool), SigningError> {
        match std::fs::read_to_string(file) {
            Ok(text) => return Ok((Self::from_hex(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SigningError::KeyFile(e)),
        }
        let key = Self::generate()?;
        if let Some(dir) = file.parent() {
            owner_only::create_dir_all(dir).map_err(SigningError::KeyFile)?;
        }
        let mut options = owner_only::file_options();
        options.write(true).create_new(true);
        use std::io::Write;
        let mut out = options.open(file).map_err(SigningError::KeyFile)?;
        writeln!(out, "{}", key.to_hex()).map_err(SigningError::KeyFile)?;
        Ok((key, true))
    }

    /// The seed as 64 hex characters, for storing.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> IndexPublicKey {
        IndexPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// Signs `payload`.
    pub fn sign<T: Serialize>(&self, payload: T) -> Result<Signed<T>, SigningError> {
        let message = to_canonical_json(&payload)?;
        let sig = self.key.sign(&message);
        Ok(Signed {
            signed: payload,
            signatures: vec![KeySignature {
                key_id: self.public_key().key_id(),
                sig: hex::encode(sig.to_bytes()),
            }],
        })
    }
}

/// The public index key, as clients hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPublicKey {
    key: VerifyingKey,
}

impl IndexPublicKey {
    /// Parses the 32-byte key written as hex.
    pub fn from_hex(text: &str) -> Result<Self, SigningError> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut raw)
            .map_err(|e| SigningError::BadKey(e.to_string()))?;
        let key =
            VerifyingKey::from_bytes(&raw).map_err(|e| SigningError::BadKey(e.to_string()))?;
        Ok(Self { key })
    }

    /// The key's id: lowercase hex SHA-256 of its raw bytes.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.as_bytes()))
    }

    /// The key as published in `config.json`.
    pub fn info(&self) -> PublicKeyInfo {
        PublicKeyInfo {
            algorithm: SIGNATURE_ALGORITHM.to_owned(),
            key_id: self.key_id(),
            public_key: hex::encode(self.key.as_bytes()),
        }
    }

    /// Parses a signed file and checks this key's signature over its payload.
    pub fn verify<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, SigningError> {
        let signed: Signed<serde_json::Value> = serde_json::from_slice(bytes)?;
        let key_id = self.key_id();
        let entry = signed
            .signatures
            .iter()
            .find(|s| s.key_id == key_id)
            .ok_or_else(|| SigningError::Unsigned {
                key_id: key_id.clone(),
            })?;
        let mut raw = [0u8; 64];
        hex::decode_to_slice(&entry.sig, &mut raw).map_err(|_| SigningError::BadSignature {
            key_id: key_id.clone(),
        })?;
        let message = to_canonical_json(&signed.signed)?;
        self.key
            .verify(&message, &Signature::from_bytes(&raw))
            .map_err(|_| SigningError::BadSignature { key_id })?;
        Ok(serde_json::from_value(signed.signed)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_payload_does_not() {
        let key = IndexSigningKey::from_seed([7; 32]);
        let signed = key.sign(serde_json::json!({"a": 1})).unwrap();
        let bytes = to_canonical_json(&signed).unwrap();
        let back: serde_json::Value = key.public_key().verify(&bytes).unwrap();
        assert_eq!(back, serde_json::json!({"a": 1}));

        let tampered = String::from_utf8(bytes)
            .unwrap()
            .replace("\"a\":1", "\"a\":2");
        assert!(matches!(
            key.public_key()
                .verify::<serde_json::Value>(tampered.as_bytes()),
            Err(SigningError::BadSignature { .. })
        ));
        let other = IndexSigningKey::from_seed([8; 32]).public_key();
        assert!(matches!(
            other.verify::<serde_json::Value>(&to_canonical_json(&signed).unwrap()),
            Err(SigningError::Unsigned { .. })
        ));
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let key = IndexSigningKey::generate().unwrap();
        let again = IndexSigningKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = IndexPublicKey::from_hex(&key.public_key().info().public_key).unwrap();
        assert_eq!(public, key.public_key());
    }
}
