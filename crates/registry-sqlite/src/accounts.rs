//! The account port in SQLite: accounts, sessions and sign-in attempts.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use registry_core::account::{Account, Identity, LoginAttempt, SessionId, SessionRecord};
use registry_core::auth::{Principal, PrincipalId, SecretHash};
use registry_core::store::codec::{secret_hash_from_stored, timestamp_from_stored};
use registry_core::store::{AccountStore, Conflict, StorageError};
use registry_core::timestamp::Timestamp;

use crate::{SqliteStore, backend};

const SESSION_COLUMNS: &str = "hash, id, principal, login, created_at, expires_at";

fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 6]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ])
}

fn session_record(
    [hash, id, principal, login, created_at, expires_at]: [String; 6],
) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        id: SessionId::from_stored(id),
        hash: secret_hash_from_stored(&hash)?,
        principal: PrincipalId::from_stored(principal),
        login,
        created_at: timestamp_from_stored("created_at", &created_at)?,
        expires_at: timestamp_from_stored("expires_at", &expires_at)?,
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account(&self, identity: &Identity) -> Result<Option<Account>, StorageError> {
        let identity = identity.clone();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT principal, login, created_at, signed_in_at FROM accounts
                     WHERE issuer = ?1 AND subject = ?2",
                    params![identity.issuer, identity.subject],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(backend)?;
            row.map(|(principal, login, created_at, signed_in_at)| {
                Ok(Account {
                    identity: identity.clone(),
                    principal: PrincipalId::from_stored(principal),
                    login,
                    created_at: timestamp_from_stored("created_at", &created_at)?,
                    signed_in_at: timestamp_from_stored("signed_in_at", &signed_in_at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn create_account(
        &self,
        account: &Account,
        principal: &Principal,
    ) -> Result<(), StorageError> {
        let (a, p) = (account.clone(), principal.clone());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let linked = tx
                .execute(
                    "INSERT OR IGNORE INTO accounts (issuer, subject, principal, login, created_at, signed_in_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        a.identity.issuer,
                        a.identity.subject,
                        a.principal.as_str(),
                        a.login,
                        a.created_at.to_string(),
                        a.signed_in_at.to_string()
                    ],
                )
                .map_err(backend)?;
            let created = tx
                .execute(
                    "INSERT OR IGNORE INTO principals (id, name, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![p.id.as_str(), p.name, p.kind.as_str(), p.created_at.to_string()],
                )
                .map_err(backend)?;
            if linked == 0 || created == 0 {
                // Dropping the transaction rolls back whichever half was written.
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn record_sign_in(
        &self,
        identity: &Identity,
        login: &str,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let (identity, login) = (identity.clone(), login.to_owned());
        self.with_conn(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE accounts SET login = ?3, signed_in_at = ?4 WHERE issuer = ?1 AND subject = ?2",
                    params![identity.issuer, identity.subject, login, at.to_string()],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let s = session.clone();
        self.with_conn(move |conn| {
            // Expired sessions are swept as new ones arrive: the table stays the
            // size of the live sessions without a timer. Stored times are RFC 3339
            // in UTC to the second, so text order is time order.
            conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                [s.created_at.to_string()],
            )
            .map_err(backend)?;
            let inserted = conn
                .execute(
                    &format!("INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    params![
                        s.hash.to_hex(),
                        s.id.as_str(),
                        s.principal.as_str(),
                        s.login,
                        s.created_at.to_string(),
                        s.expires_at.to_string()
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

    async fn session(&self, hash: &SecretHash) -> Result<Option<SessionRecord>, StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE hash = ?1"
            ))
            .and_then(|mut s| s.query_row([hash], session_row).optional())
            .map_err(backend)?
            .map(session_record)
            .transpose()
        })
        .await
    }

    async fn delete_session(&self, hash: &SecretHash) -> Result<(), StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            conn.execute("DELETE FROM sessions WHERE hash = ?1", [hash])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete_sessions_of(&self, principal: &PrincipalId) -> Result<usize, StorageError> {
        let principal = principal.as_str().to_owned();
        self.with_conn(move |conn| {
            conn.execute("DELETE FROM sessions WHERE principal = ?1", [principal])
                .map_err(backend)
        })
        .await
    }

    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StorageError> {
        let a = attempt.clone();
        self.with_conn(move |conn| {
            // Abandoned attempts are swept as new ones arrive (see `insert_session`);
            // an attempt lives minutes, so one that lapsed a day ago is long dead.
            conn.execute(
                "DELETE FROM login_attempts WHERE expires_at <= ?1",
                [a.expires_at.plus(-time::Duration::days(1)).to_string()],
            )
            .map_err(backend)?;
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO login_attempts (hash, provider, state, nonce, pkce_verifier, return_to, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        a.hash.to_hex(),
                        a.provider,
                        a.state,
                        a.nonce,
                        a.pkce_verifier,
                        a.return_to,
                        a.expires_at.to_string()
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

    async fn take_login_attempt(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<LoginAttempt>, StorageError> {
        let hash = *hash;
        self.with_conn(move |conn| {
            // One statement removes and returns the row: a second taker finds nothing.
            let row = conn
                .query_row(
                    "DELETE FROM login_attempts WHERE hash = ?1
                     RETURNING provider, state, nonce, pkce_verifier, return_to, expires_at",
                    [hash.to_hex()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    },
                )
                .optional()
                .map_err(backend)?;
            row.map(
                |(provider, state, nonce, pkce_verifier, return_to, expires_at)| {
                    Ok(LoginAttempt {
                        hash,
                        provider,
                        state,
                        nonce,
                        pkce_verifier,
                        return_to,
                        expires_at: timestamp_from_stored("expires_at", &expires_at)?,
                    })
                },
            )
            .transpose()
        })
        .await
    }
}
