//! Trusted publishing: a plugin names the CI workflows that may publish it, and
//! a CI job proves it is one of them with the short-lived OpenID Connect token its
//! CI service signs. `POST /auth/oidc/exchange` turns that token into a publish
//! token of at most [`PUBLISH_TOKEN_LIFETIME`], for those plugins alone, and no
//! secret is ever stored in the CI service.
//!
//! A CI identity is matched by the ids its service gives (GitHub's repository and
//! owner ids, GitLab's project id), never by names alone: a repository deleted and
//! re-created under the same name by someone else has another id and gets nothing.
//! A **pending** publisher names a plugin that does not exist yet; its first
//! release creates it, owned by the person who registered the publisher (PyPI's
//! model).

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::{PluginLimit, PrincipalId, SecretHash, random_hex};
use crate::slug::Slug;
use crate::timestamp::Timestamp;

/// The longest a publish token lives.
pub const PUBLISH_TOKEN_LIFETIME: time::Duration = time::Duration::minutes(15);

/// Clock skew allowed when checking a CI token's `exp` and `nbf`.
pub const CI_TOKEN_LEEWAY: time::Duration = time::Duration::seconds(60);

/// The most trusted publishers one plugin may have.
pub const MAX_PUBLISHERS_PER_PLUGIN: usize = 20;

/// Longest text of one CI identity field (a repository path, a workflow file).
pub const MAX_CI_FIELD: usize = 255;

/// The largest CI token accepted, in bytes (GitHub's are about 1.2 KB).
pub const MAX_CI_TOKEN: usize = 16 * 1024;

/// GitHub Actions triggers that run a workflow with the repository's privileges
/// on code or data from outside it: a token from one never publishes.
pub const FORBIDDEN_GITHUB_TRIGGERS: [&str; 2] = ["pull_request_target", "workflow_run"];

/// How recent a sign-in must be to lift a plugin's lock to trusted publishing:
/// a session stolen hours ago cannot lift it.
pub const FRESH_SIGN_IN: time::Duration = time::Duration::minutes(10);

/// A plugin locked to trusted publishing: API keys may not publish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishingLock {
    /// Who locked it.
    #[schema(value_type = String)]
    pub by: PrincipalId,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
}

/// A trusted publisher's id: `tp_` + 16 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublisherId(String);

impl PublisherId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("tp_{}", random_hex(8)?)))
    }

    /// Wraps a stored id, or one from a request path.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublisherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A publish token's public id: `tpt_` + 16 hex characters, safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublishTokenId(String);

impl PublishTokenId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("tpt_{}", random_hex(8)?)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublishTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The CI workflow a trusted publisher names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum CiIdentity {
    /// A GitHub Actions workflow.
    GithubActions {
        /// `owner/name`, for people to read; the ids decide.
        repository: String,
        /// The repository's numeric id (`repository_id` claim).
        repository_id: String,
        /// The owning user's or organisation's numeric id (`repository_owner_id`).
        repository_owner_id: String,
        /// The workflow file's name under `.github/workflows/` (`release.yml`).
        workflow: String,
        /// The deployment environment the job must run in; `None`: any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    /// A GitLab CI/CD pipeline.
    GitlabCi {
        /// `group/project`, for people to read; the id decides.
        project_path: String,
        /// The project's numeric id (`project_id` claim).
        project_id: String,
        /// The full ref the pipeline must run for (`refs/tags/v1.2.0` or a branch
        /// `main`); `None`: any ref.
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        git_ref: Option<String>,
        /// The environment the job must deploy to; `None`: any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
}

impl CiIdentity {
    /// The key publishers are looked up by when a token arrives: provider and the
    /// id its service gives the repository or project.
    pub fn lookup_key(&self) -> String {
        match self {
            Self::GithubActions { repository_id, .. } => format!("github:{repository_id}"),
            Self::GitlabCi { project_id, .. } => format!("gitlab:{project_id}"),
        }
    }

    /// Checks each field: ids are decimal numbers, names are short and printable,
    /// the workflow is a file name. Returns the field at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let numeric = |field: &'static str, value: &str| {
            if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
                Err((
                    field,
                    format!(
                        "{value:?} is not a numeric id; give the id GitHub or GitLab shows for it, not its name"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let text = |field: &'static str, value: &str| {
            if value.is_empty()
                || value.len() > MAX_CI_FIELD
                || value.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                Err((
                    field,
                    format!("give 1 to {MAX_CI_FIELD} characters without spaces"),
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Self::GithubActions {
                repository,
                repository_id,
                repository_owner_id,
                workflow,
                environment,
            } => {
                text("repository", repository)?;
                if repository.split('/').count() != 2 {
                    return Err(("repository", "write it as owner/name".to_owned()));
                }
                numeric("repository_id", repository_id)?;
                numeric("repository_owner_id", repository_owner_id)?;
                text("workflow", workflow)?;
                if workflow.contains('/')
                    || !(workflow.ends_with(".yml") || workflow.ends_with(".yaml"))
                {
                    return Err((
                        "workflow",
                        "give the workflow's file name under .github/workflows/, such as release.yml"
                            .to_owned(),
                    ));
                }
                environment
                    .as_deref()
                    .map_or(Ok(()), |e| text("environment", e))
            }
            Self::GitlabCi {
                project_path,
                project_id,
                git_ref,
                environment,
            } => {
                text("project_path", project_path)?;
                numeric("project_id", project_id)?;
                git_ref.as_deref().map_or(Ok(()), |r| text("ref", r))?;
                environment
                    .as_deref()
                    .map_or(Ok(()), |e| text("environment", e))
            }
        }
    }

    /// Whether a verified token's claims come from this workflow.
    pub fn matches(&self, claims: &CiClaims) -> bool {
        match (self, claims) {
            (
                Self::GithubActions {
                    repository_id,
                    repository_owner_id,
                    workflow,
                    environment,
                    ..
                },
                CiClaims::Github(github),
            ) => {
                github.repository_id == *repository_id
                    && github.repository_owner_id == *repository_owner_id
                    && github.workflow_file() == Some(workflow.as_str())
                    // GitHub's environment names are case-insensitive.
                    && environment.as_ref().is_none_or(|wanted| {
                        github
                            .environment
                            .as_ref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(wanted))
                    })
            }
            (
                Self::GitlabCi {
                    project_id,
                    git_ref,
                    environment,
                    ..
                },
                CiClaims::Gitlab(gitlab),
            ) => {
                gitlab.project_id == *project_id
                    && git_ref.as_ref().is_none_or(|wanted| {
                        *wanted == gitlab.git_ref || *wanted == gitlab.full_ref()
                    })
                    && environment
                        .as_ref()
                        .is_none_or(|wanted| gitlab.environment.as_ref() == Some(wanted))
            }
            _ => false,
        }
    }
}

impl fmt::Display for CiIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GithubActions {
                repository,
                workflow,
                environment,
                ..
            } => {
                write!(f, "GitHub Actions {repository} ({workflow}")?;
                if let Some(environment) = environment {
                    write!(f, ", environment {environment}")?;
                }
                f.write_str(")")
            }
            Self::GitlabCi {
                project_path,
                git_ref,
                environment,
                ..
            } => {
                write!(f, "GitLab CI {project_path}")?;
                let mut parts = Vec::new();
                if let Some(git_ref) = git_ref {
                    parts.push(format!("ref {git_ref}"));
                }
                if let Some(environment) = environment {
                    parts.push(format!("environment {environment}"));
                }
                if !parts.is_empty() {
                    write!(f, " ({})", parts.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// A CI workflow registered to publish a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedPublisher {
    /// Its id.
    pub id: PublisherId,
    /// The plugin it publishes (which need not exist yet, while pending).
    pub plugin: Slug,
    /// The workflow.
    pub ci: CiIdentity,
    /// While the plugin does not exist: who will own it once the first release
    /// creates it. `None` once the plugin exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_owner: Option<PrincipalId>,
    /// Who registered it.
    pub created_by: PrincipalId,
    /// When.
    pub created_at: Timestamp,
}

/// The claims of a GitHub Actions OIDC token that trusted publishing reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubClaims {
    /// `owner/name`.
    pub repository: String,
    /// The repository's numeric id.
    pub repository_id: String,
    /// The owner's numeric id.
    pub repository_owner_id: String,
    /// `owner/name/.github/workflows/release.yml@refs/tags/v1.0.0`.
    pub workflow_ref: String,
    /// What triggered the run (`push`, `release`, `pull_request_target`).
    pub event_name: String,
    /// The job's deployment environment, if it has one.
    #[serde(default)]
    pub environment: Option<String>,
}

impl GithubClaims {
    /// The workflow's file name, read from `workflow_ref` when it lies under this
    /// repository's `.github/workflows/`.
    pub fn workflow_file(&self) -> Option<&str> {
        let path = self.workflow_ref.split_once('@')?.0;
        let file = path
            .strip_prefix(self.repository.as_str())?
            .strip_prefix("/.github/workflows/")?;
        (!file.is_empty() && !file.contains('/')).then_some(file)
    }
}

/// The claims of a GitLab CI/CD ID token that trusted publishing reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitlabClaims {
    /// `group/project`.
    pub project_path: String,
    /// The project's numeric id.
    pub project_id: String,
    /// The branch or tag name (`main`, `v1.2.0`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// `branch` or `tag`.
    pub ref_type: String,
    /// The environment the job deploys to, if any.
    #[serde(default)]
    pub environment: Option<String>,
}

impl GitlabClaims {
    /// The ref in full: `refs/heads/main`, `refs/tags/v1.2.0`.
    pub fn full_ref(&self) -> String {
        match self.ref_type.as_str() {
            "tag" => format!("refs/tags/{}", self.git_ref),
            _ => format!("refs/heads/{}", self.git_ref),
        }
    }
}

/// What a verified CI token says about the job that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiClaims {
    /// A GitHub Actions job.
    Github(GithubClaims),
    /// A GitLab CI/CD job.
    Gitlab(GitlabClaims),
}

impl CiClaims {
    /// The key its trusted publishers are stored under ([`CiIdentity::lookup_key`]).
    pub fn lookup_key(&self) -> String {
        match self {
            Self::Github(github) => format!("github:{}", github.repository_id),
            Self::Gitlab(gitlab) => format!("gitlab:{}", gitlab.project_id),
        }
    }

    /// The trigger that makes this job untrustworthy, if it ran from one.
    pub fn forbidden_trigger(&self) -> Option<&str> {
        match self {
            Self::Github(github) => FORBIDDEN_GITHUB_TRIGGERS
                .contains(&github.event_name.as_str())
                .then_some(github.event_name.as_str()),
            Self::Gitlab(_) => None,
        }
    }
}

impl fmt::Display for CiClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Github(github) => write!(
                f,
                "GitHub repository {} (id {}, owner id {}), workflow {}",
                github.repository,
                github.repository_id,
                github.repository_owner_id,
                github.workflow_file().unwrap_or(&github.workflow_ref)
            ),
            Self::Gitlab(gitlab) => write!(
                f,
                "GitLab project {} (id {}), ref {}",
                gitlab.project_path,
                gitlab.project_id,
                gitlab.full_ref()
            ),
        }
    }
}

/// A CI token whose signature, issuer, audience and times were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCiToken {
    /// `iss`.
    pub issuer: String,
    /// `jti`: a token is accepted once.
    pub jti: String,
    /// `exp`: until when its `jti` must be remembered.
    pub expires_at: Timestamp,
    /// What it says about the job.
    pub claims: CiClaims,
}

/// Why a CI token was refused before any publisher was looked at. Each has its
/// own problem code, so a CI log says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CiTokenError {
    /// Not a JWT, or one whose claims are missing or malformed.
    #[error("the CI token is malformed: {0}")]
    Malformed(String),
    /// Its issuer is not one this registry trusts.
    #[error("the CI token's issuer {0:?} is not trusted by this registry")]
    UnknownIssuer(String),
    /// Its signature does not verify against the issuer's keys.
    #[error("the CI token's signature does not verify against its issuer's keys")]
    BadSignature,
    /// Its audience is not this registry.
    #[error("the CI token's audience is not this registry; request it with audience {expected:?}")]
    WrongAudience {
        /// The audience this registry wants.
        expected: String,
    },
    /// It expired (beyond the leeway).
    #[error("the CI token expired; request a fresh one")]
    Expired,
    /// Its `nbf` is in the future (beyond the leeway).
    #[error("the CI token is not valid yet")]
    NotYetValid,
    /// The issuer's keys could not be fetched.
    #[error("the CI token's issuer could not be reached: {0}")]
    IssuerUnavailable(String),
}

impl CiTokenError {
    /// The problem code this refusal answers with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "oidc_token_malformed",
            Self::UnknownIssuer(_) => "oidc_token_issuer",
            Self::BadSignature => "oidc_token_signature",
            Self::WrongAudience { .. } => "oidc_token_audience",
            Self::Expired => "oidc_token_expired",
            Self::NotYetValid => "oidc_token_not_yet_valid",
            Self::IssuerUnavailable(_) => "oidc_issuer_unavailable",
        }
    }
}

/// Verifies CI tokens against the issuers an operator trusts (GitHub Actions,
/// GitLab): the port `registry-identity` implements.
#[async_trait]
pub trait CiTokenVerifier: Send + Sync {
    /// The audience tokens must name: this registry.
    fn audience(&self) -> &str;

    /// Checks `token`'s signature against its issuer's keys, its issuer,
    /// audience, `exp` and `nbf` (at `now`, with [`CI_TOKEN_LEEWAY`]), and reads
    /// its claims.
    async fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedCiToken, CiTokenError>;
}

/// A publish token as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishTokenRecord {
    /// Public id.
    pub id: PublishTokenId,
    /// SHA-256 of the secret.
    #[serde(with = "secret_hash_hex")]
    pub hash: SecretHash,
    /// Who it acts as: the registrant of its first publisher.
    pub principal: PrincipalId,
    /// The plugins it may publish.
    pub plugins: PluginLimit,
    /// The publishers it was granted through, checked again at each publish.
    pub publishers: BTreeSet<PublisherId>,
    /// The CI identity it was issued to, for logs and the audit log.
    pub issued_to: String,
    /// The CI token's issuer and `jti`, each accepted once.
    pub issuer: String,
    /// See [`Self::issuer`].
    pub jti: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Until when the record (and with it the `jti`) must be kept: the later of
    /// its own expiry and the CI token's (plus leeway).
    pub retain_until: Timestamp,
}

mod secret_hash_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::auth::SecretHash;

    pub fn serialize<S: Serializer>(hash: &SecretHash, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hash.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretHash, D::Error> {
        let raw = String::deserialize(deserializer)?;
        SecretHash::from_hex(&raw).ok_or_else(|| serde::de::Error::custom("not a SHA-256 in hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(workflow_ref: &str, event: &str, environment: Option<&str>) -> CiClaims {
        CiClaims::Github(GithubClaims {
            repository: "octo/tools".into(),
            repository_id: "42".into(),
            repository_owner_id: "7".into(),
            workflow_ref: workflow_ref.into(),
            event_name: event.into(),
            environment: environment.map(str::to_owned),
        })
    }

    fn release_publisher(environment: Option<&str>) -> CiIdentity {
        CiIdentity::GithubActions {
            repository: "octo/tools".into(),
            repository_id: "42".into(),
            repository_owner_id: "7".into(),
            workflow: "release.yml".into(),
            environment: environment.map(str::to_owned),
        }
    }

    #[test]
    fn a_github_publisher_matches_its_workflow_by_ids() {
        let claims = github(
            "octo/tools/.github/workflows/release.yml@refs/tags/v1",
            "push",
            Some("Release"),
        );
        assert!(release_publisher(None).matches(&claims));
        assert!(release_publisher(Some("release")).matches(&claims));
        assert!(!release_publisher(Some("staging")).matches(&claims));
        let other_workflow = github(
            "octo/tools/.github/workflows/ci.yml@refs/heads/main",
            "push",
            None,
        );
        assert!(!release_publisher(None).matches(&other_workflow));
        // A workflow file of another repository (a reusable one called from here)
        // is not this repository's workflow.
        let foreign = github(
            "evil/x/.github/workflows/release.yml@refs/heads/main",
            "push",
            None,
        );
        assert!(!release_publisher(None).matches(&foreign));
        let mut renamed_twin = claims.clone();
        if let CiClaims::Github(g) = &mut renamed_twin {
            g.repository_id = "43".into();
        }
        assert!(!release_publisher(None).matches(&renamed_twin));
    }

    #[test]
    fn risky_triggers_are_named() {
        let wf = "octo/tools/.github/workflows/release.yml@refs/heads/main";
        assert_eq!(
            github(wf, "pull_request_target", None).forbidden_trigger(),
            Some("pull_request_target")
        );
        assert_eq!(
            github(wf, "workflow_run", None).forbidden_trigger(),
            Some("workflow_run")
        );
        assert_eq!(github(wf, "release", None).forbidden_trigger(), None);
    }

    #[test]
    fn a_gitlab_publisher_matches_its_project_and_ref() {
        let claims = CiClaims::Gitlab(GitlabClaims {
            project_path: "group/tools".into(),
            project_id: "99".into(),
            git_ref: "v1.0.0".into(),
            ref_type: "tag".into(),
            environment: None,
        });
        let publisher = |git_ref: Option<&str>| CiIdentity::GitlabCi {
            project_path: "group/tools".into(),
            project_id: "99".into(),
            git_ref: git_ref.map(str::to_owned),
            environment: None,
        };
        assert!(publisher(None).matches(&claims));
        assert!(publisher(Some("refs/tags/v1.0.0")).matches(&claims));
        assert!(publisher(Some("v1.0.0")).matches(&claims));
        assert!(!publisher(Some("refs/heads/v1.0.0")).matches(&claims));
        assert!(!release_publisher(None).matches(&claims));
    }

    #[test]
    fn identities_are_validated() {
        assert!(release_publisher(None).validate().is_ok());
        let CiIdentity::GithubActions {
            repository,
            repository_owner_id,
            environment,
            ..
        } = release_publisher(None)
        else {
            unreachable!()
        };
        let by_name = CiIdentity::GithubActions {
            repository: repository.clone(),
            repository_id: "octo/tools".into(),
            repository_owner_id: repository_owner_id.clone(),
            workflow: "release.yml".into(),
            environment: environment.clone(),
        };
        assert_eq!(by_name.validate().unwrap_err().0, "repository_id");
        let path = CiIdentity::GithubActions {
            repository,
            repository_id: "42".into(),
            repository_owner_id,
            workflow: ".github/workflows/release.yml".into(),
            environment,
        };
        assert_eq!(path.validate().unwrap_err().0, "workflow");
    }
}
