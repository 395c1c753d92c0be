//! Reviewing versions held by the review policy: reviewers list, read, approve
//! and reject them; owners follow their own.
//!
//! Approval is a version change like a deprecation: a compare-and-set on the
//! plugin's revision that clears the review, starts the version's life (its
//! publication time, and so the unpublish window) and moves the latest. The
//! index then renders it exactly as a publish would.

use std::collections::BTreeMap;

use super::contention::RaceRetry;
use super::notices::notices_note;
use super::{Download, Registry, latest_version};
use crate::account::EmailAddress;
use crate::api::reviews::{
    ReviewDecisionView, ReviewList, ReviewOutcome, ReviewView, ReviewedArtifact,
};
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::notice::Notice;
use crate::review::{MAX_REVIEW_COMMENT, MAX_REVIEW_PAGE, ReviewId, ReviewState};
use crate::slug::Slug;
use crate::store::{Conflict, PluginRecord, StorageError, VersionChange, VersionRecord};
use crate::version::PluginVersion;

impl Registry {
    /// Whether `caller` may decide reviews.
    pub(super) fn require_reviewer(caller: Option<&Caller>) -> Result<&Caller, RegistryError> {
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

    /// The view of `record`, a version of a plugin whose readers see `current`.
    fn review_view(&self, current: Option<&PluginVersion>, record: VersionRecord) -> ReviewView {
        let id = ReviewId {
            slug: record.manifest.slug.clone(),
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
            slug: id.slug.to_string(),
            version: record.version.to_string(),
            state: review
                .as_ref()
                .map_or("approved", ReviewState::as_str)
                .to_owned(),
            submitted_at: review
                .as_ref()
                .map_or(record.published_at, ReviewState::submitted_at),
            submitted_by: record.published_by.clone(),
            current_version: current.map(PluginVersion::to_string),
            schema: artifact(&record.schema, "schema"),
            bundle: record.bundle.as_ref().map(|b| artifact(b, "bundle")),
            checks: match &review {
                Some(ReviewState::Pending { checks, .. }) => checks
                    .iter()
                    .map(|run| crate::api::reviews::CheckView::of(run, self.clock.now()))
                    .collect(),
                _ => Vec::new(),
            },
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

    /// The reviews, pending and rejected, of every plugin `caller` owns (in
    /// person or through a team), the longest waiting first.
    pub async fn my_reviews(&self, caller: &Caller) -> Result<ReviewList, RegistryError> {
        let mut reviews = Vec::new();
        for plugin in self.my_plugins(caller).await? {
            let slug = plugin.slug.to_string();
            reviews.extend(self.list_reviews(Some(caller), Some(&slug)).await?.reviews);
        }
        reviews.sort_by(|a, b| a.submitted_at.cmp(&b.submitted_at).then(a.id.cmp(&b.id)));
        Ok(ReviewList { reviews })
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
            // Each plugin's row once, for the version its readers see today.
            let mut current: BTreeMap<Slug, Option<PluginVersion>> = BTreeMap::new();
            for record in self
                .catalog
                .versions_pending_review(MAX_REVIEW_PAGE)
                .await?
            {
                let slug = &record.manifest.slug;
                if !current.contains_key(slug) {
                    let head = self.catalog.plugin_head(slug).await?;
                    let latest = head.and_then(|h| h.latest).map(|l| l.version);
                    current.insert(slug.clone(), latest);
                }
                let latest = current.get(slug).cloned().flatten();
                reviews.push(self.review_view(latest.as_ref(), record));
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
        let current = latest_version(&plugin.versions).map(|v| v.version.clone());
        let mut reviews: Vec<ReviewView> = records
            .into_iter()
            .filter(|record| record.review.is_some())
            .map(|record| self.review_view(current.as_ref(), record))
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
        let current = latest_version(&plugin.versions).map(|v| v.version.clone());
        Ok(self.review_view(current.as_ref(), record))
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
        self.review_decision(caller, id, true, comment).await
    }

    /// Rejects a pending version: its version string stays taken, and its owners
    /// read `comment` as the reason.
    pub async fn reject_review(
        &self,
        caller: Option<&Caller>,
        id: &str,
        comment: Option<&str>,
    ) -> Result<ReviewOutcome, RegistryError> {
        self.review_decision(caller, id, false, comment).await
    }

    async fn review_decision(
        &self,
        caller: Option<&Caller>,
        id: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<ReviewOutcome, RegistryError> {
        let caller = Self::require_reviewer(caller)?;
        // A rejection says why: its owners read it.
        let comment = review_comment(comment, !approve)?;
        let (id, told) = self.decide(caller, id, approve, comment.clone()).await?;
        let state = if approve { "approved" } else { "rejected" };
        tracing::info!(review = %id, principal = %caller.principal, state, "review decided");
        let (url, details_etag) = if approve {
            metrics::counter!(super::publish::PUBLISHES_TOTAL).increment(1);
            (
                format!("{}/plugins/{}", self.config.public_url, id.slug),
                self.notify_changed(&id.slug, Some(&id.version)).await,
            )
        } else {
            (format!("{}/reviews/{id}", self.config.public_url), None)
        };
        // Subscribers hear of it once readers can see it.
        self.told(&told).await;
        Ok(ReviewOutcome {
            id: id.to_string(),
            state: state.to_owned(),
            url,
            details_etag,
        })
    }

    /// Writes a decision on a pending version with its webhook deliveries
    /// (returned, for the delivery side to be told), retrying on races with
    /// other changes to the plugin; a review decided meanwhile is refused.
    async fn decide(
        &self,
        caller: &Caller,
        raw_id: &str,
        approve: bool,
        comment: Option<String>,
    ) -> Result<(ReviewId, Vec<crate::webhook::Delivery>), RegistryError> {
        let not_found = || RegistryError::ReviewNotFound {
            id: raw_id.to_owned(),
        };
        let id = ReviewId::parse(raw_id).ok_or_else(not_found)?;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let plugin = self.catalog.plugin(&id.slug).await?.ok_or_else(not_found)?;
            let (submitted_at, checks) = pending_review(&plugin, &id).ok_or_else(not_found)??;
            if approve {
                super::review_checks::require_passed(&id, checks, self.clock.now())?;
            }
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
            let by = Some(&caller.principal);
            let deliveries = self
                .decision_deliveries(&id.slug, &id.version, approve, by, comment.as_deref())
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
                    &deliveries,
                )
                .await
            {
                Ok(()) => {
                    // The owners hear of the decision; the notices' outcome goes
                    // to the audit log with the comment.
                    let owners = self.owner_roster(&plugin.head()).await?;
                    let told = self
                        .tell_owners(&owners, |to| {
                            decision_notice(
                                to,
                                &id,
                                approve,
                                comment.as_deref(),
                                &self.config.public_url,
                            )
                        })
                        .await;
                    let told = notices_note(told);
                    let detail = AuditDetail {
                        note: Some(match &comment {
                            Some(comment) => format!("{comment} ({told})"),
                            None => told,
                        }),
                        ..AuditDetail::version(&id.version)
                    };
                    self.record(
                        caller,
                        AuditSubject::Plugin(id.slug.clone()),
                        decision_action(approve),
                        detail,
                    )
                    .await;
                    return Ok((id, deliveries));
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

/// When `id`'s pending review in `plugin` was submitted and the checks it waits
/// for; `None` when the plugin has no such version, and a decided one is
/// [`RegistryError::ReviewDecided`].
pub(super) fn pending_review<'a>(
    plugin: &'a PluginRecord,
    id: &ReviewId,
) -> Option<Result<(crate::timestamp::Timestamp, &'a [crate::review::CheckRun]), RegistryError>> {
    let summary = plugin.versions.iter().find(|v| v.version == id.version)?;
    Some(match summary.review.as_ref() {
        Some(ReviewState::Pending {
            submitted_at,
            checks,
        }) => Ok((*submitted_at, checks)),
        Some(ReviewState::Rejected { .. }) => Err(RegistryError::ReviewDecided {
            id: id.to_string(),
            state: "rejected",
        }),
        None => Err(RegistryError::ReviewDecided {
            id: id.to_string(),
            state: "approved",
        }),
    })
}

/// A reviewer's comment, trimmed and bounded; `required` for a rejection, whose
/// owners need to know why.
pub(super) fn review_comment(
    raw: Option<&str>,
    required: bool,
) -> Result<Option<String>, RegistryError> {
    let comment = raw.map(str::trim).filter(|c| !c.is_empty());
    match comment {
        None if required => Err(RegistryError::invalid_field(
            "comment",
            "say why it is rejected: whoever submitted it reads it".to_owned(),
        )),
        Some(c) if c.chars().count() > MAX_REVIEW_COMMENT => Err(RegistryError::invalid_field(
            "comment",
            format!("at most {MAX_REVIEW_COMMENT} characters"),
        )),
        // It reaches owners' mailboxes and terminals: lines, but no control codes.
        Some(c) if c.chars().any(|ch| ch.is_control() && ch != '\n') => {
            Err(RegistryError::invalid_field(
                "comment",
                "no control characters (line breaks are fine)".to_owned(),
            ))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// The message each owner gets when a reviewer decides on `id`.
fn decision_notice(
    to: EmailAddress,
    id: &ReviewId,
    approved: bool,
    comment: Option<&str>,
    public_url: &str,
) -> Notice {
    let ReviewId { slug, version } = id;
    let said = comment.map_or_else(String::new, |c| format!("\nThe reviewer wrote:\n\n  {c}\n"));
    let (subject, what) = if approved {
        (
            format!("{slug} {version} was approved and published"),
            format!(
                "A reviewer approved {slug} {version}: it is published now, at {public_url}/plugins/{slug}\n"
            ),
        )
    } else {
        (
            format!("{slug} {version} was rejected in review"),
            format!(
                "A reviewer rejected {slug} {version}; it will not be published. Its version \
                 string stays taken, so publish the fix as a new version.\n"
            ),
        )
    };
    Notice {
        to,
        subject,
        body: format!(
            "{what}{said}\nThe review: {public_url}/reviews/{id}\n\
             \n\
             You get this message because you own {slug} on {public_url}, yourself or \
             through a team.\n"
        ),
    }
}

/// What the audit log calls a reviewer's decision.
pub(super) fn decision_action(approve: bool) -> AuditAction {
    if approve {
        AuditAction::VersionApproved
    } else {
        AuditAction::VersionRejected
    }
}
