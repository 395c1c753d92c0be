//! Turning published bytes (JSON or YAML) into a validated manifest.

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
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
    let value = document_value(bytes, format)?;
    validate_manifest(&value).map_err(ParsedDocument::Invalid)
}

/// The bytes an author's GPG signature covers: the RFC 8785 canonical JSON of the
/// manifest (unwrapped from a `plugin` key) with its `signature` field removed, so
/// the same manifest in YAML or JSON, in any key order, signs the same way.
pub fn signed_content(bytes: &[u8], format: DocumentFormat) -> Result<Vec<u8>, ParsedDocument> {
    let mut value = document_value(bytes, format)?;
    if let Value::Object(map) = &mut value {
        map.remove("signature");
    }
    serde_json_canonicalizer::to_vec(&value).map_err(|e| ParsedDocument::Malformed {
        format,
        detail: format!("cannot be written as canonical JSON: {e}"),
    })
}

/// A document parsed (not yet validated) and unwrapped from a `plugin` key.
fn document_value(bytes: &[u8], format: DocumentFormat) -> Result<Value, ParsedDocument> {
    let malformed = |detail: String| ParsedDocument::Malformed { format, detail };
    if bytes.len() > MAX_SCHEMA_DOCUMENT_BYTES {
        return Err(malformed(format!(
            "document is {} bytes; the limit is {MAX_SCHEMA_DOCUMENT_BYTES}",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    let value: Value = match format {
        DocumentFormat::Json => json_value(text).map_err(|e| malformed(e.to_string()))?,
        DocumentFormat::Yaml => serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| malformed(e.to_string()))?,
    };
    Ok(unwrap_plugin_key(value))
}

/// A JSON document as a value, refusing a mapping that names a key twice.
/// `serde_json` alone keeps the last, while another reader of the stored bytes
/// may keep the first and see another plugin than the one validated; YAML's
/// parser refuses them already. Keys are compared decoded, so `"\u0073lug"`
/// repeats `"slug"`.
fn json_value(text: &str) -> Result<Value, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = UniqueKeys {
        path: String::new(),
    }
    .deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// Reads one JSON value, failing at the first key its mapping already had;
/// `path` names the value (`actions[0]`), so the error names the field.
struct UniqueKeys {
    path: String,
}

impl UniqueKeys {
    fn member(&self, key: &str) -> Self {
        Self {
            path: if self.path.is_empty() {
                key.to_owned()
            } else {
                format!("{}.{key}", self.path)
            },
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // JSON numbers are finite, so this is never `Null`.
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = items.next_element_seed(UniqueKeys {
            path: format!("{}[{}]", self.path, values.len()),
        })? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut map = serde_json::Map::new();
        while let Some(key) = members.next_key::<String>()? {
            let member = self.member(&key);
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{}`: each field may appear once",
                    member.path
                )));
            }
            let value = members.next_value_seed(member)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
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
    fn the_signed_content_is_the_same_in_yaml_or_json_in_any_key_order() {
        let yaml = signed_content(VALID.as_bytes(), DocumentFormat::Yaml).expect("valid");
        let json = r#"{ "version": "1.0.0", "slug": "norway", "name": "NO", "description": "y",
            "author": "N", "homepage": "https://h.io", "repository": "https://r.io",
            "license": "MIT", "icon": "https://i.io", "tags": ["t"],
            "actions": [{"description": "r", "name": "run"}],
            "signature": {"type": "gpg", "key_id": "0x1234ABCD", "signature": "whatever"} }"#;
        assert_eq!(
            signed_content(json.as_bytes(), DocumentFormat::Json).expect("valid"),
            yaml,
            "the signature field is left out, keys are sorted, whitespace dropped"
        );
        let indented: String = VALID.lines().map(|l| format!("  {l}\n")).collect();
        let wrapped = format!("plugin:\n{indented}");
        assert_eq!(
            signed_content(wrapped.as_bytes(), DocumentFormat::Yaml).expect("valid"),
            yaml
        );
        assert!(
            yaml.starts_with(br#"{"actions":[{"description":"r","name":"run"}],"author":"N","#)
        );
    }

    #[test]
    fn signed_content_follows_rfc_8785_for_numbers_and_key_order() {
        // RFC 8785 section 3.2.3: keys sort by UTF-16 code units, so U+1F600 (a
        // surrogate pair, 0xD83D...) sorts before U+FB33, unlike in UTF-8.
        let json =
            r#"{"\ufb33": 7, "\ud83d\ude00": 6, "\u20ac": 5, "1": 1e21, "a": 1.0, "b": 0.000001}"#;
        let canonical = signed_content(json.as_bytes(), DocumentFormat::Json).expect("parses");
        assert_eq!(
            String::from_utf8(canonical).unwrap(),
            "{\"1\":1e+21,\"a\":1,\"b\":0.000001,\"\u{20ac}\":5,\"\u{1f600}\":6,\"\u{fb33}\":7}"
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

    /// A JSON reader that keeps the first of two equal keys would see another
    /// plugin than the registry validated; both must be refused, wherever they are.
    #[test]
    fn duplicate_json_keys_are_malformed_and_named() {
        let valid = serde_json::to_string(
            &document_value(VALID.as_bytes(), DocumentFormat::Yaml).expect("the sample parses"),
        )
        .expect("as JSON");
        assert!(parse_document(valid.as_bytes(), DocumentFormat::Json).is_ok());
        for (doc, named) in [
            (valid.replacen('{', r#"{"slug": "other", "#, 1), "`slug`"),
            (
                valid.replacen(r#""name":"run""#, r#""name":"run","name":"rm""#, 1),
                "`actions[0].name`",
            ),
            (
                format!(r#"{{"plugin": {valid}, "plugin": {{}}}}"#),
                "`plugin`",
            ),
            // An escaped key is the same key.
            (valid.replacen('{', r#"{"slug": "other", "#, 1), "`slug`"),
        ] {
            match parse_document(doc.as_bytes(), DocumentFormat::Json) {
                Err(ParsedDocument::Malformed { detail, .. }) => {
                    assert!(detail.contains(named), "{named} not in: {detail}");
                }
                other => panic!("{named}: accepted or refused otherwise: {other:?}"),
            }
        }
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
