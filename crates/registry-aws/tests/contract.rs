//! The storage contract, run against DynamoDB Local and moto's S3 server, which
//! `scripts/test.sh` starts on free loopback ports.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use registry_aws::s3::Fetched;
use registry_aws::setup::ensure_resources;
use registry_aws::{AwsClients, AwsSettings, ReplicatedArtifactStore};
use registry_core::artifact::ArtifactKey;
use registry_core::auth::PrincipalId;
use registry_core::checksum::Sha256Digest;
use registry_core::slug::Slug;
use registry_core::store::contract::{
    DailyExpiry, account_store_contract, artifact_store_contract, catalog_contract,
    index_store_contract, key_store_contract,
};
use registry_core::store::contract::{org_catalog_store_contract, org_store_contract};
use registry_core::store::{ArtifactStore, FileArtifactStore, UploadStore};
use registry_core::timestamp::Timestamp;
use registry_core::upload::{PresignedPut, UploadId, UploadKey, UploadRequest};
use registry_core::version::PluginVersion;

/// Fresh, uniquely named resources on the local servers.
async fn resources(name: &str) -> (AwsClients, AwsSettings) {
    for var in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is not set: run ./scripts/test.sh, which starts DynamoDB Local and moto and points the tests at them"
        );
    }
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).unwrap();
    let unique = format!("{name}-{}", hex::encode(suffix));
    let settings = AwsSettings {
        table: format!("registry-{unique}"),
        bucket: format!("registry-{unique}"),
        force_path_style: true,
    };
    let clients = AwsClients::from_env(true).await;
    ensure_resources(&clients, &settings)
        .await
        .expect("create table and bucket");
    (clients, settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_catalog_keeps_the_catalog_contract() {
    let (clients, settings) = resources("catalog").await;
    catalog_contract(
        clients.dynamo_store(&settings),
        "ddb",
        DailyExpiry::StoreExpires,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_keys_keep_the_key_store_contract() {
    let (clients, settings) = resources("keys").await;
    key_store_contract(clients.dynamo_store(&settings), "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_audit_log_keeps_the_audit_store_contract() {
    let (clients, settings) = resources("audit").await;
    registry_core::store::contract::audit_store_contract(clients.dynamo_store(&settings), "ddb")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_reports_keep_the_report_store_contract() {
    let (clients, settings) = resources("reports").await;
    registry_core::store::contract::report_store_contract(clients.dynamo_store(&settings), "ddb")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_deliveries_commit_with_their_change() {
    let (clients, settings) = resources("told").await;
    let store = clients.dynamo_store(&settings);
    registry_core::store::contract::deliveries_commit_with_their_change_contract(
        store.as_ref(),
        store.as_ref(),
        store.as_ref(),
        store.as_ref(),
        "ddb",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_webhooks_keep_the_webhook_store_contract() {
    let (clients, settings) = resources("webhooks").await;
    registry_core::store::contract::webhook_store_contract(
        clients.dynamo_store(&settings),
        "ddb",
        true,
    )
    .await;
}

/// The delivery log ages out by DynamoDB's time to live, a day after the
/// registry's own pruning would have dropped it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_carry_the_end_of_the_delivery_log_as_ttl() {
    use registry_core::store::WebhookStore;
    use registry_core::webhook::{
        DELIVERY_LOG_DAYS, Delivery, EventData, EventKind, SubscriptionId, WebhookEvent,
    };

    let (clients, settings) = resources("hook-ttl").await;
    let store = clients.dynamo_store(&settings);
    let made = Timestamp::parse("2026-03-02T10:00:00Z").unwrap();
    let event = WebhookEvent::new(EventKind::VersionPublished, made, EventData::default()).unwrap();
    let to = SubscriptionId::from_stored("whk_0123456789abcdef");
    let delivery = Delivery::of(&event, &event.body(), &to, made).unwrap();
    store
        .insert_deliveries(std::slice::from_ref(&delivery))
        .await
        .unwrap();
    assert_eq!(
        ttl_of(
            &clients,
            &settings,
            &format!("HOOK#{to}"),
            &format!("DELIVERY#{}", delivery.id)
        )
        .await,
        Some(
            made.plus(time::Duration::days(DELIVERY_LOG_DAYS + 1))
                .unix_seconds()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_trusted_publishing_keeps_its_store_contract() {
    let (clients, settings) = resources("trusted").await;
    registry_core::store::contract::trusted_publishing_store_contract(
        clients.dynamo_store(&settings),
        "ddb",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_rate_limits_keep_the_rate_limit_store_contract() {
    let (clients, settings) = resources("ratelimits").await;
    registry_core::store::contract::rate_limit_store_contract(
        clients.dynamo_store(&settings),
        "ddb",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_ownership_keeps_the_ownership_store_contract() {
    let (clients, settings) = resources("ownership").await;
    registry_core::store::contract::ownership_store_contract(
        clients.dynamo_store(&settings),
        "ddb",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_accounts_keep_the_account_store_contract() {
    let (clients, settings) = resources("accounts").await;
    let store = clients.dynamo_store(&settings);
    account_store_contract(store.clone(), store, "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_orgs_keep_the_org_store_contract() {
    let (clients, settings) = resources("orgs").await;
    org_store_contract(clients.dynamo_store(&settings), "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_org_catalog_keeps_the_org_catalog_contract() {
    let (clients, settings) = resources("org-catalog").await;
    org_catalog_store_contract(clients.dynamo_store(&settings), "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_artifacts_keep_the_artifact_store_contract() {
    let (clients, settings) = resources("artifacts").await;
    artifact_store_contract(clients.s3_store(&settings), "s3").await;
}

#[tokio::test]
async fn s3_index_objects_keep_the_index_store_contract() {
    let (clients, settings) = resources("index").await;
    index_store_contract(clients.index_store(&settings), "s3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicated_artifacts_keep_the_artifact_store_contract() {
    let (clients, settings) = resources("replicated").await;
    let dir = tempfile::tempdir().unwrap();
    let store = ReplicatedArtifactStore::new(
        FileArtifactStore::new(dir.path()),
        Some(clients.s3_store(&settings)),
    );
    artifact_store_contract(Arc::new(store), "replicated").await;
}

fn key_for(content: &[u8]) -> ArtifactKey {
    ArtifactKey::bundle(
        &Slug::parse("etag").unwrap(),
        &PluginVersion::parse("1.0.0").unwrap(),
        &Sha256Digest::of(content),
    )
}

#[tokio::test]
async fn s3_objects_carry_their_media_type_and_cache_policy_and_reads_honour_etags() {
    let (clients, settings) = resources("headers").await;
    let store = clients.s3_store(&settings);
    let key = key_for(b"zip bytes");
    store
        .put_if_absent(
            &key,
            bytes::Bytes::from_static(b"zip bytes"),
            "application/zip",
        )
        .await
        .unwrap();
    let head = clients
        .s3
        .head_object()
        .bucket(&settings.bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/zip"));
    assert_eq!(
        head.cache_control(),
        Some(registry_core::artifact::IMMUTABLE_CACHE_CONTROL)
    );

    let Fetched::Body { bytes, etag } = store.get_if_changed(&key, None).await.unwrap() else {
        panic!("the object is there");
    };
    assert_eq!(bytes.as_ref(), b"zip bytes");
    let etag = etag.expect("S3 returns an ETag");
    assert_eq!(
        store.get_if_changed(&key, Some(&etag)).await.unwrap(),
        Fetched::NotModified
    );
    assert_eq!(
        store
            .get_if_changed(&key_for(b"absent"), None)
            .await
            .unwrap(),
        Fetched::Missing
    );
}

#[tokio::test]
async fn a_replicated_store_reads_through_to_s3_and_keeps_a_local_copy() {
    let (clients, settings) = resources("readthrough").await;
    let s3 = clients.s3_store(&settings);
    let key = key_for(b"published elsewhere");
    s3.put_if_absent(
        &key,
        bytes::Bytes::from_static(b"published elsewhere"),
        "application/zip",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = FileArtifactStore::new(dir.path());
    let store = ReplicatedArtifactStore::new(local.clone(), Some(s3));
    assert_eq!(
        store.get(&key).await.unwrap().as_deref(),
        Some(&b"published elsewhere"[..])
    );
    assert_eq!(
        local.get(&key).await.unwrap().as_deref(),
        Some(&b"published elsewhere"[..]),
        "cached locally"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_a_crash_after_the_commit_loses_no_event() {
    let (clients, settings) = resources("crash").await;
    let store = clients.dynamo_store(&settings);
    registry_core::store::contract::faults::a_crash_after_the_commit_loses_no_event(
        store.clone(),
        clients.s3_store(&settings),
        store.clone(),
        store,
        "ddb",
    )
    .await;
}

#[tokio::test]
async fn aws_stores_never_show_a_half_published_version() {
    let (clients, settings) = resources("faults").await;
    let store = clients.dynamo_store(&settings);
    registry_core::store::contract::faults::failed_publishes_leave_nothing_visible(
        store.clone(),
        clients.s3_store(&settings),
        store.clone(),
        "ddb",
    )
    .await;
    registry_core::store::contract::faults::publishes_read_no_version_history(
        store.clone(),
        clients.s3_store(&settings),
        store,
        "ddb",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_table_reads_as_unavailable_not_as_a_bug() {
    use registry_core::store::{CatalogStore, StorageError};
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::for_tests(),
        ))
        .build();
    let clients = AwsClients::from_config(&config, true);
    let settings = AwsSettings {
        table: "nowhere".into(),
        bucket: "nowhere".into(),
        force_path_style: true,
    };
    let result = clients
        .dynamo_store(&settings)
        .plugin(&Slug::parse("any").unwrap())
        .await;
    assert!(
        matches!(result, Err(StorageError::Unavailable(_))),
        "{result:?}"
    );
}

/// Sends `bytes` the way a client follows a presigned upload.
async fn put_presigned(put: &PresignedPut, bytes: Vec<u8>) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new().put(&put.url);
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    request.body(bytes).send().await.unwrap().status()
}

#[tokio::test]
async fn s3_uploads_sign_size_type_and_digest_and_read_back_capped() {
    let (clients, settings) = resources("uploads").await;
    let uploads = clients.upload_store(&settings);
    let owner = PrincipalId::from_stored("prn_0123456789abcdef");
    let key = UploadKey::new(&owner, &UploadId::generate().unwrap());
    assert!(uploads.fetch(&key, 100).await.unwrap().is_none());

    let bytes = b"PK\x03\x04 pretend zip of forty bytes or so....".to_vec();
    let request = UploadRequest {
        size: bytes.len() as u64,
        sha256: Sha256Digest::of(&bytes),
    };
    let put = uploads
        .presign_put(&key, &request, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(put.url.contains(&format!("/{key}?")), "{}", put.url);
    assert!(put.url.contains("X-Amz-Expires=60&"), "{}", put.url);
    let header = |name: &str| {
        put.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(header("content-type"), Some("application/zip"));
    assert_eq!(
        header("x-amz-meta-sha256"),
        Some(request.sha256.to_hex().as_str())
    );
    assert!(put_presigned(&put, bytes.clone()).await.is_success());

    let fetched = uploads.fetch(&key, 1_000).await.unwrap().unwrap();
    assert_eq!(fetched.bytes.as_ref(), bytes.as_slice());
    assert_eq!(fetched.declared_sha256, Some(request.sha256));
    // Reads stop one byte past the cap, so an oversize object is never buffered whole.
    let capped = uploads.fetch(&key, 9).await.unwrap().unwrap();
    assert_eq!(capped.bytes.len(), 10);

    uploads.discard(&key).await.unwrap();
    assert!(uploads.fetch(&key, 1_000).await.unwrap().is_none());
    uploads.discard(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_router_keeps_the_router_store_contract() {
    let (clients, settings) = resources("router").await;
    let store = clients.dynamo_store(&settings);
    registry_core::store::contract::mcp_router_store_contract(
        store.clone(),
        store,
        "ddb",
        DailyExpiry::StoreExpires,
    )
    .await;
}

/// The `ttl` (epoch seconds) of the item at `pk`/`sk`.
async fn ttl_of(clients: &AwsClients, settings: &AwsSettings, pk: &str, sk: &str) -> Option<i64> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let item = clients
        .dynamodb
        .get_item()
        .table_name(&settings.table)
        .key("PK", AttributeValue::S(pk.to_owned()))
        .key("SK", AttributeValue::S(sk.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {pk} {sk}"));
    match item.get("ttl") {
        Some(AttributeValue::N(n)) => Some(n.parse().unwrap()),
        _ => None,
    }
}

/// DynamoDB drops daily items by its TTL instead of a pruning job, so each one
/// must carry the end of its retention (what the contract leaves to adapters).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn daily_items_carry_the_end_of_their_retention_as_ttl() {
    use registry_core::downloads::{DownloadClient, DownloadKey, Retention};
    use registry_core::store::{DownloadCounters, McpRouterStore};

    let (clients, settings) = resources("ttl").await;
    let store = clients.dynamo_store(&settings);
    let slug = Slug::parse("kept").unwrap();
    let day = time::macros::date!(2026 - 03 - 02);
    let retention = Retention::from_setting(Some("120")).unwrap();
    let end = retention.expiry_of(day);
    assert_eq!(
        end,
        time::macros::datetime!(2026-07-01 00:00 UTC).unix_timestamp(),
        "kept through the 120th day after it"
    );

    store
        .record_download(
            &DownloadKey {
                slug: slug.clone(),
                version: PluginVersion::parse("1.0.0").unwrap(),
                day,
                client: DownloadClient::Other,
            },
            retention,
        )
        .await
        .unwrap();
    assert_eq!(
        ttl_of(
            &clients,
            &settings,
            "PLUGIN#public#kept",
            "DL#1.0.0#2026-03-02#other"
        )
        .await,
        Some(end)
    );
    store
        .record_healthy_instances(day, &[(slug, 2)], retention)
        .await
        .unwrap();
    assert_eq!(
        ttl_of(&clients, &settings, "ROUTE#kept", "HEALTHY#2026-03-02").await,
        Some(end)
    );
}
