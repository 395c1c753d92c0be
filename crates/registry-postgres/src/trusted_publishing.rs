//! The trusted-publishing port in PostgreSQL: publishers and publish tokens, each
//! row the record whole as JSON beside the columns it is found by.

use async_trait::async_trait;

use registry_core::auth::SecretHash;
use registry_core::slug::Slug;
use registry_core::store::{Conflict, StorageError, TrustedPublishingStore};
use registry_core::trusted_publishing::{
    PublishTokenRecord, PublisherId, PublishingLock, TrustedPublisher,
};

use crate::{PostgresStore, backend, from_json, to_json};

impl PostgresStore {
    /// The publishers whose `column` is `key`, oldest first.
    async fn publishers_where(
        &self,
        sql: &str,
        key: &str,
    ) -> Result<Vec<TrustedPublisher>, StorageError> {
        let client = self.client().await?;
        client
            .query(sql, &[&key])
            .await
            .map_err(backend)?
            .iter()
            .map(|row| from_json("trusted publisher", row.get(0)))
            .collect()
    }

    /// The JSON record of the row `sql` selects by `key`, decoded as `what`.
    async fn record_where<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(sql, &[&key])
            .await
            .map_err(backend)?
            .map(|row| from_json(what, row.get(0)))
            .transpose()
    }
}

#[async_trait]
impl TrustedPublishingStore for PostgresStore {
    async fn insert_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO trusted_publishers (id, plugin, lookup_key, created_at, record)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &publisher.id.to_string(),
                &publisher.plugin.as_str(),
                &publisher.ci.lookup_key(),
                &publisher.created_at.to_string(),
                &to_json(publisher)?,
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn publishers_of(&self, slug: &Slug) -> Result<Vec<TrustedPublisher>, StorageError> {
        self.publishers_where(
            "SELECT record FROM trusted_publishers WHERE plugin = $1 ORDER BY created_at, id",
            slug.as_str(),
        )
        .await
    }

    async fn publishers_for_ci(
        &self,
        lookup_key: &str,
    ) -> Result<Vec<TrustedPublisher>, StorageError> {
        self.publishers_where(
            "SELECT record FROM trusted_publishers WHERE lookup_key = $1 ORDER BY created_at, id",
            lookup_key,
        )
        .await
    }

    async fn replace_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        self.change_one(
            "UPDATE trusted_publishers SET record = $2 WHERE id = $1",
            &[&publisher.id.to_string(), &to_json(publisher)?],
            Conflict::Missing,
        )
        .await
    }

    async fn remove_publisher(&self, slug: &Slug, id: &PublisherId) -> Result<(), StorageError> {
        self.change_one(
            "DELETE FROM trusted_publishers WHERE id = $1 AND plugin = $2",
            &[&id.to_string(), &slug.as_str()],
            Conflict::Missing,
        )
        .await
    }

    async fn insert_publish_token(&self, token: &PublishTokenRecord) -> Result<(), StorageError> {
        let json = to_json(token)?;
        self.write((token, json), |tx, (token, json)| {
            Box::pin(async move {
                // A lapsed row's jti can no longer be replayed: its CI token expired.
                tx.execute(
                    "DELETE FROM publish_tokens WHERE retain_until < $1",
                    &[&token.created_at.to_string()],
                )
                .await
                .map_err(backend)?;
                let added = tx
                    .execute(
                        "INSERT INTO publish_tokens (hash, issuer, jti, retain_until, record)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        &[
                            &token.hash.to_hex(),
                            &token.issuer,
                            &token.jti,
                            &token.retain_until.to_string(),
                            json,
                        ],
                    )
                    .await
                    .map_err(backend)?;
                if added == 0 {
                    return Err(StorageError::Conflict(Conflict::AlreadyExists));
                }
                Ok(())
            })
        })
        .await
    }

    async fn publish_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<PublishTokenRecord>, StorageError> {
        self.record_where(
            "publish token",
            "SELECT record FROM publish_tokens WHERE hash = $1",
            &hash.to_hex(),
        )
        .await
    }

    async fn publishing_lock(&self, slug: &Slug) -> Result<Option<PublishingLock>, StorageError> {
        self.record_where(
            "publishing lock",
            "SELECT record FROM publishing_locks WHERE plugin = $1",
            slug.as_str(),
        )
        .await
    }

    async fn set_publishing_lock(
        &self,
        slug: &Slug,
        lock: Option<&PublishingLock>,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        match lock.map(to_json).transpose()? {
            Some(json) => {
                client
                    .execute(
                        "INSERT INTO publishing_locks (plugin, record) VALUES ($1, $2)
                         ON CONFLICT (plugin) DO UPDATE SET record = excluded.record",
                        &[&slug.as_str(), &json],
                    )
                    .await
            }
            None => {
                client
                    .execute(
                        "DELETE FROM publishing_locks WHERE plugin = $1",
                        &[&slug.as_str()],
                    )
                    .await
            }
        }
        .map_err(backend)?;
        Ok(())
    }
}
