//! The account port in SQLite: accounts, sessions and sign-in attempts.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use registry_core::account::{
    Account, DeviceGrant, DeviceGrantState, EmailAddress, Identity, LoginAttempt, SessionId,
    SessionRecord, UserCode,
};
use registry_core::auth::{Principal, PrincipalId, SecretHash};
use registry_core::store::codec::{
    device_grant_state_from_stored, secret_hash_from_stored, timestamp_from_stored,
};
use registry_core::store::{AccountStore, Conflict, StorageError};
use registry_core::timestamp::Timestamp;

use crate::{SqliteStore, backend, set_time_unless_since};

const ACCOUNT_COLUMNS: &str = "issuer, subject, principal, login, email, created_at, signed_in_at";

type AccountRow = ([String; 4], Option<String>, [String; 2]);

fn account_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok((
        [row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?],
        row.get(4)?,
        [row.get(5)?, row.get(6)?],
    ))
}

fn account_record(
    ([issuer, subject, principal, login], email, [created_at, signed_in_at]): AccountRow,
) -> Result<Account, StorageError> {
    Ok(Account {
        identity: Identity { issuer, subject },
        principal: PrincipalId::from_stored(principal),
        login,
        email: email.map(EmailAddress::from_stored),
        created_at: timestamp_from_stored("created_at", &created_at)?,
        signed_in_at: timestamp_from_stored("signed_in_at", &signed_in_at)?,
    })
}

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

const GRANT_COLUMNS: &str =
    "hash, user_code, key_name, created_at, expires_at, state, principal, session, last_polled_at";

type GrantRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn grant_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn grant_record(
    (hash, user_code, key_name, created_at, expires_at, state, principal, session, polled): GrantRow,
) -> Result<DeviceGrant, StorageError> {
    Ok(DeviceGrant {
        hash: secret_hash_from_stored(&hash)?,
        user_code: UserCode::from_stored(user_code),
        key_name,
        created_at: timestamp_from_stored("created_at", &created_at)?,
        expires_at: timestamp_from_stored("expires_at", &expires_at)?,
        state: device_grant_state_from_stored(&state, principal, session)?,
        last_polled_at: polled
            .map(|t| timestamp_from_stored("last_polled_at", &t))
            .transpose()?,
    })
}

/// The principal and session an approved state names, as columns.
fn approver(state: &DeviceGrantState) -> (Option<String>, Option<String>) {
    match state {
        DeviceGrantState::Approved { principal, session } => (
            Some(principal.as_str().to_owned()),
            Some(session.as_str().to_owned()),
        ),
        _ => (None, None),
    }
}

impl SqliteStore {
    /// The account matching `condition` (on its unique key) with `values`.
    async fn account_where(
        &self,
        condition: &'static str,
        values: Vec<String>,
    ) -> Result<Option<Account>, StorageError> {
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition}"),
                rusqlite::params_from_iter(values),
                account_row,
            )
            .optional()
            .map_err(backend)?
            .map(account_record)
            .transpose()
        })
        .await
    }

    /// The device grant whose `column` (a unique one: `hash`, `user_code`) is `value`.
    async fn device_grant_where(
        &self,
        column: &'static str,
        value: String,
    ) -> Result<Option<DeviceGrant>, StorageError> {
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {GRANT_COLUMNS} FROM device_grants WHERE {column} = ?1"),
                [value],
                grant_row,
            )
            .optional()
            .map_err(backend)?
            .map(grant_record)
            .transpose()
        })
        .await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account(&self, identity: &Identity) -> Result<Option<Account>, StorageError> {
        self.account_where(
            "issuer = ?1 AND subject = ?2",
            vec![identity.issuer.clone(), identity.subject.clone()],
        )
        .await
    }

    async fn account_of(&self, principal: &PrincipalId) -> Result<Option<Account>, StorageError> {
        self.account_where("principal = ?1", vec![principal.as_str().to_owned()])
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
                    "INSERT OR IGNORE INTO accounts (issuer, subject, principal, login, email, created_at, signed_in_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        a.identity.issuer,
                        a.identity.subject,
                        a.principal.as_str(),
                        a.login,
                        a.email.as_ref().map(EmailAddress::as_str),
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
        email: Option<&EmailAddress>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let (identity, login) = (identity.clone(), login.to_owned());
        let email = email.map(|e| e.as_str().to_owned());
        self.with_conn(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE accounts SET login = ?3, email = ?4, signed_in_at = ?5
                     WHERE issuer = ?1 AND subject = ?2",
                    params![
                        identity.issuer,
                        identity.subject,
                        login,
                        email,
                        at.to_string()
                    ],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn delete_account_of(&self, principal: &PrincipalId) -> Result<bool, StorageError> {
        let principal = principal.as_str().to_owned();
        self.with_conn(move |conn| {
            let deleted = conn
                .execute("DELETE FROM accounts WHERE principal = ?1", [principal])
                .map_err(backend)?;
            Ok(deleted > 0)
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

    async fn insert_device_grant(&self, grant: &DeviceGrant) -> Result<(), StorageError> {
        let g = grant.clone();
        self.with_conn(move |conn| {
            // Lapsed grants are swept as new ones arrive (see `insert_session`).
            conn.execute(
                "DELETE FROM device_grants WHERE expires_at <= ?1",
                [g.created_at.to_string()],
            )
            .map_err(backend)?;
            let (principal, session) = approver(&g.state);
            let inserted = conn
                .execute(
                    &format!("INSERT OR IGNORE INTO device_grants ({GRANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                    params![
                        g.hash.to_hex(),
                        g.user_code.as_str(),
                        g.key_name,
                        g.created_at.to_string(),
                        g.expires_at.to_string(),
                        g.state.as_str(),
                        principal,
                        session,
                        g.last_polled_at.map(|t| t.to_string())
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

    async fn device_grant(&self, hash: &SecretHash) -> Result<Option<DeviceGrant>, StorageError> {
        self.device_grant_where("hash", hash.to_hex()).await
    }

    async fn device_grant_by_user_code(
        &self,
        code: &UserCode,
    ) -> Result<Option<DeviceGrant>, StorageError> {
        self.device_grant_where("user_code", code.as_str().to_owned())
            .await
    }

    async fn change_device_grant(
        &self,
        hash: &SecretHash,
        from: &DeviceGrantState,
        to: &DeviceGrantState,
    ) -> Result<(), StorageError> {
        let (hash, from, to) = (hash.to_hex(), from.as_str(), to.clone());
        self.with_conn(move |conn| {
            let (principal, session) = approver(&to);
            let changed = conn
                .execute(
                    "UPDATE device_grants SET state = ?3, principal = COALESCE(?4, principal), session = COALESCE(?5, session)
                     WHERE hash = ?1 AND state = ?2",
                    params![hash, from, to.as_str(), principal, session],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn record_device_poll(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StorageError> {
        let hash = hash.to_hex();
        self.with_conn(move |conn| {
            set_time_unless_since(
                conn,
                "device_grants",
                "hash",
                &hash,
                "last_polled_at",
                at,
                since,
            )
        })
        .await
    }
}
