//! The org catalog in the browser, for a signed-in member: the org's plugins
//! (its own and the platform's in one list, filtered by tag), each plugin's
//! versions with their enablement, and a read-only preview of a version's
//! settings form. Rendered per request behind the same gates as the API, never
//! stored in the index.
//!
//! A settings schema comes from whoever uploaded the plugin: every title,
//! description and default reaches the page only through the template's
//! escaping, and a `writeOnly` field never shows a value, its default included.

use std::collections::BTreeMap;

use askama::Template;
use registry_core::registry::{CatalogPlugin, OrgInfo, SettingsSchema};
use serde_json::Value;

use crate::RenderError;
use crate::site::{Chrome, Site};

/// A catalog entry as the org's pages list it.
struct CatalogRow {
    plugin_id: String,
    pid: String,
    name: String,
    description: String,
    version: String,
    source: &'static str,
    tags: String,
    enabled: bool,
    uploaded: String,
    sha256: String,
    url: String,
}

impl CatalogRow {
    fn of(site: &Site, org: &str, plugin: &CatalogPlugin, version_url: bool) -> Self {
        let (pid, source, version) = (
            plugin.pid.as_str(),
            plugin.source.as_str(),
            plugin.version.to_string(),
        );
        Self {
            plugin_id: plugin.plugin_id.to_string(),
            pid: pid.to_owned(),
            name: plugin.name.clone(),
            description: plugin.description.clone(),
            source,
            tags: plugin.tags.join(", "),
            enabled: plugin.enabled,
            uploaded: plugin.uploaded_at.day().to_string(),
            sha256: plugin.sha256.to_string().chars().take(12).collect(),
            url: site.org_plugin_url(org, pid, source, version_url.then_some(version.as_str())),
            version,
        }
    }
}

/// A tag of the org's catalog, with how many plugins carry it.
struct TagChoice {
    name: String,
    count: usize,
    url: String,
    current: bool,
}

/// What the org catalog page shows.
pub struct OrgCatalogView<'a> {
    /// The org.
    pub org: &'a OrgInfo,
    /// Every plugin of its catalog, for the tag filter's choices.
    pub all: &'a [CatalogPlugin],
    /// The plugins the filter admits.
    pub shown: &'a [CatalogPlugin],
    /// The tag the list is filtered by, if any.
    pub tag: Option<&'a str>,
    /// The session's anti-forgery token when the person may enable and disable
    /// plugins; `None` shows the list read-only.
    pub csrf_token: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "org_catalog.html")]
struct OrgCatalogPage<'a> {
    chrome: Chrome<'a>,
    org_id: String,
    org_name: &'a str,
    tag: Option<&'a str>,
    tags: Vec<TagChoice>,
    all_url: String,
    rows: Vec<CatalogRow>,
    csrf: Option<&'a str>,
    enablement_url: String,
    from: &'static str,
    account_url: String,
}

/// The page of an org's catalog.
pub fn org_catalog_page(site: &Site, view: &OrgCatalogView<'_>) -> Result<String, RenderError> {
    let org = view.org.id.as_str();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for plugin in view.all {
        let mut seen: Vec<String> = plugin.tags.iter().map(|t| t.to_lowercase()).collect();
        seen.sort();
        seen.dedup();
        for tag in seen {
            *counts.entry(tag).or_default() += 1;
        }
    }
    let current = view.tag.map(str::to_lowercase);
    OrgCatalogPage {
        chrome: Chrome::new(
            site,
            format!("{} · org catalog · OpenWorkflow plugins", view.org.name),
            String::new(),
        ),
        org_id: org.to_owned(),
        org_name: &view.org.name,
        tag: view.tag,
        tags: counts
            .into_iter()
            .map(|(name, count)| TagChoice {
                url: site.org_catalog_url(org, Some(&name)),
                current: current.as_deref() == Some(name.as_str()),
                name,
                count,
            })
            .collect(),
        all_url: site.org_catalog_url(org, None),
        rows: view
            .shown
            .iter()
            .map(|p| CatalogRow::of(site, org, p, false))
            .collect(),
        csrf: view.csrf_token,
        enablement_url: site.org_enablement_url(org),
        from: "list",
        account_url: site.account_url(),
    }
    .render()
    .map_err(RenderError::of("org catalog"))
}

/// One field of a settings form's preview.
struct SettingsField {
    /// The element id (by position: field names are the uploader's).
    id: String,
    name: String,
    label: String,
    description: Option<String>,
    required: bool,
    /// `text`, `secret`, `number`, `checkbox`, `select` or `list`.
    kind: &'static str,
    /// The `type` of a `text` input (`text`, `email`, `url`, `date`).
    input_type: &'static str,
    /// The default, shown as the field's value (never for a secret).
    value: String,
    checked: bool,
    options: Vec<(String, bool)>,
    min: Option<String>,
    max: Option<String>,
    step: Option<&'static str>,
    notes: Vec<String>,
}

/// `value` as a form shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The preview's fields, in the schema's property order.
fn settings_fields(schema: &Value) -> Vec<SettingsField> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .enumerate()
        .map(|(i, (name, field))| {
            let text = |key: &str| field.get(key).and_then(Value::as_str).map(str::to_owned);
            let flag = |key: &str| field.get(key).and_then(Value::as_bool).unwrap_or(false);
            let kind_of_type = field
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("string");
            let format = text("format");
            let secret = flag("writeOnly") || format.as_deref() == Some("password");
            let default = field.get("default");
            let choices = field.get("enum").and_then(Value::as_array);
            let mut notes = Vec::new();
            let kind = if secret {
                notes.push(
                    "Write-only: its value is set on the orchestrator and never shown here."
                        .to_owned(),
                );
                "secret"
            } else if choices.is_some() {
                "select"
            } else {
                match kind_of_type {
                    "boolean" => "checkbox",
                    "integer" | "number" => "number",
                    "array" => {
                        let item = field
                            .get("items")
                            .and_then(|i| i.get("type"))
                            .and_then(Value::as_str)
                            .unwrap_or("string");
                        notes.push(format!("A list of {item} values, comma-separated."));
                        "list"
                    }
                    _ => "text",
                }
            };
            if flag("readOnly") {
                notes.push("Read-only.".to_owned());
            }
            if flag("deprecated") {
                notes.push("Deprecated.".to_owned());
            }
            let value = match (secret, default) {
                (true, _) | (_, None) => String::new(),
                (false, Some(Value::Array(items))) => {
                    items.iter().map(shown).collect::<Vec<_>>().join(", ")
                }
                (false, Some(value)) => shown(value),
            };
            let bound = |key: &str| {
                field
                    .get(key)
                    .filter(|v| v.is_number())
                    .map(Value::to_string)
            };
            SettingsField {
                id: format!("setting-{i}"),
                name: name.clone(),
                label: text("title").unwrap_or_else(|| name.clone()),
                description: text("description"),
                required: required.contains(&name.as_str()),
                kind,
                input_type: match format.as_deref() {
                    Some("email") => "email",
                    Some("uri") => "url",
                    Some("date") => "date",
                    _ => "text",
                },
                checked: !secret && default == Some(&Value::Bool(true)),
                options: choices
                    .map(|c| {
                        c.iter()
                            .map(|choice| (shown(choice), !secret && Some(choice) == default))
                            .collect()
                    })
                    .unwrap_or_default(),
                min: bound("minimum"),
                max: bound("maximum"),
                step: (kind_of_type == "integer").then_some("1"),
                value,
                notes,
            }
        })
        .collect()
}

/// What an org catalog plugin's page shows.
pub struct OrgPluginView<'a> {
    /// The org.
    pub org: &'a OrgInfo,
    /// Every version of the plugin from one source, highest first.
    pub versions: &'a [CatalogPlugin],
    /// The settings form of the version chosen.
    pub settings: &'a SettingsSchema,
    /// As on [`OrgCatalogView`].
    pub csrf_token: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "org_plugin.html")]
struct OrgPluginPage<'a> {
    chrome: Chrome<'a>,
    org_name: &'a str,
    catalog_url: String,
    head: CatalogRow,
    capabilities: String,
    rows: Vec<CatalogRow>,
    settings_version: String,
    fields: Vec<SettingsField>,
    csrf: Option<&'a str>,
    enablement_url: String,
    from: &'static str,
}

/// The page of one plugin of an org's catalog. `view.versions` must not be empty.
pub fn org_plugin_page(site: &Site, view: &OrgPluginView<'_>) -> Result<String, RenderError> {
    let org = view.org.id.as_str();
    let latest = view
        .versions
        .iter()
        .find(|v| v.version == view.settings.version)
        .or_else(|| view.versions.first());
    let Some(latest) = latest else {
        return Err(RenderError::of("org plugin")(askama::Error::custom(
            "a plugin page needs at least one version",
        )));
    };
    OrgPluginPage {
        chrome: Chrome::new(
            site,
            format!("{} · {} · OpenWorkflow plugins", latest.name, view.org.name),
            latest.description.clone(),
        ),
        org_name: &view.org.name,
        catalog_url: site.org_catalog_url(org, None),
        head: CatalogRow::of(site, org, latest, false),
        capabilities: latest.capabilities.join(", "),
        rows: view
            .versions
            .iter()
            .map(|p| CatalogRow::of(site, org, p, true))
            .collect(),
        settings_version: view.settings.version.to_string(),
        fields: settings_fields(&view.settings.settings_schema),
        csrf: view.csrf_token,
        enablement_url: site.org_enablement_url(org),
        from: "plugin",
    }
    .render()
    .map_err(RenderError::of("org plugin"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_write_only_field_shows_no_value_not_even_its_default() {
        let fields = settings_fields(&json!({
            "type": "object",
            "properties": {
                "api_key": {"type": "string", "writeOnly": true, "default": "sk-live-123"},
                "region": {"type": "string", "enum": ["eu", "us"], "default": "us"},
                "retries": {"type": "integer", "minimum": 0, "maximum": 5, "default": 3},
                "verbose": {"type": "boolean", "default": true},
                "hosts": {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]}
            },
            "required": ["api_key"]
        }));
        let by_name = |n: &str| fields.iter().find(|f| f.name == n).expect(n);
        let key = by_name("api_key");
        assert_eq!(
            (key.kind, key.value.as_str(), key.required),
            ("secret", "", true)
        );
        let region = by_name("region");
        assert_eq!(region.kind, "select");
        assert_eq!(
            region.options,
            vec![("eu".to_owned(), false), ("us".to_owned(), true)]
        );
        let retries = by_name("retries");
        assert_eq!(
            (
                retries.kind,
                retries.value.as_str(),
                retries.min.as_deref(),
                retries.max.as_deref(),
                retries.step
            ),
            ("number", "3", Some("0"), Some("5"), Some("1"))
        );
        assert!(by_name("verbose").checked);
        assert_eq!(by_name("hosts").value, "a, b");
    }

    #[test]
    fn a_write_only_choice_selects_nothing() {
        let fields = settings_fields(&json!({
            "type": "object",
            "properties": {"token": {"type": "string", "writeOnly": true, "enum": ["x", "y"], "default": "y"}}
        }));
        assert_eq!(fields[0].kind, "secret");
        assert!(fields[0].options.iter().all(|(_, selected)| !selected));
        assert_eq!(fields[0].value, "");
    }
}
