//! How a command fails: the message, the hint, and the documented exit code.

use openworkflow::Problem;
use openworkflow::client::ClientError;
use openworkflow::config::ConfigError;
use registry_core::manifest::FieldError;
use serde::Serialize;

/// Exit codes, documented in the README.
pub(super) mod exit {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const AUTH: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const UNAVAILABLE: u8 = 6;
    pub const VERIFICATION: u8 = 7;
}

/// Why a command failed, as it is printed and as the exit code says.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    code: u8,
    /// One line saying what went wrong.
    pub message: String,
    /// Field-by-field problems.
    pub fields: Vec<FieldError>,
    /// What to try.
    pub hint: Option<String>,
    /// The registry's answer, when it refused.
    problem: Option<Box<Problem>>,
}

impl Failure {
    pub(super) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            hint: None,
            problem: None,
        }
    }

    /// The same failure, listing `fields`.
    pub(super) fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        self.fields = fields;
        self
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// The failure for `--json`.
    pub fn report(&self) -> FailureReport<'_> {
        FailureReport {
            error: FailureDetail {
                message: &self.message,
                exit_code: self.code,
                errors: &self.fields,
                hint: self.hint.as_deref(),
                problem: self.problem.as_deref(),
            },
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::Unauthenticated(_) | ClientError::Forbidden(_) => exit::AUTH,
            ClientError::NotFound(_) | ClientError::Gone(_) => exit::NOT_FOUND,
            ClientError::Conflict(_) => exit::CONFLICT,
            ClientError::Server(_) | ClientError::Transport(_) => exit::UNAVAILABLE,
            ClientError::ChecksumMismatch { .. } => exit::VERIFICATION,
            _ => exit::FAILED,
        };
        let hint = match &error {
            ClientError::Unauthenticated(p) if p.code == "key_expired" => Some(
                "make a new key with another live one (`openworkflow auth create-key`) or ask an admin, then store it with `openworkflow auth login`",
            ),
            ClientError::Unauthenticated(_) => Some(
                "set OPENWORKFLOW_REGISTRY_API_KEY, or store a key with `openworkflow auth login`",
            ),
            ClientError::Conflict(p) if p.code == "version_exists" => {
                Some("every publish needs a new version: raise `version` in the schema")
            }
            ClientError::Conflict(p) if p.code == "version_not_incremented" => {
                Some("an update must be greater than the latest version")
            }
            ClientError::Forbidden(p) if p.code == "missing_scope" => Some(
                "use a key with that scope: an admin makes one with `openworkflow auth create-key --scope SCOPE`",
            ),
            _ => None,
        };
        let problem = error.problem().cloned().map(Box::new);
        Self {
            code,
            message: error.to_string(),
            fields: problem
                .as_ref()
                .map(|p| p.errors.clone())
                .unwrap_or_default(),
            hint: hint.map(str::to_owned),
            problem,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Failure::new(exit::USAGE, error.to_string())
    }
}

/// What `--json` prints for a failure.
#[derive(Debug, Serialize)]
pub struct FailureReport<'a> {
    /// The failure.
    error: FailureDetail<'a>,
}

/// One failure, for scripts.
#[derive(Debug, Serialize)]
struct FailureDetail<'a> {
    /// One line saying what went wrong.
    message: &'a str,
    /// The process exit code.
    exit_code: u8,
    /// Field-by-field problems.
    errors: &'a [FieldError],
    /// What to try.
    hint: Option<&'a str>,
    /// The registry's problem+json answer, when it refused.
    problem: Option<&'a Problem>,
}
