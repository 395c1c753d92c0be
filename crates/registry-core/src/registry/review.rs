//! Reviewing versions held by the review policy: reviewers list, read, approve
//! and reject them; owners follow their own.
//!
//! Approval is a version change like a deprecation: a compare-and-set on the
//! plugin's revision that clears the review, starts the version's life (its
//! publication time, and so the unpublish window) and moves the latest. The
//! index then renders it exactly as a publish would.

use serde::Serialize;

use super::contention::RaceRetry;
use super::{Download, Registry, latest_version};
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, PrincipalId, Scope};
use crate::error::RegistryError;
use crate::manifest::Manifest;
use crate::review::{MAX_REVIEW_COMMENT, MAX_REVIEW_PAGE, ReviewId, ReviewState};
use crate::slug::Slug;
use crate::store::{Conflict, PluginRecord, StorageError, VersionChange, VersionRecord};
use crate::timestamp::Timestamp;

/// An artifact of a version under review, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewedArtifact {
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where reviewers and owners fetch it (never cached, never counted).
    pub url: String,
}

/// What a reviewer decided, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewDecisionView {
    /// `rejected`.
    pub state: String,
    /// The reviewer.
    #[schema(value_type = String)]
    pub decided_by: PrincipalId,
    /// When.
    #[schema(value_type = String)]
    pub decided_at: Timestamp,
    /// Why.
    pub comment: String,
}

/// A version under review, as reviewers and the plugin's owners see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    /// `slug@version`.
    pub id: String,
    /// The plugin.
    pub slug: String,
    /// The version submitted.
    pub version: String,
    /// `pending` or `rejected`.
    pub state: String,
    /// When it was submitted.
    #[schema(value_type = String)]
    pub submitted_at: Timestamp,
    /// Who submitted it.
    #[schema(value_type = String)]
    pub submitted_by: PrincipalId,
    /// The version readers see today, if any (what this one would follow).
    pub current_version: Option<String>,
    /// The validated manifest: every field passed the publish checks.
    #[schema(value_type = Object)]
    pub manifest: Manifest,
    /// The schema document exactly as submitted.
    pub schema: ReviewedArtifact,
    /// The bundle, when submitted as one (its ZIP passed the bundle checks).
    pub bundle: Option<ReviewedArtifact>,
    /// The rejection, once rejected.
    pub decision: Option<ReviewDecisionView>,
}

/// The answer to an approval or a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewOutcome {
    /// `slug@version`.
    pub id: String,
    /// `approved` or `rejected`.
    pub state: String,
    /// The plugin's URL (approved versions are readable there now).
    pub url: String,
    /// ETag of the approved version's details, when the index was built in
    /// process.
    #[serde(skip)]
    pub details_etag: Option<String>,
}

/// `GET /reviews`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewList {
    /// The reviews, the longest waiting first.
    pub reviews: Vec<ReviewView>,
}

impl Registry {
    /// Whether `caller` may decide reviews.
    fn require_reviewer(caller: Option<&Caller>) -> Result<&Caller, RegistryError> {
        let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
            detail: "reviews need an API key or a session: send 'Authorization: Bearer sk_...'"
                .to_owned(),
        })?;
        if !caller.can(Scope::Review) {
            return Err(RegistryError::Forbidden {
                detail: "deciding reviews takes the review scope (or admin)".to_owned(),
            });
        }
        Ok(caller)
    }

    /// The plugin of `id` and its record, for a reviewer or an owner; 404 for
    /// anyone else, so strangers learn nothing of what waits.
    async fn reviewed_version(
        &self,
        caller: Option<&Caller>,
        raw_id: &str,
    ) -> Result<(ReviewId, PluginRecord, VersionRecord), RegistryError> {
        let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
            detail: "reviews need an API key or a session: send 'Authorization: Bearer sk_...'"
                .to_owned(),
        })?;
        let not_found = || RegistryError::ReviewNotFound {
            id: raw_id.to_owned(),
        };
        let id = ReviewId::parse(raw_id).ok_or_else(not_found)?;
        let plugin = self.catalog.plugin(&id.slug).await?.ok_or_else(not_found)?;
        if !caller.can(Scope::Review) {
            let owners = self.owner_roster(&plugin.head()).await?;
            if !self.acts_as_owner(caller, &owners).await? {
                return Err(not_found());
            }
        }
        let record = self
            .catalog
            .version(&id.slug, &id.version)
            .await?
            .filter(|record| record.review.is_some())
            .ok_or_else(not_found)?;
        Ok((id, plugin, record))
    }

    fn review_view(&self, plugin: &PluginRecord, record: VersionRecord) -> ReviewView {
        let id = ReviewId {
            slug: plugin.slug.clone(),
            version: record.version.clone(),
        };
        let base = format!("{}/reviews/{id}", self.config.public_url);
        let artifact = |stored: &crate::artifact::StoredArtifact, what: &str| ReviewedArtifact {
            sha256: stored.sha256.to_string(),
            size: stored.size,
            url: format!("{base}/{what}"),
        };
        let review = record.review.clone();
        ReviewView {
            id: id.to_string(),
            slug: plugin.slug.to_string(),
            version: record.version.to_string(),
            state: review
                .as_ref()
                .map_or("approved", ReviewState::as_str)
                .to_owned(),
            submitted_at: review
                .as_ref()
                .map_or(record.published_at, ReviewState::submitted_at),
            submitted_by: record.published_by.clone(),
            current_version: latest_version(&plugin.versions).map(|v| v.version.to_string()),
            schema: artifact(&record.schema, "schema"),
            bundle: record.bundle.as_ref().map(|b| artifact(b, "bundle")),
            decision: match review {
                Some(ReviewState::Rejected {
                    decided_by,
                    decided_at,
                    comment,
                    ..
                }) => Some(ReviewDecisionView {
                    state: "rejected".to_owned(),
                    decided_by,
                    decided_at,
                    comment,
                }),
                _ => None,
            },
            manifest: record.manifest,
        }
    }

    /// Versions under review: every pending one for a reviewer; with `plugin`,
    /// that plugin's pending and rejected ones, for a reviewer or its owners.
    pub async fn list_reviews(
        &self,
        caller: Option<&Caller>,
        plugin: Option<&str>,
    ) -> Result<ReviewList, RegistryError> {
        let Some(raw) = plugin else {
            Self::require_reviewer(caller)?;
            let mut reviews = Vec::new();
            for record in self
                .catalog
                .versions_pending_review(MAX_REVIEW_PAGE)
                .await?
            {
                // Its plugin, for the version readers see today.
                let Some(plugin) = self.catalog.plugin(&record.manifest.slug).await? else {
                    continue;
                };
                reviews.push(self.review_view(&plugin, record));
            }
            return Ok(ReviewList { reviews });
        };
        let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
            detail: "reviews need an API key or a session: send 'Authorization: Bearer sk_...'"
                .to_owned(),
        })?;
        let not_found = || RegistryError::PluginNotFound {
            slug: raw.to_owned(),
        };
        let slug = Slug::parse(raw).map_err(|_| not_found())?;
        let Some((plugin, records)) = self.catalog.plugin_with_versions(&slug).await? else {
            return Err(not_found());
        };
        if !caller.can(Scope::Review) {
            let owners = self.owner_roster(&plugin.head()).await?;
            if !self.acts_as_owner(caller, &owners).await? {
                return Err(RegistryError::Forbidden {
                    detail: format!(
                        "only the owners of plugin '{slug}' and reviewers see its reviews"
                    ),
                });
            }
        }
        let mut reviews: Vec<ReviewView> = records
            .into_iter()
            .filter(|record| record.review.is_some())
            .map(|record| self.review_view(&plugin, record))
            .collect();
        reviews.sort_by(|a, b| a.submitted_at.cmp(&b.submitted_at).then(a.id.cmp(&b.id)));
        Ok(ReviewList { reviews })
    }

    /// One version under review.
    pub async fn review(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<ReviewView, RegistryError> {
        let (_, plugin, record) = self.reviewed_version(caller, id).await?;
        Ok(self.review_view(&plugin, record))
    }

    /// The schema or bundle of a version under review, for its reviewers and
    /// owners (never counted as a download).
    pub async fn review_artifact(
        &self,
        caller: Option<&Caller>,
        id: &str,
        bundle: bool,
    ) -> Result<Download, RegistryError> {
        let (id, _, record) = self.reviewed_version(caller, id).await?;
        let stored = if bundle {
            record
                .bundle
                .as_ref()
                .ok_or_else(|| RegistryError::NoBundle {
                    slug: id.slug.to_string(),
                    version: id.version.to_string(),
                })?
        } else {
            &record.schema
        };
        let bytes = self.artifacts.get(&stored.key).await?.ok_or_else(|| {
            RegistryError::MissingArtifact {
                key: stored.key.to_string(),
            }
        })?;
        Ok(Download {
            slug: id.slug,
            version: id.version,
            bytes,
            content_type: stored.content_type.clone(),
            sha256: stored.sha256,
        })
    }

    /// Approves a pending version: it is published now, exactly as if it had
    /// been published at this instant.
    pub async fn approve_review(
        &self,
        caller: Option<&Caller>,
        id: &str,
        comment: Option<&str>,
    ) -> Result<ReviewOutcome, RegistryError> {
        let caller = Self::require_reviewer(caller)?;
        let comment = review_comment(comment, false)?;
        let id = self.decide(caller, id, true, comment.clone()).await?;
        tracing::info!(review = %id, principal = %caller.principal, "approved");
        let details_etag = self.notify_changed(&id.slug, Some(&id.version)).await;
        Ok(ReviewOutcome {
            url: format!("{}/plugins/{}", self.config.public_url, id.slug),
            id: id.to_string(),
            state: "approved".to_owned(),
            details_etag,
        })
    }

    /// Rejects a pending version: its version string stays taken, and its owners
    /// read `comment` as the reason.
    pub async fn reject_review(
        &self,
        caller: Option<&Caller>,
        id: &str,
        comment: Option<&str>,
    ) -> Result<ReviewOutcome, RegistryError> {
        let caller = Self::require_reviewer(caller)?;
        let comment = review_comment(comment, true)?;
        let id = self.decide(caller, id, false, comment).await?;
        tracing::info!(review = %id, principal = %caller.principal, "rejected");
        Ok(ReviewOutcome {
            url: format!("{}/reviews/{id}", self.config.public_url),
            id: id.to_string(),
            state: "rejected".to_owned(),
            details_etag: None,
        })
    }

    /// Writes a decision on a pending version, retrying on races with other
    /// changes to the plugin; a review decided meanwhile is refused.
    async fn decide(
        &self,
        caller: &Caller,
        raw_id: &str,
        approve: bool,
        comment: Option<String>,
    ) -> Result<ReviewId, RegistryError> {
        let not_found = || RegistryError::ReviewNotFound {
            id: raw_id.to_owned(),
        };
        let id = ReviewId::parse(raw_id).ok_or_else(not_found)?;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let plugin = self.catalog.plugin(&id.slug).await?.ok_or_else(not_found)?;
            let summary = plugin
                .versions
                .iter()
                .find(|v| v.version == id.version)
                .ok_or_else(not_found)?;
            let submitted_at = match &summary.review {
                Some(ReviewState::Pending { submitted_at }) => *submitted_at,
                Some(ReviewState::Rejected { .. }) => {
                    return Err(RegistryError::ReviewDecided {
                        id: id.to_string(),
                        state: "rejected",
                    });
                }
                None => {
                    return Err(RegistryError::ReviewDecided {
                        id: id.to_string(),
                        state: "approved",
                    });
                }
            };
            let now = self.clock.now();
            let change = if approve {
                VersionChange::Approve(now)
            } else {
                VersionChange::Reject(ReviewState::Rejected {
                    submitted_at,
                    decided_by: caller.principal.clone(),
                    decided_at: now,
                    comment: comment.clone().unwrap_or_default(),
                })
            };
            let mut after = plugin.versions.clone();
            for v in after.iter_mut().filter(|v| v.version == id.version) {
                change.apply(v.lifecycle());
            }
            let latest = self
                .summary_for(&id.slug, latest_version(&after).map(|v| &v.version), None)
                .await?;
            match self
                .catalog
                .change_version(
                    &id.slug,
                    plugin.revision,
                    &id.version,
                    &change,
                    latest.as_ref(),
                    now,
                )
                .await
            {
                Ok(()) => {
                    let detail = AuditDetail {
                        note: comment,
                        ..AuditDetail::version(&id.version)
                    };
                    let action = if approve {
                        AuditAction::VersionApproved
                    } else {
                        AuditAction::VersionRejected
                    };
                    self.record(
                        caller,
                        AuditSubject::Plugin(id.slug.clone()),
                        action,
                        detail,
                    )
                    .await;
                    return Ok(id);
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(StorageError::Conflict(Conflict::Missing)) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: id.slug.to_string(),
        })
    }
}

/// A reviewer's comment, trimmed and bounded; `required` for a rejection, whose
/// owners need to know why.
fn review_comment(raw: Option<&str>, required: bool) -> Result<Option<String>, RegistryError> {
    let comment = raw.map(str::trim).filter(|c| !c.is_empty());
    match comment {
        None if required => Err(RegistryError::invalid_field(
            "comment",
            "say why the version is rejected: its owners read it".to_owned(),
        )),
        Some(c) if c.chars().count() > MAX_REVIEW_COMMENT => Err(RegistryError::invalid_field(
            "comment",
            format!("at most {MAX_REVIEW_COMMENT} characters"),
        )),
        other => Ok(other.map(str::to_owned)),
    }
}
