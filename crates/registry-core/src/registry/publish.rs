//! Publishing a new version (`POST /plugins`) and updating a plugin (`PUT /plugins/{slug}`).
//!
//! Order of work: validate everything, write the content-addressed artifacts, then
//! write the catalog row with a condition. A crash between the two leaves only an
//! unreferenced artifact, never a visible half-published version.

use bytes::Bytes;

use super::contention::RaceRetry;
use super::{Registry, becomes_latest, require_publish_right};
use crate::artifact::{ArtifactKey, StoredArtifact, ZIP_CONTENT_TYPE};
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::Caller;
use crate::bundle::{check_file_name, validate_bundle};
use crate::checksum::Sha256Digest;
use crate::error::RegistryError;
use crate::manifest::{DocumentFormat, Manifest, ParsedDocument, parse_document};
use crate::rate_limit::LimitedAction;
use crate::review::{ReviewState, is_patch_release};
use crate::slug::Slug;
use crate::store::{
    Conflict, LatestSummary, PluginHead, StorageError, VersionRecord, VersionSummary,
};
use crate::upload::UploadId;
use crate::version::PluginVersion;
use crate::webhook::EventKind;

/// What a publish request carries.
#[derive(Debug, Clone)]
pub enum PublishBody {
    /// A bare schema document.
    Document {
        /// The bytes as sent.
        bytes: Bytes,
        /// JSON or YAML.
        format: DocumentFormat,
    },
    /// A ZIP bundle with `plugin.yaml` or `plugin.json` at its root.
    Bundle {
        /// The ZIP as sent.
        bytes: Bytes,
        /// The file name the client gave, if any.
        file_name: Option<String>,
    },
    /// A ZIP bundle the caller uploaded through `POST /uploads`.
    Upload {
        /// The id `POST /uploads` returned.
        upload_id: UploadId,
    },
}

/// The outcome of a publish or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The plugin.
    pub slug: Slug,
    /// The new version.
    pub version: PluginVersion,
    /// The highest version before this one (updates only).
    pub previous_version: Option<PluginVersion>,
    /// The plugin's URL; while the version waits for review, the review's.
    pub url: String,
    /// ETag of the new version's details document, when the index was built in
    /// process (the local server); `None` when it is built after the fact (AWS),
    /// or while the version waits for review.
    pub details_etag: Option<String>,
    /// Whether the version waits for a reviewer: it has no details, files or
    /// listing until approved.
    pub pending_review: bool,
}

pub(super) struct Prepared {
    pub(super) manifest: Manifest,
    schema_bytes: Bytes,
    schema_format: DocumentFormat,
    pub(super) bundle: Option<(Bytes, Sha256Digest)>,
}

enum Mode<'a> {
    Publish,
    Update(&'a Slug),
}

/// Versions published (new plugins included; a reviewed version when approved).
pub(super) const PUBLISHES_TOTAL: &str = "registry_publishes_total";

impl Registry {
    /// Publishes a version: creates the plugin (owned by the caller's principal) if
    /// the slug is new, else adds any version never used before.
    pub async fn publish_version(
        &self,
        caller: &Caller,
        body: PublishBody,
    ) -> Result<Published, RegistryError> {
        self.publish(caller, body, Mode::Publish).await
    }

    /// Updates a plugin: the version must be greater than its highest live version.
    pub async fn update_plugin(
        &self,
        caller: &Caller,
        slug: &Slug,
        body: PublishBody,
    ) -> Result<Published, RegistryError> {
        self.publish(caller, body, Mode::Update(slug)).await
    }

    async fn publish(
        &self,
        caller: &Caller,
        body: PublishBody,
        mode: Mode<'_>,
    ) -> Result<Published, RegistryError> {
        require_publish_right(Some(caller))?;
        let (prepared, upload) = match body {
            PublishBody::Document { bytes, format } => {
                (prepare_document(bytes, format, None)?, None)
            }
            PublishBody::Bundle { bytes, file_name } => {
                (prepare_bundle(bytes, file_name.as_deref())?, None)
            }
            PublishBody::Upload { upload_id } => {
                let resolved = self.resolve_upload(&caller.principal, &upload_id).await?;
                (prepare_bundle(resolved.bytes, None)?, Some(resolved.key))
            }
        };
        let manifest = &prepared.manifest;
        if manifest.slug.is_reserved() {
            return Err(RegistryError::invalid_field(
                "slug",
                format!(
                    "'{}' is reserved by the registry; choose another slug",
                    manifest.slug
                ),
            ));
        }
        if let Mode::Update(path_slug) = mode
            && *path_slug != manifest.slug
        {
            return Err(RegistryError::invalid_field(
                "slug",
                format!(
                    "the document's slug '{}' does not match the URL's '{path_slug}'",
                    manifest.slug
                ),
            ));
        }
        let slug = manifest.slug.clone();
        let version = manifest.version.clone();
        caller.check_plugin_limit(&slug)?;

        // Fail fast on the common refusals before writing any artifact. A publish
        // reads the plugin's row and the records of the versions it weighs (the
        // one it adds, the latest), never every version's: nothing it holds grows
        // with the plugin's history.
        // Who owns a plugin is checked once: a publish racing an owner change
        // is decided by the owners it started under.
        let mut owners_checked = false;
        let existing = self.catalog.plugin_head(&slug).await?;
        let action = if existing.is_some() {
            LimitedAction::NewVersion
        } else {
            LimitedAction::NewPlugin
        };
        match &existing {
            Some(plugin) => {
                if let Some(quarantine) = &plugin.quarantined {
                    return Err(RegistryError::PluginQuarantined {
                        slug: slug.to_string(),
                        reason: quarantine.reason.clone(),
                    });
                }
                let owners = self.require_publisher(caller, plugin).await?;
                owners_checked = true;
                self.check_may_add(&slug, &version, &mode).await?;
                if !owners.exists() {
                    self.store_first_owner(&slug, &plugin.owner, plugin.created_at)
                        .await;
                }
            }
            None if matches!(mode, Mode::Update(_)) => {
                return Err(RegistryError::PluginNotFound {
                    slug: slug.to_string(),
                });
            }
            None => self.check_new_slug(&slug).await?,
        }
        // Who owns the plugin if this publish makes it: the caller, or for a
        // publish token, whoever registered the pending publisher it came through.
        let new_owner = match caller.publish_token_publishers() {
            Some(publishers) if !owners_checked => {
                self.pending_owner_for(publishers, &slug).await?
            }
            _ => caller.principal.clone(),
        };

        self.take_allowance(caller, action).await?;
        let mut record = self.store_artifacts(caller, prepared).await?;
        let pending_review = self.review.required
            && !self
                .auto_approved(caller, existing.as_ref(), &version)
                .await?;
        let mut invites = Vec::new();
        if pending_review {
            let (checks, sent) = self
                .start_checks(&slug, &version, record.published_at)
                .await?;
            invites = sent;
            record.review = Some(ReviewState::Pending {
                submitted_at: record.published_at,
                checks,
            });
        }
        let kind = if pending_review {
            EventKind::VersionPendingReview
        } else {
            EventKind::VersionPublished
        };
        let by = Some(&caller.principal);
        let told = self
            .version_deliveries(kind, &slug, &version, by, None, &invites)
            .await?;
        let mut previous = None;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            // The version checks come after the row is read: a version added
            // since moves the row's revision, so the write below fails and the
            // next attempt sees it.
            let result = match self.catalog.plugin_head(&slug).await? {
                None if matches!(mode, Mode::Update(_)) => {
                    return Err(RegistryError::PluginNotFound {
                        slug: slug.to_string(),
                    });
                }
                None => {
                    // A plugin whose only version waits for review shows nothing.
                    let latest = (!pending_review).then(|| LatestSummary::of(&record));
                    self.catalog
                        .create_plugin(&slug, &new_owner, &record, latest.as_ref(), &told)
                        .await
                }
                Some(plugin) => {
                    if !owners_checked {
                        self.require_publisher(caller, &plugin).await?;
                        owners_checked = true;
                    }
                    previous = self.check_may_add(&slug, &version, &mode).await?;
                    // A version waiting for review leaves what readers see as it is.
                    let latest = if pending_review {
                        plugin.latest.clone()
                    } else {
                        Some(self.latest_after_adding(&plugin, &record).await?)
                    };
                    self.catalog
                        .add_version(&slug, plugin.revision, &record, latest.as_ref(), &told)
                        .await
                }
            };
            match result {
                Ok(()) => {
                    if pending_review {
                        tracing::info!(%slug, %version, principal = %caller.principal, "submitted for review");
                    } else {
                        tracing::info!(%slug, %version, principal = %caller.principal, "published");
                        metrics::counter!(PUBLISHES_TOTAL).increment(1);
                    }
                    let action = match mode {
                        _ if pending_review => AuditAction::VersionSubmittedForReview,
                        Mode::Publish => AuditAction::VersionPublished,
                        Mode::Update(_) => AuditAction::PluginUpdated,
                    };
                    self.record(
                        caller,
                        AuditSubject::Plugin(slug.clone()),
                        action,
                        AuditDetail::version(&version),
                    )
                    .await;
                    if !owners_checked {
                        // This publish made the plugin: its publisher is its owner.
                        self.store_first_owner(&slug, &new_owner, record.published_at)
                            .await;
                        self.settle_pending_publishers(&slug, &new_owner).await;
                    }
                    if let Some(key) = &upload {
                        self.discard_upload(key).await;
                    }
                    // The journal has the change either way; only a live version
                    // has details to wait for.
                    let details_etag = self
                        .notify_changed(&slug, (!pending_review).then_some(&version))
                        .await;
                    self.told(&told).await;
                    return Ok(Published {
                        pending_review,
                        url: if pending_review {
                            format!("{}/reviews/{slug}@{version}", self.config.public_url)
                        } else {
                            format!("{}/plugins/{slug}", self.config.public_url)
                        },
                        details_etag,
                        previous_version: if matches!(mode, Mode::Update(_)) {
                            previous
                        } else {
                            None
                        },
                        slug,
                        version,
                    });
                }
                // Someone else wrote first: re-read and decide again.
                Err(StorageError::Conflict(Conflict::PluginExists | Conflict::RevisionChanged)) => {
                    continue;
                }
                Err(StorageError::Conflict(Conflict::VersionExists)) => {
                    return Err(match self.catalog.version(&slug, &version).await? {
                        Some(existing) => version_exists(&slug, &version, &existing),
                        None => RegistryError::ConcurrentUpdate {
                            slug: slug.to_string(),
                        },
                    });
                }
                // A confusable slug was published between the check and this write.
                Err(StorageError::Conflict(Conflict::Confusable)) => {
                    let existing = self
                        .catalog
                        .slug_with_skeleton(&slug.skeleton())
                        .await?
                        .map_or_else(|| "another plugin".to_owned(), |s| s.to_string());
                    return Err(RegistryError::SlugConfusable {
                        slug: slug.to_string(),
                        existing,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: slug.to_string(),
        })
    }

    /// Whether the policy's auto-approval rules let this publish skip review: by
    /// its publisher (a listed principal, a member of a listed team, or trusted
    /// publishing), or as a patch release of a plugin readers already see.
    async fn auto_approved(
        &self,
        caller: &Caller,
        existing: Option<&PluginHead>,
        version: &PluginVersion,
    ) -> Result<bool, RegistryError> {
        let rules = &self.review.auto_approve;
        if caller.publish_token_publishers().is_some() {
            if rules.trusted_publishing {
                return Ok(true);
            }
        } else if !rules.publishers.is_empty() {
            if rules.publishers.contains(&caller.principal) {
                return Ok(true);
            }
            let teams = self.teams_of(&caller.principal).await?;
            if teams
                .iter()
                .any(|(team, _)| rules.publishers.contains(team))
            {
                return Ok(true);
            }
        }
        Ok(rules.patch_releases
            && existing
                .and_then(|plugin| plugin.latest.as_ref())
                .is_some_and(|latest| is_patch_release(&latest.version, version)))
    }

    /// Refuses a new slug that is reserved-looking or confusable with a plugin's.
    pub(super) async fn check_new_slug(&self, slug: &Slug) -> Result<(), RegistryError> {
        if slug.is_reserved() {
            return Err(RegistryError::invalid_field(
                "slug",
                format!("'{slug}' is reserved by the registry; choose another slug"),
            ));
        }
        // A new slug may not read like a route or another plugin's slug.
        if let Some(reserved) = slug.looks_reserved() {
            return Err(RegistryError::invalid_field(
                "slug",
                format!(
                    "'{slug}' reads like the registry's reserved '{reserved}'; choose another slug"
                ),
            ));
        }
        if let Some(existing) = self.catalog.slug_with_skeleton(&slug.skeleton()).await?
            && existing != *slug
        {
            return Err(RegistryError::SlugConfusable {
                slug: slug.to_string(),
                existing: existing.to_string(),
            });
        }
        Ok(())
    }

    /// Refuses a caller that may not publish into `plugin`: a publish token whose
    /// publishers the plugin no longer trusts, or a key not acting as an owner.
    /// Returns the plugin's owners.
    async fn require_publisher(
        &self,
        caller: &Caller,
        plugin: &PluginHead,
    ) -> Result<crate::ownership::Roster, RegistryError> {
        match caller.publish_token_publishers() {
            Some(publishers) => {
                self.require_trusted_publisher(publishers, plugin).await?;
                self.owner_roster(plugin).await
            }
            None => {
                let owners = self.require_owner(caller, plugin, false).await?;
                self.require_unlocked(&plugin.slug).await?;
                Ok(owners)
            }
        }
    }

    async fn store_artifacts(
        &self,
        caller: &Caller,
        prepared: Prepared,
    ) -> Result<VersionRecord, RegistryError> {
        let Prepared {
            manifest,
            schema_bytes,
            schema_format,
            bundle,
        } = prepared;
        let schema_sha = Sha256Digest::of(&schema_bytes);
        let schema = StoredArtifact {
            key: ArtifactKey::schema(
                &manifest.slug,
                &manifest.version,
                &schema_sha,
                schema_format,
            ),
            sha256: schema_sha,
            size: schema_bytes.len() as u64,
            content_type: schema_format.content_type().to_owned(),
        };
        self.artifacts
            .put_if_absent(&schema.key, schema_bytes, &schema.content_type)
            .await?;
        let bundle = match bundle {
            None => None,
            Some((bytes, sha256)) => {
                let stored = StoredArtifact {
                    key: ArtifactKey::bundle(&manifest.slug, &manifest.version, &sha256),
                    sha256,
                    size: bytes.len() as u64,
                    content_type: ZIP_CONTENT_TYPE.to_owned(),
                };
                self.artifacts
                    .put_if_absent(&stored.key, bytes, ZIP_CONTENT_TYPE)
                    .await?;
                Some(stored)
            }
        };
        Ok(VersionRecord {
            version: manifest.version.clone(),
            manifest,
            schema,
            bundle,
            published_at: self.clock.now(),
            published_by: caller.principal.clone(),
            deprecated: None,
            unpublished_at: None,
            quarantined: None,
            review: None,
        })
    }

    /// The latest summary once `record`, a new version, joins `plugin`: the row's
    /// latest or the new version, decided by [`becomes_latest`] from the row's
    /// latest version's record alone.
    async fn latest_after_adding(
        &self,
        plugin: &PluginHead,
        record: &VersionRecord,
    ) -> Result<LatestSummary, RegistryError> {
        let current = match &plugin.latest {
            None => None,
            Some(latest) => Some((
                latest,
                self.catalog
                    .version(&plugin.slug, &latest.version)
                    .await?
                    .ok_or_else(|| RegistryError::ConcurrentUpdate {
                        slug: plugin.slug.to_string(),
                    })?,
            )),
        };
        Ok(match current {
            Some((latest, current))
                if !becomes_latest(Some(&VersionSummary::of(&current)), &record.version) =>
            {
                latest.clone()
            }
            _ => LatestSummary::of(record),
        })
    }

    /// Refuses a version string the plugin has ever used and, for an update, one
    /// not above its highest live version, which it returns (`None` for a
    /// publish, which may add any version never used).
    async fn check_may_add(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        mode: &Mode<'_>,
    ) -> Result<Option<PluginVersion>, RegistryError> {
        if let Some(existing) = self.catalog.version(slug, version).await? {
            return Err(version_exists(slug, version, &existing));
        }
        let Mode::Update(_) = mode else {
            return Ok(None);
        };
        let highest = self.catalog.highest_live_version(slug).await?;
        if let Some(highest) = &highest
            && version <= highest
        {
            return Err(RegistryError::VersionNotIncremented {
                version: version.to_string(),
                latest: highest.to_string(),
            });
        }
        Ok(highest)
    }

    /// The latest summary for `latest`, reading its record unless it is `at_hand`.
    pub(super) async fn summary_for(
        &self,
        slug: &Slug,
        latest: Option<&PluginVersion>,
        at_hand: Option<&VersionRecord>,
    ) -> Result<Option<LatestSummary>, RegistryError> {
        let Some(latest) = latest else {
            return Ok(None);
        };
        if let Some(record) = at_hand.filter(|r| &r.version == latest) {
            return Ok(Some(LatestSummary::of(record)));
        }
        let record = self.catalog.version(slug, latest).await?.ok_or_else(|| {
            RegistryError::VersionNotFound {
                slug: slug.to_string(),
                version: latest.to_string(),
            }
        })?;
        Ok(Some(LatestSummary::of(&record)))
    }
}

pub(super) fn prepare_bundle(
    bytes: Bytes,
    file_name: Option<&str>,
) -> Result<Prepared, RegistryError> {
    if let Some(name) = file_name {
        check_file_name(name)?;
    }
    let validated = validate_bundle(&bytes)?;
    prepare_document(
        Bytes::from(validated.manifest),
        validated.manifest_format,
        Some((bytes, validated.sha256)),
    )
}

fn prepare_document(
    schema_bytes: Bytes,
    schema_format: DocumentFormat,
    bundle: Option<(Bytes, Sha256Digest)>,
) -> Result<Prepared, RegistryError> {
    let manifest = parse_document(&schema_bytes, schema_format).map_err(|e| match e {
        ParsedDocument::Malformed { format, detail } => {
            RegistryError::MalformedDocument { format, detail }
        }
        ParsedDocument::Invalid(problems) => RegistryError::Invalid { problems },
    })?;
    Ok(Prepared {
        manifest,
        schema_bytes,
        schema_format,
        bundle,
    })
}

fn version_exists(slug: &Slug, version: &PluginVersion, existing: &VersionRecord) -> RegistryError {
    let detail = match &existing.review {
        Some(review) if review.is_pending() => format!(
            "{slug}@{version} was submitted already and waits for review; bump the version to submit changes"
        ),
        Some(_) => format!(
            "{slug}@{version} was rejected in review; a version string is never reused, so bump the version"
        ),
        None if existing.unpublished_at.is_some() => format!(
            "{slug}@{version} was published and later unpublished; a version string is never reused, so bump the version"
        ),
        None => {
            format!("{slug}@{version} is already published; bump the version to publish changes")
        }
    };
    RegistryError::VersionExists { detail }
}
