//! The plugin manifest: every field of the spec's "Metadata Fields", parsed from JSON
//! or YAML and validated as a whole, so an author sees every problem at once.

mod document;
mod settings;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use document::{
    DocumentFormat, MAX_SCHEMA_DOCUMENT_BYTES, ParsedDocument, parse_document, signed_content,
};
pub use settings::{MAX_SETTINGS_FIELDS, empty_settings_schema, validate_settings_schema};
pub use validate::{FieldError, limits, validate_manifest};

use crate::slug::Slug;
use crate::version::PluginVersion;

/// A validated plugin manifest. Built only by [`validate_manifest`], so every value
/// here has passed the rules documented in [`limits`] and the README.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// Unique plugin identifier.
    #[schema(value_type = String, example = "github")]
    pub slug: Slug,
    /// Semantic version of this release.
    #[schema(value_type = String, example = "1.2.0")]
    pub version: PluginVersion,
    /// Human-readable name.
    pub name: String,
    /// What the plugin does.
    pub description: String,
    /// Maintainer name or organisation.
    pub author: String,
    /// Documentation URL.
    pub homepage: String,
    /// Source code URL.
    pub repository: String,
    /// SPDX license expression.
    pub license: String,
    /// Searchable keywords.
    pub tags: Vec<String>,
    /// Plugin icon URL.
    pub icon: String,
    /// The actions the plugin offers (at least one).
    pub actions: Vec<Action>,
    /// Resource needs of the plugin's runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// Environment variables the plugin reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<EnvironmentVariable>>,
    /// Release notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changelog: Option<String>,
    /// Other plugins required: slug to semver requirement (`"^1.2"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<BTreeMap<String, String>>,
    /// OpenWorkflow versions the plugin works with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Compatibility>,
    /// Security policy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    /// Support contact: a URL, `mailto:` URL or e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<String>,
    /// The author's detached GPG signature over the canonical document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// What the plugin can do, as short identifiers (`web_search`); the org catalog
    /// shows the action names when this is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// The configuration form an org admin fills in (JSON Schema, the form subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub settings_schema: Option<serde_json::Value>,
}

impl Manifest {
    /// The capabilities the catalog shows: the declared ones, else the action names.
    pub fn effective_capabilities(&self) -> Vec<String> {
        self.capabilities
            .clone()
            .unwrap_or_else(|| self.actions.iter().map(|a| a.name.clone()).collect())
    }
}

/// One action a plugin offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Action {
    /// Action name, unique within the plugin (`create_issue`).
    pub name: String,
    /// What the action does.
    pub description: String,
    /// Input parameters: a map of parameter name to type or schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Value>,
    /// Output shape: a map of field name to type or schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
}

/// Runtime resource needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Runtime {
    /// Memory, such as `512MB` (units KB, MB, GB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

/// An environment variable the plugin reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnvironmentVariable {
    /// Variable name (`GITHUB_TOKEN`).
    pub name: String,
    /// What the variable is for.
    pub description: String,
    /// Whether the plugin cannot run without it.
    #[serde(default)]
    pub required: bool,
}

/// The range of OpenWorkflow versions a plugin supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Compatibility {
    /// Lowest supported OpenWorkflow version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    /// Highest supported OpenWorkflow version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

/// An author's signature over the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signature {
    /// Signature kind; only `gpg` is defined.
    #[serde(rename = "type")]
    pub kind: String,
    /// The signing key's id (`0x1234ABCD`).
    pub key_id: String,
    /// ASCII-armored detached signature.
    pub signature: String,
}
