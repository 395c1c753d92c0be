//! The web catalog in a real browser: Debian's headless Chromium, driven over
//! WebDriver, against the real server on a loopback port. `./scripts/test.sh`
//! installs Chromium, chromedriver, axe-core and the certified OpenID provider
//! (npm's oidc-provider) and points the suite at them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod analytics;
mod catalog;
mod driver;
mod oidc_provider;
mod org_catalog;
mod reviews;
mod sign_in;
// The API suite's server harness; this suite uses part of it.
#[allow(dead_code, unused_imports)]
#[path = "../api/helpers.rs"]
mod helpers;
