//! Writes the first inputs of every target's corpus from the test fixtures:
//! `fuzz-seeds <corpus dir>`. The fuzzer grows the corpus from these; what it kept
//! is committed (minimised), so this only matters for a target's first run.

use std::path::Path;

use registry_testkit::{TestPlugin, stored_zip_of, zip_of};
use serde_json::json;

const GITHUB_YAML: &str = include_str!("../../crates/registry-tests/fixtures/github.yaml");
const INFO_ZIP: &[u8] =
    include_bytes!("../../crates/registry-core/src/bundle/testdata/info-zip-r.zip");
const INFO_ZIP_STREAMED: &[u8] =
    include_bytes!("../../crates/registry-core/src/bundle/testdata/info-zip-streamed.zip");

fn settings_schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": "Web search",
        "properties": {
            "api_key": {"type": "string", "title": "API key", "writeOnly": true, "minLength": 8},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
            "safe_search": {"type": "boolean", "default": true},
            "ratio": {"type": "number", "minimum": 0.5, "examples": [0.75]},
            "domains": {"type": "array", "items": {"type": "string", "format": "hostname"},
                        "default": ["a.io"], "uniqueItems": true, "maxItems": 5},
            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 20, "deprecated": false}
        },
        "required": ["api_key"],
        "additionalProperties": false
    })
}

fn rich_manifest() -> serde_json::Value {
    let mut manifest: serde_json::Value =
        serde_json::from_str(&TestPlugin::new("web-search", "2.1.0-beta.1+build.5").json())
            .expect("the test plugin is JSON");
    manifest["settings_schema"] = settings_schema();
    manifest["environment"] = json!([
        {"name": "API_KEY", "description": "The key", "required": true},
        {"name": "REGION", "description": "Where", "required": false, "default": "eu"}
    ]);
    manifest["runtime"] = json!({"memory": "256MB", "timeout": 30});
    manifest["tags"] = json!(["Search", "web", "ai-agent"]);
    manifest["homepage"] = json!("https://example.com/web-search");
    manifest
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/zip\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// One multipart input: chunk-size byte, Content-Type line, body.
fn upload(chunk: u8, boundary: &str, body: &[u8]) -> Vec<u8> {
    let mut input = vec![chunk];
    input.extend_from_slice(format!("multipart/form-data; boundary={boundary}\n").as_bytes());
    input.extend_from_slice(body);
    input
}

fn write(root: &Path, target: &str, seeds: Vec<Vec<u8>>) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).expect("the corpus directory can be created");
    for (i, seed) in seeds.into_iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), seed).expect("a seed can be written");
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .expect("usage: fuzz-seeds <corpus dir>");
    let root = Path::new(&root);
    let plain = TestPlugin::new("github", "1.2.0").tags(&["vcs", "git"]);
    let rich = rich_manifest();
    let rich_json = serde_json::to_vec_pretty(&rich).expect("JSON");
    let wrapped = serde_json::to_vec(&json!({"plugin": rich})).expect("JSON");

    write(
        root,
        "manifest_json",
        vec![
            plain.json().into_bytes(),
            rich_json.clone(),
            wrapped,
            br#"{"slug":"a","slug":"b"}"#.to_vec(),
            b"[1, 2.5e10, -0, \"\\u00e9\\ud83d\\ude00\", null, true]".to_vec(),
        ],
    );
    write(
        root,
        "manifest_yaml",
        vec![
            GITHUB_YAML.as_bytes().to_vec(),
            plain.yaml().into_bytes(),
            format!("plugin:\n  slug: wrapped\n{}", "  version: 1.0.0\n").into_bytes(),
            b"a: &x [1, 2]\nb: *x\nc: !!str 3\nd: |\n  text\n".to_vec(),
            b"slug: github\nslug: again\n".to_vec(),
        ],
    );
    let plugin_json = TestPlugin::new("jsonone", "0.1.0").json();
    write(
        root,
        "bundle",
        vec![
            plain.bundle(),
            zip_of(&[
                ("plugin.json", plugin_json.as_bytes()),
                ("lib/run.py", b"print(1)\n"),
            ]),
            stored_zip_of(&[("plugin.yaml", plain.yaml().as_bytes()), ("dir/", b"")]),
            INFO_ZIP.to_vec(),
            INFO_ZIP_STREAMED.to_vec(),
        ],
    );
    write(root, "settings_schema", vec![
        serde_json::to_vec(&settings_schema()).expect("JSON"),
        br#"{"type":"object","properties":{}}"#.to_vec(),
        br#"{"type":"object","properties":{"n":{"type":"integer","enum":[1,2,3]}},"required":["n"]}"#
            .to_vec(),
    ]);
    let bundle = plain.bundle();
    write(
        root,
        "multipart",
        vec![
            upload(
                63,
                "xyz",
                &multipart("xyz", &[("file", Some("p.zip"), &bundle)]),
            ),
            upload(
                0,
                "b0",
                &multipart(
                    "b0",
                    &[
                        ("note", None, b"hi"),
                        ("file", Some("p.zip"), b"PK\x03\x04abc"),
                    ],
                ),
            ),
            upload(
                7,
                "----WebKitFormBoundary7MA4YWxkTrZu0gW",
                &multipart(
                    "----WebKitFormBoundary7MA4YWxkTrZu0gW",
                    &[
                        ("file", Some("a.zip"), b"PK\x03\x04"),
                        ("file", Some("b.zip"), b"PK\x03\x04"),
                    ],
                ),
            ),
            upload(3, "q", &multipart("q", &[("file", None, b"PK\x03\x04")])),
        ],
    );
    write(
        root,
        "index_path",
        vec![
            b"config.json".to_vec(),
            b"snapshot.json".to_vec(),
            b"timestamp.json".to_vec(),
            b"plugins/github.json".to_vec(),
            b"plugins/github/1.2.0.json".to_vec(),
            b"plugins/github/1.2.0-rc.1+build.7/schema".to_vec(),
            b"plugins/github/1.2.0/bundle".to_vec(),
            b"search/1a2.json".to_vec(),
            b"snapshot/1a2.json".to_vec(),
            b"plugins/../config.json".to_vec(),
        ],
    );
}
