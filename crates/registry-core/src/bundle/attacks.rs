//! Bundles built to mean two things, each refused; and real archivers' output,
//! accepted. The archives are assembled byte by byte, so each test states exactly
//! which part lies.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;

use flate2::Crc;
use flate2::write::DeflateEncoder;

use super::*;

const MANIFEST: &str = "slug: two-faced\nversion: 1.0.0\nname: N\ndescription: D\nauthor: A\n\
homepage: https://h.io\nrepository: https://h.io/r\nlicense: MIT\nicon: https://h.io/i.svg\n\
tags: [t]\nactions:\n  - name: run\n    description: Runs\n";

/// One entry's fields, written into its local header and central entry alike
/// unless a test changes one side.
#[derive(Clone)]
struct Raw {
    name: Vec<u8>,
    method: u16,
    flags: u16,
    crc32: u32,
    data: Vec<u8>,
    size: u32,
    local_extra: Vec<u8>,
    central_extra: Vec<u8>,
    /// Written after the data when flag bit 3 is set.
    descriptor: Vec<u8>,
}

fn deflated(name: &str, content: &[u8]) -> Raw {
    let mut encoder = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(content).unwrap();
    let mut crc = Crc::new();
    crc.update(content);
    Raw {
        name: name.as_bytes().to_vec(),
        method: 8,
        flags: 0,
        crc32: crc.sum(),
        data: encoder.finish().unwrap(),
        size: u32::try_from(content.len()).unwrap(),
        local_extra: Vec::new(),
        central_extra: Vec::new(),
        descriptor: Vec::new(),
    }
}

fn local(e: &Raw) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0x0403_4b50u32.to_le_bytes());
    out.extend(20u16.to_le_bytes());
    out.extend(e.flags.to_le_bytes());
    out.extend(e.method.to_le_bytes());
    out.extend([0u8; 4]);
    let (crc, compressed, size) = if e.flags & 8 != 0 {
        (0, 0, 0)
    } else {
        (e.crc32, u32::try_from(e.data.len()).unwrap(), e.size)
    };
    out.extend(crc.to_le_bytes());
    out.extend(compressed.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(u16::try_from(e.name.len()).unwrap().to_le_bytes());
    out.extend(u16::try_from(e.local_extra.len()).unwrap().to_le_bytes());
    out.extend(&e.name);
    out.extend(&e.local_extra);
    out.extend(&e.data);
    out.extend(&e.descriptor);
    out
}

fn central(e: &Raw, offset: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend((3u16 << 8 | 20).to_le_bytes());
    out.extend(20u16.to_le_bytes());
    out.extend(e.flags.to_le_bytes());
    out.extend(e.method.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(e.crc32.to_le_bytes());
    out.extend(u32::try_from(e.data.len()).unwrap().to_le_bytes());
    out.extend(e.size.to_le_bytes());
    out.extend(u16::try_from(e.name.len()).unwrap().to_le_bytes());
    out.extend(u16::try_from(e.central_extra.len()).unwrap().to_le_bytes());
    out.extend([0u8; 6]);
    out.extend((0o100_644u32 << 16).to_le_bytes());
    out.extend(u32::try_from(offset).unwrap().to_le_bytes());
    out.extend(&e.name);
    out.extend(&e.central_extra);
    out
}

fn end_record(count: usize, size: usize, offset: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(u16::try_from(count).unwrap().to_le_bytes());
    out.extend(u16::try_from(count).unwrap().to_le_bytes());
    out.extend(u32::try_from(size).unwrap().to_le_bytes());
    out.extend(u32::try_from(offset).unwrap().to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A well-formed archive of `entries`.
fn archive(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len());
        out.extend(local(e));
    }
    let start = out.len();
    for (e, offset) in entries.iter().zip(offsets) {
        out.extend(central(e, offset));
    }
    let size = out.len() - start;
    out.extend(end_record(entries.len(), size, start));
    out
}

fn manifest() -> Raw {
    deflated("plugin.yaml", MANIFEST.as_bytes())
}

fn refused(bytes: &[u8]) -> BundleError {
    match validate_bundle(bytes) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn the_hand_built_archive_is_accepted_as_the_baseline() {
    let bundle = validate_bundle(&archive(&[manifest(), deflated("lib/a.js", b"x = 1")])).unwrap();
    assert_eq!(bundle.manifest, MANIFEST.as_bytes());
    assert_eq!(bundle.entries, 2);
}

#[test]
fn real_info_zip_output_is_accepted_with_differing_extra_fields_and_data_descriptors() {
    for fixture in [
        &include_bytes!("testdata/info-zip-r.zip")[..],
        include_bytes!("testdata/info-zip-streamed.zip"),
    ] {
        let bundle = validate_bundle(fixture).unwrap();
        assert_eq!(bundle.entries, 3);
        assert!(bundle.manifest.starts_with(b"slug: info-zip"));
    }
}

#[test]
fn local_entries_the_central_directory_omits_are_refused() {
    for hidden in [
        deflated("plugin.json", br#"{"slug": "someone-else"}"#),
        deflated("../escape.sh", b"rm -rf ~"),
    ] {
        let visible = [manifest(), deflated("lib/a.js", b"x = 1")];
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        offsets.push(bytes.len());
        bytes.extend(local(&visible[0]));
        bytes.extend(local(&hidden));
        offsets.push(bytes.len());
        bytes.extend(local(&visible[1]));
        let start = bytes.len();
        for (e, offset) in visible.iter().zip(offsets) {
            bytes.extend(central(e, offset));
        }
        let size = bytes.len() - start;
        bytes.extend(end_record(2, size, start));
        assert!(matches!(refused(&bytes), BundleError::Malformed { .. }));
    }
}

#[test]
fn anything_before_between_or_after_the_records_is_refused() {
    let good = archive(&[manifest()]);
    // A whole archive in front: the real one's offsets no longer start at 0.
    let concatenated = [good.clone(), good.clone()].concat();
    // Two central directories, the end record naming the second.
    let entry = manifest();
    let mut two_directories = local(&entry);
    let first = two_directories.len();
    two_directories.extend(central(&entry, 0));
    let second = two_directories.len();
    two_directories.extend(central(&entry, 0));
    let size = two_directories.len() - second;
    two_directories.extend(end_record(1, size, second));
    let _ = first;
    // Bytes after the end record, or a second end record.
    let trailing = [good.clone(), b"junk".to_vec()].concat();
    let two_ends = [good.clone(), end_record(1, 0, 0)].concat();
    // A gap between the data and the central directory.
    let mut gap = local(&entry);
    gap.extend(b"hidden");
    let start = gap.len();
    gap.extend(central(&entry, 0));
    let size = gap.len() - start;
    gap.extend(end_record(1, size, start));
    for (what, bytes) in [
        ("concatenated", concatenated),
        ("two central directories", two_directories),
        ("trailing bytes", trailing),
        ("two end records", two_ends),
        ("a gap", gap),
    ] {
        assert!(
            matches!(validate_bundle(&bytes), Err(BundleError::Malformed { .. })),
            "{what}: {:?}",
            validate_bundle(&bytes).map(|b| b.entries)
        );
    }
}

#[test]
fn local_headers_must_agree_with_the_central_directory() {
    let lie = |change: fn(&mut Raw)| {
        let honest = manifest();
        let mut liar = honest.clone();
        change(&mut liar);
        let mut bytes = local(&liar);
        let start = bytes.len();
        bytes.extend(central(&honest, 0));
        let size = bytes.len() - start;
        bytes.extend(end_record(1, size, start));
        bytes
    };
    for (field, bytes) in [
        ("name", lie(|e| e.name = b"plugin.yml!".to_vec())),
        ("method", lie(|e| e.method = 0)),
        ("encryption", lie(|e| e.flags |= 1)),
        ("CRC-32", lie(|e| e.crc32 ^= 1)),
        ("size", lie(|e| e.size += 1)),
    ] {
        assert!(
            matches!(
                refused(&bytes),
                BundleError::HeaderMismatch { .. } | BundleError::Malformed { .. }
            ),
            "{field}: {:?}",
            refused(&bytes)
        );
    }
}

#[test]
fn declared_crc_and_sizes_must_match_the_data() {
    let mut wrong_crc = manifest();
    wrong_crc.crc32 ^= 0xdead;
    let mut wrong_size = manifest();
    wrong_size.size -= 1;
    // Deflate data followed by bytes the stream never reads.
    let mut padded = manifest();
    padded.data.extend(b"PK\x03\x04 hidden");
    for entry in [wrong_crc, wrong_size, padded] {
        assert!(matches!(
            refused(&archive(&[entry])),
            BundleError::CorruptEntry { .. }
        ));
    }
}

#[test]
fn data_descriptors_must_repeat_the_central_values_exactly() {
    let with_descriptor = |crc_delta: u32, signature: bool| {
        let mut e = manifest();
        e.flags |= 8;
        if signature {
            e.descriptor.extend(0x0807_4b50u32.to_le_bytes());
        }
        e.descriptor.extend((e.crc32 ^ crc_delta).to_le_bytes());
        e.descriptor
            .extend(u32::try_from(e.data.len()).unwrap().to_le_bytes());
        e.descriptor.extend(e.size.to_le_bytes());
        archive(&[e])
    };
    assert!(validate_bundle(&with_descriptor(0, true)).is_ok());
    assert!(validate_bundle(&with_descriptor(0, false)).is_ok());
    assert!(matches!(
        refused(&with_descriptor(1, true)),
        BundleError::HeaderMismatch { .. }
    ));
}

#[test]
fn zip64_sizes_must_agree_too() {
    let zip64 = |central_size: u64| {
        let mut e = manifest();
        let (compressed, size) = (e.data.len() as u64, u64::from(e.size));
        let field = |uncompressed: u64| {
            let mut f = 1u16.to_le_bytes().to_vec();
            f.extend(16u16.to_le_bytes());
            f.extend(uncompressed.to_le_bytes());
            f.extend(compressed.to_le_bytes());
            f
        };
        e.local_extra = field(size);
        e.central_extra = field(central_size);
        e.size = u32::MAX;
        // Both headers say "see zip64" for both sizes.
        let mut bytes = local(&e);
        bytes[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        let start = bytes.len();
        let mut c = central(&e, 0);
        c[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend(c);
        let size = bytes.len() - start;
        bytes.extend(end_record(1, size, start));
        bytes
    };
    let size = u64::from(manifest().size);
    assert!(
        validate_bundle(&zip64(size)).is_ok(),
        "{:?}",
        validate_bundle(&zip64(size)).err()
    );
    assert!(validate_bundle(&zip64(size + 1)).is_err());
}

#[test]
fn names_that_collide_once_unpacked_are_refused() {
    for second in ["PLUGIN.YAML", "Plugin.yaml"] {
        let bytes = archive(&[manifest(), deflated(second, b"other")]);
        assert!(matches!(
            refused(&bytes),
            BundleError::CollidingNames { .. }
        ));
    }
    let bytes = archive(&[manifest(), deflated("lib/a", b"1"), deflated("lib/A", b"2")]);
    assert!(matches!(
        refused(&bytes),
        BundleError::CollidingNames { .. }
    ));
}

#[test]
fn methods_other_than_stored_and_deflate_are_refused() {
    let mut bzip2 = manifest();
    bzip2.method = 12;
    assert!(matches!(
        refused(&archive(&[bzip2])),
        BundleError::UnsupportedMethod { method: 12, .. }
    ));
}

#[test]
fn a_second_name_in_a_unicode_path_field_is_refused() {
    // Info-ZIP's 0x7075 record: version 1, CRC-32 of the header name, the new name.
    let mut record = vec![1u8];
    let mut crc = Crc::new();
    crc.update(b"plugin.yaml");
    record.extend(crc.sum().to_le_bytes());
    record.extend(b"other.yaml");
    let mut extra = 0x7075u16.to_le_bytes().to_vec();
    extra.extend(u16::try_from(record.len()).unwrap().to_le_bytes());
    extra.extend(record);
    for (local_side, central_side) in [(true, false), (false, true)] {
        let mut entry = manifest();
        if local_side {
            entry.local_extra = extra.clone();
        }
        if central_side {
            entry.central_extra = extra.clone();
        }
        let refusal = refused(&archive(&[entry])).to_string();
        assert!(refusal.contains("0x7075"), "{refusal}");
    }
}

#[test]
fn extra_records_must_tile_the_local_extra_area_and_hold_their_fixed_part() {
    for extra in [
        vec![0x55, 0x54, 9, 0, 1], // an extended timestamp claiming 9 bytes, holding 1
        vec![0x55, 0x54, 0, 0],    // an extended timestamp without its flags byte
        vec![0x1e, 0xa1, 1, 0, 0], // an alignment record without its 2-byte size
        vec![0x35, 0xd9, 0, 0],    // Android's zipalign record, empty
        vec![0x01],                // half a record header
    ] {
        let mut entry = manifest();
        entry.local_extra = extra.clone();
        assert!(
            matches!(refused(&archive(&[entry])), BundleError::Malformed { .. }),
            "{extra:?}"
        );
    }
}

#[test]
fn an_entry_offset_outside_the_entries_area_is_refused() {
    let mut bytes = archive(&[manifest(), deflated("lib/a.py", b"print(1)\n")]);
    // Point the second central entry's local offset past the end of the file.
    let central_start = usize::try_from(u32::from_le_bytes(
        bytes[bytes.len() - 6..bytes.len() - 2].try_into().unwrap(),
    ))
    .unwrap();
    let second = central_start + 46 + "plugin.yaml".len();
    bytes[second + 42..second + 46].copy_from_slice(&u32::MAX.to_le_bytes()[..4]);
    assert!(matches!(refused(&bytes), BundleError::Malformed { .. }));
    // Past the file, with the first local header's name long enough to reach there:
    // the first entry's slices would run off the end of the file.
    bytes[second + 42..second + 46].copy_from_slice(&5_000u32.to_le_bytes());
    bytes[26..28].copy_from_slice(&2_000u16.to_le_bytes());
    assert!(matches!(refused(&bytes), BundleError::Malformed { .. }));
}
