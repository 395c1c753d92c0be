//! The registry services: the protocol's rules over the storage ports. No HTTP here.

mod account_deletion;
mod analytics;
mod audit;
mod changes;
mod contention;
mod device;
mod health;
mod keys;
mod lifecycle;
mod mcp_router;
mod moderation;
mod notices;
mod org_catalog;
mod org_review;
mod orgs;
mod owners;
mod publish;
mod rate_limits;
mod read;
mod review;
mod review_checks;
mod sign_in;
mod teams;
mod trusted_publishing;
mod uploads;
mod webhooks;

use std::sync::Arc;

pub use crate::api::analytics::{
    ClientShare, Granularity, PeriodDownloads, PeriodInstances, PluginAnalytics, RegistryAnalytics,
    RegistryDay, RegistryWeek, TopPlugin, VersionDownloads,
};
pub use crate::api::reviews::{
    CheckAnswerRequest, CheckView, ReviewDecisionView, ReviewList, ReviewOutcome, ReviewView,
    ReviewedArtifact,
};
pub use account_deletion::DeletedAccount;
pub use analytics::{AnalyticsQuery, MAX_PERIODS};
pub use audit::{AuditEntry, AuditLog, AuditQuery};
pub use changes::ChangeListener;
pub use device::{DEFAULT_DEVICE_KEY_NAME, DeviceStart};
pub use health::HealthPassReport;
pub use keys::{
    CreatedKey, DEFAULT_KEY_LIFETIME_DAYS, KeyInfo, MAX_KEY_LIFETIME_DAYS, NewKey, NewPrincipal,
};
pub use lifecycle::{Deprecated, UNPUBLISH_GRACE, UNPUBLISH_QUIET_DAYS, Unpublished};
pub use mcp_router::{
    DEFAULT_CHECK_CONCURRENCY, DEFAULT_FAILURE_THRESHOLD, McpRouterParts, McpRouterSettings,
    NewRegistration, Registered, RoutingTable,
};
pub use moderation::{MAX_QUARANTINE_REASON, NewReport, QuarantineState};
pub use org_catalog::{
    CatalogFilter, CatalogPlugin, CatalogUploadBody, CatalogUploaded, OrgPluginOverview,
    SettingsSchema,
};
pub use org_review::{DecisionQueue, OrgDecisions};
pub use orgs::{CatalogWriter, MemberInfo, OrgInfo, OrgPageAccess, OrgReader, OrgStores};
pub use owners::{Answer, InvitationInfo, OwnedPlugin, OwnerInfo, PluginOwners, QuarantineNotice};
pub use publish::{PublishBody, Published};
pub use read::{Download, PluginDetails};
pub use sign_in::{
    DEFAULT_RETURN_TO, ProviderChoice, SessionCaller, SignInParts, SignedIn, StartedSignIn,
    safe_return_to,
};

use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::slug::Slug;
use crate::store::OwnershipStore;
use crate::store::{ArtifactStore, CatalogStore, KeyStore, UploadStore, VersionSummary};
use crate::timestamp::Clock;

use crate::version::PluginVersion;
pub use teams::{TeamInfo, TeamMemberInfo, TeamMembership};
pub use trusted_publishing::{IssuedPublishToken, TrustedPublisherView, TrustedPublishing};
pub use webhooks::{
    DEFAULT_ATTEMPT_TIMEOUT, DeliveryPassReport, QueuedDeliveryOutcome, WebhookParts,
    WebhookSettings,
};

/// Settings of one registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Base URL written into `url`, `schema_url` and `bundle_url` (no trailing `/`).
    pub public_url: String,
    /// Whether every read needs a key with the `read` scope.
    pub private: bool,
}

/// The registry: every protocol operation, over storage ports.
pub struct Registry {
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    keys: Arc<dyn KeyStore>,
    uploads: Option<Arc<dyn UploadStore>>,
    orgs: Option<OrgStores>,
    router: Option<McpRouterParts>,
    listener: Option<Arc<dyn ChangeListener>>,
    sign_in: Option<SignInParts>,
    ownership: Option<Arc<dyn OwnershipStore>>,
    audit: Option<Arc<dyn crate::store::AuditStore>>,
    reports: Option<Arc<dyn crate::store::ReportStore>>,
    rate_limits: Option<(
        Arc<dyn crate::store::RateLimitStore>,
        crate::rate_limit::RateLimits,
    )>,
    trusted: Option<Arc<dyn crate::store::TrustedPublishingStore>>,
    ci_tokens: Option<Arc<dyn crate::trusted_publishing::CiTokenVerifier>>,
    mailer: Option<Arc<dyn crate::notice::Mailer>>,
    webhooks: Option<WebhookParts>,
    clock: Arc<dyn Clock>,
    download_retention: crate::downloads::Retention,
    review: crate::review::ReviewPolicy,
    config: RegistryConfig,
}

impl Registry {
    /// A registry over the given stores.
    pub fn new(
        catalog: Arc<dyn CatalogStore>,
        artifacts: Arc<dyn ArtifactStore>,
        keys: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        mut config: RegistryConfig,
    ) -> Self {
        config.public_url = config.public_url.trim_end_matches('/').to_owned();
        Self {
            catalog,
            artifacts,
            keys,
            uploads: None,
            orgs: None,
            router: None,
            listener: None,
            sign_in: None,
            ownership: None,
            audit: None,
            reports: None,
            rate_limits: None,
            trusted: None,
            ci_tokens: None,
            mailer: None,
            webhooks: None,
            clock,
            download_retention: crate::downloads::Retention::default(),
            review: crate::review::ReviewPolicy::default(),
            config,
        }
    }

    /// Holds new versions for a reviewer as `policy` says (by default none are).
    #[must_use]
    pub fn with_review_policy(mut self, policy: crate::review::ReviewPolicy) -> Self {
        self.review = policy;
        self
    }

    /// Keeps daily download counters for `retention` (by default the minimum,
    /// [`crate::downloads::MIN_RETENTION_DAYS`]); monthly totals are kept forever.
    #[must_use]
    pub fn with_download_retention(mut self, retention: crate::downloads::Retention) -> Self {
        self.download_retention = retention;
        self
    }

    /// How long daily download counters are kept.
    pub fn download_retention(&self) -> crate::downloads::Retention {
        self.download_retention
    }

    /// Takes bundles through presigned uploads into `uploads` as well as in the body.
    #[must_use]
    pub fn with_uploads(mut self, uploads: Arc<dyn UploadStore>) -> Self {
        self.uploads = Some(uploads);
        self
    }

    /// Sends people notices by e-mail through `mailer` (without one, the
    /// audit log is the only record they can read).
    #[must_use]
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::notice::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Tells `listener` of every committed change (the local server's index builder).
    #[must_use]
    pub fn with_listener(mut self, listener: Arc<dyn ChangeListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// A number that changes whenever the catalog does (and proves it answers).
    pub async fn catalog_revision(&self) -> Result<u64, RegistryError> {
        Ok(self.catalog.catalog_revision().await?)
    }

    /// The registry's settings.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Now, by the registry's clock (a test's clock in tests).
    pub fn now(&self) -> crate::timestamp::Timestamp {
        self.clock.now()
    }

    /// Checks that `caller` may read: anyone on a public registry, a key with the
    /// `read` scope on a private one.
    pub fn authorize_read(&self, caller: Option<&Caller>) -> Result<(), RegistryError> {
        if self.config.private {
            require_scope(caller, Scope::Read)?;
        }
        Ok(())
    }

    /// Folds daily download counters into monthly totals and each plugin's
    /// `downloads`, dropping daily counters past retention; returns the plugins
    /// whose total changed.
    pub async fn roll_up_downloads(&self) -> Result<Vec<Slug>, RegistryError> {
        let changed = self
            .catalog
            .roll_up_downloads(self.clock.now().day(), self.download_retention)
            .await?;
        for slug in &changed {
            self.notify_changed(slug, None).await;
        }
        Ok(changed)
    }
}

/// Checks that a caller is present and holds `needed`.
pub fn require_scope(caller: Option<&Caller>, needed: Scope) -> Result<&Caller, RegistryError> {
    let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
        detail: "this request needs an API key: send 'Authorization: Bearer sk_...'".to_owned(),
    })?;
    if caller.can(needed) {
        Ok(caller)
    } else {
        Err(RegistryError::MissingScope { needed })
    }
}

/// Checks that a caller is present and may publish: a key with the `publish`
/// scope, or a publish token (whose plugins are checked where they are named).
pub fn require_publish_right(caller: Option<&Caller>) -> Result<&Caller, RegistryError> {
    match caller {
        Some(c) if c.publish_token_publishers().is_some() => Ok(c),
        other => require_scope(other, Scope::Publish),
    }
}

/// The version `GET /plugins/{slug}` shows by default (the README, API): among stable
/// versions if any exist, else among pre-releases, the highest that is not
/// deprecated, or the highest of all if every one is deprecated. Unpublished
/// and quarantined versions never count.
pub fn latest_version(versions: &[VersionSummary]) -> Option<&VersionSummary> {
    latest_version_among(versions.iter())
}

/// [`latest_version`] of some of a plugin's versions, without collecting them.
pub fn latest_version_among<'a>(
    versions: impl Iterator<Item = &'a VersionSummary> + Clone,
) -> Option<&'a VersionSummary> {
    let live = || versions.clone().filter(|v| is_listed(v));
    let any_stable = live().any(|v| !v.version.is_prerelease());
    let pool = || live().filter(move |v| !any_stable || !v.version.is_prerelease());
    pool()
        .filter(|v| v.deprecated.is_none())
        .max_by(|a, b| a.version.cmp(&b.version))
        .or_else(|| pool().max_by(|a, b| a.version.cmp(&b.version)))
}

/// Whether `added`, a version new to its plugin (so neither deprecated,
/// unpublished nor quarantined), is the [`latest_version`] once it joins versions
/// whose latest is `current`.
///
/// `current` alone decides it: a stable latest means the plugin has stable
/// versions, so a pre-release never displaces it; a deprecated latest means every
/// version it was chosen among is deprecated, so any newcomer of that kind (or a
/// stable one, over pre-releases) displaces it; otherwise the higher one wins.
pub fn becomes_latest(current: Option<&VersionSummary>, added: &PluginVersion) -> bool {
    let Some(current) = current else {
        return true;
    };
    match (current.version.is_prerelease(), added.is_prerelease()) {
        (false, true) => false,
        (true, false) => true,
        _ => current.deprecated.is_some() || added > &current.version,
    }
}

/// The highest live version, whatever its state: what an update must exceed.
pub fn highest_live_version(versions: &[VersionSummary]) -> Option<&PluginVersion> {
    versions
        .iter()
        .filter(|v| v.unpublished_at.is_none())
        .map(|v| &v.version)
        .max()
}

/// Whether a version is shown to everyone: neither unpublished, quarantined nor
/// under review (pending or rejected).
pub fn is_listed(version: &VersionSummary) -> bool {
    version.unpublished_at.is_none() && !is_hidden(version)
}

/// Whether readers must not learn a version exists (404, not 410): quarantined,
/// or under review.
pub fn is_hidden(version: &VersionSummary) -> bool {
    version.quarantined.is_some() || version.review.is_some()
}

/// Versions for `versions` lists: listed ones ([`is_listed`]), newest first.
pub fn listed_versions(versions: &[VersionSummary]) -> Vec<PluginVersion> {
    let mut live: Vec<PluginVersion> = versions
        .iter()
        .filter(|v| is_listed(v))
        .map(|v| v.version.clone())
        .collect();
    live.sort_by(|a, b| b.cmp(a));
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Deprecation;
    use crate::timestamp::Timestamp;

    fn summary(v: &str, deprecated: bool, unpublished: bool) -> VersionSummary {
        let at = Timestamp::parse("2024-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        VersionSummary {
            version: PluginVersion::parse(v).unwrap_or_else(|e| panic!("{e}")),
            published_at: at,
            deprecated: deprecated.then(|| Deprecation {
                reason: "old".into(),
                replacement_version: None,
                deprecated_at: at,
            }),
            unpublished_at: unpublished.then_some(at),
            quarantined: None,
            review: None,
        }
    }

    fn latest(versions: &[VersionSummary]) -> Option<String> {
        latest_version(versions).map(|v| v.version.to_string())
    }

    #[test]
    fn latest_prefers_highest_non_deprecated_stable() {
        let vs = [
            summary("1.0.0", false, false),
            summary("1.2.0", true, false),
            summary("2.0.0-rc.1", false, false),
        ];
        assert_eq!(latest(&vs).as_deref(), Some("1.0.0"));
    }

    #[test]
    fn latest_falls_back_to_highest_when_all_deprecated() {
        let vs = [
            summary("1.0.0", true, false),
            summary("1.2.0", true, false),
            summary("2.0.0-rc.1", false, false),
        ];
        assert_eq!(latest(&vs).as_deref(), Some("1.2.0"));
    }

    #[test]
    fn prereleases_are_latest_only_when_nothing_else_exists() {
        let vs = [
            summary("1.0.0-beta.1", false, false),
            summary("1.0.0-beta.2", false, false),
        ];
        assert_eq!(latest(&vs).as_deref(), Some("1.0.0-beta.2"));
    }

    #[test]
    fn unpublished_versions_never_count() {
        let vs = [
            summary("1.0.0", false, false),
            summary("1.1.0", false, true),
        ];
        assert_eq!(latest(&vs).as_deref(), Some("1.0.0"));
        assert_eq!(latest(&[summary("1.1.0", false, true)]), None);
    }

    /// Every plugin of up to five versions from a fixed pool, each version absent
    /// or live, deprecated, unpublished or quarantined; with every pool version it
    /// lacks added: the latest computed over all of them agrees with
    /// [`becomes_latest`], which sees only the latest before.
    #[test]
    fn becoming_latest_needs_only_the_latest_before() {
        use crate::moderation::Quarantine;
        const POOL: [&str; 5] = [
            "0.9.0-beta.1",
            "1.0.0",
            "1.0.1-rc.1",
            "1.1.0",
            "2.0.0-alpha",
        ];
        const STATES: usize = 5; // absent, live, deprecated, unpublished, quarantined
        let mut checked = 0;
        for mut code in 0..STATES.pow(POOL.len() as u32) {
            let mut versions = Vec::new();
            let mut missing = Vec::new();
            for v in POOL {
                let state = code % STATES;
                code /= STATES;
                if state == 0 {
                    missing.push(v);
                    continue;
                }
                let mut s = summary(v, state == 2, state == 3);
                if state == 4 {
                    s.quarantined = Some(Quarantine {
                        reason: "held".into(),
                        at: s.published_at,
                        by: crate::auth::PrincipalId::from_stored("admin".to_owned()),
                    });
                }
                versions.push(s);
            }
            let before = latest_version(&versions).cloned();
            for v in missing {
                let added = summary(v, false, false);
                let mut after = versions.clone();
                after.push(added.clone());
                let expected = latest(&after);
                let predicted = if becomes_latest(before.as_ref(), &added.version) {
                    Some(v.to_owned())
                } else {
                    before.as_ref().map(|b| b.version.to_string())
                };
                assert_eq!(predicted, expected, "adding {v} to {versions:?}");
                checked += 1;
            }
        }
        // Each version is missing from a fifth of the plugins.
        assert_eq!(checked, POOL.len() * STATES.pow(POOL.len() as u32 - 1));
    }
}
