//! A plugin's page: everything its details say, for a person choosing a plugin.

use askama::Template;
use registry_core::manifest::Manifest;
use registry_core::registry::listed_versions;
use registry_core::store::{PluginRecord, VersionRecord, VersionSummary};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

use crate::RenderError;
use crate::link::{contact_link, safe_link};
use crate::markdown::render_markdown;
use crate::site::{Chrome, Site};

/// A URL from the manifest: a link when its scheme is safe, text otherwise.
struct Link<'r> {
    label: &'static str,
    text: &'r str,
    href: Option<String>,
}

struct Tag<'r> {
    name: &'r str,
    url: String,
}

struct Field<'r> {
    name: &'r str,
    kind: std::borrow::Cow<'r, str>,
}

struct ActionView<'r> {
    name: &'r str,
    description: &'r str,
    input: Vec<Field<'r>>,
    output: Vec<Field<'r>>,
}

struct EnvVar<'r> {
    name: &'r str,
    description: &'r str,
    required: bool,
}

struct Dependency<'r> {
    slug: &'r str,
    url: Option<String>,
    requirement: &'r str,
}

struct DeprecationView {
    reason: String,
    replacement: Option<(String, String)>,
}

struct VersionRow {
    version: String,
    url: String,
    published: String,
    deprecation: Option<DeprecationView>,
}

#[derive(Template)]
#[template(path = "plugin.html")]
struct PluginPage<'a, 'r> {
    chrome: Chrome<'a>,
    slug: &'r str,
    name: &'r str,
    version: String,
    description: &'r str,
    author: &'r str,
    license: &'r str,
    published: String,
    downloads: u64,
    /// The downloads chart's URL, once there are downloads to draw.
    downloads_chart: Option<String>,
    chart_days: u16,
    healthy_instances: u64,
    install: String,
    is_latest: bool,
    latest_url: String,
    deprecation: Option<DeprecationView>,
    tags: Vec<Tag<'r>>,
    links: Vec<Link<'r>>,
    actions: Vec<ActionView<'r>>,
    environment: Vec<EnvVar<'r>>,
    runtime: Vec<(&'static str, String)>,
    compatibility: Option<String>,
    dependencies: Vec<Dependency<'r>>,
    sha256: String,
    bundle_sha256: Option<String>,
    signature_key: Option<String>,
    changelog_html: Option<String>,
    versions: &'a [VersionRow],
}

/// The pages of one plugin's versions.
///
/// Only the latest version's page (the plugin's own) shows what moves with the
/// plugin: the versions table, downloads and router instances. Any other
/// version's page shows that version and points at the plugin's page, so a new
/// version never changes an older one's page.
pub struct PluginPages<'a> {
    site: &'a Site,
    plugin: &'a PluginRecord,
    rows: Vec<VersionRow>,
}

impl<'a> PluginPages<'a> {
    /// The pages of `plugin`.
    pub fn new(site: &'a Site, plugin: &'a PluginRecord) -> Self {
        Self {
            site,
            plugin,
            rows: version_rows(site, plugin, &listed_versions(&plugin.versions)),
        }
    }

    /// The site the pages belong to.
    pub fn site(&self) -> &'a Site {
        self.site
    }

    /// The page of `record`, one version of the plugin; `is_latest` marks the
    /// page served at the plugin's own URL.
    pub fn page(&self, record: &VersionRecord, is_latest: bool) -> Result<String, RenderError> {
        let (site, plugin) = (self.site, self.plugin);
        let m = &record.manifest;
        let slug = plugin.slug.as_str();
        let version = record.version.to_string();
        PluginPage {
            chrome: Chrome::new(
                site,
                format!("{} {version} · OpenWorkflow plugins", m.name),
                m.description.clone(),
            ),
            install: format!("openworkflow plugin install {slug}@{version}"),
            latest_url: site.plugin_url(slug),
            deprecation: record
                .deprecated
                .as_ref()
                .map(|d| deprecation_view(site, slug, d)),
            tags: m
                .tags
                .iter()
                .map(|t| Tag {
                    name: t,
                    url: site.tag_url(t),
                })
                .collect(),
            links: links_of(m),
            actions: m.actions.iter().map(action_view).collect(),
            environment: m
                .environment
                .iter()
                .flatten()
                .map(|e| EnvVar {
                    name: &e.name,
                    description: &e.description,
                    required: e.required,
                })
                .collect(),
            runtime: m
                .runtime
                .iter()
                .flat_map(|r| {
                    r.memory
                        .clone()
                        .map(|v| ("Memory", v))
                        .into_iter()
                        .chain(r.timeout.map(|t| ("Timeout", format!("{t} s"))))
                })
                .collect(),
            compatibility: m
                .compatibility
                .as_ref()
                .and_then(|c| match (&c.min, &c.max) {
                    (Some(min), Some(max)) => Some(format!("OpenWorkflow {min} to {max}")),
                    (Some(min), None) => Some(format!("OpenWorkflow {min} or later")),
                    (None, Some(max)) => Some(format!("OpenWorkflow up to {max}")),
                    (None, None) => None,
                }),
            dependencies: m
                .dependencies
                .iter()
                .flatten()
                .map(|(dep, requirement)| Dependency {
                    url: registry_core::slug::Slug::parse(dep)
                        .ok()
                        .map(|s| site.plugin_url(s.as_str())),
                    slug: dep,
                    requirement,
                })
                .collect(),
            sha256: record.schema.sha256.to_hex(),
            bundle_sha256: record.bundle.as_ref().map(|b| b.sha256.to_hex()),
            signature_key: m.signature.as_ref().map(|s| s.key_id.clone()),
            changelog_html: m.changelog.as_deref().map(render_markdown),
            versions: if is_latest { &self.rows } else { &[] },
            name: &m.name,
            description: &m.description,
            author: &m.author,
            license: &m.license,
            published: day_of(record.published_at),
            downloads: plugin.downloads,
            downloads_chart: (is_latest && plugin.downloads > 0)
                .then(|| self.site.downloads_chart_url(slug)),
            chart_days: crate::chart::CHART_DAYS,
            healthy_instances: plugin.healthy_instances,
            is_latest,
            slug,
            version,
        }
        .render()
        .map_err(RenderError::of("plugin"))
    }
}

/// A timestamp as the day it fell on (`2024-09-20`): pages show dates, and a
/// date never needs the reader's time zone to be right to the minute.
fn day_of(at: Timestamp) -> String {
    at.day().to_string()
}

fn deprecation_view(
    site: &Site,
    slug: &str,
    deprecation: &registry_core::store::Deprecation,
) -> DeprecationView {
    DeprecationView {
        reason: deprecation.reason.clone(),
        replacement: deprecation.replacement_version.as_ref().map(|v| {
            let v = v.to_string();
            (site.version_url(slug, &v), v)
        }),
    }
}

fn links_of(m: &Manifest) -> Vec<Link<'_>> {
    let link = |label, raw, href| Link {
        label,
        text: raw,
        href,
    };
    let mut links = vec![
        link("Homepage", &m.homepage, safe_link(&m.homepage)),
        link("Repository", &m.repository, safe_link(&m.repository)),
    ];
    if let Some(security) = &m.security {
        links.push(link("Security policy", security, safe_link(security)));
    }
    if let Some(support) = &m.support {
        links.push(link("Support", support, contact_link(support)));
    }
    links
}

fn action_view(action: &registry_core::manifest::Action) -> ActionView<'_> {
    ActionView {
        name: &action.name,
        description: &action.description,
        input: fields_of(action.input.as_ref()),
        output: fields_of(action.output.as_ref()),
    }
}

/// The fields of an action's input or output map: each name with its type, as
/// written (`string`), or a schema's `type`, or the schema in compact JSON.
fn fields_of(shape: Option<&serde_json::Value>) -> Vec<Field<'_>> {
    use std::borrow::Cow;
    let Some(serde_json::Value::Object(map)) = shape else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, kind)| Field {
            name,
            kind: match kind {
                serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
                serde_json::Value::Object(schema) => match schema.get("type") {
                    Some(serde_json::Value::String(t)) => Cow::Borrowed(t.as_str()),
                    _ => Cow::Owned(kind.to_string()),
                },
                other => Cow::Owned(other.to_string()),
            },
        })
        .collect()
}

fn version_rows(site: &Site, plugin: &PluginRecord, listed: &[PluginVersion]) -> Vec<VersionRow> {
    let slug = plugin.slug.as_str();
    let summaries: std::collections::HashMap<&PluginVersion, &VersionSummary> =
        plugin.versions.iter().map(|s| (&s.version, s)).collect();
    listed
        .iter()
        .filter_map(|v| summaries.get(v))
        .map(|summary| {
            let version = summary.version.to_string();
            VersionRow {
                url: site.version_url(slug, &version),
                published: day_of(summary.published_at),
                deprecation: summary
                    .deprecated
                    .as_ref()
                    .map(|d| deprecation_view(site, slug, d)),
                version,
            }
        })
        .collect()
}
