//! The trusted-publishing port's contract: publishers read back whole by plugin
//! and by CI identity, change and go only if they exist; a CI token's
//! `(issuer, jti)` is claimed once, however many exchanges race with it.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{at, conflict, exactly_one_wins, slug};
use crate::auth::{ApiKeySecret, PrincipalId};
use crate::store::{Conflict, TrustedPublishingStore};
use crate::trusted_publishing::{
    CiIdentity, PublishTokenId, PublishTokenRecord, PublisherId, PublishingLock, TrustedPublisher,
};

fn github(repository_id: &str, workflow: &str) -> CiIdentity {
    CiIdentity::GithubActions {
        repository: "octo/tools".into(),
        repository_id: repository_id.into(),
        repository_owner_id: "7".into(),
        workflow: workflow.into(),
        environment: Some("release".into()),
    }
}

fn publisher(plugin: &str, ci: CiIdentity, second: u32, pending: bool) -> TrustedPublisher {
    TrustedPublisher {
        id: PublisherId::generate().expect("entropy"),
        plugin: slug(plugin),
        ci,
        pending_owner: pending.then(|| PrincipalId::from_stored("prn_first")),
        created_by: PrincipalId::from_stored("prn_first"),
        created_at: at(&format!("2026-06-01T10:00:{second:02}Z")),
    }
}

fn token(jti: &str, created: &str, retain: &str) -> PublishTokenRecord {
    let secret = ApiKeySecret::generate_publish_token().expect("entropy");
    PublishTokenRecord {
        id: PublishTokenId::generate().expect("entropy"),
        hash: secret.hash(),
        principal: PrincipalId::from_stored("prn_first"),
        plugins: BTreeSet::from([slug("tp-contract")]),
        publishers: BTreeSet::from([PublisherId::from_stored("tp_0000000000000001")]),
        issued_to: "GitHub repository octo/tools (id 42)".into(),
        issuer: "https://issuer.example".into(),
        jti: jti.into(),
        created_at: at(created),
        expires_at: at(created),
        retain_until: at(retain),
    }
}

/// Runs every trusted-publishing check against an empty store.
pub async fn trusted_publishing_store_contract(
    store: Arc<dyn TrustedPublishingStore>,
    prefix: &str,
) {
    let plugin = format!("{prefix}-trusted");
    let other_plugin = format!("{prefix}-trusted-other");
    assert!(
        store
            .publishers_of(&slug(&plugin))
            .await
            .unwrap()
            .is_empty()
    );
    let key = format!("{prefix}4242");
    let first = publisher(&plugin, github(&key, "release.yml"), 1, false);
    let second = publisher(&plugin, github(&format!("{key}0"), "ci.yml"), 2, false);
    let elsewhere = publisher(&other_plugin, github(&key, "publish.yml"), 3, true);
    for p in [&second, &first, &elsewhere] {
        store.insert_publisher(p).await.unwrap();
    }
    assert_eq!(
        conflict(store.insert_publisher(&first).await),
        Conflict::AlreadyExists,
        "a publisher is never overwritten by an insert"
    );
    assert_eq!(
        store.publishers_of(&slug(&plugin)).await.unwrap(),
        vec![first.clone(), second.clone()],
        "a plugin's publishers read back whole, oldest first"
    );
    let by_ci = store
        .publishers_for_ci(&first.ci.lookup_key())
        .await
        .unwrap();
    assert_eq!(
        by_ci,
        vec![first.clone(), elsewhere.clone()],
        "a CI identity finds its publishers of every plugin, pending ones too"
    );

    let mut activated = elsewhere.clone();
    activated.pending_owner = None;
    store.replace_publisher(&activated).await.unwrap();
    assert_eq!(
        store.publishers_of(&slug(&other_plugin)).await.unwrap(),
        vec![activated.clone()],
        "a replaced publisher reads back as replaced"
    );
    let never_stored = publisher(&plugin, github(&key, "x.yml"), 9, false);
    assert_eq!(
        conflict(store.replace_publisher(&never_stored).await),
        Conflict::Missing,
        "replacing a publisher that is not there writes nothing"
    );
    assert!(
        store
            .publishers_of(&slug(&plugin))
            .await
            .unwrap()
            .iter()
            .all(|p| p.id != never_stored.id)
    );

    store
        .remove_publisher(&slug(&plugin), &first.id)
        .await
        .unwrap();
    assert_eq!(
        store.publishers_of(&slug(&plugin)).await.unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        conflict(store.remove_publisher(&slug(&plugin), &first.id).await),
        Conflict::Missing,
        "a publisher goes once"
    );
    assert_eq!(
        conflict(store.remove_publisher(&slug(&plugin), &activated.id).await),
        Conflict::Missing,
        "a publisher is removed only through its own plugin"
    );

    let issued = token(
        &format!("{prefix}-jti-1"),
        "2026-06-01T10:00:00Z",
        "2026-06-01T10:20:00Z",
    );
    store.insert_publish_token(&issued).await.unwrap();
    assert_eq!(
        store.publish_token(&issued.hash).await.unwrap().as_ref(),
        Some(&issued),
        "a publish token reads back whole by its hash"
    );
    let replay = token(
        &format!("{prefix}-jti-1"),
        "2026-06-01T10:01:00Z",
        "2026-06-01T10:21:00Z",
    );
    assert_eq!(
        conflict(store.insert_publish_token(&replay).await),
        Conflict::AlreadyExists,
        "a CI token's jti is claimed once"
    );
    assert_eq!(
        store.publish_token(&replay.hash).await.unwrap(),
        None,
        "a replay stores no token"
    );

    let locked = slug(&plugin);
    assert_eq!(store.publishing_lock(&locked).await.unwrap(), None);
    let lock = PublishingLock {
        by: PrincipalId::from_stored("prn_first"),
        at: at("2026-06-01T11:00:00Z"),
    };
    store
        .set_publishing_lock(&locked, Some(&lock))
        .await
        .unwrap();
    store
        .set_publishing_lock(&locked, Some(&lock))
        .await
        .unwrap();
    assert_eq!(
        store.publishing_lock(&locked).await.unwrap(),
        Some(lock),
        "a lock reads back whole, set twice or once"
    );
    assert!(
        store
            .publishers_of(&locked)
            .await
            .unwrap()
            .iter()
            .all(|p| p.plugin == locked),
        "a lock is not a publisher"
    );
    assert_eq!(
        store.publishing_lock(&slug(&other_plugin)).await.unwrap(),
        None
    );
    store.set_publishing_lock(&locked, None).await.unwrap();
    store.set_publishing_lock(&locked, None).await.unwrap();
    assert_eq!(
        store.publishing_lock(&locked).await.unwrap(),
        None,
        "a lock lifts"
    );

    let jti = format!("{prefix}-jti-raced");
    let racers: Vec<PublishTokenRecord> = (0..super::RACERS)
        .map(|_| token(&jti, "2026-06-01T10:02:00Z", "2026-06-01T10:22:00Z"))
        .collect();
    let racers = Arc::new(racers);
    exactly_one_wins(
        |i| {
            let (store, racers) = (store.clone(), racers.clone());
            async move { store.insert_publish_token(&racers[i]).await }
        },
        Conflict::AlreadyExists,
        "one exchange of a CI token wins, however many race",
    )
    .await;
}
