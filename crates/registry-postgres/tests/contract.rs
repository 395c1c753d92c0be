//! The storage contract, run against the PostgreSQL adapters on the real server
//! `./scripts/postgres-local.sh` starts (`./scripts/test.sh` does): each test in
//! a schema of its own, so they run side by side.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use registry_core::store::contract::{
    self, DailyExpiry, account_store_contract, catalog_contract, key_store_contract,
    org_catalog_store_contract, org_store_contract,
};
use registry_postgres::PostgresStore;
use registry_postgres::migrations::MIGRATIONS;

/// A store in a fresh schema of the test server's database.
async fn store(name: &str) -> PostgresStore {
    PostgresStore::connect(&registry_testkit::postgres::fresh_schema_url(name).await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_catalog_keeps_the_catalog_contract() {
    catalog_contract(
        Arc::new(store("catalog").await),
        "postgres",
        DailyExpiry::RollUpDeletes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_journal_keeps_the_change_journal_contract() {
    let store = store("journal").await;
    contract::change_journal_contract(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_deliveries_commit_with_their_change() {
    let store = store("told").await;
    contract::deliveries_commit_with_their_change_contract(
        &store, &store, &store, &store, "postgres",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_nodes_keep_the_node_coordination_contract() {
    // Two stores (two pools) on one schema, as two nodes would hold.
    let url = registry_testkit::postgres::fresh_schema_url("coordination").await;
    let mut nodes: Vec<Arc<dyn registry_core::store::NodeCoordination>> = Vec::new();
    for _ in 0..2 {
        nodes.push(Arc::new(PostgresStore::connect(&url).await.unwrap()));
    }
    contract::node_coordination_contract(nodes, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keys_keep_the_key_store_contract() {
    key_store_contract(Arc::new(store("keys").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_accounts_keep_the_account_store_contract() {
    let store = Arc::new(store("accounts").await);
    account_store_contract(store.clone(), store, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_ownership_keeps_the_ownership_store_contract() {
    contract::ownership_store_contract(Arc::new(store("ownership").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_audit_log_keeps_the_audit_store_contract() {
    contract::audit_store_contract(Arc::new(store("audit").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_webhooks_keep_the_webhook_store_contract() {
    contract::webhook_store_contract(Arc::new(store("webhooks").await), "postgres", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reports_keep_the_report_store_contract() {
    contract::report_store_contract(Arc::new(store("reports").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_trusted_publishing_keeps_its_store_contract() {
    contract::trusted_publishing_store_contract(Arc::new(store("trusted").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_rate_limits_keep_the_rate_limit_store_contract() {
    contract::rate_limit_store_contract(Arc::new(store("rates").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_orgs_keep_the_org_store_contract() {
    org_store_contract(Arc::new(store("orgs").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_org_catalog_keeps_the_org_catalog_contract() {
    org_catalog_store_contract(Arc::new(store("org_catalog").await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_router_keeps_the_router_store_contract() {
    let store = Arc::new(store("router").await);
    contract::mcp_router_store_contract(
        store.clone(),
        store,
        "postgres",
        DailyExpiry::RollUpDeletes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_database_gets_every_migration_once_and_a_second_start_none() {
    let url = registry_testkit::postgres::fresh_schema_url("migrations").await;
    PostgresStore::connect(&url).await.unwrap();
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let recorded: Vec<(i32, String)> = client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let every: Vec<(i32, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(recorded, every);
    let again = registry_postgres::migrations::apply(&mut client)
        .await
        .unwrap();
    assert!(again.is_empty(), "a second start applies nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_crash_after_the_commit_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store("crash").await);
    contract::faults::a_crash_after_the_commit_loses_no_event(
        store.clone(),
        Arc::new(registry_core::store::FileArtifactStore::new(dir.path())),
        store.clone(),
        store,
        "postgres",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_failed_publishes_leave_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store("faults").await);
    let artifacts = Arc::new(registry_core::store::FileArtifactStore::new(dir.path()));
    contract::faults::failed_publishes_leave_nothing_visible(
        store.clone(),
        artifacts.clone(),
        store.clone(),
        "postgres",
    )
    .await;
    contract::faults::publishes_read_no_version_history(
        store.clone(),
        artifacts,
        store,
        "postgres",
    )
    .await;
}

/// `error` and every error under it, in one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

/// TLS as a `DATABASE_URL` asks for it, against a server with a certificate of a CA
/// of the test's own: verified against the CA the URL names; refused when the
/// roots do not vouch for the server; never a silent fallback to plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_server() {
    let server = registry_testkit::postgres::PrivateServer::start_with_tls();
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.url(),
        server.ca_file().display()
    );
    // The store migrates over the verified connection, and its sessions are TLS.
    let store = PostgresStore::connect(&verified).await.unwrap();
    key_store_contract(Arc::new(store), "postgres-tls").await;
    let client = PostgresStore::connect_client(&verified).await.unwrap();
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the session is encrypted");

    // `require` verifies too: the system's roots do not know the test's CA.
    let unvouched = PostgresStore::connect_client(&format!("{}?sslmode=require", server.url()))
        .await
        .expect_err("a server no root vouches for is refused");
    let said = chain(&unvouched);
    assert!(said.contains("certificate"), "{said}");

    for mode in ["prefer", "allow"] {
        let refused = PostgresStore::connect(&format!("{}?sslmode={mode}", server.url()))
            .await
            .expect_err("a mode that may fall back to plain text is refused");
        let said = chain(&refused);
        assert!(
            said.contains(&format!("sslmode={mode} is not supported")),
            "{said}"
        );
    }
}
