//! The key port in SQLite: principals and API keys.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use registry_core::auth::{ApiKeyRecord, KeyId, Principal, PrincipalId, PrincipalKind, SecretHash};
use registry_core::store::codec::{
    plugins_from_stored, plugins_to_stored, scopes_from_stored, scopes_to_stored,
    secret_hash_from_stored, timestamp_from_stored,
};
use registry_core::store::{Conflict, KeyStore, StorageError};
use registry_core::timestamp::Timestamp;

use crate::{SqliteStore, backend, corrupt, set_time_unless_since};

/// One row of `api_keys`, as read (columns in [`KEY_COLUMNS`] order).
struct KeyRow {
    id: String,
    hash: String,
    principal: String,
    name: String,
    scopes: String,
    created_at: String,
    revoked_at: Option<String>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    plugins: Option<String>,
}

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: row.get(0)?,
        hash: row.get(1)?,
        principal: row.get(2)?,
        name: row.get(3)?,
        scopes: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
        expires_at: row.get(7)?,
        last_used_at: row.get(8)?,
        plugins: row.get(9)?,
    })
}

fn key_record(
    KeyRow {
        id,
        hash,
        principal,
        name,
        scopes,
        created_at,
        revoked_at,
        expires_at,
        last_used_at,
        plugins,
    }: KeyRow,
) -> Result<ApiKeyRecord, StorageError> {
    Ok(ApiKeyRecord {
        id: KeyId::from_stored(id),
        hash: secret_hash_from_stored(&hash)?,
        principal: PrincipalId::from_stored(principal),
        name,
        scopes: scopes_from_stored(&scopes)?,
        created_at: timestamp_from_stored("created_at", &created_at)?,
        revoked_at: revoked_at
            .map(|t| timestamp_from_stored("revoked_at", &t))
            .transpose()?,
        expires_at: expires_at
            .map(|t| timestamp_from_stored("expires_at", &t))
            .transpose()?,
        last_used_at: last_used_at
            .map(|t| timestamp_from_stored("last_used_at", &t))
            .transpose()?,
        plugins: plugins.map(|p| plugins_from_stored(&p)).transpose()?,
    })
}

const KEY_COLUMNS: &str =
    "id, hash, principal, name, scopes, created_at, revoked_at, expires_at, last_used_at, plugins";

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
                    created_at: timestamp_from_stored("created_at", &created_at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let key = key.clone();
        self.with_conn(move |conn| {
            let scopes = scopes_to_stored(&key.scopes);
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO api_keys (id, hash, principal, name, scopes, created_at, revoked_at, expires_at, plugins)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)",
                    params![
                        key.id.as_str(),
                        key.hash.to_hex(),
                        key.principal.as_str(),
                        key.name,
                        scopes,
                        key.created_at.to_string(),
                        key.expires_at.map(|t| t.to_string()),
                        key.plugins.as_ref().map(plugins_to_stored)
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

    async fn key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StorageError> {
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

    async fn record_key_use(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<(), StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            // A recent use already recorded is no error: nothing more to write.
            set_time_unless_since(conn, "api_keys", "hash", &hash, "last_used_at", at, since)
                .map(drop)
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
