//! End-to-end tests of the registry API over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod analytics;
mod audit;
mod bundles;
mod connections;
mod device;
mod gates;
mod github_sign_in;
mod helpers;
mod index;
mod instances;
mod keys;
mod lifecycle;
mod mcp_router;
mod metrics;
mod moderation;
mod oidc_issuer;
mod openapi;
mod org_catalog;
mod owners;
mod pages;
mod publish;
mod rate_limits;
mod read;
mod reviews;
mod sign_in;
mod snapshots;
mod trusted_publishing;
mod uploads;
mod webhooks;
