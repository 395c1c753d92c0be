//! ZIP bundles: publishing one, and every class of bad ZIP.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn publish_zip(app: &TestApp, bytes: Vec<u8>, file_name: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/plugins"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/zip")
        .body(bytes);
    if let Some(name) = file_name {
        request = request.header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        );
    }
    request.send().await.unwrap()
}

async fn expect_bad_bundle(app: &TestApp, bytes: Vec<u8>, needle: &str) {
    let body = expect_problem(
        publish_zip(app, bytes, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "{detail:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn a_bundle_publishes_its_manifest_and_serves_the_zip() {
    let app = TestApp::spawn().await;
    let manifest = plugin_yaml("bundled", "1.0.0");
    let zip = zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("lib/main.js", b"export const run = () => 1;\n"),
        ("lib/", b""),
    ]);
    let response = publish_zip(&app, zip.clone(), Some("bundled-1.0.0.zip")).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );

    let details: Value = app.get_json("/plugins/bundled").await;
    assert_eq!(
        details["bundle_url"],
        app.url("/plugins/bundled/1.0.0/bundle")
    );
    assert_eq!(details["bundle_sha256"], sha256_hex(&zip));
    let bundle = app.get("/plugins/bundled/1.0.0/bundle").await;
    assert_eq!(bundle.headers()["content-type"], "application/zip");
    assert_eq!(bundle.bytes().await.unwrap().as_ref(), zip.as_slice());
    let schema = app
        .get("/plugins/bundled/1.0.0/schema")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        schema.as_ref(),
        manifest.as_bytes(),
        "the schema is the manifest inside the bundle"
    );
    assert_eq!(details["sha256"], sha256_hex(&schema));
}

#[tokio::test]
async fn bundles_must_be_named_zip_start_with_the_magic_and_fit_in_5_mb() {
    let app = TestApp::spawn().await;
    let good = zip_of(&[("plugin.yaml", plugin_yaml("named", "1.0.0").as_bytes())]);
    let body = expect_problem(
        publish_zip(&app, good, Some("plugin.tar")).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains(".zip"));
    expect_bad_bundle(&app, b"not a zip at all".to_vec(), "PK").await;
    let oversized = vec![0u8; 5 * 1024 * 1024 + 1];
    expect_problem(
        publish_zip(&app, oversized, None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let refusal = stream_until_answered(
        &app,
        "/plugins",
        &format!(
            "Authorization: Bearer {}\r\nContent-Type: application/zip\r\n",
            app.admin_key
        ),
        b"PK\x03\x04".to_vec(),
        50 * 1024 * 1024,
    )
    .await;
    assert!(
        refusal.head.starts_with("HTTP/1.1 413"),
        "counted while streaming, no Content-Length: {}",
        refusal.head
    );
    assert!(
        refusal.sent < 10 * 1024 * 1024,
        "refused after {} bytes",
        refusal.sent
    );
}

#[tokio::test]
async fn unsafe_paths_and_links_are_refused() {
    let app = TestApp::spawn().await;
    let manifest = plugin_yaml("unsafe", "1.0.0");
    expect_bad_bundle(
        &app,
        zip_of(&[("plugin.yaml", manifest.as_bytes()), ("../escape.sh", b"x")]),
        "'..'",
    )
    .await;
    expect_bad_bundle(
        &app,
        zip_of(&[
            ("plugin.yaml", manifest.as_bytes()),
            ("/etc/cron.d/x", b"x"),
        ]),
        "absolute",
    )
    .await;

    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("plugin.yaml", options).unwrap();
    std::io::Write::write_all(&mut writer, manifest.as_bytes()).unwrap();
    writer.add_symlink("lib", "/etc", options).unwrap();
    expect_bad_bundle(&app, writer.finish().unwrap().into_inner(), "symbolic link").await;
}

#[tokio::test]
async fn duplicate_entries_are_refused() {
    let app = TestApp::spawn().await;
    let manifest = plugin_yaml("dupes", "1.0.0");
    // A writer refuses duplicate names, so forge one by renaming the second entry.
    let zip = zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("plugin.yamx", manifest.as_bytes()),
    ]);
    let forged = patch_bytes(zip, b"plugin.yamx", b"plugin.yaml");
    let response = publish_zip(&app, forged, None).await;
    let body = expect_problem(response, StatusCode::BAD_REQUEST, "invalid_bundle").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("more than once") || detail.contains("duplicate"),
        "{detail}"
    );
}

#[tokio::test]
async fn zip_bombs_and_corrupt_entries_are_refused() {
    let app = TestApp::spawn().await;
    let manifest = plugin_yaml("bomb", "1.0.0");
    let zeros = vec![0u8; 20 * 1024 * 1024];
    expect_bad_bundle(
        &app,
        zip_of(&[("plugin.yaml", manifest.as_bytes()), ("zeros.bin", &zeros)]),
        "compression ratio",
    )
    .await;

    let many: Vec<(String, Vec<u8>)> = (0..2_001)
        .map(|i| (format!("f{i}.txt"), vec![b'x'; 1]))
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    expect_bad_bundle(&app, zip_of(&refs), "entries").await;

    let payload = b"console.log('hello, world');".to_vec();
    let zip = stored_zip_of(&[("plugin.yaml", manifest.as_bytes()), ("main.js", &payload)]);
    let corrupt = patch_bytes(zip, b"hello, world", b"HELLO, WORLD");
    expect_bad_bundle(&app, corrupt, "main.js").await;
}

#[tokio::test]
async fn a_bundle_needs_exactly_one_manifest_at_its_root() {
    let app = TestApp::spawn().await;
    expect_bad_bundle(
        &app,
        zip_of(&[("src/plugin.yaml", plugin_yaml("x1", "1.0.0").as_bytes())]),
        "no plugin.yaml",
    )
    .await;
    let yaml = plugin_yaml("x2", "1.0.0");
    expect_bad_bundle(
        &app,
        zip_of(&[("plugin.yaml", yaml.as_bytes()), ("plugin.json", b"{}")]),
        "both",
    )
    .await;
    let invalid = zip_of(&[("plugin.yaml", b"slug: x3\n")]);
    expect_problem(
        publish_zip(&app, invalid, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_bundle_just_under_the_cap_is_accepted() {
    let app = TestApp::spawn().await;
    let manifest = plugin_yaml("big-bundle", "1.0.0");
    // Incompressible bytes, stored, so the ZIP is as large as its content.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..5 * 1024 * 1024 - 4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let zip = stored_zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("assets/blob.bin", &noise),
    ]);
    assert!(
        zip.len() <= 5 * 1024 * 1024 && zip.len() > 5 * 1024 * 1024 - 8192,
        "{}",
        zip.len()
    );
    let response = publish_zip(&app, zip.clone(), Some("big.zip")).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    let served = app
        .get("/plugins/big-bundle/1.0.0/bundle")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&served), sha256_hex(&zip));
}
