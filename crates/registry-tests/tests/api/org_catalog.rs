//! The org-scoped catalog over HTTP: every gate, system and org plugins in one
//! list, soft delete, settings schemas, and the upload checks.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    TestApp, UPLOAD_BOUNDARY as BOUNDARY, expect_problem, multipart_upload as multipart,
    patch_bytes, plugin_yaml, sha256_hex, stored_zip_of, stream_until_answered, tagged_zip, zip_of,
};

const READ: &str = "cadence:org:plugins:read";
const WRITE: &str = "cadence:org:plugins:write";

/// A principal with one key.
struct Member {
    key: String,
    principal: String,
}

/// A registry with orgs `acme` and `globex` and principals in every gate's corner.
struct World {
    app: TestApp,
    /// `write` permission, member of acme, publish key.
    acme_writer: Member,
    /// `read` permission, member of acme, read-only key.
    acme_reader: Member,
    /// `write` permission, member of globex.
    globex_writer: Member,
    /// `write` permission but member of globex only.
    outsider: Member,
    /// Member of acme with no permission.
    unpermitted: Member,
}

impl World {
    async fn new() -> Self {
        Self::on(TestApp::spawn().await).await
    }

    /// The world on `app`, which may be configured for signing in.
    async fn on(app: TestApp) -> Self {
        for (id, name) in [("acme", "Acme Corp"), ("globex", "Globex")] {
            let response = admin(
                &app,
                Method::POST,
                "/api/orgs",
                Some(json!({"id": id, "name": name})),
            )
            .await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let acme_writer = member(&app, "acme-writer", &["publish"], &[WRITE], &["acme"]).await;
        let acme_reader = member(&app, "acme-reader", &["read"], &[READ], &["acme"]).await;
        let globex_writer =
            member(&app, "globex-writer", &["publish"], &[WRITE], &["globex"]).await;
        let outsider = member(&app, "outsider", &["publish"], &[WRITE], &["globex"]).await;
        let unpermitted = member(&app, "unpermitted", &["publish"], &[], &["acme"]).await;
        Self {
            app,
            acme_writer,
            acme_reader,
            globex_writer,
            outsider,
            unpermitted,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send().await.expect("request")
    }

    async fn json_ok(&self, path: &str, key: &str) -> Value {
        let response = self.call(Method::GET, path, Some(key), None).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    async fn upload(&self, path: &str, key: &str, file_name: Option<&str>, zip: &[u8]) -> Response {
        let (content_type, body) = multipart(file_name, zip);
        self.app
            .send_body(Method::POST, path, Some(key), &content_type, body)
            .await
    }

    /// Uploads to acme and returns the created row.
    async fn upload_to_acme(&self, zip: &[u8]) -> Value {
        let response = self
            .upload(
                "/api/orgs/acme/plugins/upload",
                &self.acme_writer.key,
                Some("plugin.zip"),
                zip,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Uploads to the system catalog (the bootstrap admin is `sys_admin`).
    async fn upload_system(&self, zip: &[u8]) -> Value {
        let response = self
            .upload(
                "/api/system/plugins/upload",
                &self.app.admin_key,
                Some("plugin.zip"),
                zip,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    async fn set_enabled(
        &self,
        org: &str,
        plugin_id: &Value,
        key: &str,
        enabled: bool,
    ) -> Response {
        let path = format!(
            "/api/orgs/{org}/plugins/{}",
            plugin_id.as_str().expect("id")
        );
        self.call(
            Method::PATCH,
            &path,
            Some(key),
            Some(json!({"enabled": enabled})),
        )
        .await
    }

    /// The pids (with source) of an org's list under `query`.
    async fn listed(&self, org: &str, key: &str, query: &str) -> Vec<String> {
        let body = self
            .json_ok(&format!("/api/orgs/{org}/plugins{query}"), key)
            .await;
        assert_eq!(
            body["total"],
            body["plugins"].as_array().expect("plugins").len()
        );
        body["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .map(|p| {
                format!(
                    "{}:{}@{}:{}",
                    p["source"].as_str().unwrap(),
                    p["pid"].as_str().unwrap(),
                    p["version"].as_str().unwrap(),
                    if p["enabled"] == true { "on" } else { "off" }
                )
            })
            .collect()
    }
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin_key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    request.send().await.expect("admin request")
}

/// A new principal with a key of `scopes`, holding `permissions`, in `orgs`.
async fn member(
    app: &TestApp,
    name: &str,
    scopes: &[&str],
    permissions: &[&str],
    orgs: &[&str],
) -> Member {
    let response = admin(
        app,
        Method::POST,
        "/auth/keys",
        Some(json!({"name": name, "scopes": scopes, "new_principal": {"name": name, "kind": "user"}})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    let principal = created["principal"].as_str().expect("principal").to_owned();
    for permission in permissions {
        let path = format!("/api/principals/{principal}/permissions/{permission}");
        assert_eq!(
            admin(app, Method::PUT, &path, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    for org in orgs {
        let path = format!("/api/orgs/{org}/members/{principal}");
        assert_eq!(
            admin(app, Method::PUT, &path, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    Member {
        key: created["key"].as_str().expect("key").to_owned(),
        principal,
    }
}

/// A plugin ZIP: the manifest (plus `extra` manifest lines) and some code.
fn plugin_zip(pid: &str, version: &str, extra: &str) -> Vec<u8> {
    let manifest = format!("{}{extra}", plugin_yaml(pid, version));
    zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("agent/main.py", b"def run():\n    return 42\n"),
    ])
}

const SETTINGS: &str = "settings_schema:\n  type: object\n  properties:\n    api_key:\n      type: string\n      title: API key\n      writeOnly: true\n    max_results:\n      type: integer\n      minimum: 1\n      maximum: 50\n      default: 10\n  required: [api_key]\ncapabilities: [web_search]\n";

#[tokio::test]
async fn every_gate_refuses_with_its_own_status_and_code() {
    let w = World::new().await;
    let list = "/api/orgs/acme/plugins";
    expect_problem(
        w.call(Method::GET, list, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            list,
            Some("sk_0000000000000000000000000000000000000000000000000000000000000000"),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let body = expect_problem(
        w.call(Method::GET, list, Some(&w.unpermitted.key), None)
            .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains(READ), "{body}");
    expect_problem(
        w.call(Method::GET, list, Some(&w.outsider.key), None).await,
        StatusCode::FORBIDDEN,
        "not_org_member",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/initech/plugins",
            Some(&w.acme_writer.key),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "org_not_found",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/Not%20An%20Org/plugins",
            Some(&w.acme_writer.key),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "org_not_found",
    )
    .await;
    // The permission check comes first: someone without it learns nothing about orgs.
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/initech/plugins",
            Some(&w.unpermitted.key),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    // Writes: a read permission is not enough, nor is a read-only key.
    let zip = plugin_zip("acme-crm", "1.0.0", "");
    let upload = "/api/orgs/acme/plugins/upload";
    expect_problem(
        w.upload(upload, &w.acme_reader.key, Some("p.zip"), &zip)
            .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    let reader_with_publish_key = w.call(
        Method::POST, "/auth/keys", Some(&w.app.admin_key),
        Some(json!({"name": "reader-ci", "scopes": ["publish"], "principal": w.acme_reader.principal})),
    ).await;
    let reader_ci: Value = reader_with_publish_key.json().await.unwrap();
    expect_problem(
        w.upload(
            upload,
            reader_ci["key"].as_str().unwrap(),
            Some("p.zip"),
            &zip,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    expect_problem(
        w.upload(upload, &w.outsider.key, Some("p.zip"), &zip).await,
        StatusCode::FORBIDDEN,
        "not_org_member",
    )
    .await;
    expect_problem(
        w.upload("/api/orgs/acme/plugins/upload", "", Some("p.zip"), &zip)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // The system catalog and administration need sys_admin.
    expect_problem(
        w.upload(
            "/api/system/plugins/upload",
            &w.acme_writer.key,
            Some("p.zip"),
            &zip,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/system/plugins",
            Some(&w.acme_writer.key),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    expect_problem(
        w.call(
            Method::POST,
            "/api/orgs",
            Some(&w.acme_writer.key),
            Some(json!({"id": "mine", "name": "Mine"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    let path = format!("/api/orgs/acme/members/{}", w.outsider.principal);
    expect_problem(
        w.call(Method::PUT, &path, Some(&w.acme_writer.key), None)
            .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    // Nothing above was uploaded.
    assert!(w.listed("acme", &w.acme_reader.key, "").await.is_empty());
}

#[tokio::test]
async fn system_plugins_reach_every_org_and_org_plugins_never_leak() {
    let w = World::new().await;
    let system = w
        .upload_system(&plugin_zip("web-search", "1.0.0", SETTINGS))
        .await;
    assert_eq!(
        (system["source"].as_str(), system["enabled"].as_bool()),
        (Some("system"), Some(true))
    );
    let own = w.upload_to_acme(&plugin_zip("acme-crm", "1.0.0", "")).await;
    assert_eq!(own["source"], "org");

    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "").await,
        ["org:acme-crm@1.0.0:on", "system:web-search@1.0.0:off"],
        "one list, org and system together; system plugins start disabled in each org"
    );
    assert_eq!(
        w.listed("globex", &w.globex_writer.key, "").await,
        ["system:web-search@1.0.0:off"]
    );

    // Nothing of acme's is reachable from globex, by pid or by plugin_id.
    for path in [
        "/api/orgs/globex/plugins/acme-crm/versions",
        "/api/orgs/globex/plugins/acme-crm/settings-schema",
    ] {
        expect_problem(
            w.call(Method::GET, path, Some(&w.globex_writer.key), None)
                .await,
            StatusCode::NOT_FOUND,
            "catalog_plugin_not_found",
        )
        .await;
    }
    expect_problem(
        w.set_enabled("globex", &own["plugin_id"], &w.globex_writer.key, false)
            .await,
        StatusCode::NOT_FOUND,
        "catalog_plugin_not_found",
    )
    .await;
    let delete = format!(
        "/api/orgs/globex/plugins/{}",
        own["plugin_id"].as_str().unwrap()
    );
    expect_problem(
        w.call(Method::DELETE, &delete, Some(&w.globex_writer.key), None)
            .await,
        StatusCode::NOT_FOUND,
        "catalog_plugin_not_found",
    )
    .await;
    expect_problem(
        w.call(
            Method::DELETE,
            "/api/orgs/acme/plugins/plg_zz",
            Some(&w.acme_writer.key),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "catalog_plugin_not_found",
    )
    .await;
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true").await,
        ["org:acme-crm@1.0.0:on"],
        "globex's attempts changed nothing"
    );

    // Each org enables a system plugin for itself only.
    let enabled = w
        .set_enabled("acme", &system["plugin_id"], &w.acme_writer.key, true)
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(
        (enabled["enabled"].as_bool(), enabled["source"].as_str()),
        (Some(true), Some("system"))
    );
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true").await,
        ["org:acme-crm@1.0.0:on", "system:web-search@1.0.0:on"]
    );
    assert!(
        w.listed("globex", &w.globex_writer.key, "?enabled=true")
            .await
            .is_empty()
    );
    let platform_view = w.json_ok("/api/system/plugins", &w.app.admin_key).await;
    assert_eq!(
        platform_view["plugins"][0]["enabled"], true,
        "an org's choice never changes the system row"
    );

    // Only sys_admin changes the system row; disabling it there wins over every org.
    let system_path = format!(
        "/api/system/plugins/{}",
        system["plugin_id"].as_str().unwrap()
    );
    expect_problem(
        w.call(
            Method::PATCH,
            &system_path,
            Some(&w.acme_writer.key),
            Some(json!({"enabled": false})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    let off = w
        .call(
            Method::PATCH,
            &system_path,
            Some(&w.app.admin_key),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?source=system").await,
        ["system:web-search@1.0.0:off"]
    );
    expect_problem(
        w.set_enabled("globex", &system["plugin_id"], &w.globex_writer.key, true)
            .await,
        StatusCode::CONFLICT,
        "system_plugin_disabled",
    )
    .await;
    let on = w
        .call(
            Method::PATCH,
            &system_path,
            Some(&w.app.admin_key),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?source=system").await,
        ["system:web-search@1.0.0:on"],
        "acme's own choice was kept"
    );

    // Filters.
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?tag=tools&source=org")
            .await,
        ["org:acme-crm@1.0.0:on"]
    );
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?tag=Tools&source=org")
            .await,
        ["org:acme-crm@1.0.0:on"],
        "a tag filter ignores case, as search does"
    );
    assert!(
        w.listed("acme", &w.acme_reader.key, "?tag=nothing-has-this")
            .await
            .is_empty()
    );
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins?source=public",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins?enabled=maybe",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn soft_delete_hides_from_the_enabled_list_keeps_versions_and_artifact_and_patch_restores() {
    let w = World::new().await;
    let zip_v1 = plugin_zip("acme-crm", "1.0.0", "");
    let zip_v11 = plugin_zip("acme-crm", "1.1.0", "");
    let v1 = w.upload_to_acme(&zip_v1).await;
    let v11 = w.upload_to_acme(&zip_v11).await;
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "").await,
        ["org:acme-crm@1.1.0:on"],
        "the list shows the highest enabled version"
    );

    let path = format!(
        "/api/orgs/acme/plugins/{}",
        v11["plugin_id"].as_str().unwrap()
    );
    let deleted = w
        .call(Method::DELETE, &path, Some(&w.acme_writer.key), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted["enabled"], false);
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true").await,
        ["org:acme-crm@1.0.0:on"]
    );

    let path_v1 = format!(
        "/api/orgs/acme/plugins/{}",
        v1["plugin_id"].as_str().unwrap()
    );
    assert_eq!(
        w.call(Method::DELETE, &path_v1, Some(&w.acme_writer.key), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true")
            .await
            .is_empty(),
        "gone from the enabled list"
    );
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=false").await,
        ["org:acme-crm@1.1.0:off"]
    );

    let versions = w
        .json_ok(
            "/api/orgs/acme/plugins/acme-crm/versions",
            &w.acme_reader.key,
        )
        .await;
    let shown: Vec<(String, bool)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_owned(),
                v["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("1.1.0".to_owned(), false), ("1.0.0".to_owned(), false)],
        "soft-deleted versions stay listed"
    );
    for (row, zip) in [(&v1, &zip_v1), (&v11, &zip_v11)] {
        let file = w.app.data.path().join(format!(
            "catalog/orgs/acme/acme-crm/{}/{}.zip",
            row["version"].as_str().unwrap(),
            row["sha256"].as_str().unwrap()
        ));
        let kept = std::fs::read(&file).expect("the artifact is kept");
        assert_eq!(sha256_hex(&kept), sha256_hex(zip));
    }

    let restored = w
        .set_enabled("acme", &v11["plugin_id"], &w.acme_writer.key, true)
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true").await,
        ["org:acme-crm@1.1.0:on"]
    );

    // Bad PATCH bodies are refused and change nothing.
    for (body, status, code) in [
        (
            "{\"enabled\": \"yes\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "{\"enabled\": false, \"name\": \"x\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        ("enabled=false", StatusCode::BAD_REQUEST, "malformed_json"),
    ] {
        let response = w
            .app
            .send_body(
                Method::PATCH,
                &path,
                Some(&w.acme_writer.key),
                "application/json",
                body,
            )
            .await;
        expect_problem(response, status, code).await;
    }
    expect_problem(
        w.set_enabled("acme", &v11["plugin_id"], &w.acme_reader.key, false)
            .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "?enabled=true").await,
        ["org:acme-crm@1.1.0:on"]
    );
}

#[tokio::test]
async fn settings_schemas_are_served_for_forms() {
    let w = World::new().await;
    w.upload_to_acme(&plugin_zip("web-search", "1.0.0", SETTINGS))
        .await;
    let plain = w.upload_to_acme(&plugin_zip("plain", "0.1.0", "")).await;
    assert_eq!(plain["has_settings"], false);
    assert_eq!(
        plain["capabilities"],
        json!(["run"]),
        "without declared capabilities, the action names"
    );

    let schema = w
        .json_ok(
            "/api/orgs/acme/plugins/web-search/settings-schema",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(schema["version"], "1.0.0");
    assert_eq!(schema["source"], "org");
    assert_eq!(schema["settings_schema"]["required"], json!(["api_key"]));
    assert_eq!(
        schema["settings_schema"]["properties"]["max_results"]["default"],
        10
    );
    assert_eq!(
        schema["settings_schema"]["properties"]["api_key"]["writeOnly"],
        true
    );

    let empty = w
        .json_ok(
            "/api/orgs/acme/plugins/plain/settings-schema",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(
        empty["settings_schema"],
        json!({"type": "object", "properties": {}})
    );

    // A version without settings, and an explicit version.
    w.upload_to_acme(&plugin_zip("web-search", "2.0.0", ""))
        .await;
    let latest = w
        .json_ok(
            "/api/orgs/acme/plugins/web-search/settings-schema",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(
        (
            latest["version"].as_str(),
            latest["settings_schema"]["properties"]
                .as_object()
                .map(|p| p.len())
        ),
        (Some("2.0.0"), Some(0))
    );
    let pinned = w
        .json_ok(
            "/api/orgs/acme/plugins/web-search/settings-schema?version=1.0.0",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(pinned["settings_schema"]["required"], json!(["api_key"]));
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins/web-search/settings-schema?version=9.9.9",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "catalog_plugin_not_found",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins/web-search/settings-schema?version=one",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;

    // The org's own plugin shadows a system one of the same pid unless asked for.
    w.upload_system(&plugin_zip("plain", "5.0.0", SETTINGS))
        .await;
    let own = w
        .json_ok(
            "/api/orgs/acme/plugins/plain/settings-schema",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(
        (own["source"].as_str(), own["version"].as_str()),
        (Some("org"), Some("0.1.0"))
    );
    let platform = w
        .json_ok(
            "/api/orgs/acme/plugins/plain/settings-schema?source=system",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(
        (platform["source"].as_str(), platform["version"].as_str()),
        (Some("system"), Some("5.0.0"))
    );
    let versions = w
        .json_ok(
            "/api/orgs/acme/plugins/plain/versions?source=system",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins/nope/versions",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "catalog_plugin_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_good_bundle_is_discovered_and_a_retry_is_idempotent() {
    let w = World::new().await;
    let zip = plugin_zip("web-search", "1.2.0", SETTINGS);
    let created = w.upload_to_acme(&zip).await;
    assert_eq!(created["pid"], "web-search");
    assert_eq!(created["version"], "1.2.0");
    assert_eq!(created["name"], "web-search plugin");
    assert_eq!(created["description"], "Does useful things");
    assert_eq!(created["capabilities"], json!(["web_search"]));
    assert_eq!(created["has_settings"], true);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["sha256"], sha256_hex(&zip));
    assert_eq!(created["size"], zip.len());
    assert_eq!(created["uploaded_by"], w.acme_writer.principal.as_str());
    assert!(created["plugin_id"].as_str().unwrap().starts_with("plg_"));

    let again = w
        .upload(
            "/api/orgs/acme/plugins/upload",
            &w.acme_writer.key,
            Some("plugin.zip"),
            &zip,
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the same ZIP again is not a conflict"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["plugin_id"], created["plugin_id"]);

    let changed = plugin_zip("web-search", "1.2.0", "");
    let conflict = w
        .upload(
            "/api/orgs/acme/plugins/upload",
            &w.acme_writer.key,
            Some("plugin.zip"),
            &changed,
        )
        .await;
    let body = expect_problem(conflict, StatusCode::CONFLICT, "version_exists").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("bump the version"),
        "{body}"
    );

    // The raw ZIP with a Content-Disposition file name works too.
    let raw = w
        .app
        .client
        .post(w.app.url("/api/orgs/acme/plugins/upload"))
        .bearer_auth(&w.acme_writer.key)
        .header("content-type", "application/zip")
        .header("content-disposition", "attachment; filename=\"crm.zip\"")
        .body(plugin_zip("acme-crm", "1.0.0", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::CREATED);
    let versions = w
        .json_ok(
            "/api/orgs/acme/plugins/web-search/versions",
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        1,
        "no half rows from the refused uploads"
    );
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_leave_nothing() {
    let w = World::new().await;
    let path = "/api/orgs/acme/plugins/upload";
    let key = &w.acme_writer.key;
    let good = plugin_zip("web-search", "1.0.0", "");

    let body = expect_problem(
        w.upload(path, key, Some("plugin.tar.gz"), &good).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains(".zip"), "{body}");
    let body = expect_problem(
        w.upload(
            path,
            key,
            Some("plugin.zip"),
            b"#!/bin/sh\necho not a zip\n",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("PK"), "{body}");

    let mut over = b"PK\x03\x04".to_vec();
    over.resize(5 * 1024 * 1024 + 1, 0);
    expect_problem(
        w.upload(path, key, Some("big.zip"), &over).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    over.pop();
    let at_cap = w.upload(path, key, Some("big.zip"), &over).await;
    expect_problem(at_cap, StatusCode::BAD_REQUEST, "invalid_bundle").await;

    let traversal = zip_of(&[
        ("plugin.yaml", plugin_yaml("web-search", "1.0.0").as_bytes()),
        ("../../etc/cron.d/evil", b"* * * * * root sh"),
    ]);
    let body = expect_problem(
        w.upload(path, key, Some("plugin.zip"), &traversal).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("unsafe path"),
        "{body}"
    );

    let bomb = zip_of(&[
        ("plugin.yaml", plugin_yaml("web-search", "1.0.0").as_bytes()),
        ("zeros.bin", &vec![0u8; 60 * 1024 * 1024]),
    ]);
    assert!(bomb.len() < 1024 * 1024, "the bomb is small on the wire");
    let body = expect_problem(
        w.upload(path, key, Some("plugin.zip"), &bomb).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("compression ratio")
            || body["detail"].as_str().unwrap().contains("decompresses"),
        "{body}"
    );

    let no_manifest = zip_of(&[("README.md", b"# hello")]);
    let body = expect_problem(
        w.upload(path, key, Some("plugin.zip"), &no_manifest).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("plugin.yaml"),
        "{body}"
    );

    let bad_settings = plugin_zip(
        "web-search",
        "1.0.0",
        "settings_schema:\n  type: object\n  properties:\n    token:\n      type: object\n    count:\n      type: integer\n      default: many\n",
    );
    let body = expect_problem(
        w.upload(path, key, Some("plugin.zip"), &bad_settings).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "settings_schema.properties.count.default",
            "settings_schema.properties.token.type"
        ],
        "{body}"
    );

    let corrupt_crc = patch_bytes(
        stored_zip_of(&[
            ("plugin.yaml", plugin_yaml("web-search", "1.0.0").as_bytes()),
            ("x.txt", b"hello hello"),
        ]),
        b"hello",
        b"jello",
    );
    expect_problem(
        w.upload(path, key, Some("plugin.zip"), &corrupt_crc).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;

    // Form mistakes.
    expect_problem(
        w.upload(path, key, None, &good).await,
        StatusCode::BAD_REQUEST,
        "missing_file_name",
    )
    .await;
    let (content_type, _) = multipart(Some("p.zip"), &good);
    let empty_form = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{BOUNDARY}--\r\n"
    );
    expect_problem(
        w.app
            .send_body(Method::POST, path, Some(key), &content_type, empty_form)
            .await,
        StatusCode::BAD_REQUEST,
        "missing_file",
    )
    .await;
    expect_problem(
        w.app
            .send_body(Method::POST, path, Some(key), "text/plain", good.clone())
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let truncated = multipart(Some("p.zip"), &good).1[..200].to_vec();
    expect_problem(
        w.app
            .send_body(Method::POST, path, Some(key), &content_type, truncated)
            .await,
        StatusCode::BAD_REQUEST,
        "malformed_form",
    )
    .await;

    assert!(
        w.listed("acme", &w.acme_reader.key, "").await.is_empty(),
        "no refused upload left a row"
    );
    assert!(
        !w.app.data.path().join("catalog").exists(),
        "nor an artifact"
    );
}

/// A 50 MB upload sent in chunks without a declared length: the 413 must come back
/// while the client is still sending, after about 5 MB.
#[tokio::test]
async fn an_oversized_streamed_upload_is_refused_before_it_is_sent() {
    let w = World::new().await;
    let address = w.app.base.trim_start_matches("http://").to_owned();
    const TOTAL: usize = 50 * 1024 * 1024;
    let part_head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.zip\"\r\n\r\nPK\x03\x04"
    );
    let refusal = stream_until_answered(
        &w.app,
        "/api/orgs/acme/plugins/upload",
        &format!(
            "Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n",
            w.acme_writer.key
        ),
        part_head.into_bytes(),
        TOTAL,
    )
    .await;
    let head = refusal.head;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("application/problem+json"),
        "{head}"
    );
    assert!(
        refusal.sent < TOTAL / 2,
        "the refusal came after {} bytes of {TOTAL}",
        refusal.sent
    );

    // A declared length over the cap is refused before any of the body is sent.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/orgs/acme/plugins/upload HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {TOTAL}\r\n\r\n",
        w.acme_writer.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn administration_validates_and_is_idempotent() {
    let w = World::new().await;
    for (body, status, code) in [
        (
            json!({"id": "Acme Corp", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"id": "ok-org", "name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"id": "acme", "name": "Again"}),
            StatusCode::CONFLICT,
            "org_exists",
        ),
        (
            json!({"org": "acme"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        expect_problem(
            admin(&w.app, Method::POST, "/api/orgs", Some(body)).await,
            status,
            code,
        )
        .await;
    }
    let orgs: Value = admin(&w.app, Method::GET, "/api/orgs", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = orgs["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "globex"]);

    let alice = &w.acme_writer.principal;
    let add = format!("/api/orgs/acme/members/{alice}");
    assert_eq!(
        admin(&w.app, Method::PUT, &add, None).await.status(),
        StatusCode::NO_CONTENT,
        "adding twice is fine"
    );
    let members: Value = admin(&w.app, Method::GET, "/api/orgs/acme/members", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 3, "{members}");
    expect_problem(
        admin(
            &w.app,
            Method::PUT,
            "/api/orgs/acme/members/prn_nobody",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "principal_not_found",
    )
    .await;
    expect_problem(
        admin(
            &w.app,
            Method::PUT,
            &format!("/api/orgs/initech/members/{alice}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "org_not_found",
    )
    .await;
    expect_problem(
        admin(&w.app, Method::GET, "/api/orgs/initech/members", None).await,
        StatusCode::NOT_FOUND,
        "org_not_found",
    )
    .await;

    // Removing a member closes the org to them at once.
    assert_eq!(
        admin(&w.app, Method::DELETE, &add, None).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        admin(&w.app, Method::DELETE, &add, None).await,
        StatusCode::NOT_FOUND,
        "member_not_found",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins",
            Some(&w.acme_writer.key),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_org_member",
    )
    .await;

    // Permissions: granted, listed, revoked.
    let reader = &w.acme_reader.principal;
    let own = w
        .json_ok(
            &format!("/api/principals/{reader}/permissions"),
            &w.acme_reader.key,
        )
        .await;
    assert_eq!(own["permissions"], json!([READ]));
    expect_problem(
        w.call(
            Method::GET,
            &format!("/api/principals/{alice}/permissions"),
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    expect_problem(
        admin(
            &w.app,
            Method::PUT,
            &format!("/api/principals/{reader}/permissions/superuser"),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        admin(
            &w.app,
            Method::PUT,
            &format!("/api/principals/prn_nobody/permissions/{READ}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "principal_not_found",
    )
    .await;
    assert_eq!(
        admin(
            &w.app,
            Method::DELETE,
            &format!("/api/principals/{reader}/permissions/{READ}"),
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        admin(
            &w.app,
            Method::DELETE,
            &format!("/api/principals/{reader}/permissions/{READ}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "permission_not_held",
    )
    .await;
    expect_problem(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins",
            Some(&w.acme_reader.key),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;

    // The first admin of a fresh registry is the platform admin.
    let keys: Value = admin(&w.app, Method::GET, "/auth/keys", None)
        .await
        .json()
        .await
        .unwrap();
    let admin_principal = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "admin")
        .and_then(|k| k["principal"].as_str())
        .unwrap()
        .to_owned();
    let perms: Value = admin(
        &w.app,
        Method::GET,
        &format!("/api/principals/{admin_principal}/permissions"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(perms["permissions"], json!(["sys_admin"]));
}

/// The principal id the account page shows.
pub(crate) fn principal_on(account_page: &str) -> String {
    let marker = "<code id=\"principal-id\">";
    let start = account_page.find(marker).expect("the principal id") + marker.len();
    let end = account_page[start..].find('<').expect("its end") + start;
    account_page[start..end].to_owned()
}

const SECRET_SETTINGS: &str = "settings_schema:\n  type: object\n  properties:\n    api_key:\n      type: string\n      title: API key\n      writeOnly: true\n      default: sk-never-on-a-page\n    region:\n      type: string\n      enum: [eu, us]\n      default: us\n  required: [api_key]\n";

#[tokio::test]
async fn the_org_catalog_pages_show_a_member_what_the_api_shows_under_the_same_gates() {
    use crate::sign_in::{Browser, app_with};
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let w = World::on(app_with(&issuer).await).await;
    let mut ada = Browser::new(&w.app);

    // Not signed in: to the sign-in page, coming back to the org's page.
    let response = ada.get("/account/orgs/acme?tag=search", true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/auth/login?return_to=%2Faccount%2Forgs%2Facme%3Ftag%3Dsearch"
    );
    let response = ada
        .get(
            "/account/orgs/acme/plugins/web-search?source=org&version=1.0.0",
            true,
        )
        .await;
    assert_eq!(
        response.headers()["location"],
        "/auth/login?return_to=%2Faccount%2Forgs%2Facme%2Fplugins%2Fweb-search%3Fsource%3Dorg%26version%3D1.0.0",
        "the whole address asked for comes back after signing in"
    );

    ada.sign_in_as(&issuer, "sub-ada", "ada").await;
    let principal = principal_on(&ada.account_page().await);
    w.upload_to_acme(&tagged_zip(
        "web-search",
        "1.0.0",
        &["Search", "web"],
        SECRET_SETTINGS,
    ))
    .await;
    w.upload_to_acme(&tagged_zip(
        "web-search",
        "1.1.0",
        &["search"],
        SECRET_SETTINGS,
    ))
    .await;
    w.upload_system(&tagged_zip("weather", "2.0.0", &["weather"], ""))
        .await;
    let response = w
        .upload(
            "/api/orgs/globex/plugins/upload",
            &w.globex_writer.key,
            Some("plugin.zip"),
            &tagged_zip("globex-secrets", "1.0.0", &["search"], ""),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Signed in, but neither permitted nor a member: refused as the API refuses.
    let response = ada.get("/account/orgs/acme", true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(!page.contains("web-search"), "{page}");
    for (method, path) in [
        (
            Method::PUT,
            format!("/api/principals/{principal}/permissions/{WRITE}"),
        ),
        (Method::PUT, format!("/api/orgs/acme/members/{principal}")),
    ] {
        assert_eq!(
            admin(&w.app, method, &path, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }

    // A member: the account page links the org, whose page lists its plugins
    // and the system's, never another org's.
    let account = ada.account_page().await;
    assert!(account.contains("href=\"/account/orgs/acme\""), "{account}");
    assert!(!account.contains("/account/orgs/globex"), "{account}");
    let response = ada.get("/account/orgs/acme", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let page = response.text().await.unwrap();
    for shown in [
        "web-search",
        "1.1.0",
        "weather",
        "Acme Corp",
        "search (1)",
        "weather (1)",
    ] {
        assert!(page.contains(shown), "{shown} missing from {page}");
    }
    assert!(!page.contains("globex-secrets"), "{page}");
    let filtered = ada.get("/account/orgs/acme?tag=SEARCH", true).await;
    let filtered = filtered.text().await.unwrap();
    assert!(
        filtered.contains("web-search") && !filtered.contains(">weather<"),
        "{filtered}"
    );
    let response = ada.get("/account/orgs/globex", true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.text().await.unwrap().contains("globex-secrets"));
    assert_eq!(
        ada.get("/account/orgs/nowhere", true).await.status(),
        StatusCode::NOT_FOUND
    );

    // A plugin's page: its versions, and the settings form with the write-only
    // field masked (its default never shown).
    let response = ada
        .get(
            "/account/orgs/acme/plugins/web-search?source=org&version=1.0.0",
            true,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("Settings form of 1.0.0"), "{page}");
    assert!(page.contains("type=\"password\""), "{page}");
    assert!(!page.contains("sk-never-on-a-page"), "{page}");
    assert!(page.contains("<option selected>us</option>"), "{page}");
    assert!(page.contains("data-version=\"1.1.0\"") && page.contains("data-version=\"1.0.0\""));

    // Disabling from the page: the API sees it; a form without the session's
    // token changes nothing.
    let list = w.listed("acme", &w.acme_writer.key, "?source=org").await;
    assert_eq!(list, vec!["org:web-search@1.1.0:on"]);
    let versions = w
        .json_ok(
            "/api/orgs/acme/plugins/web-search/versions?source=org",
            &w.acme_writer.key,
        )
        .await;
    let newest = versions["versions"][0]["plugin_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let csrf = registry_testkit::oidc::csrf_token(&page);
    let forged = ada
        .post_form(
            "/account/orgs/acme/enablement",
            &[
                ("csrf", "forged"),
                ("plugin_id", &newest),
                ("enabled", "false"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let response = ada
        .post_form(
            "/account/orgs/acme/enablement",
            &[
                ("csrf", &csrf),
                ("plugin_id", &newest),
                ("enabled", "false"),
                ("from", "plugin"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/account/orgs/acme/plugins/web-search?source=org"
    );
    assert_eq!(
        w.listed("acme", &w.acme_writer.key, "?source=org").await,
        vec!["org:web-search@1.0.0:on"],
        "with 1.1.0 disabled, the list shows 1.0.0"
    );

    // A reader sees no buttons, and a post of theirs is refused.
    let mut bob = Browser::new(&w.app);
    bob.sign_in_as(&issuer, "sub-bob", "bob").await;
    let bob_id = principal_on(&bob.account_page().await);
    for path in [
        format!("/api/principals/{bob_id}/permissions/{READ}"),
        format!("/api/orgs/acme/members/{bob_id}"),
    ] {
        assert_eq!(
            admin(&w.app, Method::PUT, &path, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let page = bob
        .get("/account/orgs/acme", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("web-search"), "{page}");
    assert!(
        !page.contains("Disable") && !page.contains("Enable"),
        "{page}"
    );
    let bob_csrf = registry_testkit::oidc::csrf_token(&bob.account_page().await);
    let refused = bob
        .post_form(
            "/account/orgs/acme/enablement",
            &[
                ("csrf", &bob_csrf),
                ("plugin_id", &newest),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_org_that_requires_review_shows_an_upload_only_once_its_reviewer_approves() {
    let w = World::new().await;
    let policy = |key: &str, review: &str| {
        let (key, body) = (key.to_owned(), json!({ "review": review }));
        let w = &w;
        async move {
            w.call(
                Method::PUT,
                "/api/orgs/acme/review-policy",
                Some(&key),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(
        policy(&w.acme_writer.key, "required").await.status(),
        StatusCode::FORBIDDEN,
        "only platform admins set it"
    );
    expect_problem(
        policy(&w.app.admin_key, "sometimes").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let set = policy(&w.app.admin_key, "required").await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({"review": "required", "auto_approve_publishers": [], "auto_approve_patches": false})
    );
    let reviewer = member(
        &w.app,
        "acme-reviewer",
        &["read"],
        &["cadence:org:plugins:review"],
        &["acme"],
    )
    .await;

    let held = w
        .upload(
            "/api/orgs/acme/plugins/upload",
            &w.acme_writer.key,
            Some("plugin.zip"),
            &plugin_zip("held-tool", "1.0.0", ""),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED, "held for review");
    let row: Value = held.json().await.unwrap();
    let plugin_id = row["plugin_id"].as_str().unwrap().to_owned();
    assert!(
        w.listed("acme", &w.acme_reader.key, "").await.is_empty(),
        "in no list until approved"
    );
    assert_eq!(
        w.call(
            Method::GET,
            "/api/orgs/acme/plugins/held-tool/versions",
            Some(&w.acme_reader.key),
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.set_enabled("acme", &row["plugin_id"], &w.acme_writer.key, true)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "nor enabled behind the reviewers' back"
    );
    // The same version again is the same upload, still held.
    let again = w
        .upload(
            "/api/orgs/acme/plugins/upload",
            &w.acme_writer.key,
            Some("plugin.zip"),
            &plugin_zip("held-tool", "1.0.0", ""),
        )
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);

    // Reviewers and writers list it; a reader does not; another org's do not.
    for key in [&reviewer.key, &w.acme_writer.key] {
        let list = w.json_ok("/api/orgs/acme/reviews", key).await;
        assert_eq!(list["reviews"][0]["plugin_id"], plugin_id.as_str());
        assert_eq!(list["reviews"][0]["state"], "pending");
    }
    assert_eq!(
        w.call(
            Method::GET,
            "/api/orgs/acme/reviews",
            Some(&w.acme_reader.key),
            None
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let decide = |key: &str, verb: &str, body: Value| {
        let (key, path) = (
            key.to_owned(),
            format!("/api/orgs/acme/reviews/{plugin_id}/{verb}"),
        );
        let w = &w;
        async move { w.call(Method::POST, &path, Some(&key), Some(body)).await }
    };
    assert_eq!(
        decide(&w.acme_writer.key, "approve", json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "a writer does not approve"
    );
    assert_eq!(
        w.call(
            Method::POST,
            &format!("/api/orgs/globex/reviews/{plugin_id}/approve"),
            Some(&w.app.admin_key),
            Some(json!({}))
        )
        .await
        .status(),
        StatusCode::NOT_FOUND,
        "an upload is decided in its own org"
    );
    let approved = decide(&reviewer.key, "approve", json!({})).await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert_eq!(approved.json::<Value>().await.unwrap()["state"], "approved");
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "").await,
        ["org:held-tool@1.0.0:on"]
    );
    expect_problem(
        decide(&reviewer.key, "reject", json!({"comment": "late"})).await,
        StatusCode::CONFLICT,
        "review_decided",
    )
    .await;

    // A rejection says why and keeps the version taken; reviewers' own uploads
    // and other orgs' are not held.
    let second = w
        .upload(
            "/api/orgs/acme/plugins/upload",
            &w.acme_writer.key,
            Some("plugin.zip"),
            &plugin_zip("held-tool", "1.1.0", ""),
        )
        .await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let second_id = second.json::<Value>().await.unwrap()["plugin_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reject = |body: Value| {
        let path = format!("/api/orgs/acme/reviews/{second_id}/reject");
        let (w, key) = (&w, reviewer.key.clone());
        async move { w.call(Method::POST, &path, Some(&key), Some(body)).await }
    };
    expect_problem(
        reject(json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        reject(json!({"comment": "it phones home"})).await.status(),
        StatusCode::OK
    );
    let list = w
        .json_ok("/api/orgs/acme/reviews", &w.acme_writer.key)
        .await;
    let rejected = &list["reviews"][0];
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["decision"]["comment"], "it phones home");
    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "").await,
        ["org:held-tool@1.0.0:on"],
        "a rejected upload is never shown"
    );
    assert_eq!(
        w.upload(
            "/api/orgs/globex/plugins/upload",
            &w.globex_writer.key,
            Some("plugin.zip"),
            &plugin_zip("globex-tool", "1.0.0", ""),
        )
        .await
        .status(),
        StatusCode::CREATED,
        "another org's policy is its own"
    );
}

#[tokio::test]
async fn an_uploader_reads_each_org_review_decision_in_their_mail() {
    use crate::oidc_issuer::TestIssuer;
    use crate::sign_in::{Browser, oidc_settings};
    use registry_testkit::smtp::SmtpServer;

    let (people, relay) = (TestIssuer::start().await, SmtpServer::start());
    let (sign_in, smtp_url) = (oidc_settings(&people), relay.url.clone());
    let app = TestApp::spawn_configured(move |config| {
        config.sign_in.oidc = Some(sign_in);
        config.mail = Some(openworkflow_registry::MailSettings {
            smtp_url,
            from: "OpenWorkflow Registry <registry@example.test>".to_owned(),
        });
    })
    .await;
    let w = World::on(app).await;
    let mut ada = Browser::new(&w.app);
    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let key = ada.create_key("laptop", "30").await;
    let keys = w.json_ok("/auth/keys", &key).await;
    let principal = keys["keys"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    for path in [
        format!("/api/principals/{principal}/permissions/{WRITE}"),
        format!("/api/orgs/acme/members/{principal}"),
    ] {
        assert_eq!(
            admin(&w.app, Method::PUT, &path, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let policy = w
        .call(
            Method::PUT,
            "/api/orgs/acme/review-policy",
            Some(&w.app.admin_key),
            Some(json!({"review": "required"})),
        )
        .await;
    assert_eq!(policy.status(), StatusCode::OK);
    let reviewer = member(
        &w.app,
        "acme-reviewer",
        &["read"],
        &["cadence:org:plugins:review"],
        &["acme"],
    )
    .await;
    let mut ids = Vec::new();
    for version in ["1.0.0", "1.1.0"] {
        let held = w
            .upload(
                "/api/orgs/acme/plugins/upload",
                &key,
                Some("plugin.zip"),
                &plugin_zip("mailed-tool", version, ""),
            )
            .await;
        assert_eq!(held.status(), StatusCode::ACCEPTED);
        let row: Value = held.json().await.unwrap();
        ids.push(row["plugin_id"].as_str().unwrap().to_owned());
    }
    assert!(relay.messages().is_empty(), "an upload mails nobody");
    for (id, verb, body) in [
        (&ids[1], "reject", json!({"comment": "it phones home"})),
        (&ids[0], "approve", json!({})),
    ] {
        let decided = w
            .call(
                Method::POST,
                &format!("/api/orgs/acme/reviews/{id}/{verb}"),
                Some(&reviewer.key),
                Some(body),
            )
            .await;
        assert_eq!(decided.status(), StatusCode::OK, "{verb}");
    }
    let mails = relay.messages();
    let subjects: Vec<&str> = mails.iter().filter_map(|m| m.header("subject")).collect();
    assert_eq!(
        subjects,
        [
            "mailed-tool 1.1.0 was rejected in the acme catalog",
            "mailed-tool 1.0.0 was approved in the acme catalog"
        ]
    );
    assert!(
        mails[0].body.contains("it phones home"),
        "the rejection says why: {}",
        mails[0].body
    );
}

#[tokio::test]
async fn an_orgs_auto_approval_rules_let_listed_publishers_and_patch_releases_through() {
    let w = World::new().await;
    let policy = |body: Value| {
        let w = &w;
        async move {
            w.call(
                Method::PUT,
                "/api/orgs/acme/review-policy",
                Some(&w.app.admin_key),
                Some(body),
            )
            .await
        }
    };
    expect_problem(
        policy(json!({"review": "required", "auto_approve_publishers": ["bob"]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let trusted = member(&w.app, "acme-ci", &["publish"], &[WRITE], &["acme"]).await;
    let set = policy(json!({
        "review": "required",
        "auto_approve_publishers": [trusted.principal],
        "auto_approve_patches": true
    }))
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({"review": "required", "auto_approve_publishers": [trusted.principal], "auto_approve_patches": true})
    );
    let reviewer = member(
        &w.app,
        "acme-reviewer",
        &["read"],
        &["cadence:org:plugins:review"],
        &["acme"],
    )
    .await;
    let upload = |key: &str, pid: &str, version: &str| {
        let (w, key) = (&w, key.to_owned());
        let zip = plugin_zip(pid, version, "");
        async move {
            w.upload(
                "/api/orgs/acme/plugins/upload",
                &key,
                Some("plugin.zip"),
                &zip,
            )
            .await
        }
    };

    // A listed publisher's upload is live at once.
    assert_eq!(
        upload(&trusted.key, "ci-tool", "1.0.0").await.status(),
        StatusCode::CREATED
    );
    // Anyone else's waits, until a version is shown; then its patch releases
    // go through, and anything more waits again.
    let held = upload(&w.acme_writer.key, "patched", "1.0.0").await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    let id = held.json::<Value>().await.unwrap()["plugin_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        upload(&w.acme_writer.key, "patched", "1.0.1")
            .await
            .status(),
        StatusCode::ACCEPTED,
        "nothing of it is shown yet"
    );
    let approved = w
        .call(
            Method::POST,
            &format!("/api/orgs/acme/reviews/{id}/approve"),
            Some(&reviewer.key),
            Some(json!({})),
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert_eq!(
        upload(&w.acme_writer.key, "patched", "1.0.2")
            .await
            .status(),
        StatusCode::CREATED,
        "a patch release of a shown version"
    );
    assert_eq!(
        upload(&w.acme_writer.key, "patched", "1.1.0")
            .await
            .status(),
        StatusCode::ACCEPTED,
        "a minor release waits"
    );
}

#[tokio::test]
async fn an_org_reviewer_decides_held_uploads_on_the_reviews_page() {
    use crate::sign_in::app_with;
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let w = World::on(app_with(&issuer).await).await;
    let set = w
        .call(
            Method::PUT,
            "/api/orgs/acme/review-policy",
            Some(&w.app.admin_key),
            Some(json!({"review": "required"})),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let mut ids = Vec::new();
    for version in ["1.0.0", "1.1.0"] {
        let held = w
            .upload(
                "/api/orgs/acme/plugins/upload",
                &w.acme_writer.key,
                Some("plugin.zip"),
                &plugin_zip("paged-tool", version, ""),
            )
            .await;
        assert_eq!(held.status(), StatusCode::ACCEPTED);
        let row: Value = held.json().await.unwrap();
        ids.push(row["plugin_id"].as_str().unwrap().to_owned());
    }

    let (mut ada, principal, csrf) = crate::reviews::signed_in(&w.app, &issuer, "ada").await;
    // The permission without membership decides nothing in acme.
    crate::reviews::set_permission(
        &w.app,
        Method::PUT,
        &principal,
        "cadence:org:plugins:review",
    )
    .await;
    let decide = format!("/account/orgs/acme/reviews/{}/decision", ids[0]);
    let outsider = ada
        .post_form(&decide, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(outsider.status(), StatusCode::FORBIDDEN);
    let path = format!("/api/orgs/acme/members/{principal}");
    assert_eq!(
        admin(&w.app, Method::PUT, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );

    let account = ada.account_page().await;
    assert!(
        account.contains("2 versions wait for your review"),
        "{account}"
    );
    let queue = ada
        .get("/account/reviews", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(queue.contains("Waiting in Acme Corp"), "{queue}");
    for id in &ids {
        assert!(
            queue.contains(&format!("/account/orgs/acme/reviews/{id}/decision")),
            "{queue}"
        );
    }
    assert!(
        !queue.contains("Waiting for your review"),
        "an org's reviewer does not review the registry"
    );

    let reject = format!("/account/orgs/acme/reviews/{}/decision", ids[1]);
    let unexplained = ada
        .post_form(&reject, &[("csrf", &csrf), ("decision", "reject")])
        .await;
    crate::reviews::refused_on_the_page(
        unexplained,
        StatusCode::UNPROCESSABLE_ENTITY,
        "say why it is rejected",
    )
    .await;
    let rejected = ada
        .post_form(
            &reject,
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("comment", "phones home"),
            ],
        )
        .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    let approved = ada
        .post_form(&decide, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(approved.headers()["location"], "/account/reviews");

    assert_eq!(
        w.listed("acme", &w.acme_reader.key, "").await,
        ["org:paged-tool@1.0.0:on"],
        "approved, and only that one"
    );
    let reviews = w
        .json_ok("/api/orgs/acme/reviews", &w.acme_writer.key)
        .await;
    assert_eq!(reviews["reviews"][0]["plugin_id"], ids[1].as_str());
    assert_eq!(reviews["reviews"][0]["decision"]["comment"], "phones home");
    assert_eq!(
        reviews["reviews"][0]["decision"]["decided_by"],
        principal.as_str()
    );
    let queue = ada
        .get("/account/reviews", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("No upload to this org waits for review."),
        "{queue}"
    );
}
