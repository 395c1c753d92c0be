//! The id of one request: on every log line it causes and in its response's
//! `x-request-id`, so a person's report ("it failed, request req_…") leads to
//! the logs of exactly that request.

use std::fmt;

use crate::auth::random_hex;

/// Longest id taken from a gateway.
const MAX_GATEWAY_ID: usize = 64;

/// A request's id: `req_` + 16 hex characters, or the id the AWS gateway gave
/// the request (so the registry's logs and the gateway's agree).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("req_{}", random_hex(8)?)))
    }

    /// The id a gateway gave the request, if it is a plain token (letters,
    /// digits, `-`, `_` and `=`, at most 64): anything else is not copied into
    /// logs and headers.
    pub fn from_gateway(raw: &str) -> Option<Self> {
        let plain = !raw.is_empty()
            && raw.len() <= MAX_GATEWAY_ID
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
        plain.then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_differ_and_gateway_ids_are_plain_tokens() {
        let (a, b) = (
            RequestId::generate().unwrap_or_else(|e| panic!("{e}")),
            RequestId::generate().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("req_") && a.as_str().len() == 20);
        assert_eq!(
            RequestId::from_gateway("JKJaXmPLvHcESHA=").map(|id| id.to_string()),
            Some("JKJaXmPLvHcESHA=".to_owned())
        );
        for bad in ["", "a b", "id\r\nX-Evil: 1", &"x".repeat(65)] {
            assert_eq!(RequestId::from_gateway(bad), None, "{bad:?}");
        }
    }
}
