//! Deprecating and unpublishing versions.

use time::Duration;

use super::contention::RaceRetry;
use super::read::parse_version;
use super::{Registry, latest_version, require_scope};
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::manifest::limits;
use crate::slug::Slug;
use crate::store::{Conflict, Deprecation, PluginRecord, StorageError, VersionChange};
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;
use crate::webhook::{Delivery, EventKind};

/// How long after publication a version may be unpublished unconditionally.
pub const UNPUBLISH_GRACE: Duration = Duration::hours(72);
/// Days without downloads a deprecated version needs before it may be unpublished.
pub const UNPUBLISH_QUIET_DAYS: i64 = 7;

/// The outcome of a deprecation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecated {
    /// The plugin.
    pub slug: String,
    /// The deprecated version.
    pub version: String,
    /// The notice now shown with it.
    pub deprecation: Deprecation,
}

/// The outcome of an unpublish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpublished {
    /// The plugin.
    pub slug: String,
    /// The version removed.
    pub version: String,
    /// When.
    pub unpublished_at: Timestamp,
}

impl Registry {
    /// Marks a version deprecated (again, to change the notice).
    pub async fn deprecate_version(
        &self,
        caller: &Caller,
        slug: &str,
        version: &str,
        reason: &str,
        replacement_version: Option<&str>,
    ) -> Result<Deprecated, RegistryError> {
        require_scope(Some(caller), Scope::Publish)?;
        let version = parse_version(version)?;
        let reason = reason.trim();
        let mut problems = Vec::new();
        if reason.is_empty() || reason.chars().count() > limits::DESCRIPTION {
            problems.push(crate::manifest::FieldError {
                field: "reason".into(),
                message: format!("must be 1 to {} characters saying why", limits::DESCRIPTION),
            });
        }
        let replacement = match replacement_version.map(PluginVersion::parse).transpose() {
            Ok(r) => r,
            Err(message) => {
                problems.push(crate::manifest::FieldError {
                    field: "replacement_version".into(),
                    message,
                });
                None
            }
        };
        if !problems.is_empty() {
            return Err(RegistryError::Invalid { problems });
        }
        let notice = Deprecation {
            reason: reason.to_owned(),
            replacement_version: replacement.clone(),
            deprecated_at: self.clock.now(),
        };
        let event = (EventKind::VersionDeprecated, Some(notice.reason.as_str()));
        let told = self
            .change_with_retries(caller, slug, &version, Some(event), |plugin| {
                if let Some(r) = &replacement {
                    let live = plugin
                        .versions
                        .iter()
                        .any(|v| &v.version == r && v.unpublished_at.is_none());
                    if !live {
                        return Err(RegistryError::invalid_field(
                            "replacement_version",
                            format!("{}@{r} is not a published version", plugin.slug),
                        ));
                    }
                    if *r == version {
                        return Err(RegistryError::invalid_field(
                            "replacement_version",
                            "a version cannot replace itself",
                        ));
                    }
                }
                Ok(VersionChange::Deprecate(notice.clone()))
            })
            .await?;
        if let Ok(parsed) = Slug::parse(slug) {
            self.record(
                caller,
                AuditSubject::Plugin(parsed.clone()),
                AuditAction::VersionDeprecated,
                AuditDetail {
                    note: Some(notice.reason.clone()),
                    ..AuditDetail::version(&version)
                },
            )
            .await;
            self.notify_changed(&parsed, Some(&version)).await;
        }
        self.told(&told).await;
        Ok(Deprecated {
            slug: slug.to_owned(),
            version: version.to_string(),
            deprecation: notice,
        })
    }

    /// Unpublishes a version if the rules allow: within 72 hours of publication, or
    /// deprecated and not downloaded for 7 days. The version string stays taken.
    pub async fn unpublish_version(
        &self,
        caller: &Caller,
        slug: &str,
        version: &str,
    ) -> Result<Unpublished, RegistryError> {
        require_scope(Some(caller), Scope::Publish)?;
        let version = parse_version(version)?;
        let now = self.clock.now();
        let quiet_since = now.day() - Duration::days(UNPUBLISH_QUIET_DAYS - 1);
        // The download check is a read outside the compare-and-set: it only ever
        // refuses, and a download racing the unpublish is served either way.
        let parsed = Slug::parse(slug).map_err(|_| RegistryError::PluginNotFound {
            slug: slug.to_owned(),
        })?;
        let recent = self
            .catalog
            .downloads_since(&parsed, &version, quiet_since)
            .await?;
        // Like the download count, read outside the compare-and-set: it only refuses.
        let routed = self.live_instances_of(&parsed, &version).await?;
        let event = (EventKind::VersionUnpublished, None);
        let told = self
            .change_with_retries(caller, slug, &version, Some(event), |plugin| {
            let Some(summary) = plugin.versions.iter().find(|v| v.version == version) else {
                return Err(RegistryError::VersionNotFound { slug: slug.to_owned(), version: version.to_string() });
            };
            if now.since(summary.published_at) <= UNPUBLISH_GRACE {
                return Ok(VersionChange::Unpublish(now));
            }
            if summary.deprecated.is_none() {
                return Err(RegistryError::UnpublishRefused {
                    detail: format!(
                        "{slug}@{version} was published more than 72 hours ago; deprecate it first, then unpublish once it has had no downloads for {UNPUBLISH_QUIET_DAYS} days"
                    ),
                });
            }
            if recent > 0 {
                return Err(RegistryError::UnpublishRefused {
                    detail: format!(
                        "{slug}@{version} is deprecated but was downloaded {recent} time(s) in the last {UNPUBLISH_QUIET_DAYS} days; it can be unpublished once nothing uses it"
                    ),
                });
            }
            if !routed.is_empty() {
                let ids: Vec<&str> = routed.iter().map(|id| id.as_str()).collect();
                return Err(RegistryError::UnpublishRefused {
                    detail: format!(
                        "{slug}@{version} is deprecated but {} MCP router instance(s) still run it ({}); deregister them (DELETE /register/{slug}/{{instance_id}}) first",
                        routed.len(),
                        ids.join(", ")
                    ),
                });
            }
            Ok(VersionChange::Unpublish(now))
        })
        .await?;
        tracing::info!(%slug, %version, principal = %caller.principal, "unpublished");
        self.record(
            caller,
            AuditSubject::Plugin(parsed.clone()),
            AuditAction::VersionUnpublished,
            AuditDetail::version(&version),
        )
        .await;
        self.notify_changed(&parsed, None).await;
        self.told(&told).await;
        Ok(Unpublished {
            slug: slug.to_owned(),
            version: version.to_string(),
            unpublished_at: now,
        })
    }

    /// Applies a change decided by `decide` from a fresh read, retrying on races,
    /// with the webhook deliveries of `event` (its kind and reason), which it
    /// returns for the delivery side to be told.
    pub(super) async fn change_with_retries(
        &self,
        caller: &Caller,
        slug: &str,
        version: &PluginVersion,
        event: Option<(EventKind, Option<&str>)>,
        decide: impl Fn(&PluginRecord) -> Result<VersionChange, RegistryError>,
    ) -> Result<Vec<Delivery>, RegistryError> {
        // A key limited to other plugins learns nothing, not even whether this one exists.
        if let Ok(parsed) = Slug::parse(slug) {
            caller.check_plugin_limit(&parsed)?;
        }
        let mut retry = RaceRetry::default();
        let mut owners_checked = false;
        while retry.another_attempt().await {
            let plugin = self.find_plugin(slug).await?;
            // An admin key moderates: it may deprecate or unpublish anyone's release
            // (under the same rules), though it never publishes into another's plugin.
            if !owners_checked {
                self.require_owner(caller, &plugin.head(), true).await?;
                owners_checked = true;
            }
            let Some(summary) = plugin.versions.iter().find(|v| &v.version == version) else {
                return Err(RegistryError::VersionNotFound {
                    slug: slug.to_owned(),
                    version: version.to_string(),
                });
            };
            if summary.unpublished_at.is_some() {
                return Err(RegistryError::VersionGone {
                    slug: slug.to_owned(),
                    version: version.to_string(),
                });
            }
            if let Some(review) = &summary.review {
                return Err(RegistryError::VersionUnderReview {
                    slug: slug.to_owned(),
                    version: version.to_string(),
                    state: if review.is_pending() {
                        "pending"
                    } else {
                        "rejected after"
                    },
                });
            }
            let change = decide(&plugin)?;
            let mut after = plugin.versions.clone();
            for v in after.iter_mut().filter(|v| &v.version == version) {
                change.apply(v.lifecycle());
            }
            let latest = self
                .summary_for(
                    &plugin.slug,
                    latest_version(&after).map(|v| &v.version),
                    None,
                )
                .await?;
            let told = match event {
                Some((kind, reason)) => {
                    let by = Some(&caller.principal);
                    self.version_deliveries(kind, &plugin.slug, version, by, reason, &[])
                        .await?
                }
                None => Vec::new(),
            };
            let at = self.clock.now();
            match self
                .catalog
                .change_version(
                    &plugin.slug,
                    plugin.revision,
                    version,
                    &change,
                    latest.as_ref(),
                    at,
                    &told,
                )
                .await
            {
                Ok(()) => return Ok(told),
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(StorageError::Conflict(Conflict::Missing)) => {
                    return Err(RegistryError::VersionNotFound {
                        slug: slug.to_owned(),
                        version: version.to_string(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: slug.to_owned(),
        })
    }
}
