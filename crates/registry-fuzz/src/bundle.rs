//! The bundle check every upload passes before anything is stored.
//!
//! Promise: a ZIP is refused with a reason, or accepted as exactly one thing. An
//! accepted bundle reads the same to an independent ZIP reader (the `zip` crate):
//! the same entries, each with the same bytes, and the same manifest; the sizes the
//! check reports are the real ones.

use std::io::Read;

use registry_core::bundle::{
    MANIFEST_NAMES, MAX_BUNDLE_ENTRIES, MAX_BUNDLE_UNCOMPRESSED_BYTES, validate_bundle,
};
use registry_core::checksum::Sha256Digest;

/// A whole bundle.
pub(crate) fn check(data: &[u8]) {
    let Ok(bundle) = validate_bundle(data) else {
        return;
    };
    assert_eq!(bundle.size, data.len());
    assert_eq!(bundle.sha256, Sha256Digest::of(data));
    assert!(bundle.entries <= MAX_BUNDLE_ENTRIES);
    assert!(bundle.uncompressed_bytes <= MAX_BUNDLE_UNCOMPRESSED_BYTES);

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .unwrap_or_else(|e| panic!("accepted, yet the zip crate cannot open it: {e}"));
    assert_eq!(archive.len(), bundle.entries, "entry counts differ");
    let mut total = 0u64;
    let mut manifest = None;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .unwrap_or_else(|e| panic!("accepted, yet the zip crate cannot read entry {i}: {e}"));
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("accepted, yet entry {i} does not unpack: {e}"));
        total += bytes.len() as u64;
        let name = entry
            .name()
            .unwrap_or_else(|e| panic!("accepted, yet entry {i} has no readable name: {e}"))
            .into_owned();
        if MANIFEST_NAMES.contains(&name.as_str()) {
            assert!(manifest.is_none(), "two manifests accepted");
            manifest = Some(bytes);
        }
    }
    assert_eq!(total, bundle.uncompressed_bytes, "unpacked sizes differ");
    assert_eq!(
        manifest.as_deref(),
        Some(bundle.manifest.as_slice()),
        "the manifest differs from what the zip crate reads"
    );
}
