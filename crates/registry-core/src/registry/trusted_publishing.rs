//! Trusted publishing ([`crate::trusted_publishing`]): owners register the CI
//! workflows that may publish a plugin; a CI job exchanges its OIDC token for a
//! short-lived publish token; a publish with that token is checked against the
//! plugin's publishers again.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::notices::notices_note;
use super::{Registry, SessionCaller};
use crate::account::EmailAddress;
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{ApiKeySecret, Caller, Credential, PrincipalId, Scope};
use crate::error::RegistryError;
use crate::notice::Notice;
use crate::slug::Slug;
use crate::store::{Conflict, PluginHead, StorageError, TrustedPublishingStore};
use crate::timestamp::Timestamp;
use crate::trusted_publishing::{
    CI_TOKEN_LEEWAY, CiIdentity, CiTokenVerifier, FRESH_SIGN_IN, MAX_CI_TOKEN,
    MAX_PUBLISHERS_PER_PLUGIN, PUBLISH_TOKEN_LIFETIME, PublishTokenId, PublishTokenRecord,
    PublisherId, PublishingLock, TrustedPublisher,
};

/// A trusted publisher as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedPublisherView {
    /// Its id (`tp_…`).
    pub id: String,
    /// The plugin it publishes.
    pub plugin: String,
    /// The CI workflow.
    pub ci: CiIdentity,
    /// Whether it waits for the plugin's first release to create it.
    pub pending: bool,
    /// Who registered it.
    pub created_by: String,
    /// When.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

impl From<&TrustedPublisher> for TrustedPublisherView {
    fn from(publisher: &TrustedPublisher) -> Self {
        Self {
            id: publisher.id.to_string(),
            plugin: publisher.plugin.to_string(),
            ci: publisher.ci.clone(),
            pending: publisher.pending_owner.is_some(),
            created_by: publisher.created_by.to_string(),
            created_at: publisher.created_at,
        }
    }
}

/// A plugin's trusted publishers and its lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedPublishing {
    /// The publishers, oldest first.
    pub publishers: Vec<TrustedPublisherView>,
    /// Set when API keys may not publish the plugin.
    pub locked: Option<PublishingLock>,
}

/// What `POST /auth/oidc/exchange` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedPublishToken {
    /// The secret (`owpt_…`), shown once: send it as `Authorization: Bearer`.
    pub token: String,
    /// Its id, as the audit log names it.
    pub id: String,
    /// When it stops working (at most 15 minutes from now).
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
    /// The plugins it may publish.
    pub plugins: Vec<String>,
}

impl Registry {
    /// Keeps trusted publishers and publish tokens in `store`.
    #[must_use]
    pub fn with_trusted_publishing(mut self, store: Arc<dyn TrustedPublishingStore>) -> Self {
        self.trusted = Some(store);
        self
    }

    /// Verifies CI tokens with `verifier` (`POST /auth/oidc/exchange`).
    #[must_use]
    pub fn with_ci_tokens(mut self, verifier: Arc<dyn CiTokenVerifier>) -> Self {
        self.ci_tokens = Some(verifier);
        self
    }

    /// The audience a CI token must name, when this registry exchanges them.
    pub fn ci_token_audience(&self) -> Option<&str> {
        self.ci_tokens.as_ref().map(|v| v.audience())
    }

    fn trusted_store(&self) -> Result<&Arc<dyn TrustedPublishingStore>, RegistryError> {
        self.trusted
            .as_ref()
            .ok_or(RegistryError::TrustedPublishingUnavailable)
    }

    /// Registers a trusted publisher for `slug`: by an owner for a plugin that
    /// exists, or by anyone who may publish as a **pending** publisher for a slug
    /// nobody has taken yet (its first release creates the plugin, owned by them).
    pub async fn add_trusted_publisher(
        &self,
        caller: &Caller,
        slug: &str,
        ci: CiIdentity,
    ) -> Result<TrustedPublisherView, RegistryError> {
        super::require_scope(Some(caller), Scope::Publish)?;
        let store = self.trusted_store()?;
        if let Err((field, message)) = ci.validate() {
            return Err(RegistryError::invalid_field(field, message));
        }
        let slug = Slug::parse(slug).map_err(|e| RegistryError::invalid_field("slug", e))?;
        caller.check_plugin_limit(&slug)?;
        let pending_owner = match self.catalog.plugin(&slug).await? {
            Some(plugin) => {
                self.require_owner(caller, &plugin.head(), false).await?;
                None
            }
            None => {
                self.check_new_slug(&slug).await?;
                Some(caller.principal.clone())
            }
        };
        let existing = store.publishers_of(&slug).await?;
        let visible = |p: &&TrustedPublisher| {
            p.pending_owner.is_none() || p.pending_owner.as_ref() == pending_owner.as_ref()
        };
        if let Some(same) = existing.iter().filter(visible).find(|p| p.ci == ci) {
            return Err(RegistryError::PublisherExists {
                slug: slug.to_string(),
                identity: ci.to_string(),
                id: same.id.to_string(),
            });
        }
        if existing.iter().filter(visible).count() >= MAX_PUBLISHERS_PER_PLUGIN {
            return Err(RegistryError::invalid_field(
                "ci",
                format!(
                    "plugin '{slug}' has {MAX_PUBLISHERS_PER_PLUGIN} trusted publishers already; remove one first"
                ),
            ));
        }
        let publisher = TrustedPublisher {
            id: PublisherId::generate()?,
            plugin: slug.clone(),
            ci,
            pending_owner,
            created_by: caller.principal.clone(),
            created_at: self.clock.now(),
        };
        store.insert_publisher(&publisher).await?;
        self.record(
            caller,
            AuditSubject::Plugin(slug),
            AuditAction::TrustedPublisherAdded,
            AuditDetail::note(publisher_note(&publisher)),
        )
        .await;
        Ok(TrustedPublisherView::from(&publisher))
    }

    /// The trusted publishers of `slug` and its lock: every one for its owners
    /// (and admins); for a plugin not made yet, the caller's own pending ones.
    pub async fn trusted_publishers(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> Result<TrustedPublishing, RegistryError> {
        let store = self.trusted_store()?;
        let slug = Slug::parse(slug).map_err(|_| RegistryError::PluginNotFound {
            slug: slug.to_owned(),
        })?;
        let publishers = store.publishers_of(&slug).await?;
        let shown: Vec<&TrustedPublisher> = match self.catalog.plugin(&slug).await? {
            Some(plugin) => {
                self.require_owner(caller, &plugin.head(), true).await?;
                publishers.iter().collect()
            }
            None => publishers
                .iter()
                .filter(|p| p.pending_owner.as_ref() == Some(&caller.principal))
                .collect(),
        };
        Ok(TrustedPublishing {
            publishers: shown.into_iter().map(TrustedPublisherView::from).collect(),
            locked: store.publishing_lock(&slug).await?,
        })
    }

    /// Locks a plugin to trusted publishing (an owner): API keys may no longer
    /// publish it, only its trusted CI workflows.
    pub async fn lock_to_trusted_publishing(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> Result<TrustedPublishing, RegistryError> {
        super::require_scope(Some(caller), Scope::Publish)?;
        let store = self.trusted_store()?;
        let plugin = self.find_plugin(slug).await?;
        caller.check_plugin_limit(&plugin.slug)?;
        self.require_owner(caller, &plugin.head(), false).await?;
        let publishers = store.publishers_of(&plugin.slug).await?;
        if !publishers.iter().any(|p| p.pending_owner.is_none()) {
            return Err(RegistryError::LockNeedsPublisher {
                slug: plugin.slug.to_string(),
            });
        }
        let locked = match store.publishing_lock(&plugin.slug).await? {
            Some(lock) => lock,
            None => {
                let lock = PublishingLock {
                    by: caller.principal.clone(),
                    at: self.clock.now(),
                };
                store.set_publishing_lock(&plugin.slug, Some(&lock)).await?;
                self.record(
                    caller,
                    AuditSubject::Plugin(plugin.slug.clone()),
                    AuditAction::PublishingLocked,
                    AuditDetail::default(),
                )
                .await;
                lock
            }
        };
        // The owner's view, from what was just read: no second round of reads.
        Ok(TrustedPublishing {
            publishers: publishers.iter().map(TrustedPublisherView::from).collect(),
            locked: Some(locked),
        })
    }

    /// Lifts a plugin's lock to trusted publishing: an owner in the browser,
    /// signed in within [`FRESH_SIGN_IN`], so a stolen session or key cannot.
    /// Every owner is told by e-mail (when a relay is configured), and the
    /// lift is in the plugin's audit log, which every owner reads.
    pub async fn lift_publishing_lock(
        &self,
        session: &SessionCaller,
        slug: &str,
    ) -> Result<(), RegistryError> {
        let store = self.trusted_store()?;
        let plugin = self.find_plugin(slug).await?;
        let owners = self
            .require_owner(&session.caller, &plugin.head(), false)
            .await?;
        if session.signed_in_at < self.clock.now().plus(-FRESH_SIGN_IN) {
            return Err(RegistryError::FreshSignInRequired {
                minutes: FRESH_SIGN_IN.whole_minutes(),
            });
        }
        if store.publishing_lock(&plugin.slug).await?.is_none() {
            return Ok(());
        }
        store.set_publishing_lock(&plugin.slug, None).await?;
        tracing::warn!(slug = %plugin.slug, principal = %session.caller.principal, "lock to trusted publishing lifted");
        let lifted_at = self.clock.now();
        let told = self
            .tell_owners(&owners, |to| {
                lock_lifted_notice(
                    to,
                    &plugin.slug,
                    &session.login,
                    lifted_at,
                    &self.config.public_url,
                )
            })
            .await;
        self.record(
            &session.caller,
            AuditSubject::Plugin(plugin.slug),
            AuditAction::PublishingUnlocked,
            AuditDetail::note(format!(
                "signed in at {}; {}",
                session.signed_in_at,
                notices_note(told)
            )),
        )
        .await;
        Ok(())
    }

    /// Refuses an API key (or session) publishing into a plugin locked to
    /// trusted publishing.
    pub(super) async fn require_unlocked(&self, slug: &Slug) -> Result<(), RegistryError> {
        let Some(store) = &self.trusted else {
            return Ok(());
        };
        match store.publishing_lock(slug).await? {
            Some(_) => Err(RegistryError::TrustedPublishingRequired {
                slug: slug.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Removes a trusted publisher: an owner (or admin) of the plugin, or the
    /// registrant of a pending one.
    pub async fn remove_trusted_publisher(
        &self,
        caller: &Caller,
        slug: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        let store = self.trusted_store()?;
        let not_found = || RegistryError::PublisherNotFound {
            slug: slug.to_owned(),
            id: id.to_owned(),
        };
        let parsed = Slug::parse(slug).map_err(|_| not_found())?;
        let publishers = store.publishers_of(&parsed).await?;
        let publisher = publishers
            .iter()
            .find(|p| p.id.as_str() == id)
            .ok_or_else(not_found)?;
        match self.catalog.plugin(&parsed).await? {
            Some(plugin) => {
                self.require_owner(caller, &plugin.head(), true).await?;
            }
            None if publisher.pending_owner.as_ref() == Some(&caller.principal)
                || caller.can(Scope::Admin) => {}
            None => return Err(not_found()),
        }
        match store.remove_publisher(&parsed, &publisher.id).await {
            Ok(()) => {}
            Err(StorageError::Conflict(Conflict::Missing)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
        self.record(
            caller,
            AuditSubject::Plugin(parsed),
            AuditAction::TrustedPublisherRemoved,
            AuditDetail::note(publisher_note(publisher)),
        )
        .await;
        Ok(())
    }

    /// Exchanges a CI job's OIDC token for a publish token: verified against its
    /// issuer's keys, refused from a risky trigger, matched against trusted
    /// publishers by ids, and accepted once.
    pub async fn exchange_ci_token(
        &self,
        token: &str,
        request: Option<crate::request::RequestId>,
    ) -> Result<IssuedPublishToken, RegistryError> {
        let store = self.trusted_store()?;
        let verifier = self
            .ci_tokens
            .as_ref()
            .ok_or(RegistryError::TrustedPublishingUnavailable)?;
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_CI_TOKEN {
            return Err(RegistryError::CiTokenRefused(
                crate::trusted_publishing::CiTokenError::Malformed(format!(
                    "send the CI job's OIDC token (1 to {MAX_CI_TOKEN} bytes) as \"token\""
                )),
            ));
        }
        let now = self.clock.now();
        let verified = verifier.verify(token, now).await?;
        if let Some(trigger) = verified.claims.forbidden_trigger() {
            return Err(RegistryError::ForbiddenTrigger {
                trigger: trigger.to_owned(),
            });
        }
        let mut granted: Vec<TrustedPublisher> = Vec::new();
        for publisher in store
            .publishers_for_ci(&verified.claims.lookup_key())
            .await?
        {
            if !publisher.ci.matches(&verified.claims) {
                continue;
            }
            let exists = self.catalog.plugin(&publisher.plugin).await?.is_some();
            // A pending publisher whose slug someone else took meanwhile grants
            // nothing; an active one always names a plugin that exists.
            if exists == publisher.pending_owner.is_none() {
                granted.push(publisher);
            }
        }
        granted.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let Some(first) = granted.first() else {
            return Err(RegistryError::NoTrustedPublisher {
                claims: verified.claims.to_string(),
            });
        };
        let principal = first
            .pending_owner
            .clone()
            .unwrap_or_else(|| first.created_by.clone());
        let secret = ApiKeySecret::generate_publish_token()?;
        let expires_at = now.plus(PUBLISH_TOKEN_LIFETIME);
        let ci_retention = verified.expires_at.plus(CI_TOKEN_LEEWAY);
        let record = PublishTokenRecord {
            id: PublishTokenId::generate()?,
            hash: secret.hash(),
            principal,
            plugins: granted.iter().map(|p| p.plugin.clone()).collect(),
            publishers: granted.iter().map(|p| p.id.clone()).collect(),
            issued_to: verified.claims.to_string(),
            issuer: verified.issuer,
            jti: verified.jti,
            created_at: now,
            expires_at,
            retain_until: expires_at.max(ci_retention),
        };
        match store.insert_publish_token(&record).await {
            Ok(()) => {}
            Err(StorageError::Conflict(Conflict::AlreadyExists)) => {
                return Err(RegistryError::CiTokenReplayed);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(token_id = %record.id, issued_to = %record.issued_to, plugins = ?record.plugins, "publish token issued");
        let caller = publish_token_caller(record.clone()).in_request(request);
        for slug in &record.plugins {
            self.record(
                &caller,
                AuditSubject::Plugin(slug.clone()),
                AuditAction::PublishTokenIssued,
                AuditDetail::note(record.issued_to.clone()),
            )
            .await;
        }
        Ok(IssuedPublishToken {
            token: secret.expose().to_owned(),
            id: record.id.to_string(),
            expires_at,
            plugins: record.plugins.iter().map(Slug::to_string).collect(),
        })
    }

    /// Resolves a publish token's secret to a caller: it may publish its
    /// plugins and nothing else (it holds no scope), until it expires.
    pub(super) async fn authenticate_publish_token(
        &self,
        secret: &ApiKeySecret,
    ) -> Result<Caller, RegistryError> {
        let invalid = || RegistryError::Unauthenticated {
            detail: "the publish token is not valid; exchange a fresh CI token".to_owned(),
        };
        let store = self.trusted.as_ref().ok_or_else(invalid)?;
        let hash = secret.hash();
        let record = store.publish_token(&hash).await?.ok_or_else(invalid)?;
        if !record.hash.matches(&hash) {
            return Err(invalid());
        }
        if record.expires_at <= self.clock.now() {
            return Err(RegistryError::PublishTokenExpired {
                expired_at: record.expires_at,
            });
        }
        Ok(publish_token_caller(record))
    }

    /// For a publish token publishing into `plugin`: the token's publishers must
    /// still include one of the plugin's (an owner may have removed it since).
    pub(super) async fn require_trusted_publisher(
        &self,
        publishers: &BTreeSet<PublisherId>,
        plugin: &PluginHead,
    ) -> Result<(), RegistryError> {
        let store = self.trusted_store()?;
        let current = store.publishers_of(&plugin.slug).await?;
        if current
            .iter()
            .any(|p| p.pending_owner.is_none() && publishers.contains(&p.id))
        {
            return Ok(());
        }
        Err(RegistryError::NotTrustedPublisher {
            slug: plugin.slug.to_string(),
        })
    }

    /// For a publish token creating `slug`: who will own it, from the pending
    /// publisher the token was granted through.
    pub(super) async fn pending_owner_for(
        &self,
        publishers: &BTreeSet<PublisherId>,
        slug: &Slug,
    ) -> Result<PrincipalId, RegistryError> {
        let store = self.trusted_store()?;
        store
            .publishers_of(slug)
            .await?
            .into_iter()
            .filter(|p| publishers.contains(&p.id))
            .find_map(|p| p.pending_owner)
            .ok_or_else(|| RegistryError::NotTrustedPublisher {
                slug: slug.to_string(),
            })
    }

    /// After a first release made `slug`, owned by `owner`: the owner's pending
    /// publishers become the plugin's, anyone else's are dropped (they named a
    /// slug that is now taken). Bookkeeping after the commit: a failure is logged.
    pub(super) async fn settle_pending_publishers(&self, slug: &Slug, owner: &PrincipalId) {
        let Some(store) = &self.trusted else {
            return;
        };
        let publishers = match store.publishers_of(slug).await {
            Ok(publishers) => publishers,
            Err(error) => {
                tracing::error!(%slug, %error, "could not read pending publishers");
                return;
            }
        };
        for mut publisher in publishers {
            let Some(pending_owner) = publisher.pending_owner.take() else {
                continue;
            };
            let result = if pending_owner == *owner {
                store.replace_publisher(&publisher).await
            } else {
                store.remove_publisher(slug, &publisher.id).await
            };
            if let Err(error) = result {
                tracing::error!(%slug, publisher = %publisher.id, %error, "could not settle a pending publisher");
            }
        }
    }
}

/// Who a publish token acts as: no scope, its plugins alone, its publishers
/// named so each publish checks them again.
fn publish_token_caller(record: PublishTokenRecord) -> Caller {
    Caller {
        principal: record.principal,
        credential: Credential::PublishToken {
            id: record.id,
            publishers: record.publishers,
        },
        scopes: Default::default(),
        plugins: Some(record.plugins),
        request: None,
    }
}

fn publisher_note(publisher: &TrustedPublisher) -> String {
    let pending = if publisher.pending_owner.is_some() {
        " (pending)"
    } else {
        ""
    };
    format!("{}{pending}: {}", publisher.id, publisher.ci)
}

/// The message each owner gets when `login` lifts the lock on `slug`.
fn lock_lifted_notice(
    to: EmailAddress,
    slug: &Slug,
    login: &str,
    at: Timestamp,
    public_url: &str,
) -> Notice {
    Notice {
        to,
        subject: format!("Trusted publishing lock lifted on {slug}"),
        body: format!(
            "{login} lifted the lock to trusted publishing on the plugin {slug} at {at}, \
             after signing in again at {public_url}.\n\
             \n\
             API keys of its owners can publish new versions of {slug} again; while it \
             was locked, only its trusted publishers (CI workflows) could.\n\
             \n\
             If you did not expect this, lock it again (PUT {public_url}/plugins/{slug}/trusted-publishing-lock) \
             and read the plugin's audit log: {public_url}/account/plugins/{slug}/audit\n\
             \n\
             You get this message because you own {slug} on {public_url}, yourself or \
             through a team.\n"
        ),
    }
}
