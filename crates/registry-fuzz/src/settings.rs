//! The settings-schema check of org-catalog plugins.
//!
//! Promise: any JSON value is accepted or refused with field errors, never a panic,
//! and an accepted schema stays accepted once written out and read back.

use registry_core::manifest::{MAX_SETTINGS_FIELDS, validate_settings_schema};
use serde_json::Value;

/// A settings schema as JSON.
pub(crate) fn check(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if !validate_settings_schema(&value, "settings_schema").is_empty() {
        return;
    }
    let fields = value
        .get("properties")
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len);
    assert!(
        fields <= MAX_SETTINGS_FIELDS,
        "accepted a schema of {fields} fields"
    );
    let written = serde_json::to_vec(&value).expect("a JSON value serialises");
    let again: Value = serde_json::from_slice(&written).expect("written JSON parses");
    assert!(
        validate_settings_schema(&again, "settings_schema").is_empty(),
        "an accepted schema is refused once written out"
    );
}
