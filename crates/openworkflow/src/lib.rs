//! The OpenWorkflow client: the `openworkflow` command line and the Rust library it
//! is built on.
//!
//! - [`bundle`]: a plugin directory zipped into a bundle.
//! - [`client`]: the registry's HTTP API (details, schemas, search, publish, keys),
//!   with retries, ETag revalidation and errors that keep the registry's problem
//!   body.
//! - [`config`]: which registry and key to use (`--registry` flag, then the
//!   `OPENWORKFLOW_REGISTRY_URL` / `OPENWORKFLOW_REGISTRY_API_KEY` variables, then
//!   the config file, then the public registry).
//! - [`store`]: plugins installed on this machine.
//! - [`index`]: downloads checked through the registry's signed static index.
//! - [`install`]: downloading, verifying and installing a plugin version.
//! - [`signature`]: authors' GPG signatures, verified in pure Rust.
//! - [`router`]: MCP router registration, for plugin instances and routers.
//! - [`trusted_publishing`]: publishing from GitHub Actions with no stored secret.

pub mod bundle;
pub mod client;
pub mod config;
pub mod index;
pub mod install;
pub mod mcp_router;
pub mod signature;
pub mod store;
pub mod trusted_publishing;

pub use client::{ApiKey, ClientError, Problem, RegistryClient};
pub use config::{ConfigFile, Settings};
pub use install::install_plugin;
pub use store::{InstalledPlugin, PluginStore};
