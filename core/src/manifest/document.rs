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
        DocumentFormat::Yaml => serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| malformed(e.to_string()))?,
    };
    let value = unwrap_plugin_key(value);
    validate_manifest(&value).map_err(ParsedDocument::Invalid)
}

/// YAML as YAML 1.2 reads it: only `true`/`false` are booleans, so `name: N` or
/// `country: NO` stay strings (YAML 1.1's "Norway problem"). Duplicate keys are an
/// error. Budgets are sized for a manifest of at most 256 KiB, far below the
/// parser's general-purpose defaults, so an alias bomb is refused after a few
/// thousand events instead of a million.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 100_000;
    budget.max_nodes = 50_000;
    budget.max_aliases = 1_000;
    budget.max_depth = 32;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 20_000;
    options
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

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "slug: norway\nversion: 1.0.0\nname: NO\ndescription: 'y'\nauthor: N\n\
        homepage: https://h.io\nrepository: https://r.io\nlicense: MIT\nicon: https://i.io\ntags: [t]\n\
        actions:\n  - name: run\n    description: r\n";

    #[test]
    fn yaml_11_booleans_stay_strings() {
        let manifest = parse_document(VALID.as_bytes(), DocumentFormat::Yaml).expect("valid");
        assert_eq!(
            (manifest.name.as_str(), manifest.author.as_str()),
            ("NO", "N")
        );
    }

    #[test]
    fn duplicate_yaml_keys_are_malformed() {
        let doc = format!("{VALID}slug: again\n");
        assert!(matches!(
            parse_document(doc.as_bytes(), DocumentFormat::Yaml),
            Err(ParsedDocument::Malformed { .. })
        ));
    }

    #[test]
    fn the_spec_signing_example_wraps_the_manifest_in_plugin() {
        let indented: String = VALID.lines().map(|l| format!("  {l}\n")).collect();
        let doc = format!("plugin:\n{indented}");
        assert!(parse_document(doc.as_bytes(), DocumentFormat::Yaml).is_ok());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        assert!(parse_document(doc.as_bytes(), DocumentFormat::Yaml).is_err());
    }
}
