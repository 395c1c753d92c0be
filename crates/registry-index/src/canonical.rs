//! Byte-stable JSON: object keys sorted, no insignificant whitespace, so the same
//! content always gives the same bytes (and the same ETag and SHA-256).
//!
//! For the index's data (strings, integers, booleans, no floats) this is RFC 8785's
//! canonical form: its key order (UTF-16 code units) equals byte order for the ASCII
//! keys every index struct uses.

use serde::Serialize;
use serde_json::Value;

/// The canonical JSON bytes of `value`.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_value(&value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            // Sorted here, not by relying on serde_json's map type, which a feature
            // flag elsewhere in the build could switch to insertion order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_is_dropped() {
        let value = serde_json::json!({"b": {"z": 1, "a": [ {"y": true, "x": null} ]}, "a": "é"});
        assert_eq!(
            String::from_utf8(to_canonical_json(&value).unwrap()).unwrap(),
            r#"{"a":"é","b":{"a":[{"x":null,"y":true}],"z":1}}"#
        );
    }

    #[test]
    fn reencoding_canonical_output_changes_nothing() {
        let value = serde_json::json!({"k": ["b", "a"], "n": 3, "e": {}});
        let once = to_canonical_json(&value).unwrap();
        let parsed: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(to_canonical_json(&parsed).unwrap(), once);
    }
}
