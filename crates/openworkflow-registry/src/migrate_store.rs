//! `migrate-store`: an embedded registry (SQLite) copied into PostgreSQL, and its
//! artifacts into a bucket, then verified table by table and file by file.
//!
//! The PostgreSQL schema is the SQLite one table for table and column for column,
//! holding the same text for the same value (see `registry-postgres`'s first
//! migration), so the copy is of rows as they are, driven by PostgreSQL's own
//! description of its tables: a table a later migration adds is copied without a
//! change here. Each row is upserted by its primary key and written only when it
//! differs, so running the copy again changes nothing; a target holding rows the
//! source does not is refused at the check, never merged silently.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use registry_core::artifact::ArtifactKey;
use registry_core::store::{ArtifactStore, PutOutcome};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

/// Rows read from SQLite and written to PostgreSQL per round (bounded memory
/// however large a table is).
const ROWS_PER_BATCH: usize = 256;
/// PostgreSQL's own bookkeeping, which each store keeps for itself.
const NOT_COPIED: &[&str] = &["schema_migrations"];

/// What the copy of one table did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: String,
    /// Rows in the table, in both stores after the copy.
    pub rows: u64,
    /// Rows this run wrote (0 when the target already held them as they are).
    pub written: u64,
    /// SHA-256 (hex) of the table's rows in key order, the same in both stores.
    pub sha256: String,
}

/// What the copy of the artifacts did and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactCopy {
    /// Artifact files in the data directory, each checked against its SHA-256.
    pub files: u64,
    /// Files this run copied (0 when the bucket already held them all).
    pub copied: u64,
    /// Bytes of all the files.
    pub bytes: u64,
}

/// One value as SQLite holds it.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A PostgreSQL column's type, as far as the copy needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Text,
    BigInt,
    Int,
    SmallInt,
    Bool,
    Double,
    Bytes,
}

impl ColumnType {
    fn of(data_type: &str) -> Option<Self> {
        Some(match data_type {
            "text" | "character varying" => Self::Text,
            "bigint" => Self::BigInt,
            "integer" => Self::Int,
            "smallint" => Self::SmallInt,
            "boolean" => Self::Bool,
            "double precision" | "real" => Self::Double,
            "bytea" => Self::Bytes,
            _ => return None,
        })
    }
}

/// A value converted to its PostgreSQL column's type.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Double(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// `cell`, as `column` of type `kind` stores it.
    fn convert(cell: Cell, kind: ColumnType, column: &str) -> anyhow::Result<Self> {
        Ok(match (cell, kind) {
            (Cell::Null, _) => Self::Null,
            (Cell::Text(text), ColumnType::Text) => Self::Text(text),
            (Cell::Integer(n), ColumnType::Text) => Self::Text(n.to_string()),
            (Cell::Integer(n), ColumnType::BigInt | ColumnType::Int | ColumnType::SmallInt) => {
                Self::Int(n)
            }
            (Cell::Integer(n), ColumnType::Bool) => Self::Bool(n != 0),
            (Cell::Integer(n), ColumnType::Double) => Self::Double(n as f64),
            (Cell::Real(x), ColumnType::Double) => Self::Double(x),
            (Cell::Blob(bytes), ColumnType::Bytes) => Self::Bytes(bytes),
            (Cell::Text(text), ColumnType::Bytes) => Self::Bytes(text.into_bytes()),
            (cell, kind) => bail!("column {column}: {cell:?} cannot be stored as {kind:?}"),
        })
    }

    /// The value as a statement parameter of type `kind`.
    fn param(&self, kind: ColumnType) -> anyhow::Result<Box<dyn ToSql + Sync + Send>> {
        Ok(match (self, kind) {
            (Self::Null, ColumnType::Text) => Box::new(None::<String>),
            (Self::Null, ColumnType::BigInt) => Box::new(None::<i64>),
            (Self::Null, ColumnType::Int) => Box::new(None::<i32>),
            (Self::Null, ColumnType::SmallInt) => Box::new(None::<i16>),
            (Self::Null, ColumnType::Bool) => Box::new(None::<bool>),
            (Self::Null, ColumnType::Double) => Box::new(None::<f64>),
            (Self::Null, ColumnType::Bytes) => Box::new(None::<Vec<u8>>),
            (Self::Text(text), _) => Box::new(text.clone()),
            (Self::Int(n), ColumnType::BigInt) => Box::new(*n),
            (Self::Int(n), ColumnType::Int) => Box::new(i32::try_from(*n)?),
            (Self::Int(n), ColumnType::SmallInt) => Box::new(i16::try_from(*n)?),
            (Self::Bool(b), _) => Box::new(*b),
            (Self::Double(x), _) => Box::new(*x),
            (Self::Bytes(bytes), _) => Box::new(bytes.clone()),
            (value, kind) => bail!("{value:?} is not a {kind:?}"),
        })
    }

    /// Feeds the value to a table's checksum, unambiguously (type, length, bytes).
    fn digest(&self, hash: &mut Sha256) {
        match self {
            Self::Null => hash.update(b"N"),
            Self::Int(n) => hash.update(format!("I{n};")),
            Self::Bool(b) => hash.update(if *b { "B1" } else { "B0" }),
            Self::Double(x) => hash.update(format!("D{};", x.to_bits())),
            Self::Text(text) => {
                hash.update(format!("T{}:", text.len()));
                hash.update(text.as_bytes());
            }
            Self::Bytes(bytes) => {
                hash.update(format!("X{}:", bytes.len()));
                hash.update(bytes);
            }
        }
    }
}

/// A table as PostgreSQL describes it.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    columns: Vec<(String, ColumnType)>,
    key: Vec<String>,
    identity: Vec<String>,
}

impl Table {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `ORDER BY` the primary key, bytewise for text on both sides.
    fn key_order(&self, postgres: bool) -> String {
        self.key
            .iter()
            .map(|column| {
                let text = self
                    .columns
                    .iter()
                    .any(|(name, kind)| name == column && *kind == ColumnType::Text);
                match (text, postgres) {
                    (true, true) => format!("{column} COLLATE \"C\""),
                    _ => column.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The upsert writing one row, unless the row is there as it is.
    fn upsert(&self) -> String {
        let placeholders: Vec<String> = (1..=self.columns.len()).map(|i| format!("${i}")).collect();
        let overriding = if self.identity.is_empty() {
            ""
        } else {
            " OVERRIDING SYSTEM VALUE"
        };
        let rest: Vec<&str> = self
            .columns
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| !self.key.iter().any(|k| k == name))
            .collect();
        let on_conflict = if rest.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            let set: Vec<String> = rest.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
            let ours: Vec<String> = rest.iter().map(|c| format!("t.{c}")).collect();
            let theirs: Vec<String> = rest.iter().map(|c| format!("EXCLUDED.{c}")).collect();
            format!(
                "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                set.join(", "),
                ours.join(", "),
                theirs.join(", ")
            )
        };
        format!(
            "INSERT INTO {name} AS t ({columns}){overriding} VALUES ({values}) ON CONFLICT ({key}) {on_conflict}",
            name = self.name,
            columns = self.column_list(),
            values = placeholders.join(", "),
            key = self.key.join(", "),
        )
    }
}

/// Copies every table of the embedded catalog at `from` into the PostgreSQL
/// database `to` (both brought to this build's schema first), then checks each
/// table's row count and checksum in both; re-running changes nothing.
pub async fn migrate_catalog(from: &Path, to: &str) -> anyhow::Result<Vec<TableCopy>> {
    if !from.is_file() {
        bail!(
            "no embedded registry at {}: --from names its catalog file (sqlite:///path/to/catalog.sqlite3)",
            from.display()
        );
    }
    registry_sqlite::SqliteStore::open(from)
        .with_context(|| format!("opening the embedded catalog {}", from.display()))?;
    registry_postgres::PostgresStore::connect(to)
        .await
        .context("opening the PostgreSQL catalog")?;
    let client = registry_postgres::PostgresStore::connect_client(to)
        .await
        .context("connecting to PostgreSQL")?;
    let tables = describe_tables(&client).await?;
    let mut copies = Vec::with_capacity(tables.len());
    for table in &tables {
        let copied = copy_table(from, &client, table)
            .await
            .with_context(|| format!("copying table {}", table.name))?;
        let (rows, sha256) = check_table(&copied, &client, table)
            .await
            .with_context(|| format!("checking table {}", table.name))?;
        for column in &table.identity {
            // Rows copied with their own numbers: new rows continue after them.
            client
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{name}', '{column}'), COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)",
                        name = table.name
                    ),
                    &[],
                )
                .await
                .with_context(|| format!("moving {}.{column}'s sequence past the copy", table.name))?;
        }
        copies.push(TableCopy {
            table: table.name.clone(),
            rows,
            written: copied.written,
            sha256,
        });
    }
    Ok(copies)
}

/// Every table of the target's schema that holds registry data, with its columns
/// (in order), primary key and identity columns.
async fn describe_tables(client: &tokio_postgres::Client) -> anyhow::Result<Vec<Table>> {
    let names: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
             ORDER BY table_name",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .filter(|name: &String| !NOT_COPIED.contains(&name.as_str()))
        .collect();
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        // Names come from our own migrations; anything else is not ours to copy.
        if !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            bail!("table {name:?} is not one of the registry's");
        }
        let mut columns = Vec::new();
        let mut identity = Vec::new();
        for row in client
            .query(
                "SELECT column_name::text, data_type::text, is_identity::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
                &[&name],
            )
            .await?
        {
            let column: String = row.get(0);
            let data_type: String = row.get(1);
            let kind = ColumnType::of(&data_type)
                .with_context(|| format!("{name}.{column} is of type {data_type}, which the copy does not know"))?;
            if row.get::<_, String>(2) == "YES" {
                identity.push(column.clone());
            }
            columns.push((column, kind));
        }
        let key: Vec<String> = client
            .query(
                "SELECT a.attname::text FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary
                 ORDER BY array_position(i.indkey::int2[], a.attnum)",
                &[&name],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if key.is_empty() {
            bail!("table {name} has no primary key, so a copy could not be re-run safely");
        }
        tables.push(Table {
            name,
            columns,
            key,
            identity,
        });
    }
    Ok(tables)
}

/// Reads `table` from the SQLite file at `from` in key order, on a thread of its
/// own, and hands its rows over in batches (converted to the target's types).
fn read_rows(
    from: &Path,
    table: &Table,
) -> tokio::sync::mpsc::Receiver<anyhow::Result<Vec<Vec<Value>>>> {
    let (batches, receiver) = tokio::sync::mpsc::channel(2);
    let (from, table) = (from.to_owned(), table.clone());
    std::thread::spawn(move || {
        let read = || -> anyhow::Result<()> {
            let conn = rusqlite::Connection::open_with_flags(
                &from,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {}",
                table.column_list(),
                table.name,
                table.key_order(false)
            );
            let mut statement = conn
                .prepare(&sql)
                .with_context(|| format!("the embedded store has no matching {}", table.name))?;
            let mut rows = statement.query([])?;
            let mut batch = Vec::with_capacity(ROWS_PER_BATCH);
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(table.columns.len());
                for (i, (column, kind)) in table.columns.iter().enumerate() {
                    let cell = match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Cell::Null,
                        rusqlite::types::ValueRef::Integer(n) => Cell::Integer(n),
                        rusqlite::types::ValueRef::Real(x) => Cell::Real(x),
                        rusqlite::types::ValueRef::Text(text) => {
                            Cell::Text(String::from_utf8(text.to_vec()).with_context(|| {
                                format!("{}.{column} holds text that is not UTF-8", table.name)
                            })?)
                        }
                        rusqlite::types::ValueRef::Blob(bytes) => Cell::Blob(bytes.to_vec()),
                    };
                    values.push(Value::convert(cell, *kind, column)?);
                }
                batch.push(values);
                if batch.len() == ROWS_PER_BATCH
                    && batches
                        .blocking_send(Ok(std::mem::take(&mut batch)))
                        .is_err()
                {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                let _ = batches.blocking_send(Ok(batch));
            }
            Ok(())
        };
        if let Err(error) = read() {
            let _ = batches.blocking_send(Err(error));
        }
    });
    receiver
}

/// What one pass over a table of the embedded store did and read.
struct Copied {
    /// Rows the upserts wrote.
    written: u64,
    /// Rows read from the embedded store.
    rows: u64,
    /// Their checksum, in key order (see [`Value::digest`]).
    digest: Sha256,
}

/// Upserts every row of `table`, checksumming the rows as they pass, so the check
/// reads the embedded store no second time.
async fn copy_table(
    from: &Path,
    client: &tokio_postgres::Client,
    table: &Table,
) -> anyhow::Result<Copied> {
    let statement = client.prepare(&table.upsert()).await?;
    let mut batches = read_rows(from, table);
    let mut copied = Copied {
        written: 0,
        rows: 0,
        digest: Sha256::new(),
    };
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        let mut params = Vec::with_capacity(batch.len());
        for row in batch {
            copied.rows += 1;
            row.iter()
                .for_each(|value| value.digest(&mut copied.digest));
            let row: Vec<Box<dyn ToSql + Sync + Send>> = row
                .iter()
                .zip(&table.columns)
                .map(|(value, (_, kind))| value.param(*kind))
                .collect::<anyhow::Result<_>>()?;
            params.push(row);
        }
        // Sent together, the batch's statements share round trips (tokio-postgres
        // pipelines queries issued at once on one connection).
        let counts: Vec<u64> = futures_util::stream::iter(params.iter().map(|row| {
            let refs: Vec<&(dyn ToSql + Sync)> = row
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let statement = &statement;
            async move { client.execute(statement, &refs).await }
        }))
        .buffered(ROWS_PER_BATCH)
        .try_collect()
        .await?;
        copied.written += counts.iter().sum::<u64>();
    }
    Ok(copied)
}

/// Counts and checksums `table` in PostgreSQL; fails unless it agrees with what
/// the copy read from the embedded store.
async fn check_table(
    copied: &Copied,
    client: &tokio_postgres::Client,
    table: &Table,
) -> anyhow::Result<(u64, String)> {
    let (source_rows, source) = (copied.rows, copied.digest.clone());
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        table.column_list(),
        table.name,
        table.key_order(true)
    );
    let no_params: [&(dyn ToSql + Sync); 0] = [];
    let rows = client.query_raw(&sql, no_params).await?;
    futures_util::pin_mut!(rows);
    let mut target = Sha256::new();
    let mut target_rows = 0u64;
    while let Some(row) = rows.next().await {
        let row = row?;
        target_rows += 1;
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            let value = match kind {
                ColumnType::Text => row.get::<_, Option<String>>(i).map(Value::Text),
                ColumnType::BigInt => row.get::<_, Option<i64>>(i).map(Value::Int),
                ColumnType::Int => row.get::<_, Option<i32>>(i).map(|n| Value::Int(n.into())),
                ColumnType::SmallInt => row.get::<_, Option<i16>>(i).map(|n| Value::Int(n.into())),
                ColumnType::Bool => row.get::<_, Option<bool>>(i).map(Value::Bool),
                ColumnType::Double => row.get::<_, Option<f64>>(i).map(Value::Double),
                ColumnType::Bytes => row.get::<_, Option<Vec<u8>>>(i).map(Value::Bytes),
            };
            value.unwrap_or(Value::Null).digest(&mut target);
        }
    }
    if source_rows != target_rows {
        bail!(
            "{} has {source_rows} rows in the embedded store but {target_rows} in PostgreSQL: copy into an empty database (or one this command filled from the same registry)",
            table.name
        );
    }
    let (source, target) = (
        hex::encode(source.finalize()),
        hex::encode(target.finalize()),
    );
    if source != target {
        bail!(
            "{}'s rows differ between the embedded store and PostgreSQL after the copy (checksums {source} and {target})",
            table.name
        );
    }
    Ok((source_rows, source))
}

/// Copies every artifact file of the embedded registry at `data_dir` (published
/// schemas and bundles, org-catalog ZIPs) into `to` unless it is there, checking
/// each file against the SHA-256 its name carries, before and after.
pub async fn migrate_artifacts(
    data_dir: &Path,
    to: Arc<dyn ArtifactStore>,
) -> anyhow::Result<ArtifactCopy> {
    let mut copy = ArtifactCopy::default();
    for file in artifact_files(data_dir)? {
        let relative = file
            .strip_prefix(data_dir)
            .context("an artifact outside the data directory")?
            .to_str()
            .with_context(|| format!("{} is not a UTF-8 name", file.display()))?
            .to_owned();
        let key = ArtifactKey::from_stored(relative.clone());
        let bytes = tokio::fs::read(&file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let expected = named_sha256(&file)
            .with_context(|| format!("{} is not named by its SHA-256", file.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != expected {
            bail!(
                "{} does not match the SHA-256 in its name: run `openworkflow-registry sync` to repair the local copies first",
                file.display()
            );
        }
        copy.files += 1;
        copy.bytes += bytes.len() as u64;
        let content_type = content_type_of(&relative);
        if to
            .put_if_absent(&key, bytes.into(), content_type)
            .await
            .with_context(|| format!("copying {relative}"))?
            == PutOutcome::Created
        {
            copy.copied += 1;
        }
        let stored = to
            .get(&key)
            .await?
            .with_context(|| format!("{relative} is missing after the copy"))?;
        if hex::encode(Sha256::digest(&stored)) != expected {
            bail!("{relative} in the bucket does not match its SHA-256");
        }
    }
    Ok(copy)
}

/// The artifact files under `data_dir` (its `artifacts/` and `catalog/`), sorted.
fn artifact_files(data_dir: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut files = BTreeSet::new();
    let mut dirs: Vec<PathBuf> = ["artifacts", "catalog"]
        .iter()
        .map(|d| data_dir.join(d))
        .filter(|d| d.is_dir())
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
                files.insert(path);
            }
        }
    }
    Ok(files)
}

/// The SHA-256 an artifact's file name carries (`{sha256}.{extension}`).
fn named_sha256(file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_str()?;
    (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then(|| stem.to_owned())
}

/// The content type an artifact is stored with, from its extension.
fn content_type_of(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("yaml") => "application/yaml",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_writes_a_row_only_when_it_differs() {
        let table = Table {
            name: "plugins".to_owned(),
            columns: vec![
                ("slug".to_owned(), ColumnType::Text),
                ("downloads".to_owned(), ColumnType::BigInt),
            ],
            key: vec!["slug".to_owned()],
            identity: vec![],
        };
        assert_eq!(
            table.upsert(),
            "INSERT INTO plugins AS t (slug, downloads) VALUES ($1, $2) ON CONFLICT (slug) DO UPDATE SET downloads = EXCLUDED.downloads WHERE (t.downloads) IS DISTINCT FROM (EXCLUDED.downloads)"
        );
        assert_eq!(table.key_order(true), "slug COLLATE \"C\"");
        assert_eq!(table.key_order(false), "slug");
    }

    #[test]
    fn values_convert_to_their_column_and_checksum_unambiguously() {
        let int = Value::convert(Cell::Integer(1), ColumnType::Bool, "x").unwrap();
        assert_eq!(int, Value::Bool(true));
        assert!(Value::convert(Cell::Real(1.5), ColumnType::Text, "x").is_err());
        let digest = |values: &[Value]| {
            let mut hash = Sha256::new();
            values.iter().for_each(|v| v.digest(&mut hash));
            hex::encode(hash.finalize())
        };
        // "ab" + "c" and "a" + "bc" are different rows.
        assert_ne!(
            digest(&[Value::Text("ab".into()), Value::Text("c".into())]),
            digest(&[Value::Text("a".into()), Value::Text("bc".into())])
        );
        assert_ne!(
            digest(&[Value::Null]),
            digest(&[Value::Text(String::new())])
        );
    }

    #[test]
    fn an_artifact_is_named_by_its_sha256() {
        let sha = "a".repeat(64);
        assert_eq!(
            named_sha256(Path::new(&format!("artifacts/x/1.0.0/{sha}.zip"))),
            Some(sha)
        );
        assert_eq!(named_sha256(Path::new("artifacts/x/1.0.0/short.zip")), None);
        assert_eq!(
            content_type_of("artifacts/x/1.0.0/a.yaml"),
            "application/yaml"
        );
    }
}
