//! A schema of its own in the PostgreSQL server `./scripts/postgres-local.sh`
//! starts (`./scripts/test.sh` does), for each test that stores in PostgreSQL:
//! tests share the server and run side by side.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable `./scripts/postgres-local.sh` sets to the server's URL.
pub const URL_VARIABLE: &str = "OPENWORKFLOW_TEST_POSTGRES_URL";

/// The test server's URL; panics with the fix when the suite was not started
/// with a server.
pub fn server_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!("needs PostgreSQL: run under ./scripts/postgres-local.sh (./scripts/test.sh does)")
    })
}

/// Makes an empty schema named after `tag` (dropping one of that name left by
/// an earlier run) and returns a URL whose connections use it.
pub async fn fresh_schema_url(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = server_url();
    let schema = format!(
        "t_{}_{}_{}",
        tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL at {url}: {e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
    drop(client);
    let _ = driver.await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}
