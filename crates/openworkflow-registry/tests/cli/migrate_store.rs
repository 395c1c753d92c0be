//! `migrate-store`: an embedded registry moved into PostgreSQL and a bucket, every
//! table and artifact checked, a second run writing nothing, and the registry
//! serving from its new home what it served from the old.

use std::process::Command;

use registry_testkit::TestPlugin;

use super::{BIN, SAME_PUBLIC_URL, Server, get_json, publish_version};

/// Runs `migrate-store` with `args`; its JSON report when it succeeds, its
/// stderr when it fails.
fn migrate(args: &[&str]) -> Result<serde_json::Value, String> {
    let run = Command::new(BIN)
        .arg("migrate-store")
        .args(args)
        .output()
        .unwrap();
    if run.status.success() {
        Ok(serde_json::from_slice(&run.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

/// Gives every table of the SQLite catalog at `file` that is still empty one row,
/// made from its declared column types. The copy goes by table, so this makes
/// it carry every kind of record, including those only a sign-in or a CI token
/// exchange writes, which this test does not run.
fn fill_empty_tables(file: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(file).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut filled = Vec::new();
    for table in tables {
        let rows: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap();
        if rows > 0 {
            continue;
        }
        let columns: Vec<(String, String)> = conn
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info('{table}')"
            ))
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let values: Vec<String> = columns
            .iter()
            .map(|(_, kind)| match kind.to_ascii_uppercase().as_str() {
                "INTEGER" => "1".to_owned(),
                "REAL" => "1.5".to_owned(),
                "BLOB" => "x'00ff'".to_owned(),
                // A valid slug, a journal scope meaning "the whole plugin".
                _ => "'synthetic'".to_owned(),
            })
            .collect();
        conn.execute(
            &format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            ),
            [],
        )
        .unwrap();
        filled.push(table);
    }
    filled
}

#[tokio::test]
async fn an_embedded_registry_moves_into_postgres_and_a_bucket_whole_and_again_unchanged() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[SAME_PUBLIC_URL]);
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let admin = admin.trim().to_owned();
    let client = reqwest::Client::new();
    for (slug, version) in [("alpha", "1.0.0"), ("alpha", "1.1.0"), ("beta", "2.0.0")] {
        let status = publish_version(&client, &server.base, &admin, slug, version).await;
        assert_eq!(status.unwrap(), 201);
    }
    let schema = client
        .get(format!("{}/plugins/alpha/1.1.0/schema", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    let schema = schema.bytes().await.unwrap();
    registry_testkit::admin_joins_new_org(&client, &server.base, &admin, "acme").await;
    let uploaded = client
        .post(format!("{}/api/orgs/acme/plugins/upload", server.base))
        .bearer_auth(&admin)
        .header("content-type", "application/zip")
        .header("content-disposition", "attachment; filename=\"agent.zip\"")
        .body(TestPlugin::new("agent", "1.0.0").bundle())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    server.terminate();
    let catalog = data.path().join(openworkflow_registry::CATALOG_FILE);
    let filled = fill_empty_tables(&catalog);

    let postgres = registry_testkit::postgres::fresh_schema_url("migrate_store").await;
    let bucket = super::spec_config::new_bucket("migrate-store");
    let from = format!("sqlite://{}", catalog.display());
    let args = ["--from", &from, "--to", &postgres, "--bucket", &bucket];
    let first = migrate(&args).unwrap_or_else(|e| panic!("migrate-store failed: {e}"));
    let tables = first["tables"].as_array().unwrap();
    assert!(tables.len() > 25, "every table: {first}");
    for table in tables {
        assert!(
            table["rows"].as_u64().unwrap() > 0,
            "{table} (filled: {filled:?})"
        );
        assert_eq!(table["written"], table["rows"], "{table}");
    }
    let artifacts = &first["artifacts"];
    assert!(artifacts["files"].as_u64().unwrap() >= 4, "{artifacts}");
    assert_eq!(artifacts["copied"], artifacts["files"]);

    let again = migrate(&args).unwrap_or_else(|e| panic!("the second run failed: {e}"));
    for (before, after) in tables.iter().zip(again["tables"].as_array().unwrap()) {
        assert_eq!(after["written"], 0, "a second run writes nothing: {after}");
        assert_eq!(after["sha256"], before["sha256"]);
    }
    assert_eq!(again["artifacts"]["copied"], 0);

    // The registry on PostgreSQL and the bucket, with the old index key, serves
    // what the embedded one did, and takes writes with the old admin key.
    let key_file = data.path().join(registry_index::INDEX_KEY_FILE);
    let moved_data = tempfile::tempdir().unwrap();
    let moved = Server::start(
        moved_data.path(),
        &[
            SAME_PUBLIC_URL,
            ("DATABASE_URL", postgres.as_str()),
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", bucket.as_str()),
            (
                "OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE",
                key_file.to_str().unwrap(),
            ),
        ],
    );
    let details = get_json(&client, &format!("{}/plugins/alpha", moved.base)).await;
    assert_eq!(details["version"], "1.1.0", "{details}");
    assert_eq!(details["versions"], serde_json::json!(["1.1.0", "1.0.0"]));
    let moved_schema = client
        .get(format!("{}/plugins/alpha/1.1.0/schema", moved.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(moved_schema, schema);
    let status = publish_version(&client, &moved.base, &admin, "gamma", "1.0.0").await;
    assert_eq!(status.unwrap(), 201);
    moved.terminate();

    // Now PostgreSQL holds what the embedded store does not: a copy is refused.
    let refused = migrate(&args).expect_err("copying into a registry that moved on");
    assert!(refused.contains("rows in the embedded store"), "{refused}");
}
