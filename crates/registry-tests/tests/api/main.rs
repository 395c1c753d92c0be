//! End-to-end tests of the registry API over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bundles;
mod connections;
mod gates;
mod helpers;
mod index;
mod instances;
mod keys;
mod lifecycle;
mod mcp_router;
mod openapi;
mod org_catalog;
mod pages;
mod publish;
mod read;
mod snapshots;
mod uploads;
