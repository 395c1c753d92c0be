//! ZIP bundle checks, shared by `POST /plugins` and the org catalog upload.
//!
//! Beyond the spec's three rules (`.zip` name, `PK\x03\x04` magic, 5 MB cap) this
//! fails closed on everything an archive can use against its reader: a structure
//! that reads one way from the central directory and another from the local
//! headers ([`layout`]), path traversal, absolute paths, symlinks, names that
//! collide once unpacked ([`names`]), encryption, methods other than stored and
//! deflate, and zip bombs. Every entry is actually decompressed under the caps and
//! its CRC and size compared with what both directories declare, so a lie is caught
//! here rather than by whoever unpacks the bundle later.

#[cfg(test)]
mod attacks;
mod layout;
mod names;

use flate2::{Crc, Decompress, FlushDecompress, Status};

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
    /// Two names unpack to the same path on a case-insensitive or
    /// normalization-insensitive filesystem, or one is both a file and a directory.
    #[error(
        "entries {name:?} and {other:?} collide once unpacked (names must differ by more than case or Unicode normalization, and a file cannot also be a directory)"
    )]
    CollidingNames {
        /// The later entry.
        name: String,
        /// The entry it collides with.
        other: String,
    },
    /// A local header disagrees with its central-directory entry.
    #[error("entry {name:?}: the local header and the central directory disagree on its {field}")]
    HeaderMismatch {
        /// The entry name.
        name: String,
        /// What differs.
        field: String,
    },
    /// An entry uses a compression method other than stored or deflate.
    #[error("entry {name:?} uses compression method {method}; bundles use deflate (8) or none (0)")]
    UnsupportedMethod {
        /// The entry name.
        name: String,
        /// The method's number.
        method: u16,
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
    let entries = layout::entries(bytes, MAX_BUNDLE_ENTRIES)?;
    let mut collisions = names::NameCollisions::default();
    let mut total: u64 = 0;
    let mut manifest: Option<(Vec<u8>, DocumentFormat)> = None;
    let mut buffer = vec![0u8; DRAIN_BUFFER_BYTES];
    for entry in &entries {
        let name = String::from_utf8(entry.name.clone()).map_err(|_| BundleError::UnsafePath {
            name: String::from_utf8_lossy(&entry.name).into_owned(),
            why: "the name is not UTF-8",
        })?;
        check_entry_path(&name)?;
        collisions.record(&name)?;
        if entry.symlink {
            return Err(BundleError::Symlink { name });
        }
        if entry.encrypted {
            return Err(BundleError::Encrypted { name });
        }
        if !matches!(entry.method, STORED | DEFLATED) {
            return Err(BundleError::UnsupportedMethod {
                name,
                method: entry.method,
            });
        }
        let is_manifest = MANIFEST_NAMES.contains(&name.as_str());
        let remaining = MAX_BUNDLE_UNCOMPRESSED_BYTES - total;
        let mut sink = CountingSink::new(is_manifest);
        let data = &bytes[entry.data.clone()];
        let unpacked =
            unpack(entry.method, data, remaining, &mut sink, &mut buffer).map_err(|detail| {
                BundleError::CorruptEntry {
                    name: name.clone(),
                    detail,
                }
            })?;
        let Some(unpacked) = unpacked else {
            return Err(BundleError::UncompressedTooLarge);
        };
        if unpacked.size != entry.uncompressed_size || unpacked.crc32 != entry.crc32 {
            return Err(BundleError::CorruptEntry {
                name,
                detail: format!(
                    "it unpacks to {} bytes with CRC-32 {:08x}; the headers declare {} bytes and {:08x}",
                    unpacked.size, unpacked.crc32, entry.uncompressed_size, entry.crc32
                ),
            });
        }
        if name.ends_with('/') {
            if unpacked.size != 0 {
                return Err(BundleError::CorruptEntry {
                    name,
                    detail: "a directory entry holds data".to_owned(),
                });
            }
            continue;
        }
        total += unpacked.size;
        let compressed = (data.len() as u64).max(1);
        if unpacked.size > RATIO_FLOOR_BYTES
            && unpacked.size / compressed > MAX_ENTRY_COMPRESSION_RATIO
        {
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
        entries: entries.len(),
        uncompressed_bytes: total,
    })
}

/// Compression method: none.
const STORED: u16 = 0;
/// Compression method: deflate.
const DEFLATED: u16 = 8;

/// Read size while decompressing: large enough that the inflater, not per-call
/// overhead, sets the pace.
const DRAIN_BUFFER_BYTES: usize = 256 * 1024;

/// What an entry's data unpacked to.
struct Unpacked {
    size: u64,
    crc32: u32,
}

/// Unpacks `data` into `sink`, stopping (with `None`) once more than `allowance`
/// bytes come out, so a bomb costs no more than the cap. A deflate stream must end
/// exactly at the end of `data`: bytes after it would be invisible here and could
/// read as something else to a streaming extractor.
fn unpack(
    method: u16,
    data: &[u8],
    allowance: u64,
    sink: &mut CountingSink,
    buffer: &mut [u8],
) -> Result<Option<Unpacked>, String> {
    let mut crc = Crc::new();
    if method == STORED {
        if data.len() as u64 > allowance {
            return Ok(None);
        }
        crc.update(data);
        sink.write(data);
        return Ok(Some(Unpacked {
            size: data.len() as u64,
            crc32: crc.sum(),
        }));
    }
    let mut inflater = Decompress::new(false);
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let before = inflater.total_out();
        let status = inflater
            .decompress(input, buffer, FlushDecompress::None)
            .map_err(|e| format!("the deflate stream is corrupt ({e})"))?;
        let produced = usize::try_from(inflater.total_out() - before).unwrap_or(usize::MAX);
        crc.update(&buffer[..produced]);
        sink.write(&buffer[..produced]);
        if inflater.total_out() > allowance {
            return Ok(None);
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError
                if produced == 0 && inflater.total_in() as usize == consumed =>
            {
                return Err("the deflate stream ends before its data does".to_owned());
            }
            Status::Ok | Status::BufError => {}
        }
    }
    if inflater.total_in() != data.len() as u64 {
        return Err(format!(
            "the deflate stream ends after {} of its {} bytes",
            inflater.total_in(),
            data.len()
        ));
    }
    Ok(Some(Unpacked {
        size: inflater.total_out(),
        crc32: crc.sum(),
    }))
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

/// For the manifest only, keeps the unpacked bytes (bounded, so a huge
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

    fn write(&mut self, buf: &[u8]) {
        if self.keep {
            let room = (MAX_SCHEMA_DOCUMENT_BYTES + 1).saturating_sub(self.captured.len());
            self.captured.extend_from_slice(&buf[..buf.len().min(room)]);
        }
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
