//! ZIP bundle checks, shared by `POST /plugins` and the org catalog upload.
//!
//! Beyond the spec's three rules (`.zip` name, `PK\x03\x04` magic, 5 MB cap) this
//! fails closed on everything an archive can use against its reader: path traversal,
//! absolute paths, symlinks, duplicate names, encryption, and zip bombs. Every entry is
//! actually decompressed under the caps, so a CRC or size lie is caught here rather
//! than by whoever unpacks the bundle later.

use std::collections::HashSet;
use std::io::{self, Cursor, Read, Write};

use zip::read::ZipReadOptions;

use crate::checksum::Sha256Digest;
use crate::manifest::{DocumentFormat, MAX_SCHEMA_DOCUMENT_BYTES};

/// Largest bundle accepted, in bytes (the spec's `MAX_PLUGIN_UPLOAD_BYTES`).
pub const MAX_BUNDLE_BYTES: usize = 5 * 1024 * 1024;
/// Most entries (files and directories) in one bundle.
pub const MAX_BUNDLE_ENTRIES: usize = 2_000;
/// Most bytes all entries may decompress to together.
pub const MAX_BUNDLE_UNCOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;
/// Highest compression ratio accepted for an entry larger than [`RATIO_FLOOR_BYTES`].
pub const MAX_ENTRY_COMPRESSION_RATIO: u64 = 100;
/// Entries smaller than this may compress as well as they like.
pub const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;
/// The first four bytes of every ZIP file that starts with a local file header.
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";
/// Manifest names looked for at the bundle's root.
pub const MANIFEST_NAMES: [&str; 2] = ["plugin.yaml", "plugin.json"];

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The upload's file name does not end in `.zip`.
    #[error("file name {name:?} must end with .zip")]
    NotZipName {
        /// The name given.
        name: String,
    },
    /// The bundle is larger than [`MAX_BUNDLE_BYTES`].
    #[error("bundle exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The first four bytes are not `PK\x03\x04`.
    #[error("not a ZIP file: the first four bytes must be PK\\x03\\x04")]
    BadMagic,
    /// The archive structure cannot be read.
    #[error("malformed ZIP archive: {detail}")]
    Malformed {
        /// What the reader found.
        detail: String,
    },
    /// An entry name escapes the bundle root or is otherwise unsafe.
    #[error("entry {name:?} has an unsafe path: {why}")]
    UnsafePath {
        /// The entry name.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// An entry is a symbolic link.
    #[error("entry {name:?} is a symbolic link; bundles may hold only files and directories")]
    Symlink {
        /// The entry name.
        name: String,
    },
    /// Two entries share a name.
    #[error("entry {name:?} appears more than once")]
    DuplicateEntry {
        /// The repeated name.
        name: String,
    },
    /// The archive has more than [`MAX_BUNDLE_ENTRIES`] entries.
    #[error("bundle has {count} entries; at most {MAX_BUNDLE_ENTRIES} are allowed")]
    TooManyEntries {
        /// How many there are.
        count: usize,
    },
    /// The entries decompress to more than [`MAX_BUNDLE_UNCOMPRESSED_BYTES`].
    #[error("bundle decompresses to more than {MAX_BUNDLE_UNCOMPRESSED_BYTES} bytes")]
    UncompressedTooLarge,
    /// An entry compresses suspiciously well (a zip bomb).
    #[error("entry {name:?} has a compression ratio above {MAX_ENTRY_COMPRESSION_RATIO}:1")]
    CompressionRatio {
        /// The entry name.
        name: String,
    },
    /// An entry is encrypted.
    #[error("entry {name:?} is encrypted; bundles must not be")]
    Encrypted {
        /// The entry name.
        name: String,
    },
    /// An entry's data is corrupt (CRC mismatch or unreadable compressed data).
    #[error("entry {name:?} is corrupt: {detail}")]
    CorruptEntry {
        /// The entry name.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// Neither `plugin.yaml` nor `plugin.json` is at the root.
    #[error("bundle has no plugin.yaml or plugin.json at its root")]
    MissingManifest,
    /// Both manifest names are present, so which one counts is ambiguous.
    #[error("bundle has both plugin.yaml and plugin.json at its root; keep one")]
    AmbiguousManifest,
    /// The manifest entry is larger than a schema document may be.
    #[error("the manifest is larger than {MAX_SCHEMA_DOCUMENT_BYTES} bytes")]
    ManifestTooLarge,
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub struct ValidatedBundle {
    /// SHA-256 of the whole ZIP.
    pub sha256: Sha256Digest,
    /// Size of the ZIP in bytes.
    pub size: usize,
    /// The manifest's bytes, exactly as in the archive.
    pub manifest: Vec<u8>,
    /// The manifest's format, from its name.
    pub manifest_format: DocumentFormat,
    /// Number of entries.
    pub entries: usize,
    /// Sum of all entries' decompressed sizes.
    pub uncompressed_bytes: u64,
}

/// Checks an upload's file name (when the client gave one).
pub fn check_file_name(name: &str) -> Result<(), BundleError> {
    if name.to_ascii_lowercase().ends_with(".zip") {
        Ok(())
    } else {
        Err(BundleError::NotZipName {
            name: name.to_owned(),
        })
    }
}

/// Checks the magic bytes; callers streaming an upload use this on the first bytes
/// to refuse a non-ZIP early.
pub fn check_magic(prefix: &[u8]) -> Result<(), BundleError> {
    if prefix.len() >= 4 && prefix[..4] == ZIP_MAGIC {
        Ok(())
    } else {
        Err(BundleError::BadMagic)
    }
}

/// Validates a whole bundle and extracts its manifest.
pub fn validate_bundle(bytes: &[u8]) -> Result<ValidatedBundle, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            limit: MAX_BUNDLE_BYTES,
        });
    }
    check_magic(bytes)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(malformed)?;
    if archive.len() > MAX_BUNDLE_ENTRIES {
        return Err(BundleError::TooManyEntries {
            count: archive.len(),
        });
    }
    let mut seen = HashSet::with_capacity(archive.len());
    let mut total: u64 = 0;
    let mut manifest: Option<(Vec<u8>, DocumentFormat)> = None;
    let mut buffer = vec![0u8; DRAIN_BUFFER_BYTES];
    for index in 0..archive.len() {
        let options = ZipReadOptions::new().enforce_header_consistency(true);
        let mut entry = archive
            .by_index_with_options(index, options)
            .map_err(malformed)?;
        let name =
            String::from_utf8(entry.name_raw().to_vec()).map_err(|_| BundleError::UnsafePath {
                name: String::from_utf8_lossy(entry.name_raw()).into_owned(),
                why: "the name is not UTF-8",
            })?;
        check_entry_path(&name)?;
        if !seen.insert(name.trim_end_matches('/').to_owned()) {
            return Err(BundleError::DuplicateEntry { name });
        }
        if entry.is_symlink() {
            return Err(BundleError::Symlink { name });
        }
        if entry.encrypted() {
            return Err(BundleError::Encrypted { name });
        }
        if entry.is_dir() {
            continue;
        }
        let is_manifest = MANIFEST_NAMES.contains(&name.as_str());
        let remaining = MAX_BUNDLE_UNCOMPRESSED_BYTES - total;
        let mut sink = CountingSink::new(is_manifest);
        // One byte past the remaining allowance proves the cap was exceeded without
        // trusting the declared size.
        let copied = drain(
            &mut (&mut entry).take(remaining + 1),
            &mut sink,
            &mut buffer,
        )
        .map_err(|e| BundleError::CorruptEntry {
            name: name.clone(),
            detail: e.to_string(),
        })?;
        if copied > remaining {
            return Err(BundleError::UncompressedTooLarge);
        }
        total += copied;
        let compressed = entry.compressed_size().max(1);
        if copied > RATIO_FLOOR_BYTES && copied / compressed > MAX_ENTRY_COMPRESSION_RATIO {
            return Err(BundleError::CompressionRatio { name });
        }
        if is_manifest {
            if manifest.is_some() {
                return Err(BundleError::AmbiguousManifest);
            }
            if sink.captured.len() > MAX_SCHEMA_DOCUMENT_BYTES {
                return Err(BundleError::ManifestTooLarge);
            }
            let format = DocumentFormat::from_file_name(&name).unwrap_or(DocumentFormat::Yaml);
            manifest = Some((sink.captured, format));
        }
    }
    let (manifest, manifest_format) = manifest.ok_or(BundleError::MissingManifest)?;
    Ok(ValidatedBundle {
        sha256: Sha256Digest::of(bytes),
        size: bytes.len(),
        manifest,
        manifest_format,
        entries: archive.len(),
        uncompressed_bytes: total,
    })
}

/// Read size while decompressing: large enough that the inflater, not per-call
/// overhead, sets the pace.
const DRAIN_BUFFER_BYTES: usize = 256 * 1024;

/// Reads `reader` to its end into `sink`, returning the byte count.
fn drain(reader: &mut impl Read, sink: &mut CountingSink, buffer: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match reader.read(buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                sink.write_all(&buffer[..n])?;
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn malformed(e: zip::result::ZipError) -> BundleError {
    BundleError::Malformed {
        detail: e.to_string(),
    }
}

fn check_entry_path(name: &str) -> Result<(), BundleError> {
    let unsafe_path = |why| {
        Err(BundleError::UnsafePath {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return unsafe_path("the name is empty");
    }
    if name.starts_with('/') {
        return unsafe_path("absolute paths are not allowed");
    }
    if name.contains('\\') {
        return unsafe_path("backslashes are not allowed; use '/'");
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return unsafe_path("control characters are not allowed");
    }
    if name
        .split('/')
        .next()
        .is_some_and(|first| first.contains(':'))
    {
        return unsafe_path("drive letters and URL schemes are not allowed");
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for part in trimmed.split('/') {
        match part {
            ".." => return unsafe_path("'..' would leave the bundle root"),
            "" => return unsafe_path("empty path components are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// Counts bytes and, for the manifest only, keeps them (bounded, so a huge
/// "manifest" cannot make this allocate past the schema limit plus one).
struct CountingSink {
    keep: bool,
    captured: Vec<u8>,
}

impl CountingSink {
    fn new(keep: bool) -> Self {
        Self {
            keep,
            captured: Vec::new(),
        }
    }
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.keep {
            let room = (MAX_SCHEMA_DOCUMENT_BYTES + 1).saturating_sub(self.captured.len());
            self.captured.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_fail_closed() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\b",
            "C:/x",
            "a//b",
            "",
        ] {
            assert!(check_entry_path(bad).is_err(), "{bad:?}");
        }
        for ok in ["plugin.yaml", "lib/", "lib/a.js", "a..b/c"] {
            assert!(check_entry_path(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn file_names_must_end_in_zip() {
        assert!(check_file_name("bundle.ZIP").is_ok());
        assert!(matches!(
            check_file_name("bundle.tar"),
            Err(BundleError::NotZipName { .. })
        ));
    }
}
