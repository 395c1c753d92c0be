//! Authors' GPG signatures: a detached, ASCII-armored OpenPGP signature over the
//! RFC 8785 canonical JSON of the manifest without its `signature` field
//! ([`registry_core::manifest::signed_content`]), checked against a keyring of
//! armored public keys. Pure Rust (rpgp): no `gpg` binary needed to verify.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use registry_core::manifest::{DocumentFormat, ParsedDocument, parse_document, signed_content};

/// Why a signature does not verify.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The document carries no `signature` block.
    #[error("the document is not signed (it has no `signature` block)")]
    NotSigned,
    /// The document itself does not parse or validate.
    #[error("the document is not a valid plugin: {0}")]
    Document(#[from] ParsedDocument),
    /// The `signature` text is not an armored OpenPGP signature.
    #[error("the `signature` block is not an ASCII-armored OpenPGP signature: {0}")]
    MalformedSignature(String),
    /// The keyring holds no readable public key.
    #[error("the keyring has no readable public key: {0}")]
    MalformedKeyring(String),
    /// No key in the keyring made this signature over this document.
    #[error(
        "the signature does not verify with any key in the keyring (changed document, or another signer's key)"
    )]
    NoMatchingKey,
    /// A key verified it, but not the one the document names.
    #[error("the signature was made by key {fingerprint}, but the document names key {named}")]
    WrongKeyNamed {
        /// The verifying key's fingerprint.
        fingerprint: String,
        /// The `key_id` the document gives.
        named: String,
    },
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Fingerprint (uppercase hex) of the key that made it.
    pub fingerprint: String,
    /// The `key_id` the document names.
    pub key_id: String,
}

/// Verifies the signature a schema document carries against the armored public
/// keys in `keyring` (one or more blocks, as `gpg --export --armor` writes).
pub fn verify_document_signature(
    document: &[u8],
    format: DocumentFormat,
    keyring: &str,
) -> Result<VerifiedSignature, SignatureError> {
    let manifest = parse_document(document, format)?;
    let block = manifest.signature.ok_or(SignatureError::NotSigned)?;
    let content = signed_content(document, format)?;
    let (signature, _) = DetachedSignature::from_string(&block.signature)
        .map_err(|e| SignatureError::MalformedSignature(e.to_string()))?;
    let keys = public_keys(keyring)?;
    for key in &keys {
        let mut candidates: Vec<(String, Result<(), pgp::errors::Error>)> =
            vec![(fingerprint_hex(key), signature.verify(key, &content))];
        for subkey in &key.public_subkeys {
            candidates.push((fingerprint_hex(subkey), signature.verify(subkey, &content)));
        }
        if let Some((fingerprint, _)) = candidates.into_iter().find(|(_, r)| r.is_ok()) {
            if !names_key(&block.key_id, &fingerprint) {
                return Err(SignatureError::WrongKeyNamed {
                    fingerprint,
                    named: block.key_id,
                });
            }
            return Ok(VerifiedSignature {
                fingerprint,
                key_id: block.key_id,
            });
        }
    }
    Err(SignatureError::NoMatchingKey)
}

fn public_keys(keyring: &str) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let malformed = |e: pgp::errors::Error| SignatureError::MalformedKeyring(e.to_string());
    let (keys, _) = SignedPublicKey::from_string_many(keyring).map_err(malformed)?;
    let keys: Vec<SignedPublicKey> = keys.collect::<Result<_, _>>().map_err(malformed)?;
    if keys.is_empty() {
        return Err(SignatureError::MalformedKeyring(
            "no public key block found".to_owned(),
        ));
    }
    Ok(keys)
}

fn fingerprint_hex(key: &impl KeyDetails) -> String {
    format!("{:X}", key.fingerprint())
}

/// Whether `key_id` (`0x1234ABCD`, a long id, or a whole fingerprint, any case,
/// spaces allowed) names the key with `fingerprint`: ids are its trailing digits.
fn names_key(key_id: &str, fingerprint: &str) -> bool {
    let id: String = key_id
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    id.len() >= 8 && fingerprint.ends_with(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_trailing_fingerprint_digits() {
        let fingerprint = "0123456789ABCDEF0123456789ABCDEF1234ABCD";
        for named in [
            "0x1234ABCD",
            "1234abcd",
            "89ABCDEF1234ABCD",
            "0123 4567 89AB CDEF 0123 4567 89AB CDEF 1234 ABCD",
        ] {
            assert!(names_key(named, fingerprint), "{named}");
        }
        for other in ["0x1234ABCE", "ABCD", ""] {
            assert!(!names_key(other, fingerprint), "{other}");
        }
    }
}
