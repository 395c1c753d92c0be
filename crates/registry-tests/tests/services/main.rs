//! The registry's rules, tested at the service: `Registry` over an in-memory
//! SQLite store, a directory of artifacts and a manual clock. A rule costs
//! microseconds here; the HTTP suite proves the wiring, not every rule again.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod lifecycle;
mod mcp_router;
mod org_catalog;
mod publish;

use std::sync::Arc;

use bytes::Bytes;
use registry_core::auth::{Caller, Scope, Scopes};
use registry_core::manifest::DocumentFormat;
use registry_core::registry::{McpRouterParts, McpRouterSettings, NewKey, OrgStores, PublishBody};
use registry_core::store::FileArtifactStore;
use registry_core::timestamp::{ManualClock, Timestamp};
use registry_core::{Registry, RegistryConfig, RegistryError};
use registry_sqlite::SqliteStore;
use registry_testkit::TestPlugin;
use tempfile::TempDir;

/// The services on embedded storage, with a clock that moves when told.
pub struct Services {
    pub registry: Registry,
    pub clock: Arc<ManualClock>,
    /// The first key's caller: an admin and `sys_admin`.
    pub admin: Caller,
    /// The network the MCP router sees.
    pub network: Arc<mcp_router::FakeNetwork>,
    _artifacts: TempDir,
}

impl Services {
    pub async fn start() -> Self {
        let artifacts = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-06-01T12:00:00Z").unwrap(),
        ));
        let registry = Registry::new(
            store.clone(),
            Arc::new(FileArtifactStore::new(artifacts.path())),
            store.clone(),
            clock.clone(),
            RegistryConfig {
                public_url: "https://registry.test".to_owned(),
                private: false,
            },
        )
        .with_org_catalog(OrgStores {
            orgs: store.clone(),
            catalog: store.clone(),
        });
        let network = Arc::new(mcp_router::FakeNetwork::default());
        let registry = registry.with_mcp_router(McpRouterParts {
            store,
            probe: network.clone(),
            settings: McpRouterSettings::default(),
        });
        let admin_key = registry.bootstrap_admin_key().await.unwrap().unwrap();
        let admin = registry
            .authenticate(admin_key.secret.expose())
            .await
            .unwrap();
        Self {
            registry,
            clock,
            admin,
            network,
            _artifacts: artifacts,
        }
    }

    /// A caller of a new principal named `name`, with `scopes`.
    pub async fn caller(&self, name: &str, scopes: &[Scope]) -> Caller {
        let created = self
            .registry
            .create_key_locally(NewKey {
                name: name.to_owned(),
                scopes: scopes.iter().copied().collect::<Scopes>(),
                principal: None,
                new_principal: None,
                expires_in_days: None,
                plugins: None,
            })
            .await
            .unwrap();
        self.registry
            .authenticate(created.secret.expose())
            .await
            .unwrap()
    }

    /// Publishes (or, with `update`, updates) `plugin` as YAML.
    pub async fn publish(
        &self,
        caller: &Caller,
        plugin: &TestPlugin,
        update: Option<&str>,
    ) -> Result<registry_core::registry::Published, RegistryError> {
        let body = PublishBody::Document {
            bytes: Bytes::from(plugin.yaml()),
            format: DocumentFormat::Yaml,
        };
        match update {
            None => self.registry.publish_version(caller, body).await,
            Some(slug) => {
                let slug = registry_core::slug::Slug::parse(slug).unwrap();
                self.registry.update_plugin(caller, &slug, body).await
            }
        }
    }

    pub fn hours_pass(&self, hours: i64) {
        self.clock.advance(time::Duration::hours(hours));
    }
}

/// The refusal's variant name, as a table compares it.
pub fn refusal<T: std::fmt::Debug>(result: Result<T, RegistryError>) -> String {
    match result {
        Ok(value) => format!("accepted: {value:?}"),
        Err(error) => format!("{error:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}
