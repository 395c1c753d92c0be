//! The embedded storage adapters: the catalog, keys, orgs, the org catalog and the
//! MCP router's instances in one SQLite file (WAL mode), every conditional write done
//! inside one immediate transaction.

mod mcp_router;
pub mod migrations;
mod orgs;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use registry_core::auth::{
    ApiKeyRecord, KeyHash, KeyId, Principal, PrincipalId, PrincipalKind, Scope, Scopes,
};
use registry_core::slug::Slug;
use registry_core::store::{
    CatalogStore, Conflict, KeyStore, LatestSummary, PluginListing, PluginRecord, StorageError,
    VersionChange, VersionRecord, VersionSummary,
};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

/// SQLite-backed [`CatalogStore`] and [`KeyStore`].
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StorageError> {
        // WAL lets `create-key` run beside a serving process; the busy timeout makes
        // the two wait for each other instead of failing.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrations::apply(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn with_conn<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Backend(Box::new(e)))?
    }
}

pub(crate) fn backend(e: rusqlite::Error) -> StorageError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StorageError::Unavailable(Box::new(e))
        }
        other => StorageError::Backend(Box::new(other)),
    }
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Backend(Box::new(e)))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    raw: &str,
) -> Result<T, StorageError> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

fn bump_catalog_revision(tx: &rusqlite::Transaction<'_>) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE name = 'catalog_revision'",
        [],
    )
    .map_err(backend)?;
    Ok(())
}

fn insert_version_row(
    tx: &rusqlite::Transaction<'_>,
    slug: &Slug,
    record: &VersionRecord,
) -> Result<(), StorageError> {
    let inserted = tx
        .execute(
            "INSERT OR IGNORE INTO versions (slug, version, sort_key, record) VALUES (?1, ?2, ?3, ?4)",
            params![slug.as_str(), record.version.to_string(), record.version.sort_key(), to_json(record)?],
        )
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StorageError::Conflict(Conflict::VersionExists));
    }
    Ok(())
}

type PluginRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    i64,
);

/// A plugin row and its raw version records, parsed.
fn plugin_with_records(
    row: PluginRow,
    raw_records: &[String],
) -> Result<(PluginRecord, Vec<VersionRecord>), StorageError> {
    let (slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances) = row;
    let records = raw_records
        .iter()
        .map(|raw| from_json::<VersionRecord>("version record", raw))
        .collect::<Result<Vec<_>, _>>()?;
    let plugin = PluginRecord {
        slug: Slug::parse(&slug).map_err(|e| corrupt("slug", e))?,
        owner: PrincipalId::from_stored(owner),
        created_at: Timestamp::parse(&created_at).map_err(|e| corrupt("created_at", e))?,
        updated_at: Timestamp::parse(&updated_at).map_err(|e| corrupt("updated_at", e))?,
        downloads: u64::try_from(downloads).unwrap_or(0),
        healthy_instances: u64::try_from(healthy_instances).unwrap_or(0),
        revision: u64::try_from(revision).unwrap_or(0),
        latest: latest
            .map(|raw| from_json("latest summary", &raw))
            .transpose()?,
        versions: records.iter().map(VersionSummary::of).collect(),
    };
    Ok((plugin, records))
}

fn plugin_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PluginRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        Ok(self
            .plugin_with_versions(slug)
            .await?
            .map(|(plugin, _)| plugin))
    }

    async fn plugin_with_versions(
        &self,
        slug: &Slug,
    ) -> Result<Option<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances FROM plugins WHERE slug = ?1",
                    [slug.as_str()],
                    plugin_row,
                )
                .optional()
                .map_err(backend)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached("SELECT record FROM versions WHERE slug = ?1")
                .map_err(backend)?;
            let records = stmt
                .query_map([slug.as_str()], |r| r.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(Some((row, records)))
        })
        .await?
        .map(|(row, records)| plugin_with_records(row, &records))
        .transpose()
    }

    async fn plugins_with_versions_page(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let after = after.map(|s| s.as_str().to_owned()).unwrap_or_default();
        // Both queries in one trip; the JSON is parsed after the connection is
        // released, so parsing one page overlaps reading the next.
        let (rows, mut records) = self
            .with_conn(move |conn| {
                let rows = conn
                    .prepare_cached(
                        "SELECT slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances FROM plugins
                         WHERE slug > ?1 ORDER BY slug LIMIT ?2",
                    )
                    .map_err(backend)?
                    .query_map(params![after, limit as i64], plugin_row)
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let Some(last) = rows.last().map(|row| row.0.clone()) else {
                    return Ok((rows, HashMap::new()));
                };
                let mut records: HashMap<String, Vec<String>> = HashMap::new();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT slug, record FROM versions WHERE slug > ?1 AND slug <= ?2",
                    )
                    .map_err(backend)?;
                let found = stmt
                    .query_map(params![after, last], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(backend)?;
                for row in found {
                    let (slug, record) = row.map_err(backend)?;
                    records.entry(slug).or_default().push(record);
                }
                Ok((rows, records))
            })
            .await?;
        rows.into_iter()
            .map(|row| {
                let own = records.remove(&row.0).unwrap_or_default();
                plugin_with_records(row, &own)
            })
            .collect()
    }

    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        let (slug, version) = (slug.clone(), version.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM versions WHERE slug = ?1 AND version = ?2",
                params![slug.as_str(), version],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("version record", &raw))
            .transpose()
        })
        .await
    }

    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        let (slug, owner, first, latest_json) =
            (slug.clone(), owner.clone(), first.clone(), to_json(latest)?);
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let at = first.published_at.to_string();
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO plugins (slug, owner, created_at, updated_at, downloads, revision, latest)
                     VALUES (?1, ?2, ?3, ?3, 0, 1, ?4)",
                    params![slug.as_str(), owner.as_str(), at, latest_json],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::PluginExists));
            }
            insert_version_row(&tx, &slug, &first)?;
            bump_catalog_revision(&tx)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn add_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        record: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        let (slug, record, latest_json) = (slug.clone(), record.clone(), to_json(latest)?);
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let updated = tx
                .execute(
                    "UPDATE plugins SET revision = revision + 1, updated_at = ?3, latest = ?4
                     WHERE slug = ?1 AND revision = ?2",
                    params![
                        slug.as_str(),
                        expected_revision as i64,
                        record.published_at.to_string(),
                        latest_json
                    ],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            insert_version_row(&tx, &slug, &record)?;
            bump_catalog_revision(&tx)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn change_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let latest_json = latest.map(to_json).transpose()?;
        let (slug, version, change) = (slug.clone(), version.clone(), change.clone());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let updated = tx
                .execute(
                    "UPDATE plugins SET revision = revision + 1, updated_at = ?3, latest = ?4
                     WHERE slug = ?1 AND revision = ?2",
                    params![
                        slug.as_str(),
                        expected_revision as i64,
                        at.to_string(),
                        latest_json
                    ],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            let raw: Option<String> = tx
                .query_row(
                    "SELECT record FROM versions WHERE slug = ?1 AND version = ?2",
                    params![slug.as_str(), version.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(raw) = raw else {
                return Err(StorageError::Conflict(Conflict::Missing));
            };
            let mut record: VersionRecord = from_json("version record", &raw)?;
            change.apply(&mut record.deprecated, &mut record.unpublished_at);
            tx.execute(
                "UPDATE versions SET record = ?3 WHERE slug = ?1 AND version = ?2",
                params![slug.as_str(), version.to_string(), to_json(&record)?],
            )
            .map_err(backend)?;
            bump_catalog_revision(&tx)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn record_download(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        day: time::Date,
    ) -> Result<(), StorageError> {
        let (slug, version) = (slug.clone(), version.to_string());
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO daily_downloads (slug, version, day, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (slug, version, day) DO UPDATE SET count = count + 1",
            )
            .and_then(|mut s| s.execute(params![slug.as_str(), version, day.to_string()]))
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: time::Date,
    ) -> Result<u64, StorageError> {
        let (slug, version) = (slug.clone(), version.to_string());
        self.with_conn(move |conn| {
            let total: i64 = conn
                .query_row(
                    "SELECT COALESCE(SUM(count), 0) FROM daily_downloads WHERE slug = ?1 AND version = ?2 AND day >= ?3",
                    params![slug.as_str(), version, since.to_string()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(u64::try_from(total).unwrap_or(0))
        })
        .await
    }

    async fn roll_up_downloads(&self) -> Result<Vec<Slug>, StorageError> {
        self.with_conn(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let changed: Vec<String> = {
                let mut stmt = tx
                    .prepare(
                        "UPDATE plugins SET downloads = totals.total
                         FROM (SELECT slug, SUM(count) AS total FROM daily_downloads GROUP BY slug) AS totals
                         WHERE plugins.slug = totals.slug AND plugins.downloads != totals.total
                         RETURNING plugins.slug",
                    )
                    .map_err(backend)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            if !changed.is_empty() {
                bump_catalog_revision(&tx)?;
            }
            tx.commit().map_err(backend)?;
            let mut slugs = changed
                .iter()
                .map(|raw| Slug::parse(raw).map_err(StorageError::Corrupt))
                .collect::<Result<Vec<_>, _>>()?;
            slugs.sort();
            Ok(slugs)
        })
        .await
    }

    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        self.with_conn(|conn| {
            let value: i64 = conn
                .prepare_cached("SELECT value FROM meta WHERE name = 'catalog_revision'")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(backend)?;
            Ok(u64::try_from(value).unwrap_or(0))
        })
        .await
    }

    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        let after = after.map(|s| s.as_str().to_owned()).unwrap_or_default();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances FROM plugins
                     WHERE slug > ?1 ORDER BY slug LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![after, limit as i64], plugin_row)
                .map_err(backend)?;
            rows.map(|row| {
                let (slug, _, created_at, updated_at, downloads, _, latest, _) = row.map_err(backend)?;
                Ok(PluginListing {
                    slug: Slug::parse(&slug).map_err(|e| corrupt("slug", e))?,
                    created_at: Timestamp::parse(&created_at).map_err(|e| corrupt("created_at", e))?,
                    updated_at: Timestamp::parse(&updated_at).map_err(|e| corrupt("updated_at", e))?,
                    downloads: u64::try_from(downloads).unwrap_or(0),
                    latest: latest.map(|raw| from_json("latest summary", &raw)).transpose()?,
                })
            })
            .collect()
        })
        .await
    }
}

type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn key_record(
    (id, hash, principal, name, scopes, created_at, revoked_at): KeyRow,
) -> Result<ApiKeyRecord, StorageError> {
    let scopes = scopes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(Scope::parse)
        .collect::<Result<Scopes, _>>()
        .map_err(|e| corrupt("scopes", e))?;
    Ok(ApiKeyRecord {
        id: KeyId::from_stored(id),
        hash: KeyHash::from_hex(&hash).ok_or_else(|| corrupt("key hash", "not hex"))?,
        principal: PrincipalId::from_stored(principal),
        name,
        scopes,
        created_at: Timestamp::parse(&created_at).map_err(|e| corrupt("created_at", e))?,
        revoked_at: revoked_at
            .map(|t| Timestamp::parse(&t).map_err(|e| corrupt("revoked_at", e)))
            .transpose()?,
    })
}

const KEY_COLUMNS: &str = "id, hash, principal, name, scopes, created_at, revoked_at";

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_principal(&self, principal: &Principal) -> Result<(), StorageError> {
        let p = principal.clone();
        self.with_conn(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO principals (id, name, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![p.id.as_str(), p.name, p.kind.as_str(), p.created_at.to_string()],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn principal(&self, id: &PrincipalId) -> Result<Option<Principal>, StorageError> {
        let id = id.clone();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT name, kind, created_at FROM principals WHERE id = ?1",
                    [id.as_str()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(backend)?;
            row.map(|(name, kind, created_at)| {
                Ok(Principal {
                    id: id.clone(),
                    name,
                    kind: PrincipalKind::parse(&kind).map_err(|e| corrupt("principal kind", e))?,
                    created_at: Timestamp::parse(&created_at)
                        .map_err(|e| corrupt("created_at", e))?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let key = key.clone();
        self.with_conn(move |conn| {
            let scopes = key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO api_keys (id, hash, principal, name, scopes, created_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                    params![
                        key.id.as_str(),
                        key.hash.to_hex(),
                        key.principal.as_str(),
                        key.name,
                        scopes,
                        key.created_at.to_string()
                    ],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn key_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1"
            ))
            .and_then(|mut s| s.query_row([hash], key_row).optional())
            .map_err(backend)?
            .map(key_record)
            .transpose()
        })
        .await
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StorageError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
                [id],
                key_row,
            )
            .optional()
            .map_err(backend)?
            .map(key_record)
            .transpose()
        })
        .await
    }

    async fn list_keys(
        &self,
        principal: Option<&PrincipalId>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let principal = principal.map(|p| p.as_str().to_owned());
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR principal = ?1 ORDER BY created_at, id"
                ))
                .map_err(backend)?;
            let rows = stmt.query_map([principal], key_row).map_err(backend)?;
            rows.map(|r| key_record(r.map_err(backend)?)).collect()
        })
        .await
    }

    async fn revoke_key(&self, id: &KeyId, at: Timestamp) -> Result<(), StorageError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at.to_string()],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn any_key_exists(&self) -> Result<bool, StorageError> {
        self.with_conn(|conn| {
            conn.query_row("SELECT EXISTS (SELECT 1 FROM api_keys)", [], |r| r.get(0))
                .map_err(backend)
        })
        .await
    }
}
