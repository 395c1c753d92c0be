//! The `settings_schema` of an org-catalog plugin: the configuration fields a UI
//! renders as a form when an admin wires the plugin to an orchestrator.
//!
//! It is JSON Schema (draft 2020-12), restricted to what a form can render: one
//! object whose `properties` are flat fields of a scalar type (or a list of
//! scalars), each with the usual annotations. Anything outside that subset is
//! refused with its path, so a schema that validates here renders everywhere.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::validate::FieldError;

/// Most fields one settings schema may declare.
pub const MAX_SETTINGS_FIELDS: usize = 100;
/// Longest field name, in bytes.
pub const MAX_SETTINGS_FIELD_NAME: usize = 64;
/// Longest `title`, `description` or `pattern`, in characters.
pub const MAX_SETTINGS_TEXT: usize = 1_000;
/// Most `enum` choices of one field.
pub const MAX_SETTINGS_CHOICES: usize = 200;

/// Keywords allowed at the top of the schema.
const TOP_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
];

/// Keywords allowed on one field.
const FIELD_KEYWORDS: &[&str] = &[
    "type",
    "title",
    "description",
    "default",
    "enum",
    "examples",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "writeOnly",
    "readOnly",
    "deprecated",
];

/// Keywords allowed on the `items` of a list field.
const ITEM_KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];

/// The field types a form can render.
const SCALAR_TYPES: &[&str] = &["string", "integer", "number", "boolean"];

/// The empty settings schema: what a plugin without settings answers with.
pub fn empty_settings_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Checks a `settings_schema` value; every problem is reported with its path under
/// `path` (normally `settings_schema`).
pub fn validate_settings_schema(value: &Value, path: &str) -> Vec<FieldError> {
    let mut check = Check { errors: Vec::new() };
    check.top(value, path);
    check.errors
}

struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn unknown_keywords(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                self.fail(
                    format!("{path}.{key}"),
                    format!(
                        "is not supported in a settings schema (use one of: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    fn top(&mut self, value: &Value, path: &str) {
        let Some(obj) = value.as_object() else {
            self.fail(path, "must be a JSON Schema object such as {\"type\": \"object\", \"properties\": {...}}");
            return;
        };
        self.unknown_keywords(obj, path, TOP_KEYWORDS);
        if obj.get("type") != Some(&Value::String("object".into())) {
            self.fail(format!("{path}.type"), "must be \"object\"");
        }
        for key in ["$schema", "$id"] {
            if let Some(v) = obj.get(key)
                && !v.is_string()
            {
                self.fail(format!("{path}.{key}"), "must be a string");
            }
        }
        for key in ["title", "description"] {
            self.text(obj, path, key);
        }
        if let Some(v) = obj.get("additionalProperties")
            && !v.is_boolean()
        {
            self.fail(
                format!("{path}.additionalProperties"),
                "must be true or false",
            );
        }
        let names = self.properties(obj, path);
        self.required(obj, path, &names);
    }

    fn text(&mut self, obj: &Map<String, Value>, path: &str, key: &str) {
        match obj.get(key) {
            None => {}
            Some(Value::String(s)) if s.chars().count() <= MAX_SETTINGS_TEXT => {}
            Some(Value::String(_)) => self.fail(
                format!("{path}.{key}"),
                format!("must be at most {MAX_SETTINGS_TEXT} characters"),
            ),
            Some(_) => self.fail(format!("{path}.{key}"), "must be a string"),
        }
    }

    fn properties(&mut self, obj: &Map<String, Value>, path: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let props_path = format!("{path}.properties");
        let props = match obj.get("properties") {
            None => return names,
            Some(Value::Object(props)) => props,
            Some(_) => {
                self.fail(props_path, "must map each field name to its schema");
                return names;
            }
        };
        if props.len() > MAX_SETTINGS_FIELDS {
            self.fail(
                &props_path,
                format!(
                    "declares {} fields; at most {MAX_SETTINGS_FIELDS} are allowed",
                    props.len()
                ),
            );
        }
        for (name, field) in props {
            let field_path = format!("{props_path}.{name}");
            if !is_field_name(name) {
                self.fail(
                    &field_path,
                    format!(
                        "field names must start with a letter or '_' and hold only letters, digits and '_' (at most {MAX_SETTINGS_FIELD_NAME})"
                    ),
                );
            }
            names.insert(name.clone());
            self.field(field, &field_path);
        }
        names
    }

    fn required(&mut self, obj: &Map<String, Value>, path: &str, names: &BTreeSet<String>) {
        let Some(required) = obj.get("required") else {
            return;
        };
        let req_path = format!("{path}.required");
        let Some(items) = required.as_array() else {
            self.fail(req_path, "must be a list of field names");
            return;
        };
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{req_path}[{i}]");
            match item.as_str() {
                None => self.fail(item_path, "must be a field name"),
                Some(name) if !names.contains(name) => self.fail(
                    item_path,
                    format!("names {name:?}, which is not in properties"),
                ),
                Some(name) if !seen.insert(name) => {
                    self.fail(item_path, format!("lists {name:?} twice"));
                }
                Some(_) => {}
            }
        }
    }

    fn field(&mut self, value: &Value, path: &str) {
        let Some(obj) = value.as_object() else {
            self.fail(path, "must be a schema object with a \"type\"");
            return;
        };
        self.unknown_keywords(obj, path, FIELD_KEYWORDS);
        for key in ["title", "description", "pattern"] {
            self.text(obj, path, key);
        }
        for key in ["writeOnly", "readOnly", "deprecated", "uniqueItems"] {
            if let Some(v) = obj.get(key)
                && !v.is_boolean()
            {
                self.fail(format!("{path}.{key}"), "must be true or false");
            }
        }
        let Some(kind) = self.kind(obj, path, true) else {
            return;
        };
        if kind == "array" {
            self.bounds(obj, path, "minItems", "maxItems", true);
            let item_kind = match obj.get("items") {
                Some(Value::Object(items)) => {
                    let items_path = format!("{path}.items");
                    self.unknown_keywords(items, &items_path, ITEM_KEYWORDS);
                    let item_kind = self.kind(items, &items_path, false);
                    if let Some(k) = item_kind {
                        self.keywords_fit(items, &items_path, k);
                        self.choices(items, &items_path, k);
                    }
                    item_kind
                }
                Some(_) => {
                    self.fail(format!("{path}.items"), "must be a schema object");
                    None
                }
                None => {
                    self.fail(
                        format!("{path}.items"),
                        "is required for a list field (the type of its elements)",
                    );
                    None
                }
            };
            for key in ["enum", "format", "pattern", "minLength", "maxLength"] {
                if obj.contains_key(key) {
                    self.fail(
                        format!("{path}.{key}"),
                        "applies to the list's items; put it under items",
                    );
                }
            }
            if let Some(k) = item_kind {
                for key in ["default", "examples"] {
                    self.list_values(obj, path, key, k);
                }
            }
        } else {
            for key in ["items", "minItems", "maxItems", "uniqueItems"] {
                if obj.contains_key(key) {
                    self.fail(
                        format!("{path}.{key}"),
                        format!("applies only to fields of type \"array\", not {kind:?}"),
                    );
                }
            }
            self.keywords_fit(obj, path, kind);
            let choices = self.choices(obj, path, kind);
            if let Some(default) = obj.get("default") {
                self.value_fits(default, &format!("{path}.default"), kind);
                if let Some(choices) = &choices
                    && !choices.contains(default)
                {
                    self.fail(format!("{path}.default"), "must be one of the enum values");
                }
            }
            if let Some(examples) = obj.get("examples") {
                match examples.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.value_fits(item, &format!("{path}.examples[{i}]"), kind);
                        }
                    }
                    None => self.fail(format!("{path}.examples"), "must be a list"),
                }
            }
        }
    }

    /// The field's `type`; `array` only when `allow_array`.
    fn kind<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        allow_array: bool,
    ) -> Option<&'a str> {
        let expected = if allow_array {
            "string, integer, number, boolean or array"
        } else {
            "string, integer, number or boolean"
        };
        match obj.get("type").and_then(Value::as_str) {
            Some(k) if SCALAR_TYPES.contains(&k) || (allow_array && k == "array") => Some(k),
            Some(k) => {
                self.fail(
                    format!("{path}.type"),
                    format!("{k:?} cannot be rendered as a form field; use {expected}"),
                );
                None
            }
            None => {
                self.fail(
                    format!("{path}.type"),
                    format!("is required: one of {expected}"),
                );
                None
            }
        }
    }

    /// String keywords only on strings, numeric bounds only on numbers.
    fn keywords_fit(&mut self, obj: &Map<String, Value>, path: &str, kind: &str) {
        let numeric = matches!(kind, "integer" | "number");
        for key in ["format", "pattern", "minLength", "maxLength"] {
            if kind != "string" && obj.contains_key(key) {
                self.fail(
                    format!("{path}.{key}"),
                    format!("applies only to strings, not {kind:?}"),
                );
            }
        }
        for key in ["minimum", "maximum"] {
            if !numeric && obj.contains_key(key) {
                self.fail(
                    format!("{path}.{key}"),
                    format!("applies only to integer or number fields, not {kind:?}"),
                );
            }
        }
        if let Some(format) = obj.get("format")
            && !format.is_string()
        {
            self.fail(format!("{path}.format"), "must be a string such as \"uri\"");
        }
        if kind == "string" {
            self.bounds(obj, path, "minLength", "maxLength", true);
        }
        if numeric {
            self.bounds(obj, path, "minimum", "maximum", false);
        }
    }

    /// `low` and `high` are numbers (counts when `counts`) with `low <= high`.
    fn bounds(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        low: &str,
        high: &str,
        counts: bool,
    ) {
        let mut read = |key: &str| -> Option<f64> {
            let value = obj.get(key)?;
            let number = if counts {
                value.as_u64().map(|n| n as f64)
            } else {
                value.as_f64()
            };
            if number.is_none() {
                let what = if counts {
                    "a whole number, 0 or more"
                } else {
                    "a number"
                };
                self.fail(format!("{path}.{key}"), format!("must be {what}"));
            }
            number
        };
        if let (Some(l), Some(h)) = (read(low), read(high))
            && l > h
        {
            self.fail(
                format!("{path}.{low}"),
                format!("must not be greater than {high}"),
            );
        }
    }

    /// The `enum` values, each of `kind`, unique and non-empty.
    fn choices(&mut self, obj: &Map<String, Value>, path: &str, kind: &str) -> Option<Vec<Value>> {
        let raw = obj.get("enum")?;
        let enum_path = format!("{path}.enum");
        let Some(items) = raw.as_array() else {
            self.fail(enum_path, "must be a list of the allowed values");
            return None;
        };
        if items.is_empty() || items.len() > MAX_SETTINGS_CHOICES {
            self.fail(
                &enum_path,
                format!("must list 1 to {MAX_SETTINGS_CHOICES} values"),
            );
        }
        for (i, item) in items.iter().enumerate() {
            self.value_fits(item, &format!("{enum_path}[{i}]"), kind);
            if items[..i].contains(item) {
                self.fail(format!("{enum_path}[{i}]"), "repeats an earlier value");
            }
        }
        Some(items.clone())
    }

    /// A `default` or `examples` of a list field: a list of `item_kind` values.
    fn list_values(&mut self, obj: &Map<String, Value>, path: &str, key: &str, item_kind: &str) {
        let Some(value) = obj.get(key) else {
            return;
        };
        let key_path = format!("{path}.{key}");
        let Some(items) = value.as_array() else {
            self.fail(key_path, "must be a list");
            return;
        };
        if key == "default" {
            for (i, item) in items.iter().enumerate() {
                self.value_fits(item, &format!("{key_path}[{i}]"), item_kind);
            }
        }
    }

    fn value_fits(&mut self, value: &Value, path: &str, kind: &str) {
        let fits = match kind {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => false,
        };
        if !fits {
            self.fail(path, format!("must be of the field's type, {kind}"));
        }
    }
}

fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_SETTINGS_FIELD_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(schema: Value) -> Vec<String> {
        validate_settings_schema(&schema, "settings_schema")
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_typical_form_schema_is_accepted() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": "Web search",
            "properties": {
                "api_key": {"type": "string", "title": "API key", "writeOnly": true, "minLength": 8},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
                "safe_search": {"type": "boolean", "default": true},
                "domains": {"type": "array", "items": {"type": "string", "format": "hostname"}, "default": ["a.io"]}
            },
            "required": ["api_key"],
            "additionalProperties": false
        });
        assert_eq!(problems(schema), Vec::<String>::new());
        assert!(problems(empty_settings_schema()).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let found = problems(json!({
            "type": "object",
            "properties": {
                "nested": {"type": "object"},
                "count": {"type": "integer", "default": "ten", "minimum": 5, "maximum": 1},
                "mode": {"type": "string", "enum": []},
                "tags": {"type": "array"},
                "9lives": {"type": "string"},
                "x": {"type": "boolean", "minLength": 1, "oneOf": []}
            },
            "required": ["missing", 3]
        }));
        for expected in [
            "settings_schema.properties.nested.type: \"object\" cannot be rendered",
            "settings_schema.properties.count.default: must be of the field's type, integer",
            "settings_schema.properties.count.minimum: must not be greater than maximum",
            "settings_schema.properties.mode.enum: must list 1 to",
            "settings_schema.properties.tags.items: is required",
            "settings_schema.properties.9lives: field names must start",
            "settings_schema.properties.x.minLength: applies only to strings",
            "settings_schema.properties.x.oneOf: is not supported",
            "settings_schema.required[0]: names \"missing\"",
            "settings_schema.required[1]: must be a field name",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "{expected} not in {found:#?}"
            );
        }
    }

    #[test]
    fn the_top_must_be_an_object_schema() {
        assert_eq!(
            problems(json!({"properties": {}})),
            ["settings_schema.type: must be \"object\""]
        );
        assert_eq!(problems(json!(["api_key"])).len(), 1);
        let defaults_outside_enum = problems(
            json!({"type": "object", "properties": {"m": {"type": "string", "enum": ["a"], "default": "b"}}}),
        );
        assert_eq!(
            defaults_outside_enum,
            ["settings_schema.properties.m.default: must be one of the enum values"]
        );
    }
}
