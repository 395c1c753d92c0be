//! The OpenWorkflow plugin registry's core: the plugin model and its validation,
//! semver rules, ZIP bundle checks, principals and keys, orgs and the org catalog, the registry services, the
//! storage ports and their embedded adapters (SQLite and files).
//!
//! Nothing here speaks HTTP; `registry-http` maps these services onto routes.

pub mod account;
pub mod api;
pub mod artifact;
pub mod audit;
pub mod auth;
pub mod bundle;
pub mod catalog;
pub mod checksum;
pub mod downloads;
pub mod error;
pub mod manifest;
pub mod mcp_router;
pub mod moderation;
pub mod notice;
pub mod org;
pub mod ownership;
pub mod rate_limit;
pub mod registry;
pub mod request;
pub mod review;
pub mod search;
pub mod slug;
pub mod store;
pub mod timestamp;
pub mod trusted_publishing;
pub mod upload;
pub mod usage;
pub mod version;
pub mod webhook;

pub use error::RegistryError;
pub use registry::{Registry, RegistryConfig};
