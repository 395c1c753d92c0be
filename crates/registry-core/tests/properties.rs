//! Property tests: validation never panics, and version order is SemVer precedence.
#![allow(missing_docs)]

use proptest::prelude::*;
use registry_core::bundle::validate_bundle;
use registry_core::manifest::{DocumentFormat, parse_document, validate_manifest};
use registry_core::version::PluginVersion;
use serde_json::Value;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("1.2.0"),
            Just("github"),
            Just("MIT"),
            Just("https://x.io"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("slug".to_owned()),
            Just("version".to_owned()),
            Just("actions".to_owned()),
            Just("tags".to_owned()),
            Just("name".to_owned()),
            Just("runtime".to_owned()),
            Just("environment".to_owned()),
            Just("dependencies".to_owned()),
            Just("compatibility".to_owned()),
            Just("signature".to_owned()),
            Just("memory".to_owned()),
            Just("timeout".to_owned()),
            Just("input".to_owned()),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn version_strategy() -> impl Strategy<Value = String> {
    // A tiny alphabet makes near-equal versions (shared prefixes, `a.b` against
    // `a-b`, `1` against `1.0`) common, which is where orderings go wrong.
    let ident = prop::sample::select(vec![
        "a", "b", "a-", "a-b", "ab", "0", "1", "10", "2", "alpha", "rc",
    ])
    .prop_map(str::to_owned);
    (
        0u64..2,
        0u64..2,
        0u64..2,
        prop::collection::vec(ident, 0..4),
    )
        .prop_map(|(a, b, c, pre)| {
            // Numeric identifiers must not have leading zeros.
            let pre: Vec<String> = pre
                .into_iter()
                .map(|p| match p.parse::<u64>() {
                    Ok(n) => n.to_string(),
                    Err(_) => p,
                })
                .collect();
            if pre.is_empty() {
                format!("{a}.{b}.{c}")
            } else {
                format!("{a}.{b}.{c}-{}", pre.join("."))
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn validation_never_panics_on_arbitrary_documents(value in arbitrary_json()) {
        let _ = validate_manifest(&value);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_text(text in ".{0,300}", yaml in any::<bool>()) {
        let format = if yaml { DocumentFormat::Yaml } else { DocumentFormat::Json };
        let _ = parse_document(text.as_bytes(), format);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_document(&bytes, DocumentFormat::Yaml);
        let _ = parse_document(&bytes, DocumentFormat::Json);
    }

    #[test]
    fn bundle_validation_never_panics_on_arbitrary_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = validate_bundle(&bytes);
        if bytes.len() >= 4 {
            bytes[..4].copy_from_slice(b"PK\x03\x04");
        }
        let _ = validate_bundle(&bytes);
    }

    #[test]
    fn version_order_is_semver_precedence(a in version_strategy(), b in version_strategy()) {
        let (Ok(va), Ok(vb)) = (PluginVersion::parse(&a), PluginVersion::parse(&b)) else {
            return Err(TestCaseError::reject("not a version"));
        };
        let expected = semver::Version::parse(&a).unwrap().cmp_precedence(&semver::Version::parse(&b).unwrap());
        prop_assert_eq!(va.cmp(&vb), expected);
        prop_assert_eq!(va.sort_key().cmp(&vb.sort_key()), expected, "sort keys {} / {}", va.sort_key(), vb.sort_key());
    }

    #[test]
    fn a_valid_manifest_survives_any_field_order_and_format(shuffle in any::<u64>()) {
        let yaml = "slug: weather\nversion: 1.0.0\nname: Weather\ndescription: Forecasts\nauthor: A\n\
                    homepage: https://w.io\nrepository: https://github.com/a/w\nlicense: MIT\nicon: https://w.io/i.png\n\
                    tags: [weather]\nactions:\n  - name: get_forecast\n    description: Forecast\n";
        let mut lines: Vec<&str> = yaml.lines().filter(|l| !l.starts_with("  ")).collect();
        let actions_tail = "  - name: get_forecast\n    description: Forecast\n";
        let n = lines.len();
        lines.rotate_left((shuffle as usize) % n);
        let mut doc = String::new();
        for line in lines {
            doc.push_str(line);
            doc.push('\n');
            if line.starts_with("actions:") {
                doc.push_str(actions_tail);
            }
        }
        let from_yaml = parse_document(doc.as_bytes(), DocumentFormat::Yaml);
        prop_assert!(from_yaml.is_ok(), "{:?}", from_yaml);
        let json = serde_json::to_vec(&from_yaml.unwrap()).unwrap();
        prop_assert!(parse_document(&json, DocumentFormat::Json).is_ok());
    }
}
