//! The web catalog's pages: what a person with a browser sees of the registry.
//!
//! Every page is rendered from catalog data by a compile-time checked template
//! (askama), which escapes every value; the one exception is a changelog, rendered
//! from Markdown and passed through an HTML sanitizer first. Only `http(s)` and
//! `mailto:` URLs become links. Pages load nothing but this crate's own stylesheet
//! and script, and say so in their own `Content-Security-Policy`.
//!
//! The same bytes are served by the self-hosted server and, as index objects, by
//! the CDN: rendering depends on its inputs alone, never on the clock.

mod account;
mod analytics;
mod assets;
mod audit;
mod chart;
mod home;
mod link;
mod markdown;
mod org;
mod plugin;
mod problem;
mod review;
mod search;
mod site;

pub use account::{AccountView, DeviceView, account_page, device_page, sign_in_page};
pub use analytics::{analytics_page, stacked_chart};
pub use assets::{Asset, fingerprint, site_assets};
pub use audit::audit_page;
pub use chart::{CHART_DAYS, SVG_CONTENT_TYPE, chart_first_day, downloads_chart};
pub use home::{HomeSummary, RecentPlugin, TagCount, home_page};
pub use link::safe_link;
pub use markdown::render_markdown;
pub use org::{OrgCatalogView, OrgPluginView, org_catalog_page, org_plugin_page};
pub use plugin::PluginPages;
pub use problem::{bad_request_page, gone_page, not_found_page, refusal_page};
pub use review::{
    ReviewPageView, ReviewQueueView, deliveries_page, review_page, review_queue_page,
};
pub use search::{MAX_PAGE, RESULTS_PER_PAGE, SearchRequest, page_offset, search_page};
pub use site::{
    CONTENT_SECURITY_POLICY, DOWNLOAD_CONTENT_SECURITY_POLICY, HTML_CONTENT_TYPE, Site,
};

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("rendering the {page} page failed: {source}")]
pub struct RenderError {
    /// Which page.
    page: &'static str,
    /// What the template engine reported.
    source: askama::Error,
}

impl RenderError {
    fn of(page: &'static str) -> impl FnOnce(askama::Error) -> Self {
        move |source| Self { page, source }
    }
}
