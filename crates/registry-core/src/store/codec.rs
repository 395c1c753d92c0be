//! How adapters write values into storage columns and attributes, and read them
//! back: one definition for every backend, so a SQLite file, a DynamoDB table and
//! (later) PostgreSQL hold the same text for the same value. Reading something
//! that does not decode is [`StorageError::Corrupt`], naming what it was.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StorageError;
use crate::account::{DeviceGrantState, SessionId};
use crate::auth::{PluginLimit, PrincipalId, Scope, Scopes, SecretHash};
use crate::ownership::{Role, RosterEntry, RosterKey};
use crate::slug::Slug;
use crate::timestamp::Timestamp;

/// Stored data that does not decode: `what` it was and why.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {detail}"))
}

/// A value as a JSON column or attribute.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Backend(Box::new(e)))
}

/// A JSON column or attribute read back as `what`.
pub fn from_json<T: DeserializeOwned>(what: &str, raw: &str) -> Result<T, StorageError> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

/// Scopes as stored: their wire names, comma-separated, in order.
pub fn scopes_to_stored(scopes: &Scopes) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Scopes read back from [`scopes_to_stored`]'s form.
pub fn scopes_from_stored(raw: &str) -> Result<Scopes, StorageError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(Scope::parse)
        .collect::<Result<Scopes, _>>()
        .map_err(|e| corrupt("scopes", e))
}

/// A key's plugin limit as stored: the slugs, comma-separated, in order.
pub fn plugins_to_stored(plugins: &PluginLimit) -> String {
    plugins
        .iter()
        .map(Slug::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A plugin limit read back from [`plugins_to_stored`]'s form.
pub fn plugins_from_stored(raw: &str) -> Result<PluginLimit, StorageError> {
    raw.split(',')
        .map(Slug::parse)
        .collect::<Result<PluginLimit, _>>()
        .map_err(|e| corrupt("plugin limit", e))
}

/// A timestamp column named `what`, read back.
pub fn timestamp_from_stored(what: &str, raw: &str) -> Result<Timestamp, StorageError> {
    Timestamp::parse(raw).map_err(|e| corrupt(what, e))
}

/// A secret's hash read back from its hex form.
pub fn secret_hash_from_stored(raw: &str) -> Result<SecretHash, StorageError> {
    SecretHash::from_hex(raw).ok_or_else(|| corrupt("secret hash", "not 64 hex digits"))
}

/// A roster's key read back from [`RosterKey::storage_name`]'s form.
pub fn roster_key_from_stored(raw: &str) -> Result<RosterKey, StorageError> {
    RosterKey::from_storage_name(raw).map_err(|e| corrupt("roster", e))
}

/// A roster entry read back from its stored parts.
pub fn roster_entry_from_stored(
    principal: &str,
    role: &str,
    since: &str,
) -> Result<RosterEntry, StorageError> {
    Ok(RosterEntry {
        principal: PrincipalId::from_stored(principal),
        role: Role::parse(role).map_err(|e| corrupt("roster role", e))?,
        since: timestamp_from_stored("roster entry since", since)?,
    })
}

/// A slug column or attribute read back.
pub fn slug_from_stored(raw: &str) -> Result<Slug, StorageError> {
    Slug::parse(raw).map_err(|e| corrupt("slug", e))
}

/// A device grant's state read back from its three columns: the state's name and,
/// once approved, who approved it and the session it signed in with.
pub fn device_grant_state_from_stored(
    state: &str,
    principal: Option<String>,
    session: Option<String>,
) -> Result<DeviceGrantState, StorageError> {
    Ok(match (state, principal, session) {
        ("pending", _, _) => DeviceGrantState::Pending,
        ("approved", Some(principal), Some(session)) => DeviceGrantState::Approved {
            principal: PrincipalId::from_stored(principal),
            session: SessionId::from_stored(session),
        },
        ("denied", _, _) => DeviceGrantState::Denied,
        ("redeemed", _, _) => DeviceGrantState::Redeemed,
        (other, _, _) => return Err(corrupt("device grant state", other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_an_unknown_one_is_corrupt() {
        let scopes = Scopes::from([Scope::Publish, Scope::Read]);
        let stored = scopes_to_stored(&scopes);
        assert_eq!(scopes_from_stored(&stored).ok(), Some(scopes));
        assert_eq!(scopes_from_stored("").ok(), Some(Scopes::new()));
        assert!(matches!(
            scopes_from_stored("publish,root"),
            Err(StorageError::Corrupt(detail)) if detail.starts_with("scopes:")
        ));
    }
}
