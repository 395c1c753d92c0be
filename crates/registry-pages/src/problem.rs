//! The pages a browser gets instead of a problem document: not found (404) and
//! gone (410, an unpublished version).

use askama::Template;

use crate::RenderError;
use crate::site::{Chrome, Site};

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage<'a> {
    chrome: Chrome<'a>,
    heading: &'a str,
    message: String,
    plugin_url: Option<String>,
}

/// The page of a plugin, version or route that does not exist.
pub fn not_found_page(site: &Site) -> Result<String, RenderError> {
    ProblemPage {
        chrome: Chrome::new(
            site,
            "Not found · OpenWorkflow plugins".to_owned(),
            String::new(),
        ),
        heading: "Not found",
        message: "There is no plugin or page at this address.".to_owned(),
        plugin_url: None,
    }
    .render()
    .map_err(RenderError::of("not found"))
}

/// The page of a version its author unpublished.
pub fn gone_page(site: &Site, slug: &str, version: &str) -> Result<String, RenderError> {
    ProblemPage {
        chrome: Chrome::new(
            site,
            format!("{slug} {version} was unpublished · OpenWorkflow plugins"),
            String::new(),
        ),
        heading: "Unpublished",
        message: format!(
            "Version {version} of {slug} was unpublished by its author. Its version number is never reused."
        ),
        plugin_url: Some(site.plugin_url(slug)),
    }
    .render()
    .map_err(RenderError::of("gone"))
}

/// The page of a request a browser made with something to fix (`message` says
/// what).
pub fn bad_request_page(site: &Site, message: &str) -> Result<String, RenderError> {
    ProblemPage {
        chrome: Chrome::new(
            site,
            "Bad request · OpenWorkflow plugins".to_owned(),
            String::new(),
        ),
        heading: "Bad request",
        message: message.to_owned(),
        plugin_url: None,
    }
    .render()
    .map_err(RenderError::of("bad request"))
}

/// The page of a request refused for a reason a person can act on: `heading`
/// names the refusal, `message` says what to do.
pub fn refusal_page(site: &Site, heading: &str, message: &str) -> Result<String, RenderError> {
    ProblemPage {
        chrome: Chrome::new(
            site,
            format!("{heading} · OpenWorkflow plugins"),
            String::new(),
        ),
        heading,
        message: message.to_owned(),
        plugin_url: None,
    }
    .render()
    .map_err(RenderError::of("refusal"))
}
