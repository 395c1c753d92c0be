//! The account port on the single DynamoDB table: accounts, sessions (with the
//! table's TTL) and sign-in attempts.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use registry_core::account::{
    Account, DeviceGrant, DeviceGrantState, EmailAddress, Identity, LoginAttempt, SessionId,
    SessionRecord, UserCode,
};
use registry_core::auth::{Principal, PrincipalId, SecretHash};
use registry_core::store::codec::secret_hash_from_stored;
use registry_core::store::{AccountStore, Conflict, StorageError};
use registry_core::timestamp::Timestamp;

use super::item_key::{ItemKey, account_of_principal, sessions_of_principal};
use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, SK, get_s, n, opt_s, s, timestamp};
use crate::error::{conditional, corrupt, is_condition_failure, storage_error};

/// The table's time-to-live attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// `expires_at` as the TTL attribute wants it; a time before 1970 is already gone.
pub(crate) fn ttl(expires_at: Timestamp) -> aws_sdk_dynamodb::types::AttributeValue {
    n(u64::try_from(expires_at.unix_seconds()).unwrap_or(0))
}

/// An account item, its identity read back from its key.
fn account_record(item: &Item) -> Result<Account, StorageError> {
    let (pk, sk) = (get_s(item, PK)?, get_s(item, SK)?);
    let identity = Identity {
        issuer: pk
            .strip_prefix("IDENTITY#")
            .ok_or_else(|| corrupt("account key", pk))?
            .to_owned(),
        subject: sk
            .strip_prefix("SUB#")
            .ok_or_else(|| corrupt("account key", sk))?
            .to_owned(),
    };
    Ok(Account {
        identity,
        principal: PrincipalId::from_stored(get_s(item, "principal")?),
        login: get_s(item, "login")?.to_owned(),
        email: opt_s(item, "email").map(EmailAddress::from_stored),
        created_at: timestamp(item, "created_at")?,
        signed_in_at: timestamp(item, "signed_in_at")?,
    })
}

fn session_record(item: &Item) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        id: SessionId::from_stored(get_s(item, "session_id")?),
        hash: secret_hash_from_stored(get_s(item, "hash")?)?,
        principal: PrincipalId::from_stored(get_s(item, "principal")?),
        login: get_s(item, "login")?.to_owned(),
        created_at: timestamp(item, "created_at")?,
        expires_at: timestamp(item, "expires_at")?,
    })
}

fn login_attempt(hash: SecretHash, item: &Item) -> Result<LoginAttempt, StorageError> {
    Ok(LoginAttempt {
        hash,
        provider: get_s(item, "provider")?.to_owned(),
        state: get_s(item, "state")?.to_owned(),
        nonce: opt_s(item, "nonce").map(str::to_owned),
        pkce_verifier: get_s(item, "pkce_verifier")?.to_owned(),
        return_to: get_s(item, "return_to")?.to_owned(),
        expires_at: timestamp(item, "expires_at")?,
    })
}

fn device_grant(item: &Item) -> Result<DeviceGrant, StorageError> {
    let state = match get_s(item, "state")? {
        "pending" => DeviceGrantState::Pending,
        "approved" => DeviceGrantState::Approved {
            principal: PrincipalId::from_stored(get_s(item, "principal")?),
            session: SessionId::from_stored(get_s(item, "session")?),
        },
        "denied" => DeviceGrantState::Denied,
        "redeemed" => DeviceGrantState::Redeemed,
        other => return Err(corrupt("device grant state", other)),
    };
    Ok(DeviceGrant {
        hash: secret_hash_from_stored(get_s(item, "hash")?)?,
        user_code: UserCode::from_stored(get_s(item, "user_code")?),
        key_name: get_s(item, "key_name")?.to_owned(),
        created_at: timestamp(item, "created_at")?,
        expires_at: timestamp(item, "expires_at")?,
        state,
        last_polled_at: opt_s(item, "last_polled_at")
            .map(|t| registry_core::store::codec::timestamp_from_stored("last_polled_at", t))
            .transpose()?,
    })
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn account(&self, identity: &Identity) -> Result<Option<Account>, StorageError> {
        let key = ItemKey::account(identity);
        self.get(&key.pk, &key.sk)
            .await?
            .as_ref()
            .map(account_record)
            .transpose()
    }

    async fn account_of(&self, principal: &PrincipalId) -> Result<Option<Account>, StorageError> {
        // The index may lag a moment behind a new account; notices, its only
        // reader, are sent long after the account was made.
        self.query_gsi1(&account_of_principal(principal))
            .await?
            .first()
            .map(account_record)
            .transpose()
    }

    async fn create_account(
        &self,
        account: &Account,
        principal: &Principal,
    ) -> Result<(), StorageError> {
        let account_key = ItemKey::account(&account.identity);
        let principal_key = ItemKey::principal(&principal.id);
        let mut account_item = HashMap::from([
            (PK.to_owned(), s(account_key.pk)),
            (SK.to_owned(), s(account_key.sk)),
            ("principal".to_owned(), s(account.principal.as_str())),
            (
                GSI1_PK.to_owned(),
                s(account_of_principal(&account.principal)),
            ),
            (GSI1_SK.to_owned(), s("ACCOUNT")),
            ("login".to_owned(), s(&account.login)),
            ("created_at".to_owned(), s(account.created_at.to_string())),
            (
                "signed_in_at".to_owned(),
                s(account.signed_in_at.to_string()),
            ),
        ]);
        if let Some(email) = &account.email {
            account_item.insert("email".to_owned(), s(email.as_str()));
        }
        let principal_item = HashMap::from([
            (PK.to_owned(), s(principal_key.pk)),
            (SK.to_owned(), s(principal_key.sk)),
            ("name".to_owned(), s(&principal.name)),
            ("kind".to_owned(), s(principal.kind.as_str())),
            ("created_at".to_owned(), s(principal.created_at.to_string())),
        ]);
        self.put_all_new(vec![account_item, principal_item]).await
    }

    async fn record_sign_in(
        &self,
        identity: &Identity,
        login: &str,
        email: Option<&EmailAddress>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let key = ItemKey::account(identity);
        let update = self
            .update_item_at(&key.pk, &key.sk)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#login", "login")
            .expression_attribute_names("#at", "signed_in_at")
            .expression_attribute_names("#email", "email")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":login", s(login))
            .expression_attribute_values(":at", s(at.to_string()));
        let update = match email {
            Some(email) => update
                .update_expression("SET #login = :login, #at = :at, #email = :email")
                .expression_attribute_values(":email", s(email.as_str())),
            None => update.update_expression("SET #login = :login, #at = :at REMOVE #email"),
        };
        let result = update.send().await;
        conditional(result, Conflict::Missing)
    }

    async fn delete_account_of(&self, principal: &PrincipalId) -> Result<bool, StorageError> {
        let mut deleted = false;
        for item in self.query_gsi1(&account_of_principal(principal)).await? {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(get_s(&item, PK)?))
                .key(SK, s(get_s(&item, SK)?))
                .send()
                .await
                .map_err(storage_error)?;
            deleted = true;
        }
        Ok(deleted)
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let key = ItemKey::session(&session.hash);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(GSI1_PK, s(sessions_of_principal(&session.principal)))
            .item(GSI1_SK, s(format!("{}#{}", session.created_at, session.id)))
            .item("session_id", s(session.id.as_str()))
            .item("hash", s(session.hash.to_hex()))
            .item("principal", s(session.principal.as_str()))
            .item("login", s(&session.login))
            .item("created_at", s(session.created_at.to_string()))
            .item("expires_at", s(session.expires_at.to_string()))
            .item(TTL_ATTRIBUTE, ttl(session.expires_at))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional(result, Conflict::AlreadyExists)
    }

    async fn session(&self, hash: &SecretHash) -> Result<Option<SessionRecord>, StorageError> {
        let key = ItemKey::session(hash);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| session_record(&item))
            .transpose()
    }

    async fn delete_session(&self, hash: &SecretHash) -> Result<(), StorageError> {
        let key = ItemKey::session(hash);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn delete_sessions_of(&self, principal: &PrincipalId) -> Result<usize, StorageError> {
        let mut ended = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#gpk = :sessions")
                .expression_attribute_names("#gpk", GSI1_PK)
                .expression_attribute_values(":sessions", s(sessions_of_principal(principal)))
                .projection_expression("#hash")
                .expression_attribute_names("#hash", "hash")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for item in output.items() {
                let hash = secret_hash_from_stored(get_s(item, "hash")?)?;
                let key = ItemKey::session(&hash);
                let deleted = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key(PK, s(key.pk))
                    .key(SK, s(key.sk))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(storage_error)?;
                // The index lags the table a little: count only what was there.
                if deleted.attributes.is_some() {
                    ended += 1;
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(ended);
            }
        }
    }

    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StorageError> {
        let key = ItemKey::login_attempt(&attempt.hash);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item("provider", s(&attempt.provider))
            .item("state", s(&attempt.state))
            .item("pkce_verifier", s(&attempt.pkce_verifier))
            .item("return_to", s(&attempt.return_to))
            .item("expires_at", s(attempt.expires_at.to_string()))
            .item(TTL_ATTRIBUTE, ttl(attempt.expires_at))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        if let Some(nonce) = &attempt.nonce {
            put = put.item("nonce", s(nonce));
        }
        conditional(put.send().await, Conflict::AlreadyExists)
    }

    async fn take_login_attempt(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<LoginAttempt>, StorageError> {
        let key = ItemKey::login_attempt(hash);
        // A delete conditional on the item being there returns what it removed; of
        // concurrent takers one meets the condition and the others fail it. (An
        // unconditional delete with `ALL_OLD` is not enough: DynamoDB Local hands
        // the old item to several racing deletes.)
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes
                .map(|item| login_attempt(*hash, &item))
                .transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn insert_device_grant(&self, grant: &DeviceGrant) -> Result<(), StorageError> {
        let grant_key = ItemKey::device_grant(&grant.hash);
        let code_key = ItemKey::user_code(&grant.user_code);
        let mut grant_item = HashMap::from([
            (PK.to_owned(), s(grant_key.pk)),
            (SK.to_owned(), s(grant_key.sk)),
            ("hash".to_owned(), s(grant.hash.to_hex())),
            ("user_code".to_owned(), s(grant.user_code.as_str())),
            ("key_name".to_owned(), s(&grant.key_name)),
            ("created_at".to_owned(), s(grant.created_at.to_string())),
            ("expires_at".to_owned(), s(grant.expires_at.to_string())),
            ("state".to_owned(), s(grant.state.as_str())),
            (TTL_ATTRIBUTE.to_owned(), ttl(grant.expires_at)),
        ]);
        if let DeviceGrantState::Approved { principal, session } = &grant.state {
            grant_item.insert("principal".to_owned(), s(principal.as_str()));
            grant_item.insert("session".to_owned(), s(session.as_str()));
        }
        let code_item = HashMap::from([
            (PK.to_owned(), s(code_key.pk)),
            (SK.to_owned(), s(code_key.sk)),
            ("hash".to_owned(), s(grant.hash.to_hex())),
            (TTL_ATTRIBUTE.to_owned(), ttl(grant.expires_at)),
        ]);
        self.put_all_new(vec![grant_item, code_item]).await
    }

    async fn device_grant(&self, hash: &SecretHash) -> Result<Option<DeviceGrant>, StorageError> {
        let key = ItemKey::device_grant(hash);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| device_grant(&item))
            .transpose()
    }

    async fn device_grant_by_user_code(
        &self,
        code: &UserCode,
    ) -> Result<Option<DeviceGrant>, StorageError> {
        let key = ItemKey::user_code(code);
        let Some(pointer) = self.get(&key.pk, &key.sk).await? else {
            return Ok(None);
        };
        self.device_grant(&secret_hash_from_stored(get_s(&pointer, "hash")?)?)
            .await
    }

    async fn change_device_grant(
        &self,
        hash: &SecretHash,
        from: &DeviceGrantState,
        to: &DeviceGrantState,
    ) -> Result<(), StorageError> {
        let key = ItemKey::device_grant(hash);
        let mut update = self
            .update_item_at(&key.pk, &key.sk)
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()));
        update = match to {
            DeviceGrantState::Approved { principal, session } => update
                .update_expression("SET #state = :to, #principal = :principal, #session = :session")
                .expression_attribute_names("#principal", "principal")
                .expression_attribute_names("#session", "session")
                .expression_attribute_values(":principal", s(principal.as_str()))
                .expression_attribute_values(":session", s(session.as_str())),
            _ => update.update_expression("SET #state = :to"),
        };
        conditional(update.send().await, Conflict::Missing)
    }

    async fn record_device_poll(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StorageError> {
        let key = ItemKey::device_grant(hash);
        self.set_time_unless_since(&key.pk, &key.sk, "last_polled_at", at, since)
            .await
    }
}
