//! What a registry call can fail with: the registry's own problem+json answer,
//! or what went wrong on the way.

use std::path::PathBuf;

use reqwest::StatusCode;

pub use registry_core::api::Problem;

/// A problem for an answer without a problem body.
pub(crate) fn problem_of_status(status: StatusCode, body: &[u8]) -> Problem {
    let text = String::from_utf8_lossy(body);
    let detail = match text.trim() {
        "" => status.canonical_reason().unwrap_or("no detail").to_owned(),
        text => text.chars().take(300).collect(),
    };
    Problem {
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("error").to_owned(),
        status: status.as_u16(),
        detail,
        code: String::new(),
        errors: Vec::new(),
    }
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401: no key, or a key that is not live.
    #[error("not authenticated: {}", .0.detail)]
    Unauthenticated(Box<Problem>),
    /// 403: the key lacks a scope, or the plugin is another principal's.
    #[error("forbidden: {}", .0.detail)]
    Forbidden(Box<Problem>),
    /// 404: no such plugin, version, key or upload.
    #[error("not found: {}", .0.detail)]
    NotFound(Box<Problem>),
    /// 410: the version was unpublished.
    #[error("gone: {}", .0.detail)]
    Gone(Box<Problem>),
    /// 409: a conflict (version exists, not incremented, unpublish refused).
    #[error("conflict: {}", .0.detail)]
    Conflict(Box<Problem>),
    /// 422: the plugin breaks the rules; `errors` lists them by field.
    #[error("invalid: {}", .0.detail)]
    Invalid(Box<Problem>),
    /// Another 4xx: malformed body, too large, unsupported type.
    #[error("rejected ({}): {}", .0.status, .0.detail)]
    Rejected(Box<Problem>),
    /// 5xx, after retries.
    #[error("the registry failed ({}): {}", .0.status, .0.detail)]
    Server(Box<Problem>),
    /// No answer: connection refused or dropped, timeout, TLS; after retries.
    #[error("could not reach the registry: {0}")]
    Transport(#[source] reqwest::Error),
    /// An answer that does not parse as what the API documents.
    #[error("unexpected answer from {url}: {detail}")]
    UnexpectedResponse {
        /// What was asked.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// Downloaded bytes do not hash to what the registry's details say.
    #[error("checksum mismatch for {what}: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// Which download.
        what: String,
        /// The SHA-256 the details name.
        expected: String,
        /// The SHA-256 of the bytes received.
        actual: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// The registry's problem body, when it sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Unauthenticated(p)
            | Self::Forbidden(p)
            | Self::NotFound(p)
            | Self::Gone(p)
            | Self::Conflict(p)
            | Self::Invalid(p)
            | Self::Rejected(p)
            | Self::Server(p) => Some(p.as_ref()),
            _ => None,
        }
    }

    pub(crate) fn of_status(status: StatusCode, problem: Problem) -> Self {
        let problem = Box::new(problem);
        match status.as_u16() {
            401 => Self::Unauthenticated(problem),
            403 => Self::Forbidden(problem),
            404 => Self::NotFound(problem),
            409 => Self::Conflict(problem),
            410 => Self::Gone(problem),
            422 => Self::Invalid(problem),
            500.. => Self::Server(problem),
            _ => Self::Rejected(problem),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
