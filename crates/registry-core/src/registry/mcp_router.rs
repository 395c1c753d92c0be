//! MCP router registration: instances join and leave a plugin's routing table, and
//! the routing table is read back with each instance's health.

use std::sync::Arc;

use super::contention::RaceRetry;
use super::{Registry, require_scope};
use crate::auth::{Caller, Scope, random_hex};
use crate::error::RegistryError;
use crate::manifest::FieldError;
use crate::mcp_router::{
    HealthProbe, InstanceHealth, InstanceId, MAX_ACTIONS, MAX_REGION_LEN, McpRouterInstance,
    TargetPolicy, TargetUrl,
};
use crate::slug::Slug;
use crate::store::{Conflict, McpRouterStore, StorageError};
use crate::version::PluginVersion;

/// Consecutive failed checks that take an instance out of the table, by default.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Health checks in flight at once, by default.
pub const DEFAULT_CHECK_CONCURRENCY: usize = 64;

/// How the router behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McpRouterSettings {
    /// Which addresses instances may name.
    pub policy: TargetPolicy,
    /// Consecutive failed checks that remove an instance (at least 1).
    pub failure_threshold: u32,
    /// Health checks in flight at once (at least 1).
    pub check_concurrency: usize,
}

impl Default for McpRouterSettings {
    fn default() -> Self {
        Self {
            policy: TargetPolicy::INSTANCES,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            check_concurrency: DEFAULT_CHECK_CONCURRENCY,
        }
    }
}

/// What the router needs: its table, the network, and its settings.
#[derive(Clone)]
pub struct McpRouterParts {
    /// The routing table.
    pub store: Arc<dyn McpRouterStore>,
    /// Name resolution and health-check calls.
    pub probe: Arc<dyn HealthProbe>,
    /// Thresholds and the address policy.
    pub settings: McpRouterSettings,
}

/// A registration as the caller sent it, checked by [`Registry::register_instance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// The plugin the instance serves.
    pub plugin_slug: String,
    /// The version it runs (published, not unpublished).
    pub version: String,
    /// Where the router sends calls.
    pub url: String,
    /// The actions it serves (each declared by that version).
    pub actions: Vec<String>,
    /// What the health checker calls.
    pub health_check_url: String,
    /// Its id within the plugin.
    pub instance_id: String,
    /// Where it runs.
    pub region: Option<String>,
}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The instance as now registered.
    pub instance: McpRouterInstance,
    /// Whether the table changed: `false` when the same registration was there.
    pub changed: bool,
}

/// A plugin's routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    /// The plugin.
    pub slug: Slug,
    /// Consecutive failed checks that remove an instance.
    pub failure_threshold: u32,
    /// Its instances, in id order.
    pub instances: Vec<McpRouterInstance>,
}

impl Registry {
    /// Runs the MCP router over `parts`.
    #[must_use]
    pub fn with_mcp_router(mut self, parts: McpRouterParts) -> Self {
        self.router = Some(parts);
        self
    }

    pub(super) fn router(&self) -> Result<&McpRouterParts, RegistryError> {
        self.router
            .as_ref()
            .ok_or(RegistryError::McpRouterUnavailable)
    }

    /// Registers an instance (the spec's `POST /register`). Registering the same
    /// thing again changes nothing; a changed registration by the same principal
    /// replaces the old one and starts its health afresh.
    pub async fn register_instance(
        &self,
        caller: &Caller,
        new: NewRegistration,
    ) -> Result<Registered, RegistryError> {
        require_scope(Some(caller), Scope::Router)?;
        let router = self.router()?;
        let instance = self.checked_registration(caller, router, new).await?;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let existing = router
                .store
                .instance(&instance.slug, &instance.instance_id)
                .await?;
            let written = match &existing {
                None => router.store.insert_instance(&instance).await,
                Some(old) if old.registered_by != caller.principal => {
                    return Err(RegistryError::InstanceTaken {
                        slug: instance.slug.to_string(),
                        instance_id: instance.instance_id.to_string(),
                    });
                }
                Some(old) if old.same_registration(&instance) => {
                    return Ok(Registered {
                        instance: old.clone(),
                        changed: false,
                    });
                }
                Some(old) => {
                    router
                        .store
                        .replace_instance(&instance, &old.registration)
                        .await
                }
            };
            match written {
                Ok(()) => {
                    tracing::info!(slug = %instance.slug, instance = %instance.instance_id, version = %instance.version, principal = %caller.principal, "router instance registered");
                    if existing.is_none() {
                        self.notify_changed(&instance.slug, None).await;
                    }
                    return Ok(Registered {
                        instance,
                        changed: true,
                    });
                }
                Err(StorageError::Conflict(
                    Conflict::AlreadyExists | Conflict::RevisionChanged,
                )) => continue,
                Err(StorageError::Conflict(Conflict::Missing)) => {
                    return Err(RegistryError::invalid_field(
                        "plugin_slug",
                        format!("no plugin '{}' is published here", instance.slug),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: instance.slug.to_string(),
        })
    }

    /// Removes an instance (the spec's `DELETE /register/{plugin_slug}/{instance_id}`):
    /// only the principal that registered it, or an admin key, may.
    pub async fn deregister_instance(
        &self,
        caller: &Caller,
        slug: &str,
        instance_id: &str,
    ) -> Result<McpRouterInstance, RegistryError> {
        require_scope(Some(caller), Scope::Router)?;
        let router = self.router()?;
        let not_found = || RegistryError::InstanceNotFound {
            slug: slug.to_owned(),
            instance_id: instance_id.to_owned(),
        };
        let (Ok(parsed_slug), Ok(id)) = (Slug::parse(slug), InstanceId::parse(instance_id)) else {
            return Err(not_found());
        };
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let Some(instance) = router.store.instance(&parsed_slug, &id).await? else {
                return Err(not_found());
            };
            if instance.registered_by != caller.principal && !caller.can(Scope::Admin) {
                return Err(RegistryError::Forbidden {
                    detail: format!(
                        "instance '{instance_id}' of '{slug}' was registered by another principal; only it (or an admin key) may deregister it"
                    ),
                });
            }
            match router
                .store
                .remove_instance(&parsed_slug, &id, Some(&instance.registration), &[])
                .await
            {
                Ok(()) => {
                    tracing::info!(%slug, instance = %instance_id, principal = %caller.principal, "router instance deregistered");
                    self.notify_changed(&parsed_slug, None).await;
                    return Ok(instance);
                }
                // Re-registered between the read and the delete: look again.
                Err(StorageError::Conflict(Conflict::Missing)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: slug.to_owned(),
        })
    }

    /// A plugin's routing table, for routers (a `router` key): every instance that
    /// has not failed the threshold of consecutive checks, with its health.
    pub async fn routing_table(
        &self,
        caller: Option<&Caller>,
        slug: &str,
    ) -> Result<RoutingTable, RegistryError> {
        require_scope(caller, Scope::Router)?;
        let router = self.router()?;
        let plugin = self.find_plugin(slug).await?;
        Ok(RoutingTable {
            instances: router.store.instances(&plugin.slug).await?,
            slug: plugin.slug,
            failure_threshold: router.settings.failure_threshold,
        })
    }

    /// Instances of `slug@version` in the routing table (none without a router).
    pub(super) async fn live_instances_of(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Vec<InstanceId>, RegistryError> {
        let Some(router) = &self.router else {
            return Ok(Vec::new());
        };
        Ok(router
            .store
            .instances(slug)
            .await?
            .into_iter()
            .filter(|i| &i.version == version)
            .map(|i| i.instance_id)
            .collect())
    }

    /// Every rule of a registration, every problem reported at once: the fields'
    /// forms, then the catalog (plugin, version, actions) and the addresses.
    async fn checked_registration(
        &self,
        caller: &Caller,
        router: &McpRouterParts,
        new: NewRegistration,
    ) -> Result<McpRouterInstance, RegistryError> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let slug = field(p, "plugin_slug", Slug::parse(&new.plugin_slug));
        let version = field(p, "version", PluginVersion::parse(&new.version));
        let url = field(p, "url", TargetUrl::parse(&new.url));
        let health_check_url = field(
            p,
            "health_check_url",
            TargetUrl::parse(&new.health_check_url),
        );
        let instance_id = field(
            p,
            "metadata.instance_id",
            InstanceId::parse(&new.instance_id),
        );
        let region = field(p, "metadata.region", checked_region(new.region));
        let actions = field(p, "actions", checked_actions(new.actions));
        let (
            Some(slug),
            Some(version),
            Some(url),
            Some(health_check_url),
            Some(instance_id),
            Some(region),
            Some(actions),
        ) = (
            slug,
            version,
            url,
            health_check_url,
            instance_id,
            region,
            actions,
        )
        else {
            return Err(RegistryError::Invalid { problems });
        };
        let (catalog, url_ok, health_ok) = tokio::join!(
            self.published_actions(&slug, &version),
            reachable(router, &url),
            reachable(router, &health_check_url),
        );
        match catalog? {
            Err(problem) => problems.push(problem),
            Ok(declared) => {
                let unknown: Vec<&str> = actions
                    .iter()
                    .filter(|a| !declared.contains(a))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    problems.push(FieldError {
                        field: "actions".to_owned(),
                        message: format!(
                            "{slug}@{version} does not declare {}; it declares {}",
                            unknown.join(", "),
                            declared.join(", ")
                        ),
                    });
                }
            }
        }
        for (name, result) in [("url", url_ok), ("health_check_url", health_ok)] {
            if let Err(message) = result {
                problems.push(FieldError {
                    field: name.to_owned(),
                    message,
                });
            }
        }
        if !problems.is_empty() {
            return Err(RegistryError::Invalid { problems });
        }
        Ok(McpRouterInstance {
            slug,
            instance_id,
            registration: random_hex(8)?,
            version,
            url,
            health_check_url,
            actions,
            region,
            registered_at: self.clock.now(),
            registered_by: caller.principal.clone(),
            health: InstanceHealth::default(),
        })
    }

    /// The action names `slug@version` declares, or the problem with the pair.
    async fn published_actions(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Result<Vec<String>, FieldError>, RegistryError> {
        let problem = |field: &str, message: String| {
            Ok(Err(FieldError {
                field: field.to_owned(),
                message,
            }))
        };
        let Some(plugin) = self.catalog.plugin(slug).await? else {
            return problem(
                "plugin_slug",
                format!("no plugin '{slug}' is published here"),
            );
        };
        match plugin.versions.iter().find(|v| &v.version == version) {
            None => {
                return problem(
                    "version",
                    format!("{slug} has no version {version}; register a published version"),
                );
            }
            Some(v) if v.unpublished_at.is_some() => {
                return problem(
                    "version",
                    format!("{slug}@{version} was unpublished; register a published version"),
                );
            }
            Some(_) => {}
        }
        let record = self.catalog.version(slug, version).await?.ok_or_else(|| {
            RegistryError::VersionNotFound {
                slug: slug.to_string(),
                version: version.to_string(),
            }
        })?;
        Ok(Ok(record
            .manifest
            .actions
            .into_iter()
            .map(|a| a.name)
            .collect()))
    }
}

/// Whether the router may call `url`: its literal address, or every address its
/// host resolves to, allowed by the policy. Nothing is sent to it.
pub(super) async fn reachable(router: &McpRouterParts, url: &TargetUrl) -> Result<(), String> {
    router
        .settings
        .policy
        .check_url(url, |host, port| async move {
            router.probe.resolve(&host, port).await
        })
        .await
}

/// `result`'s value, or `None` with its problem recorded under `name`.
fn field<T>(problems: &mut Vec<FieldError>, name: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|message| {
            problems.push(FieldError {
                field: name.to_owned(),
                message,
            });
        })
        .ok()
}

fn checked_actions(actions: Vec<String>) -> Result<Vec<String>, String> {
    if actions.is_empty() || actions.len() > MAX_ACTIONS {
        return Err(format!(
            "must list 1 to {MAX_ACTIONS} action names the instance serves (got {})",
            actions.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for action in &actions {
        if action.trim().is_empty() {
            return Err("action names must not be empty".to_owned());
        }
        if !seen.insert(action) {
            return Err(format!("lists {action:?} twice"));
        }
    }
    Ok(actions)
}

fn checked_region(region: Option<String>) -> Result<Option<String>, String> {
    match region {
        Some(r) if r.is_empty() || r.len() > MAX_REGION_LEN || r.chars().any(char::is_control) => {
            Err(format!(
                "must be 1 to {MAX_REGION_LEN} printable characters, such as \"us-east-1\""
            ))
        }
        other => Ok(other),
    }
}
