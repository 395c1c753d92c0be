//! The PostgreSQL storage adapters: every port `registry_core::store` names, in
//! one database, for a registry that outgrows one SQLite file or runs on several
//! nodes.
//!
//! Every write that reads before it writes runs in a `SERIALIZABLE` transaction,
//! retried when PostgreSQL reports a serialization failure, so each behaves as if
//! it ran alone: the guarantees the SQLite store gets from one immediate
//! transaction at a time (create-if-absent, compare-and-set, one winner among
//! racing writers) hold here without a lock over the whole database.

mod accounts;
mod audit;
mod catalog;
mod coordination;
mod downloads;
mod journal;
mod keys;
mod mcp_router;
pub mod migrations;
mod orgs;
mod ownership;
mod rate_limits;
mod reports;
mod tls;
mod trusted_publishing;
mod webhooks;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row, Transaction};

use tls::TlsSetting;
pub use tls::TlsSettingError;

pub(crate) use registry_core::store::codec::{corrupt, from_json, to_json};
use registry_core::store::{Conflict, StorageError};

/// Connections the pool opens at most, unless the URL's `pool_size` says otherwise.
const DEFAULT_POOL_SIZE: usize = 16;
/// How long a request waits for a pooled connection before it is told to retry.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at a serializable transaction before the write is reported unavailable.
const SERIALIZABLE_ATTEMPTS: u32 = 12;

/// The future a transaction body returns: it borrows the transaction and the
/// body's arguments for as long as it runs.
pub(crate) type TxFuture<'t, T> =
    Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 't>>;

/// The store in one PostgreSQL database: every port `registry_core::store` names.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

/// How the connection pool is used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections lent out.
    pub in_use: usize,
    /// Connections open and waiting to be lent.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max: usize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// How the connection pool is used right now (for `/metrics`).
    pub fn pool_use(&self) -> PoolUse {
        let status = self.pool.status();
        PoolUse {
            in_use: status.size.saturating_sub(status.available),
            idle: status.available,
            waiting: status.waiting,
            max: status.max_size,
        }
    }

    /// Connects to the database `url` names (`postgres://user@host:port/db`;
    /// `?options=-csearch_path%3Dschema` picks a schema; `?sslmode=verify-full`,
    /// with `&sslrootcert=/path/ca.pem` for a private CA, connects over TLS) and
    /// brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let (config, tls) = connection_config(url)?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            TlsSetting::Off => Manager::from_config(config, NoTls, manager_config),
            TlsSetting::Verified { roots } => Manager::from_config(
                config,
                tls::rustls_connector(roots.as_deref())?,
                manager_config,
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(DEFAULT_POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Backend(Box::new(e)))?;
        let store = Self { pool };
        let mut client = store.client().await?;
        migrations::apply(&mut client).await?;
        Ok(store)
    }

    /// One connection of its own to the database `url` names, outside any pool
    /// (for operator tools), with the same TLS settings as [`PostgresStore::connect`].
    pub async fn connect_client(url: &str) -> Result<tokio_postgres::Client, StorageError> {
        let (config, tls) = connection_config(url)?;
        let unavailable = |e: tokio_postgres::Error| StorageError::Unavailable(Box::new(e));
        let client = match tls {
            TlsSetting::Off => {
                let (client, connection) = config.connect(NoTls).await.map_err(unavailable)?;
                tokio::spawn(connection);
                client
            }
            TlsSetting::Verified { roots } => {
                let connector = tls::rustls_connector(roots.as_deref())?;
                let (client, connection) = config.connect(connector).await.map_err(unavailable)?;
                tokio::spawn(connection);
                client
            }
        };
        Ok(client)
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::Unavailable(Box::new(e)))
    }

    /// Runs `body` in a `SERIALIZABLE` transaction and commits it, running it
    /// again (in a fresh transaction) when PostgreSQL could not serialize it
    /// beside another; an error from `body` rolls back what it wrote.
    pub(crate) async fn write<A, T, F>(&self, args: A, body: F) -> Result<T, StorageError>
    where
        A: Send + Sync,
        T: Send,
        F: for<'t> Fn(&'t Transaction<'t>, &'t A) -> TxFuture<'t, T> + Send + Sync,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .transaction(IsolationLevel::Serializable, false, &args, &body)
                .await
            {
                Err(e) if is_serialization_failure(&e) && attempt < SERIALIZABLE_ATTEMPTS => {
                    // Jittered, growing pauses, so racing writers stop colliding.
                    let ceiling = 1u32 << attempt.min(6);
                    let pause = 1 + u64::from(rand_below(ceiling));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
    }

    /// Runs `body` in a read-only `REPEATABLE READ` transaction: every statement
    /// in it sees the same snapshot.
    pub(crate) async fn read<A, T, F>(&self, args: A, body: F) -> Result<T, StorageError>
    where
        A: Send + Sync,
        T: Send,
        F: for<'t> Fn(&'t Transaction<'t>, &'t A) -> TxFuture<'t, T> + Send + Sync,
    {
        self.transaction(IsolationLevel::RepeatableRead, true, &args, &body)
            .await
    }

    /// `body` in one transaction at `isolation`, committed if it succeeds.
    async fn transaction<A, T, F>(
        &self,
        isolation: IsolationLevel,
        read_only: bool,
        args: &A,
        body: &F,
    ) -> Result<T, StorageError>
    where
        A: Send + Sync,
        T: Send,
        F: for<'t> Fn(&'t Transaction<'t>, &'t A) -> TxFuture<'t, T> + Send + Sync,
    {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(isolation)
            .read_only(read_only)
            .start()
            .await
            .map_err(backend)?;
        let value = body(&tx, args).await?;
        tx.commit().await.map_err(backend)?;
        Ok(value)
    }
}

impl PostgresStore {
    /// Runs `sql` with `params` and returns how many rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StorageError> {
        let client = self.client().await?;
        client.execute(sql, params).await.map_err(backend)
    }

    /// Runs `sql` with `params`; [`Conflict`] `if_none` when it changes no row.
    pub(crate) async fn change_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        if_none: Conflict,
    ) -> Result<(), StorageError> {
        if self.execute(sql, params).await? == 0 {
            return Err(StorageError::Conflict(if_none));
        }
        Ok(())
    }

    /// Every row `sql` selects with `params`.
    pub(crate) async fn select_all(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StorageError> {
        let client = self.client().await?;
        client.query(sql, params).await.map_err(backend)
    }

    /// The one row `sql` selects with `params`, if any.
    pub(crate) async fn select_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StorageError> {
        let client = self.client().await?;
        client.query_opt(sql, params).await.map_err(backend)
    }
}

/// The driver's settings for `url`, and the TLS it asks for.
fn connection_config(url: &str) -> Result<(tokio_postgres::Config, TlsSetting), StorageError> {
    let (url, tls) = tls::split_tls_setting(url).map_err(|e| StorageError::Backend(Box::new(e)))?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StorageError::Backend(Box::new(e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("openworkflow-registry");
    config.ssl_mode(match tls {
        TlsSetting::Off => tokio_postgres::config::SslMode::Disable,
        TlsSetting::Verified { .. } => tokio_postgres::config::SslMode::Require,
    });
    Ok((config, tls))
}

/// A number below `n` from the OS's random source (0 when it fails).
fn rand_below(n: u32) -> u32 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() || n == 0 {
        return 0;
    }
    u32::from_le_bytes(bytes) % n
}

/// Whether `e` is PostgreSQL saying a transaction must be run again.
fn is_serialization_failure(e: &StorageError) -> bool {
    let (StorageError::Unavailable(inner) | StorageError::Backend(inner)) = e else {
        return false;
    };
    inner
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// A driver error as a storage error: a lost or refused connection, or a
/// transaction to run again, is [`StorageError::Unavailable`].
pub(crate) fn backend(e: tokio_postgres::Error) -> StorageError {
    let retryable = e.is_closed()
        || e.code().is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        });
    if retryable {
        StorageError::Unavailable(Box::new(e))
    } else {
        StorageError::Backend(Box::new(e))
    }
}

/// Sets `column` of the row of `table` whose `key_column` is `key` to `at`,
/// unless it is already `since` or later; returns whether it was set. (A
/// bookkeeping time written at most once per period however often it is asked:
/// a key's last use, a device sign-in's last poll.) The names are this crate's
/// own constants, never input.
pub(crate) async fn set_time_unless_since(
    store: &PostgresStore,
    table: &str,
    key_column: &str,
    key: &str,
    column: &str,
    at: registry_core::timestamp::Timestamp,
    since: registry_core::timestamp::Timestamp,
) -> Result<bool, StorageError> {
    // Stored times are RFC 3339 in UTC to the second, so text order is time order.
    let client = store.client().await?;
    let set = client
        .execute(
            &format!(
                "UPDATE {table} SET {column} = $2 WHERE {key_column} = $1 AND ({column} IS NULL OR {column} < $3)"
            ),
            &[&key, &at.to_string(), &since.to_string()],
        )
        .await
        .map_err(backend)?;
    Ok(set == 1)
}

/// A nullable time column read back.
pub(crate) fn optional_time(
    what: &str,
    raw: Option<&str>,
) -> Result<Option<registry_core::timestamp::Timestamp>, StorageError> {
    raw.map(|t| registry_core::store::codec::timestamp_from_stored(what, t))
        .transpose()
}

/// A count or size from the database, which stores them signed.
pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count or size as the database stores it.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
