//! The structure of a ZIP, read the way both kinds of reader read it.
//!
//! Readers that trust the central directory (most libraries) and readers that
//! stream local headers from the start (`jar`, stream-unzip libraries) must see the
//! same entries with the same bytes, or a bundle means one thing to the registry
//! and another to whoever installs it. So the walk requires: one end record, at the
//! very end; one central directory, right before it (and its zip64 records); local
//! headers that tile the file from byte 0, in central-directory order, each followed
//! by exactly its data and data descriptor, with nothing before, between or after;
//! and every local header agreeing with its central entry on name, method, flags
//! that change meaning, CRC and sizes. Extra fields may differ (Info-ZIP writes
//! different time fields in the two places).

use std::ops::Range;

use super::BundleError;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const ZIP64_EXTRA: u16 = 0x0001;

const LOCAL_HEADER_LEN: usize = 30;
const CENTRAL_HEADER_LEN: usize = 46;
const END_LEN: usize = 22;
const ZIP64_END_LEN: usize = 56;
const ZIP64_LOCATOR_LEN: usize = 20;

/// Flag bits that change how an entry is read: encrypted (0), data descriptor (3),
/// strong encryption (6), UTF-8 names (11), masked local header (13).
const MEANINGFUL_FLAGS: u16 = 1 | 1 << 3 | 1 << 6 | 1 << 11 | 1 << 13;
/// The encrypted flag bits.
const ENCRYPTED_FLAGS: u16 = 1 | 1 << 6;

/// One entry, as both directories agree it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The name's bytes.
    pub(super) name: Vec<u8>,
    /// Compression method (0 stored, 8 deflate, ...).
    pub(super) method: u16,
    /// Whether the entry is encrypted.
    pub(super) encrypted: bool,
    /// Whether the central directory marks it a Unix symbolic link.
    pub(super) symlink: bool,
    /// CRC-32 of the uncompressed data.
    pub(super) crc32: u32,
    /// Size once decompressed.
    pub(super) uncompressed_size: u64,
    /// Where its compressed data lies in the archive.
    pub(super) data: Range<usize>,
}

/// Reads and cross-checks the whole structure of `zip`.
pub(super) fn entries(zip: &[u8], max_entries: usize) -> Result<Vec<Entry>, BundleError> {
    let end = find_end(zip)?;
    if end.central_count > max_entries as u64 {
        return Err(BundleError::TooManyEntries {
            count: usize::try_from(end.central_count).unwrap_or(usize::MAX),
        });
    }
    let central = read_central_directory(zip, &end)?;
    let mut at = 0usize;
    let mut entries = Vec::with_capacity(central.len());
    for (i, c) in central.iter().enumerate() {
        if c.local_offset != at as u64 {
            return Err(layout(format!(
                "entry {:?}: its local header is at byte {}, but the previous entry ends at byte {at}; \
                 local headers must follow each other in central-directory order with nothing between",
                lossy(&c.name),
                c.local_offset
            )));
        }
        let next = central
            .get(i + 1)
            .map_or(end.central_start, |n| n.local_offset);
        // The next header must lie between this one and the central directory, which
        // itself lies inside the file: every slice of this entry is then in bounds.
        let next = usize::try_from(next)
            .ok()
            .filter(|&n| n >= at && n as u64 <= end.central_start && n <= zip.len())
            .ok_or_else(|| {
                layout(format!(
                    "entry {:?}: the entry after it starts at byte {next}, outside the entries' area",
                    lossy(&c.name)
                ))
            })?;
        let data = read_local_entry(zip, at, next, c)?;
        at = next;
        entries.push(Entry {
            name: c.name.clone(),
            method: c.method,
            encrypted: c.flags & ENCRYPTED_FLAGS != 0,
            symlink: c.symlink,
            crc32: c.crc32,
            uncompressed_size: c.uncompressed_size,
            data,
        });
    }
    if at as u64 != end.central_start {
        return Err(layout(format!(
            "{} bytes lie between the last entry and the central directory",
            end.central_start.saturating_sub(at as u64)
        )));
    }
    Ok(entries)
}

/// Where the central directory is, from the end records.
struct End {
    central_start: u64,
    central_count: u64,
    /// Where the central directory must end: the zip64 end record, or the end record.
    central_end: u64,
}

fn find_end(zip: &[u8]) -> Result<End, BundleError> {
    if zip.len() < END_LEN {
        return Err(layout(
            "too short to hold an end-of-central-directory record",
        ));
    }
    // The one end record whose comment reaches exactly to the end of the file.
    let lowest = zip.len().saturating_sub(END_LEN + usize::from(u16::MAX));
    let candidates: Vec<usize> = (lowest..=zip.len() - END_LEN)
        .rev()
        .filter(|&at| {
            u32_at(zip, at) == Some(END_OF_CENTRAL_DIRECTORY)
                && u16_at(zip, at + 20)
                    .is_some_and(|comment| at + END_LEN + usize::from(comment) == zip.len())
        })
        .collect();
    let at = match candidates.as_slice() {
        [at] => *at,
        [] => {
            return Err(layout(
                "no end-of-central-directory record ends the file (trailing bytes, or not a ZIP)",
            ));
        }
        _ => return Err(layout("more than one end-of-central-directory record")),
    };
    let comment = &zip[at + END_LEN..];
    if [
        END_OF_CENTRAL_DIRECTORY,
        ZIP64_END_OF_CENTRAL_DIRECTORY,
        ZIP64_LOCATOR,
        CENTRAL_HEADER,
        LOCAL_HEADER,
    ]
    .iter()
    .any(|sig| contains(comment, &sig.to_le_bytes()))
    {
        return Err(layout("the archive comment holds ZIP record signatures"));
    }
    let field16 = |offset| u16_at(zip, at + offset).map_or(0, u64::from);
    let field32 = |offset| u32_at(zip, at + offset).map_or(0, u64::from);
    let (disk, central_disk, disk_count, count, size, start) = (
        field16(4),
        field16(6),
        field16(8),
        field16(10),
        field32(12),
        field32(16),
    );
    let locator_at = at.checked_sub(ZIP64_LOCATOR_LEN);
    let zip64 = locator_at.filter(|&l| u32_at(zip, l) == Some(ZIP64_LOCATOR));
    let Some(locator_at) = zip64 else {
        if disk != 0 || central_disk != 0 || disk_count != count {
            return Err(layout("multi-disk archives are not accepted"));
        }
        if start + size != at as u64 {
            return Err(layout(
                "the central directory must end exactly where the end-of-central-directory record begins",
            ));
        }
        return Ok(End {
            central_start: start,
            central_count: count,
            central_end: at as u64,
        });
    };
    // zip64: the locator points at the zip64 end record, which must end where the
    // locator begins; the 16- and 32-bit fields are either saturated or agree.
    let record = u64_at(zip, locator_at + 8).unwrap_or(u64::MAX);
    if u32_at(zip, locator_at + 4) != Some(0) || u32_at(zip, locator_at + 16) != Some(1) {
        return Err(layout("multi-disk archives are not accepted"));
    }
    let record_at = usize::try_from(record).map_err(|_| layout("zip64 offset out of range"))?;
    if u32_at(zip, record_at) != Some(ZIP64_END_OF_CENTRAL_DIRECTORY) {
        return Err(layout(
            "the zip64 locator does not point at a zip64 end record",
        ));
    }
    let record_len = u64_at(zip, record_at + 4).unwrap_or(u64::MAX);
    if record_len < (ZIP64_END_LEN - 12) as u64
        || (record_at as u64).checked_add(12 + record_len) != Some(locator_at as u64)
    {
        return Err(layout(
            "the zip64 end record must end where the zip64 locator begins",
        ));
    }
    let f32 = |offset| u32_at(zip, record_at + offset).map_or(u64::MAX, u64::from);
    let f64 = |offset| u64_at(zip, record_at + offset).unwrap_or(u64::MAX);
    let (z_disk, z_central_disk, z_disk_count, z_count, z_size, z_start) =
        (f32(16), f32(20), f64(24), f64(32), f64(40), f64(48));
    if z_disk != 0 || z_central_disk != 0 || z_disk_count != z_count {
        return Err(layout("multi-disk archives are not accepted"));
    }
    let agrees = |short: u64, saturated: u64, long: u64| short == saturated || short == long;
    if !(agrees(count, 0xFFFF, z_count)
        && agrees(size, 0xFFFF_FFFF, z_size)
        && agrees(start, 0xFFFF_FFFF, z_start))
    {
        return Err(layout("the end record and the zip64 end record disagree"));
    }
    if z_start.checked_add(z_size) != Some(record_at as u64) {
        return Err(layout(
            "the central directory must end exactly where the zip64 end record begins",
        ));
    }
    Ok(End {
        central_start: z_start,
        central_count: z_count,
        central_end: record_at as u64,
    })
}

/// A central-directory entry, zip64 values resolved.
struct Central {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    symlink: bool,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    local_offset: u64,
}

fn read_central_directory(zip: &[u8], end: &End) -> Result<Vec<Central>, BundleError> {
    let mut at = usize::try_from(end.central_start).map_err(|_| layout("offset out of range"))?;
    let stop = usize::try_from(end.central_end).map_err(|_| layout("offset out of range"))?;
    let mut entries = Vec::new();
    while at < stop {
        if u32_at(zip, at) != Some(CENTRAL_HEADER) {
            return Err(layout(format!(
                "byte {at}: expected a central directory header"
            )));
        }
        let fixed = zip
            .get(at..at + CENTRAL_HEADER_LEN)
            .ok_or_else(|| layout("a central directory header is cut short"))?;
        let made_by = u16_at(fixed, 4).unwrap_or(0);
        let flags = u16_at(fixed, 8).unwrap_or(0);
        let method = u16_at(fixed, 10).unwrap_or(0);
        let crc32 = u32_at(fixed, 16).unwrap_or(0);
        let compressed = u32_at(fixed, 20).unwrap_or(0);
        let uncompressed = u32_at(fixed, 24).unwrap_or(0);
        let name_len = usize::from(u16_at(fixed, 28).unwrap_or(0));
        let extra_len = usize::from(u16_at(fixed, 30).unwrap_or(0));
        let comment_len = usize::from(u16_at(fixed, 32).unwrap_or(0));
        let disk = u16_at(fixed, 34).unwrap_or(0);
        let external = u32_at(fixed, 38).unwrap_or(0);
        let local = u32_at(fixed, 42).unwrap_or(0);
        let name_at = at + CENTRAL_HEADER_LEN;
        let extra_at = name_at + name_len;
        let next = extra_at + extra_len + comment_len;
        if next > stop {
            return Err(layout(
                "a central directory entry runs past the directory's end",
            ));
        }
        let name = zip[name_at..extra_at].to_vec();
        let extra = &zip[extra_at..extra_at + extra_len];
        let mut zip64 = Zip64Values::find(extra, &name)?;
        let uncompressed_size = zip64.resolve(uncompressed, &name)?;
        let compressed_size = zip64.resolve(compressed, &name)?;
        let local_offset = zip64.resolve(local, &name)?;
        if disk != 0 && !(disk == 0xFFFF && zip64.next_u32() == Some(0)) {
            return Err(layout("multi-disk archives are not accepted"));
        }
        const UNIX: u16 = 3;
        let symlink = made_by >> 8 == UNIX && (external >> 16) & 0o170_000 == 0o120_000;
        entries.push(Central {
            name,
            flags,
            method,
            symlink,
            crc32,
            compressed_size,
            uncompressed_size,
            local_offset,
        });
        at = next;
    }
    if at != stop {
        return Err(layout(
            "the central directory's last entry overruns its end",
        ));
    }
    if entries.len() as u64 != end.central_count {
        return Err(layout(format!(
            "the end record counts {} entries, the central directory holds {}",
            end.central_count,
            entries.len()
        )));
    }
    Ok(entries)
}

/// Checks the local header at `at` against `c`, and that its data and data
/// descriptor fill exactly `at..next`. Returns where the data lies.
fn read_local_entry(
    zip: &[u8],
    at: usize,
    next: usize,
    c: &Central,
) -> Result<Range<usize>, BundleError> {
    let name = lossy(&c.name);
    let mismatch = |what: &str| BundleError::HeaderMismatch {
        name: name.clone(),
        field: what.to_owned(),
    };
    if u32_at(zip, at) != Some(LOCAL_HEADER) {
        return Err(layout(format!(
            "entry {name:?}: no local header at byte {at}"
        )));
    }
    let fixed = zip
        .get(at..at + LOCAL_HEADER_LEN)
        .ok_or_else(|| layout("a local header is cut short"))?;
    let flags = u16_at(fixed, 6).unwrap_or(0);
    let method = u16_at(fixed, 8).unwrap_or(0);
    let crc32 = u32_at(fixed, 14).unwrap_or(0);
    let compressed = u32_at(fixed, 18).unwrap_or(0);
    let uncompressed = u32_at(fixed, 22).unwrap_or(0);
    let name_len = usize::from(u16_at(fixed, 26).unwrap_or(0));
    let extra_len = usize::from(u16_at(fixed, 28).unwrap_or(0));
    let name_at = at + LOCAL_HEADER_LEN;
    let data_start = name_at + name_len + extra_len;
    if data_start > next {
        return Err(layout(format!(
            "entry {name:?}: its local header overruns the next entry"
        )));
    }
    if zip[name_at..name_at + name_len] != c.name[..] {
        return Err(mismatch("name"));
    }
    if method != c.method {
        return Err(mismatch("compression method"));
    }
    if flags & MEANINGFUL_FLAGS != c.flags & MEANINGFUL_FLAGS {
        return Err(mismatch(
            "flags (encryption, data descriptor or name encoding)",
        ));
    }
    // A local zip64 field holds both sizes, uncompressed first, whenever either is
    // saturated.
    let extra = &zip[name_at + name_len..data_start];
    // Checked whether or not a size needs it: the local extra records must be
    // well formed too, or readers disagree on where the name and data begin.
    let mut zip64 = Zip64Values::find(extra, &c.name)?;
    let local_sizes = if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF {
        match (zip64.next_u64(), zip64.next_u64()) {
            (Some(uncompressed), Some(compressed)) => (compressed, uncompressed),
            _ => return Err(mismatch("zip64 sizes")),
        }
    } else {
        (u64::from(compressed), u64::from(uncompressed))
    };
    let central_sizes = (c.compressed_size, c.uncompressed_size);
    let data_end = data_start
        .checked_add(usize::try_from(c.compressed_size).map_err(|_| layout("size out of range"))?)
        .filter(|&end| end <= next)
        .ok_or_else(|| layout(format!("entry {name:?}: its data overruns the next entry")))?;
    let has_descriptor = flags & 1 << 3 != 0;
    if has_descriptor {
        // Each local field may be zero (not known when the header was written:
        // Info-ZIP streaming knows the size but not the CRC) or already right.
        let zero_or = |local: u64, central: u64| local == 0 || local == central;
        if !zero_or(u64::from(crc32), u64::from(c.crc32)) {
            return Err(mismatch("CRC-32"));
        }
        if !(zero_or(local_sizes.0, central_sizes.0) && zero_or(local_sizes.1, central_sizes.1)) {
            return Err(mismatch("sizes"));
        }
        check_descriptor(&zip[data_end..next], c).map_err(|()| mismatch("data descriptor"))?;
    } else {
        if crc32 != c.crc32 {
            return Err(mismatch("CRC-32"));
        }
        if local_sizes != central_sizes {
            return Err(mismatch("sizes"));
        }
        if data_end != next {
            return Err(layout(format!(
                "{} unaccounted bytes after the data of entry {name:?}",
                next - data_end
            )));
        }
    }
    Ok(data_start..data_end)
}

/// A data descriptor must fill `bytes` exactly, in one of its four forms, and
/// repeat the central directory's CRC and sizes.
fn check_descriptor(bytes: &[u8], c: &Central) -> Result<(), ()> {
    let body = match bytes {
        [a, b, cc, d, rest @ ..] if u32::from_le_bytes([*a, *b, *cc, *d]) == DATA_DESCRIPTOR => {
            rest
        }
        _ => bytes,
    };
    let (crc32, compressed, uncompressed) = match body.len() {
        12 => (
            u32_at(body, 0),
            u32_at(body, 4).map(u64::from),
            u32_at(body, 8).map(u64::from),
        ),
        20 => (u32_at(body, 0), u64_at(body, 4), u64_at(body, 12)),
        _ => return Err(()),
    };
    if crc32 == Some(c.crc32)
        && compressed == Some(c.compressed_size)
        && uncompressed == Some(c.uncompressed_size)
    {
        Ok(())
    } else {
        Err(())
    }
}

/// Info-ZIP's Unicode path extra field: a second name for the entry.
const UNICODE_PATH_EXTRA: u16 = 0x7075;

/// Extra record types with a fixed part, and its length: extended timestamp (flags),
/// Info-ZIP Unicode comment (version and CRC-32), data-stream alignment and Android's
/// zipalign record (the alignment). Readers that parse them refuse a shorter record,
/// so the bundle would not open.
const EXTRA_MIN_LEN: [(u16, usize); 4] = [(0x5455, 1), (0x6375, 5), (0xa11e, 2), (0xd935, 2)];

/// The values of a zip64 extra field, taken in order as saturated fields call for them.
struct Zip64Values<'a> {
    data: &'a [u8],
}

impl<'a> Zip64Values<'a> {
    /// The zip64 field of `extra` (empty if none), after checking every record: the
    /// records must tile the extra area, none may rename the entry, and none may be
    /// shorter than its type's fixed part.
    fn find(extra: &'a [u8], name: &[u8]) -> Result<Self, BundleError> {
        let mut at = 0;
        let mut found: Option<&[u8]> = None;
        while at < extra.len() {
            let (Some(id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) else {
                return Err(malformed_extra(name));
            };
            let end = at + 4 + usize::from(len);
            let Some(data) = extra.get(at + 4..end) else {
                return Err(malformed_extra(name));
            };
            if id == UNICODE_PATH_EXTRA {
                return Err(layout(format!(
                    "entry {:?}: an Info-ZIP Unicode path field (0x7075) gives it a second name, \
                     which some readers use instead of the header's; name entries in UTF-8 instead",
                    lossy(name)
                )));
            }
            if EXTRA_MIN_LEN
                .iter()
                .any(|&(kind, min)| kind == id && data.len() < min)
            {
                return Err(malformed_extra(name));
            }
            if id == ZIP64_EXTRA {
                if found.is_some() {
                    return Err(malformed_extra(name));
                }
                found = Some(data);
            }
            at = end;
        }
        Ok(Self {
            data: found.unwrap_or_default(),
        })
    }

    /// `short`, or the next zip64 value when `short` is saturated.
    fn resolve(&mut self, short: u32, name: &[u8]) -> Result<u64, BundleError> {
        if short == 0xFFFF_FFFF {
            self.next_u64().ok_or_else(|| malformed_extra(name))
        } else {
            Ok(u64::from(short))
        }
    }

    fn next_u64(&mut self) -> Option<u64> {
        let value = u64_at(self.data, 0)?;
        self.data = &self.data[8..];
        Some(value)
    }

    fn next_u32(&mut self) -> Option<u32> {
        let value = u32_at(self.data, 0)?;
        self.data = &self.data[4..];
        Some(value)
    }
}

fn malformed_extra(name: &[u8]) -> BundleError {
    layout(format!("entry {:?}: malformed extra fields", lossy(name)))
}

fn layout(detail: impl Into<String>) -> BundleError {
    BundleError::Malformed {
        detail: detail.into(),
    }
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}
