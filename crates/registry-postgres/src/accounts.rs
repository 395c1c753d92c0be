//! The account port in PostgreSQL: accounts, sessions, sign-in attempts and
//! device grants.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

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

use crate::{PostgresStore, backend, optional_time, set_time_unless_since};

const ACCOUNT_COLUMNS: &str = "issuer, subject, principal, login, email, created_at, signed_in_at";

fn account_record(row: &Row) -> Result<Account, StorageError> {
    Ok(Account {
        identity: Identity {
            issuer: row.get(0),
            subject: row.get(1),
        },
        principal: PrincipalId::from_stored(row.get::<_, String>(2)),
        login: row.get(3),
        email: row
            .get::<_, Option<String>>(4)
            .map(EmailAddress::from_stored),
        created_at: timestamp_from_stored("created_at", row.get(5))?,
        signed_in_at: timestamp_from_stored("signed_in_at", row.get(6))?,
    })
}

const SESSION_COLUMNS: &str = "hash, id, principal, login, created_at, expires_at";

fn session_record(row: &Row) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        hash: secret_hash_from_stored(row.get(0))?,
        id: SessionId::from_stored(row.get::<_, String>(1)),
        principal: PrincipalId::from_stored(row.get::<_, String>(2)),
        login: row.get(3),
        created_at: timestamp_from_stored("created_at", row.get(4))?,
        expires_at: timestamp_from_stored("expires_at", row.get(5))?,
    })
}

const GRANT_COLUMNS: &str =
    "hash, user_code, key_name, created_at, expires_at, state, principal, session, last_polled_at";

fn grant_record(row: &Row) -> Result<DeviceGrant, StorageError> {
    Ok(DeviceGrant {
        hash: secret_hash_from_stored(row.get(0))?,
        user_code: UserCode::from_stored(row.get::<_, String>(1)),
        key_name: row.get(2),
        created_at: timestamp_from_stored("created_at", row.get(3))?,
        expires_at: timestamp_from_stored("expires_at", row.get(4))?,
        state: device_grant_state_from_stored(row.get(5), row.get(6), row.get(7))?,
        last_polled_at: optional_time("last_polled_at", row.get(8))?,
    })
}

/// The principal and session an approved state names, as columns.
fn approver(state: &DeviceGrantState) -> (Option<&str>, Option<&str>) {
    match state {
        DeviceGrantState::Approved { principal, session } => {
            (Some(principal.as_str()), Some(session.as_str()))
        }
        _ => (None, None),
    }
}

impl PostgresStore {
    /// The account matching `condition` (on its unique key) with `values`.
    async fn account_where(
        &self,
        condition: &'static str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Account>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition}"),
                values,
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(account_record)
            .transpose()
    }

    /// The device grant whose `column` (a unique one: `hash`, `user_code`) is `value`.
    async fn device_grant_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<DeviceGrant>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {GRANT_COLUMNS} FROM device_grants WHERE {column} = $1"),
                &[&value],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(grant_record)
            .transpose()
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn account(&self, identity: &Identity) -> Result<Option<Account>, StorageError> {
        self.account_where(
            "issuer = $1 AND subject = $2",
            &[&identity.issuer, &identity.subject],
        )
        .await
    }

    async fn account_of(&self, principal: &PrincipalId) -> Result<Option<Account>, StorageError> {
        self.account_where("principal = $1", &[&principal.as_str()])
            .await
    }

    async fn create_account(
        &self,
        account: &Account,
        principal: &Principal,
    ) -> Result<(), StorageError> {
        self.write((account, principal), |tx, (a, p)| {
            Box::pin(async move {
                let linked = tx
                    .execute(
                        "INSERT INTO accounts (issuer, subject, principal, login, email, created_at, signed_in_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                        &[
                            &a.identity.issuer,
                            &a.identity.subject,
                            &a.principal.as_str(),
                            &a.login,
                            &a.email.as_ref().map(EmailAddress::as_str),
                            &a.created_at.to_string(),
                            &a.signed_in_at.to_string(),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                let created = tx
                    .execute(
                        "INSERT INTO principals (id, name, kind, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                        &[
                            &p.id.as_str(),
                            &p.name,
                            &p.kind.as_str(),
                            &p.created_at.to_string(),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                if linked == 0 || created == 0 {
                    // The transaction is rolled back: whichever half was written goes.
                    return Err(StorageError::Conflict(Conflict::AlreadyExists));
                }
                Ok(())
            })
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
        self.change_one(
            "UPDATE accounts SET login = $3, email = $4, signed_in_at = $5
                 WHERE issuer = $1 AND subject = $2",
            &[
                &identity.issuer,
                &identity.subject,
                &login,
                &email.map(EmailAddress::as_str),
                &at.to_string(),
            ],
            Conflict::Missing,
        )
        .await
    }

    async fn delete_account_of(&self, principal: &PrincipalId) -> Result<bool, StorageError> {
        let deleted = self
            .execute(
                "DELETE FROM accounts WHERE principal = $1",
                &[&principal.as_str()],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        // Expired sessions are swept as new ones arrive: the table stays the size
        // of the live sessions without a timer. Stored times are RFC 3339 in UTC
        // to the second, so text order is time order.
        self.execute(
            "DELETE FROM sessions WHERE expires_at <= $1",
            &[&session.created_at.to_string()],
        )
        .await?;
        self.change_one(
            &format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING"
            ),
            &[
                &session.hash.to_hex(),
                &session.id.as_str(),
                &session.principal.as_str(),
                &session.login,
                &session.created_at.to_string(),
                &session.expires_at.to_string(),
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn session(&self, hash: &SecretHash) -> Result<Option<SessionRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE hash = $1"),
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(session_record)
            .transpose()
    }

    async fn delete_session(&self, hash: &SecretHash) -> Result<(), StorageError> {
        self.execute("DELETE FROM sessions WHERE hash = $1", &[&hash.to_hex()])
            .await
            .map(drop)
    }

    async fn delete_sessions_of(&self, principal: &PrincipalId) -> Result<usize, StorageError> {
        let deleted = self
            .execute(
                "DELETE FROM sessions WHERE principal = $1",
                &[&principal.as_str()],
            )
            .await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StorageError> {
        // Abandoned attempts are swept as new ones arrive (see `insert_session`); an
        // attempt lives minutes, so one that lapsed a day ago is long dead.
        self.execute(
            "DELETE FROM login_attempts WHERE expires_at <= $1",
            &[&attempt
                .expires_at
                .plus(-time::Duration::days(1))
                .to_string()],
        )
        .await?;
        self.change_one(
                "INSERT INTO login_attempts (hash, provider, state, nonce, pkce_verifier, return_to, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &attempt.hash.to_hex(),
                    &attempt.provider,
                    &attempt.state,
                    &attempt.nonce,
                    &attempt.pkce_verifier,
                    &attempt.return_to,
                    &attempt.expires_at.to_string(),
                ], Conflict::AlreadyExists)
        .await
    }

    async fn take_login_attempt(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<LoginAttempt>, StorageError> {
        let client = self.client().await?;
        // One statement removes and returns the row: a second taker finds nothing.
        let row = client
            .query_opt(
                "DELETE FROM login_attempts WHERE hash = $1
                 RETURNING provider, state, nonce, pkce_verifier, return_to, expires_at",
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        row.map(|row| {
            Ok(LoginAttempt {
                hash: *hash,
                provider: row.get(0),
                state: row.get(1),
                nonce: row.get(2),
                pkce_verifier: row.get(3),
                return_to: row.get(4),
                expires_at: timestamp_from_stored("expires_at", row.get(5))?,
            })
        })
        .transpose()
    }

    async fn insert_device_grant(&self, grant: &DeviceGrant) -> Result<(), StorageError> {
        // Lapsed grants are swept as new ones arrive (see `insert_session`).
        self.execute(
            "DELETE FROM device_grants WHERE expires_at <= $1",
            &[&grant.created_at.to_string()],
        )
        .await?;
        let (principal, session) = approver(&grant.state);
        self.change_one(
                &format!(
                    "INSERT INTO device_grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &grant.hash.to_hex(),
                    &grant.user_code.as_str(),
                    &grant.key_name,
                    &grant.created_at.to_string(),
                    &grant.expires_at.to_string(),
                    &grant.state.as_str(),
                    &principal,
                    &session,
                    &grant.last_polled_at.map(|t| t.to_string()),
                ], Conflict::AlreadyExists)
        .await
    }

    async fn device_grant(&self, hash: &SecretHash) -> Result<Option<DeviceGrant>, StorageError> {
        self.device_grant_where("hash", &hash.to_hex()).await
    }

    async fn device_grant_by_user_code(
        &self,
        code: &UserCode,
    ) -> Result<Option<DeviceGrant>, StorageError> {
        self.device_grant_where("user_code", code.as_str()).await
    }

    async fn change_device_grant(
        &self,
        hash: &SecretHash,
        from: &DeviceGrantState,
        to: &DeviceGrantState,
    ) -> Result<(), StorageError> {
        let (principal, session) = approver(to);
        self.change_one(
                "UPDATE device_grants SET state = $3, principal = COALESCE($4, principal), session = COALESCE($5, session)
                 WHERE hash = $1 AND state = $2",
                &[&hash.to_hex(), &from.as_str(), &to.as_str(), &principal, &session], Conflict::Missing)
        .await
    }

    async fn record_device_poll(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StorageError> {
        set_time_unless_since(
            self,
            "device_grants",
            "hash",
            &hash.to_hex(),
            "last_polled_at",
            at,
            since,
        )
        .await
    }
}
