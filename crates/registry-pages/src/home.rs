//! The home page: a search box, what changed lately, the popular tags and the
//! registry's totals, all drawn from the search entries of every plugin.

use std::collections::HashMap;

use askama::Template;
use registry_core::search::SearchHit;

use crate::RenderError;
use crate::site::{Chrome, Site};

/// Plugins the home page lists as recently updated.
const RECENT: usize = 10;
/// Tags the home page shows.
const POPULAR_TAGS: usize = 24;

/// A plugin as the home page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentPlugin {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Latest version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Day of the last change (`2024-09-20`).
    pub updated: String,
}

/// A tag and how many plugins carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    /// The tag.
    pub tag: String,
    /// Plugins carrying it.
    pub plugins: usize,
}

/// What the home page shows, computed from every plugin's search entry: the same
/// entries always give the same summary, whatever order they come in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeSummary {
    /// Plugins with a live version.
    pub plugins: usize,
    /// Downloads of them all, as of the last roll-up.
    pub downloads: u64,
    /// Distinct tags.
    pub tags: usize,
    /// The most used tags, most used first (ties by name).
    pub popular_tags: Vec<TagCount>,
    /// The plugins changed last, latest first (ties by slug).
    pub recent: Vec<RecentPlugin>,
}

impl HomeSummary {
    /// The summary of `hits`, one per plugin.
    pub fn of<'h>(hits: impl IntoIterator<Item = &'h SearchHit>) -> Self {
        let mut summary = Self::default();
        let mut tags: HashMap<&str, usize> = HashMap::new();
        let mut recent: Vec<&SearchHit> = Vec::with_capacity(RECENT + 1);
        for hit in hits {
            summary.plugins += 1;
            summary.downloads += hit.downloads;
            for tag in &hit.tags {
                *tags.entry(tag).or_default() += 1;
            }
            // Keep the newest few as they pass: the whole list is never sorted.
            let later = |other: &&SearchHit| {
                (other.updated_at, std::cmp::Reverse(&other.slug))
                    > (hit.updated_at, std::cmp::Reverse(&hit.slug))
            };
            let at = recent.iter().take_while(|r| later(r)).count();
            if at < RECENT {
                recent.insert(at, hit);
                recent.truncate(RECENT);
            }
        }
        summary.tags = tags.len();
        let mut popular: Vec<(&str, usize)> = tags.into_iter().collect();
        popular.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        summary.popular_tags = popular
            .into_iter()
            .take(POPULAR_TAGS)
            .map(|(tag, plugins)| TagCount {
                tag: tag.to_owned(),
                plugins,
            })
            .collect();
        summary.recent = recent
            .into_iter()
            .map(|hit| RecentPlugin {
                slug: hit.slug.clone(),
                name: hit.name.clone(),
                version: hit.version.clone(),
                description: hit.description.clone(),
                updated: hit.updated_at.day().to_string(),
            })
            .collect();
        summary
    }
}

struct RecentView<'s> {
    plugin: &'s RecentPlugin,
    url: String,
}

struct TagView<'s> {
    tag: &'s TagCount,
    url: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    chrome: Chrome<'a>,
    summary: &'a HomeSummary,
    recent: Vec<RecentView<'a>>,
    tags: Vec<TagView<'a>>,
}

/// The home page showing `summary`.
pub fn home_page(site: &Site, summary: &HomeSummary) -> Result<String, RenderError> {
    HomePage {
        chrome: Chrome::new(
            site,
            "OpenWorkflow plugins".to_owned(),
            "Find, inspect and install OpenWorkflow plugins.".to_owned(),
        ),
        recent: summary
            .recent
            .iter()
            .map(|plugin| RecentView {
                url: site.plugin_url(&plugin.slug),
                plugin,
            })
            .collect(),
        tags: summary
            .popular_tags
            .iter()
            .map(|tag| TagView {
                url: site.tag_url(&tag.tag),
                tag,
            })
            .collect(),
        summary,
    }
    .render()
    .map_err(RenderError::of("home"))
}
