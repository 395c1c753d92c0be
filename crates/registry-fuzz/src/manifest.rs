//! The manifest parser, for both document formats.
//!
//! Promise: a document either is refused with a reason or becomes a manifest that
//! means the same thing when written back out: the accepted manifest, serialised
//! as JSON and parsed again, is accepted and equal (nothing the parser normalised
//! changes on a second pass, and nothing it accepted is lost).

use registry_core::manifest::{DocumentFormat, parse_document};

/// A JSON manifest document.
pub(crate) fn json(data: &[u8]) {
    parse_and_round_trip(data, DocumentFormat::Json);
}

/// A YAML manifest document.
pub(crate) fn yaml(data: &[u8]) {
    parse_and_round_trip(data, DocumentFormat::Yaml);
}

fn parse_and_round_trip(data: &[u8], format: DocumentFormat) {
    let Ok(manifest) = parse_document(data, format) else {
        return;
    };
    let written = serde_json::to_vec(&manifest).expect("an accepted manifest serialises");
    match parse_document(&written, DocumentFormat::Json) {
        Ok(again) => assert_eq!(
            again, manifest,
            "the manifest changed on a second pass through the parser"
        ),
        Err(e) => panic!(
            "an accepted manifest is refused once written as JSON: {e:?}\n{}",
            String::from_utf8_lossy(&written)
        ),
    }
}
