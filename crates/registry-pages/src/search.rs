//! The search page (`/search?q=&tag=&page=`): rendered per request from the
//! in-memory search index, so results work without a script and can be shared.

use askama::Template;
use registry_core::search::SearchPage;

use crate::RenderError;
use crate::site::{Chrome, Site};

/// Results per page.
pub const RESULTS_PER_PAGE: usize = 20;
/// The last page a search goes to: deep pages are for programs (`/plugins/search`).
pub const MAX_PAGE: usize = 500;

/// What was searched for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// The text typed, if any.
    pub q: Option<String>,
    /// The tag filtered on, if any.
    pub tag: Option<String>,
    /// The page, from 1.
    pub page: usize,
}

impl SearchRequest {
    /// The results to skip for this page.
    pub fn offset(&self) -> usize {
        page_offset(self.page)
    }
}

/// The results to skip for page `page` (from 1).
pub fn page_offset(page: usize) -> usize {
    (page.max(1) - 1) * RESULTS_PER_PAGE
}

struct ResultView<'a> {
    url: String,
    name: &'a str,
    version: &'a str,
    description: &'a str,
    downloads: u64,
    tags: Vec<(String, &'a str)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPageView<'a> {
    chrome: Chrome<'a>,
    heading: String,
    total: usize,
    results: Vec<ResultView<'a>>,
    previous: Option<String>,
    next: Option<String>,
    page: usize,
    pages: usize,
}

/// The page showing `found` for `request`.
pub fn search_page(
    site: &Site,
    request: &SearchRequest,
    found: &SearchPage,
) -> Result<String, RenderError> {
    let heading = match (&request.q, &request.tag) {
        (Some(q), Some(tag)) => format!("“{q}” in plugins tagged {tag}"),
        (Some(q), None) => format!("“{q}”"),
        (None, Some(tag)) => format!("Plugins tagged {tag}"),
        (None, None) => "All plugins".to_owned(),
    };
    let pages = found.total.div_ceil(RESULTS_PER_PAGE).clamp(1, MAX_PAGE);
    let page = request.page.max(1);
    let link_to =
        |page: usize| site.search_page_url(request.q.as_deref(), request.tag.as_deref(), page);
    let mut chrome = Chrome::new(
        site,
        format!("{heading} · OpenWorkflow plugins"),
        "Search OpenWorkflow plugins.".to_owned(),
    );
    chrome.query = request.q.clone().unwrap_or_default();
    SearchPageView {
        chrome,
        heading,
        total: found.total,
        results: found
            .results
            .iter()
            .map(|hit| ResultView {
                url: site.plugin_url(&hit.slug),
                name: &hit.name,
                version: &hit.version,
                description: &hit.description,
                downloads: hit.downloads,
                tags: hit
                    .tags
                    .iter()
                    .map(|t| (site.tag_url(t), t.as_str()))
                    .collect(),
            })
            .collect(),
        previous: (page > 1).then(|| link_to(page - 1)),
        next: (page < pages).then(|| link_to(page + 1)),
        page,
        pages,
    }
    .render()
    .map_err(RenderError::of("search"))
}
