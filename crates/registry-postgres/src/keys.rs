//! The key port in PostgreSQL: principals and API keys.

use async_trait::async_trait;
use tokio_postgres::Row;

use registry_core::auth::{ApiKeyRecord, KeyId, Principal, PrincipalId, PrincipalKind, SecretHash};
use registry_core::store::codec::{
    plugins_from_stored, plugins_to_stored, scopes_from_stored, scopes_to_stored,
    secret_hash_from_stored, timestamp_from_stored,
};
use registry_core::store::{Conflict, KeyStore, StorageError};
use registry_core::timestamp::Timestamp;

use crate::{PostgresStore, backend, corrupt, optional_time, set_time_unless_since};

const KEY_COLUMNS: &str =
    "id, hash, principal, name, scopes, created_at, revoked_at, expires_at, last_used_at, plugins";

/// A row of `api_keys` ([`KEY_COLUMNS`]) as a key record.
fn key_record(row: &Row) -> Result<ApiKeyRecord, StorageError> {
    let plugins: Option<&str> = row.get(9);
    Ok(ApiKeyRecord {
        id: KeyId::from_stored(row.get::<_, String>(0)),
        hash: secret_hash_from_stored(row.get(1))?,
        principal: PrincipalId::from_stored(row.get::<_, String>(2)),
        name: row.get(3),
        scopes: scopes_from_stored(row.get(4))?,
        created_at: timestamp_from_stored("created_at", row.get(5))?,
        revoked_at: optional_time("revoked_at", row.get(6))?,
        expires_at: optional_time("expires_at", row.get(7))?,
        last_used_at: optional_time("last_used_at", row.get(8))?,
        plugins: plugins.map(plugins_from_stored).transpose()?,
    })
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn create_principal(&self, principal: &Principal) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO principals (id, name, kind, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            &[
                &principal.id.as_str(),
                &principal.name,
                &principal.kind.as_str(),
                &principal.created_at.to_string(),
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn principal(&self, id: &PrincipalId) -> Result<Option<Principal>, StorageError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT name, kind, created_at FROM principals WHERE id = $1",
                &[&id.as_str()],
            )
            .await
            .map_err(backend)?;
        row.map(|row| {
            Ok(Principal {
                id: id.clone(),
                name: row.get(0),
                kind: PrincipalKind::parse(row.get(1)).map_err(|e| corrupt("principal kind", e))?,
                created_at: timestamp_from_stored("created_at", row.get(2))?,
            })
        })
        .transpose()
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        self.change_one(
                "INSERT INTO api_keys (id, hash, principal, name, scopes, created_at, revoked_at, expires_at, plugins)
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &key.id.as_str(),
                    &key.hash.to_hex(),
                    &key.principal.as_str(),
                    &key.name,
                    &scopes_to_stored(&key.scopes),
                    &key.created_at.to_string(),
                    &key.expires_at.map(|t| t.to_string()),
                    &key.plugins.as_ref().map(plugins_to_stored),
                ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"),
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(key_record)
            .transpose()
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(key_record)
            .transpose()
    }

    async fn list_keys(
        &self,
        principal: Option<&PrincipalId>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys
                     WHERE $1::TEXT IS NULL OR principal = $1 ORDER BY created_at, id"
                ),
                &[&principal.map(PrincipalId::as_str)],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(key_record)
            .collect()
    }

    async fn revoke_key(&self, id: &KeyId, at: Timestamp) -> Result<(), StorageError> {
        self.change_one(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id.as_str(), &at.to_string()],
            Conflict::Missing,
        )
        .await
    }

    async fn record_key_use(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<(), StorageError> {
        // A recent use already recorded is no error: nothing more to write.
        set_time_unless_since(
            self,
            "api_keys",
            "hash",
            &hash.to_hex(),
            "last_used_at",
            at,
            since,
        )
        .await
        .map(drop)
    }

    async fn any_key_exists(&self) -> Result<bool, StorageError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT EXISTS (SELECT 1 FROM api_keys)", &[])
            .await
            .map_err(backend)?
            .get(0))
    }
}
