//! The trusted-publishing port in SQLite: publishers and publish tokens, each row
//! the record whole as JSON beside the columns it is found by.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use registry_core::auth::SecretHash;
use registry_core::slug::Slug;
use registry_core::store::{Conflict, StorageError, TrustedPublishingStore};
use registry_core::trusted_publishing::{
    PublishTokenRecord, PublisherId, PublishingLock, TrustedPublisher,
};

use crate::{SqliteStore, backend, from_json, to_json};

fn publishers_where(
    conn: &rusqlite::Connection,
    sql: &str,
    key: String,
) -> Result<Vec<TrustedPublisher>, StorageError> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let rows = statement
        .query_map([key], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    rows.map(|raw| from_json("trusted publisher", &raw.map_err(backend)?))
        .collect()
}

#[async_trait]
impl TrustedPublishingStore for SqliteStore {
    async fn insert_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        let (id, plugin, lookup_key, created_at, json) = (
            publisher.id.to_string(),
            publisher.plugin.to_string(),
            publisher.ci.lookup_key(),
            publisher.created_at.to_string(),
            to_json(publisher)?,
        );
        self.with_conn(move |conn| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO trusted_publishers (id, plugin, lookup_key, created_at, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, plugin, lookup_key, created_at, json],
                )
                .map_err(backend)?;
            if added == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn publishers_of(&self, slug: &Slug) -> Result<Vec<TrustedPublisher>, StorageError> {
        let slug = slug.to_string();
        self.with_conn(move |conn| {
            publishers_where(
                conn,
                "SELECT record FROM trusted_publishers WHERE plugin = ?1 ORDER BY created_at, id",
                slug,
            )
        })
        .await
    }

    async fn publishers_for_ci(
        &self,
        lookup_key: &str,
    ) -> Result<Vec<TrustedPublisher>, StorageError> {
        let key = lookup_key.to_owned();
        self.with_conn(move |conn| {
            publishers_where(
                conn,
                "SELECT record FROM trusted_publishers WHERE lookup_key = ?1 ORDER BY created_at, id",
                key,
            )
        })
        .await
    }

    async fn replace_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        let (id, json) = (publisher.id.to_string(), to_json(publisher)?);
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE trusted_publishers SET record = ?2 WHERE id = ?1",
                    params![id, json],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn remove_publisher(&self, slug: &Slug, id: &PublisherId) -> Result<(), StorageError> {
        let (slug, id) = (slug.to_string(), id.to_string());
        self.with_conn(move |conn| {
            let removed = conn
                .execute(
                    "DELETE FROM trusted_publishers WHERE id = ?1 AND plugin = ?2",
                    params![id, slug],
                )
                .map_err(backend)?;
            if removed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn insert_publish_token(&self, token: &PublishTokenRecord) -> Result<(), StorageError> {
        let (hash, issuer, jti, retain_until, now, json) = (
            token.hash.to_hex(),
            token.issuer.clone(),
            token.jti.clone(),
            token.retain_until.to_string(),
            token.created_at.to_string(),
            to_json(token)?,
        );
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            // A lapsed row's jti can no longer be replayed: its CI token expired.
            tx.execute("DELETE FROM publish_tokens WHERE retain_until < ?1", [now])
                .map_err(backend)?;
            let added = tx
                .execute(
                    "INSERT OR IGNORE INTO publish_tokens (hash, issuer, jti, retain_until, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![hash, issuer, jti, retain_until, json],
                )
                .map_err(backend)?;
            if added == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn publish_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<PublishTokenRecord>, StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM publish_tokens WHERE hash = ?1",
                [hash],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("publish token", &raw))
            .transpose()
        })
        .await
    }

    async fn publishing_lock(&self, slug: &Slug) -> Result<Option<PublishingLock>, StorageError> {
        let slug = slug.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM publishing_locks WHERE plugin = ?1",
                [slug],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("publishing lock", &raw))
            .transpose()
        })
        .await
    }

    async fn set_publishing_lock(
        &self,
        slug: &Slug,
        lock: Option<&PublishingLock>,
    ) -> Result<(), StorageError> {
        let (slug, json) = (slug.to_string(), lock.map(to_json).transpose()?);
        self.with_conn(move |conn| {
            match json {
                Some(json) => conn.execute(
                    "INSERT INTO publishing_locks (plugin, record) VALUES (?1, ?2)
                     ON CONFLICT (plugin) DO UPDATE SET record = excluded.record",
                    params![slug, json],
                ),
                None => conn.execute("DELETE FROM publishing_locks WHERE plugin = ?1", [slug]),
            }
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
