//! Turning published bytes (JSON or YAML) into a validated manifest.

use serde_json::Value;

use super::Manifest;
use super::validate::{FieldError, validate_manifest};

/// Largest schema document accepted, in bytes. A manifest is metadata, not code;
/// the cap keeps every catalog row far below DynamoDB's 400 KB item limit.
pub const MAX_SCHEMA_DOCUMENT_BYTES: usize = 256 * 1024;

/// How a schema document is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// `application/json`
    Json,
    /// `application/yaml`
    Yaml,
}

impl DocumentFormat {
    /// The media type the registry serves the document with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Yaml => "application/yaml",
        }
    }

    /// The file extension of stored documents.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Yaml => "yaml",
        }
    }

    /// Recognises a request media type (parameters such as `charset` ignored).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/json" => Some(Self::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Self::Yaml)
            }
            _ => None,
        }
    }

    /// Recognises a manifest file name inside a bundle or on disk.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Self::Json)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Self::Yaml)
        } else {
            None
        }
    }
}

/// Why a document could not become a manifest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParsedDocument {
    /// The bytes are not well-formed JSON/YAML (or not UTF-8, or too large).
    #[error("malformed {format:?} document: {detail}")]
    Malformed {
        /// The format the document claimed.
        format: DocumentFormat,
        /// What the parser said.
        detail: String,
    },
    /// The document parsed but breaks the manifest rules.
    #[error("invalid plugin manifest ({} problems)", .0.len())]
    Invalid(Vec<FieldError>),
}

/// Parses and validates a schema document.
///
/// A document may be the manifest itself or, as in the spec's signing example, a
/// mapping with the single key `plugin` holding it.
pub fn parse_document(bytes: &[u8], format: DocumentFormat) -> Result<Manifest, ParsedDocument> {
    let malformed = |detail: String| ParsedDocument::Malformed { format, detail };
    if bytes.len() > MAX_SCHEMA_DOCUMENT_BYTES {
        return Err(malformed(format!(
            "document is {} bytes; the limit is {MAX_SCHEMA_DOCUMENT_BYTES}",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    let value: Value = match format {
        DocumentFormat::Json => serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?,
        DocumentFormat::Yaml => {
            serde_saphyr::from_str(text).map_err(|e| malformed(e.to_string()))?
        }
    };
    let value = unwrap_plugin_key(value);
    validate_manifest(&value).map_err(ParsedDocument::Invalid)
}

fn unwrap_plugin_key(value: Value) -> Value {
    match value {
        Value::Object(mut map)
            if map.len() == 1 && map.get("plugin").is_some_and(Value::is_object) =>
        {
            map.remove("plugin").unwrap_or(Value::Null)
        }
        other => other,
    }
}
