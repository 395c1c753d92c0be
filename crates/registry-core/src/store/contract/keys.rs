//! The key port's contract: principals and keys, created once, found by hash and id.

use std::sync::Arc;

use super::{at, conflict, race, single_winner};
use crate::auth::{
    ApiKeyRecord, ApiKeySecret, KeyId, Principal, PrincipalId, PrincipalKind, Scope, Scopes,
};
use crate::store::{Conflict, KeyStore};

/// Runs every key-store check.
pub async fn key_store_contract(keys: Arc<dyn KeyStore>, prefix: &str) {
    let principal = Principal {
        id: PrincipalId::from_stored(format!("prn_{prefix}")),
        name: "team".into(),
        kind: PrincipalKind::Team,
        created_at: at("2026-01-01T00:00:00Z"),
    };
    keys.create_principal(&principal)
        .await
        .expect("create principal");
    assert_eq!(
        conflict(keys.create_principal(&principal).await),
        Conflict::AlreadyExists
    );
    assert_eq!(
        keys.principal(&principal.id).await.unwrap(),
        Some(principal.clone())
    );
    assert!(
        keys.principal(&PrincipalId::from_stored("prn_nobody"))
            .await
            .unwrap()
            .is_none()
    );

    let secret = ApiKeySecret::generate().unwrap();
    let record = ApiKeyRecord {
        id: KeyId::from_stored(format!("key_{prefix}")),
        hash: secret.hash(),
        principal: principal.id.clone(),
        name: "CI".into(),
        scopes: Scopes::from([Scope::Publish, Scope::Read]),
        created_at: at("2026-01-01T00:00:00Z"),
        revoked_at: None,
        expires_at: Some(at("2026-04-01T00:00:00Z")),
        last_used_at: None,
        plugins: Some(
            ["weather", "github"]
                .into_iter()
                .map(|s| crate::slug::Slug::parse(s).unwrap())
                .collect(),
        ),
    };
    let results = race(|_| {
        let (keys, record) = (Arc::clone(&keys), record.clone());
        async move { keys.insert_key(&record).await }
    })
    .await;
    single_winner(results, Conflict::AlreadyExists, "a key id is created once");
    assert!(keys.any_key_exists().await.unwrap());
    assert_eq!(
        keys.key_by_hash(&secret.hash()).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(keys.key(&record.id).await.unwrap(), Some(record.clone()));
    assert!(
        keys.key_by_hash(&ApiKeySecret::generate().unwrap().hash())
            .await
            .unwrap()
            .is_none()
    );
    // A key that never expires keeps no expiry, rather than gaining one; one for
    // every plugin keeps no limit.
    let forever_secret = ApiKeySecret::generate().unwrap();
    let forever = ApiKeyRecord {
        id: KeyId::from_stored(format!("key_{prefix}_router")),
        hash: forever_secret.hash(),
        name: "router".into(),
        scopes: Scopes::from([Scope::Router]),
        created_at: at("2026-01-02T00:00:00Z"),
        expires_at: None,
        plugins: None,
        ..record.clone()
    };
    keys.insert_key(&forever)
        .await
        .expect("insert a key that never expires");
    assert_eq!(
        keys.key_by_hash(&forever_secret.hash()).await.unwrap(),
        Some(forever.clone())
    );
    let listed = keys.list_keys(Some(&principal.id)).await.unwrap();
    assert_eq!(listed, vec![record.clone(), forever]);
    assert!(keys.list_keys(None).await.unwrap().contains(&record));

    // A use is written when none is recorded since the period's start, else not.
    let used = |hash, at_: &str, since: &str| {
        let keys = Arc::clone(&keys);
        let (at_, since) = (at(at_), at(since));
        async move {
            keys.record_key_use(&hash, at_, since)
                .await
                .expect("record use")
        }
    };
    let last_used = || async { keys.key(&record.id).await.unwrap().unwrap().last_used_at };
    used(
        secret.hash(),
        "2026-01-10T12:00:00Z",
        "2026-01-10T11:00:00Z",
    )
    .await;
    assert_eq!(last_used().await, Some(at("2026-01-10T12:00:00Z")));
    used(
        secret.hash(),
        "2026-01-10T12:30:00Z",
        "2026-01-10T11:30:00Z",
    )
    .await;
    assert_eq!(
        last_used().await,
        Some(at("2026-01-10T12:00:00Z")),
        "a use within the period is not written"
    );
    used(
        secret.hash(),
        "2026-01-10T13:30:00Z",
        "2026-01-10T12:30:00Z",
    )
    .await;
    assert_eq!(last_used().await, Some(at("2026-01-10T13:30:00Z")));
    let stranger = ApiKeySecret::generate().unwrap().hash();
    used(stranger, "2026-01-10T13:30:00Z", "2026-01-10T12:30:00Z").await;
    assert!(
        keys.key_by_hash(&stranger).await.unwrap().is_none(),
        "recording the use of an unknown key creates nothing"
    );

    let when = at("2026-02-01T00:00:00Z");
    keys.revoke_key(&record.id, when).await.expect("revoke");
    assert_eq!(
        conflict(keys.revoke_key(&record.id, when).await),
        Conflict::Missing,
        "revoking twice is refused by the store"
    );
    assert_eq!(
        keys.key(&record.id).await.unwrap().unwrap().revoked_at,
        Some(when)
    );
    assert_eq!(
        conflict(keys.revoke_key(&KeyId::from_stored("key_nope"), when).await),
        Conflict::Missing
    );
}
