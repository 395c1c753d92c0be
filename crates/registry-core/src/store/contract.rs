//! The storage ports' contract, written once and run against every adapter (the
//! SQLite and files in `registry-sqlite`; DynamoDB/S3 in `registry-aws`).
//!
//! Each check panics with a message naming the broken guarantee, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use bytes::Bytes;

use super::{
    ArtifactStore, CatalogStore, Conflict, Deprecation, Fetched, IndexObject, IndexStore, KeyStore,
    LatestSummary, PutOutcome, StorageError, VersionChange, VersionRecord, WriteCondition,
};
use crate::artifact::{ArtifactKey, StoredArtifact};
use crate::auth::{
    ApiKeyRecord, ApiKeySecret, KeyId, Principal, PrincipalId, PrincipalKind, Scope, Scopes,
};
use crate::checksum::Sha256Digest;
use crate::manifest::{DocumentFormat, parse_document};
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// How many writers race in the concurrency checks.
pub const RACERS: usize = 16;

fn at(raw: &str) -> Timestamp {
    Timestamp::parse(raw).expect("timestamp")
}

/// A valid YAML manifest for `slug@version`.
pub fn sample_document(slug: &str, version: &str) -> String {
    format!(
        "slug: {slug}\nversion: {version}\nname: {slug}\ndescription: d\nauthor: a\nhomepage: https://h.io\n\
         repository: https://r.io\nlicense: MIT\nicon: https://i.io\ntags: [t]\nactions:\n  - name: run\n    description: r\n"
    )
}

/// A version record for `slug@version`, as the publish service would build it.
pub fn sample_version(slug: &str, version: &str) -> VersionRecord {
    let doc = sample_document(slug, version);
    let manifest =
        parse_document(doc.as_bytes(), DocumentFormat::Yaml).expect("sample manifest is valid");
    let sha256 = Sha256Digest::of(doc.as_bytes());
    VersionRecord {
        version: manifest.version.clone(),
        schema: StoredArtifact {
            key: ArtifactKey::schema(
                &manifest.slug,
                &manifest.version,
                &sha256,
                DocumentFormat::Yaml,
            ),
            sha256,
            size: doc.len() as u64,
            content_type: "application/yaml".into(),
        },
        manifest,
        bundle: None,
        published_at: at("2026-01-01T00:00:00Z"),
        published_by: PrincipalId::from_stored("prn_owner"),
        deprecated: None,
        unpublished_at: None,
    }
}

fn slug(raw: &str) -> Slug {
    Slug::parse(raw).expect("slug")
}

fn conflict<T: std::fmt::Debug>(result: Result<T, StorageError>) -> Conflict {
    match result {
        Err(StorageError::Conflict(c)) => c,
        other => panic!("expected a conditional-write conflict, got {other:?}"),
    }
}

/// Starts `RACERS` copies of `attempt` at once and returns their results in order.
async fn race<T, Fut>(attempt: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..RACERS).map(|i| tokio::spawn(attempt(i))).collect();
    let mut results = Vec::with_capacity(RACERS);
    for task in tasks {
        results.push(task.await.expect("racer task"));
    }
    results
}

/// Asserts that exactly one racer won and every other lost with `expected`;
/// returns the winner's index.
fn single_winner(
    results: Vec<Result<(), StorageError>>,
    expected: Conflict,
    guarantee: &str,
) -> usize {
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => winners.push(i),
            Err(e) => assert_eq!(conflict::<()>(Err(e)), expected, "{guarantee}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{guarantee}: {} of {RACERS} racers won",
        winners.len()
    );
    winners[0]
}

/// Runs every catalog check against `catalog`; slugs are prefixed with `prefix` so
/// one database can host several runs.
pub async fn catalog_contract(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    create_is_exclusive_under_races(Arc::clone(&catalog), prefix).await;
    add_version_is_conditional(Arc::clone(&catalog), prefix).await;
    add_version_races_have_one_winner(Arc::clone(&catalog), prefix).await;
    change_version_is_conditional(Arc::clone(&catalog), prefix).await;
    downloads_count_atomically_and_roll_up(Arc::clone(&catalog), prefix).await;
    listing_pages_past_one_page(catalog, prefix).await;
}

async fn create_is_exclusive_under_races(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-race"));
    let record = sample_version(s.as_str(), "1.0.0");
    let results = race(|i| {
        let (catalog, s, record) = (Arc::clone(&catalog), s.clone(), record.clone());
        async move {
            let owner = PrincipalId::from_stored(format!("prn_{i}"));
            catalog
                .create_plugin(&s, &owner, &record, &LatestSummary::of(&record))
                .await
        }
    })
    .await;
    let winner = single_winner(
        results,
        Conflict::PluginExists,
        "exactly one concurrent creator wins",
    );
    let stored = catalog.plugin(&s).await.expect("read").expect("created");
    assert_eq!(
        stored.owner.as_str(),
        format!("prn_{winner}"),
        "the winner owns the plugin"
    );
    assert_eq!(stored.versions.len(), 1);
    assert_eq!(
        stored
            .latest
            .as_ref()
            .map(|l| l.version.to_string())
            .as_deref(),
        Some("1.0.0")
    );
}

async fn add_version_is_conditional(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-cas"));
    let owner = PrincipalId::from_stored("prn_owner");
    let first = sample_version(s.as_str(), "1.0.0");
    catalog
        .create_plugin(&s, &owner, &first, &LatestSummary::of(&first))
        .await
        .expect("create");
    let before = catalog.plugin(&s).await.unwrap().unwrap();
    let second = sample_version(s.as_str(), "1.1.0");

    let stale = catalog
        .add_version(
            &s,
            before.revision + 7,
            &second,
            &LatestSummary::of(&second),
        )
        .await;
    assert_eq!(
        conflict(stale),
        Conflict::RevisionChanged,
        "a stale revision is refused"
    );
    let again = catalog
        .add_version(&s, before.revision, &first, &LatestSummary::of(&first))
        .await;
    assert_eq!(
        conflict(again),
        Conflict::VersionExists,
        "an existing version is never overwritten"
    );
    let unchanged = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(
        unchanged.revision, before.revision,
        "a refused write changes nothing"
    );
    assert_eq!(unchanged.versions.len(), 1);

    let revision_before = catalog.catalog_revision().await.unwrap();
    catalog
        .add_version(&s, before.revision, &second, &LatestSummary::of(&second))
        .await
        .expect("add");
    let after = catalog.plugin(&s).await.unwrap().unwrap();
    assert!(
        after.revision > before.revision,
        "a write moves the plugin's revision"
    );
    assert!(
        catalog.catalog_revision().await.unwrap() > revision_before,
        "and the catalog's"
    );
    assert_eq!(after.versions.len(), 2);
    let read = catalog
        .version(&s, &second.version)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(read, second, "a version record round-trips unchanged");
    let missing = PluginVersion::parse("9.9.9").unwrap();
    assert!(catalog.version(&s, &missing).await.unwrap().is_none());
    assert!(
        catalog
            .plugin(&slug(&format!("{prefix}-absent")))
            .await
            .unwrap()
            .is_none()
    );
    let never = catalog
        .add_version(
            &slug(&format!("{prefix}-absent")),
            1,
            &second,
            &LatestSummary::of(&second),
        )
        .await;
    assert_eq!(
        conflict(never),
        Conflict::RevisionChanged,
        "no plugin means no matching revision"
    );
}

async fn add_version_races_have_one_winner(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-cas-race"));
    let first = sample_version(s.as_str(), "1.0.0");
    catalog
        .create_plugin(
            &s,
            &PrincipalId::from_stored("prn_owner"),
            &first,
            &LatestSummary::of(&first),
        )
        .await
        .unwrap();
    let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
    let results = race(|i| {
        let (catalog, s) = (Arc::clone(&catalog), s.clone());
        async move {
            let record = sample_version(s.as_str(), &format!("2.0.{i}"));
            catalog
                .add_version(&s, revision, &record, &LatestSummary::of(&record))
                .await
        }
    })
    .await;
    single_winner(
        results,
        Conflict::RevisionChanged,
        "compare-and-set lets one writer of a revision through",
    );
    assert_eq!(catalog.plugin(&s).await.unwrap().unwrap().versions.len(), 2);
}

async fn change_version_is_conditional(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-change"));
    let first = sample_version(s.as_str(), "1.0.0");
    catalog
        .create_plugin(
            &s,
            &PrincipalId::from_stored("prn_owner"),
            &first,
            &LatestSummary::of(&first),
        )
        .await
        .unwrap();
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    let notice = Deprecation {
        reason: "old".into(),
        replacement_version: None,
        deprecated_at: at("2026-01-02T00:00:00Z"),
    };
    let when = at("2026-01-03T00:00:00Z");

    let stale = catalog
        .change_version(
            &s,
            plugin.revision + 1,
            &first.version,
            &VersionChange::Deprecate(notice.clone()),
            None,
            when,
        )
        .await;
    assert_eq!(conflict(stale), Conflict::RevisionChanged);
    let missing = PluginVersion::parse("3.0.0").unwrap();
    let absent = catalog
        .change_version(
            &s,
            plugin.revision,
            &missing,
            &VersionChange::Deprecate(notice.clone()),
            None,
            when,
        )
        .await;
    assert_eq!(conflict(absent), Conflict::Missing);
    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().revision,
        plugin.revision,
        "refusals change nothing"
    );

    catalog
        .change_version(
            &s,
            plugin.revision,
            &first.version,
            &VersionChange::Deprecate(notice.clone()),
            Some(&LatestSummary::of(&first)),
            when,
        )
        .await
        .expect("deprecate");
    let deprecated = catalog.version(&s, &first.version).await.unwrap().unwrap();
    assert_eq!(deprecated.deprecated, Some(notice));
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(plugin.updated_at, when);

    catalog
        .change_version(
            &s,
            plugin.revision,
            &first.version,
            &VersionChange::Unpublish(when),
            None,
            when,
        )
        .await
        .expect("unpublish");
    let gone = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(
        gone.versions[0].unpublished_at,
        Some(when),
        "the row stays, marked unpublished"
    );
    assert!(
        gone.latest.is_none(),
        "no live version leaves no latest summary"
    );
}

async fn downloads_count_atomically_and_roll_up(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-dl"));
    let first = sample_version(s.as_str(), "1.0.0");
    catalog
        .create_plugin(
            &s,
            &PrincipalId::from_stored("prn_owner"),
            &first,
            &LatestSummary::of(&first),
        )
        .await
        .unwrap();
    let day = |d: u8| time::Date::from_calendar_date(2026, time::Month::March, d).expect("date");
    let results = race(|i| {
        let (catalog, s, v) = (Arc::clone(&catalog), s.clone(), first.version.clone());
        async move {
            catalog
                .record_download(&s, &v, day(if i % 4 == 0 { 1 } else { 5 }))
                .await
        }
    })
    .await;
    for result in results {
        result.expect("counted");
    }
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(1))
            .await
            .unwrap(),
        RACERS as u64,
        "no lost increments"
    );
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(2))
            .await
            .unwrap(),
        (RACERS - RACERS / 4) as u64
    );
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(6))
            .await
            .unwrap(),
        0
    );

    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().downloads,
        0,
        "counting never touches the plugin row"
    );
    assert_eq!(catalog.roll_up_downloads().await.unwrap(), vec![s.clone()]);
    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().downloads,
        RACERS as u64
    );
    let revision = catalog.catalog_revision().await.unwrap();
    assert!(catalog.roll_up_downloads().await.unwrap().is_empty());
    assert_eq!(
        catalog.catalog_revision().await.unwrap(),
        revision,
        "an idle roll-up changes nothing"
    );
}

async fn listing_pages_past_one_page(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let page_prefix = format!("{prefix}-page");
    for i in 0..25 {
        let s = slug(&format!("{page_prefix}-{i:02}"));
        let record = sample_version(s.as_str(), "1.0.0");
        catalog
            .create_plugin(
                &s,
                &PrincipalId::from_stored("prn_owner"),
                &record,
                &LatestSummary::of(&record),
            )
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<Slug> = None;
    loop {
        let page = catalog.list_plugins(after.as_ref(), 10).await.unwrap();
        assert!(page.len() <= 10, "a page never exceeds its limit");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.slug.clone());
        seen.extend(page.into_iter().map(|p| p.slug.to_string()));
    }
    let ours: Vec<&String> = seen
        .iter()
        .filter(|s| s.starts_with(&page_prefix))
        .collect();
    assert_eq!(ours.len(), 25, "every plugin listed exactly once");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "listings come in slug order");

    // Every third plugin gains a version; a page with versions holds each plugin
    // exactly as reading it alone does.
    for i in (0..25).step_by(3) {
        let s = slug(&format!("{page_prefix}-{i:02}"));
        let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
        let record = sample_version(s.as_str(), "1.1.0");
        catalog
            .add_version(&s, revision, &record, &LatestSummary::of(&record))
            .await
            .unwrap();
    }
    let mut paged = Vec::new();
    let mut after: Option<Slug> = None;
    loop {
        let page = catalog
            .plugins_with_versions_page(after.as_ref(), 10)
            .await
            .unwrap();
        assert!(page.len() <= 10, "a page never exceeds its limit");
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(last.slug.clone());
        paged.extend(page);
    }
    assert_eq!(
        paged
            .iter()
            .map(|(p, _)| p.slug.to_string())
            .collect::<Vec<_>>(),
        seen,
        "the same plugins in the same order as the listing"
    );
    for (plugin, mut versions) in paged {
        let (alone, mut alone_versions) = catalog
            .plugin_with_versions(&plugin.slug)
            .await
            .unwrap()
            .unwrap();
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        alone_versions.sort_by(|a, b| a.version.cmp(&b.version));
        assert_eq!(plugin, alone, "{}", plugin.slug);
        assert_eq!(versions, alone_versions, "{}", plugin.slug);
        if plugin.slug.as_str().starts_with(&page_prefix) {
            let i: usize = plugin.slug.as_str()[page_prefix.len() + 1..]
                .parse()
                .unwrap();
            let expected = if i.is_multiple_of(3) { 2 } else { 1 };
            assert_eq!(versions.len(), expected, "{}", plugin.slug);
        }
    }
}

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
    let listed = keys.list_keys(Some(&principal.id)).await.unwrap();
    assert_eq!(listed, vec![record.clone()]);
    assert!(keys.list_keys(None).await.unwrap().contains(&record));

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

/// Runs every index-store check: conditional puts, ETag reads, metadata, deletes.
/// Keys are index paths (`plugins/{prefix}-contract.json`), so a store that checks
/// them accepts these.
pub async fn index_store_contract(store: Arc<dyn IndexStore>, prefix: &str) {
    let key = format!("plugins/{prefix}-contract.json");
    let object = |body: &'static str, status: u16| IndexObject {
        bytes: Bytes::from_static(body.as_bytes()),
        content_type: if status == 200 {
            "application/json"
        } else {
            "application/problem+json"
        }
        .into(),
        cache_control: "public, max-age=60, must-revalidate".into(),
        status,
    };
    assert_eq!(store.get(&key, None).await.unwrap(), Fetched::Missing);
    let first = store
        .put(&key, &object("{\"a\":1}", 200), &WriteCondition::IfAbsent)
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .put(&key, &object("{\"a\":2}", 200), &WriteCondition::IfAbsent)
                .await,
            Err(StorageError::Conflict(Conflict::RevisionChanged))
        ),
        "{prefix}: create-if-absent refuses an existing file"
    );
    let Fetched::Found { object: read, etag } = store.get(&key, None).await.unwrap() else {
        panic!("{prefix}: the file just written is missing");
    };
    assert_eq!(
        (read, etag.clone()),
        (object("{\"a\":1}", 200), first.clone())
    );
    assert_eq!(
        store.get(&key, Some(&etag)).await.unwrap(),
        Fetched::NotModified
    );

    assert!(
        matches!(
            store
                .put(
                    &key,
                    &object("{}", 200),
                    &WriteCondition::IfMatch("\"0000\"".into())
                )
                .await,
            Err(StorageError::Conflict(Conflict::RevisionChanged))
        ),
        "{prefix}: a stale ETag refuses the write"
    );
    let gone = object("{\"status\":410}", 410);
    let second = store
        .put(&key, &gone, &WriteCondition::IfMatch(first))
        .await
        .unwrap();
    let Fetched::Found { object: read, etag } = store.get(&key, Some("\"other\"")).await.unwrap()
    else {
        panic!("{prefix}: the rewritten file is missing");
    };
    assert_eq!(
        (read, etag),
        (gone, second),
        "{prefix}: status and media type survive"
    );
    store
        .put(&key, &object("{}", 200), &WriteCondition::Always)
        .await
        .unwrap();
    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), Fetched::Missing);
}

/// Runs every artifact-store check.
pub async fn artifact_store_contract(store: Arc<dyn ArtifactStore>, prefix: &str) {
    let bytes = Bytes::from(format!("artifact of {prefix}"));
    let sha = Sha256Digest::of(&bytes);
    let key = ArtifactKey::bundle(
        &slug(&format!("{prefix}-art")),
        &PluginVersion::parse("1.0.0").unwrap(),
        &sha,
    );
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "absent reads as None"
    );
    let outcomes = race(|_| {
        let (store, key, bytes) = (Arc::clone(&store), key.clone(), bytes.clone());
        async move { store.put_if_absent(&key, bytes, "application/zip").await }
    })
    .await;
    let created = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(PutOutcome::Created)))
        .count();
    assert_eq!(created, 1, "an artifact is written once");
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(bytes.clone()),
        "bytes round-trip"
    );
    let other = store
        .put_if_absent(&key, Bytes::from_static(b"different"), "application/zip")
        .await
        .unwrap();
    assert_eq!(other, PutOutcome::AlreadyExisted);
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(bytes.clone()),
        "an artifact is never overwritten"
    );
    let missing = ArtifactKey::bundle(
        &slug(&format!("{prefix}-art")),
        &PluginVersion::parse("9.9.9").unwrap(),
        &sha,
    );
    assert_eq!(
        store.get_many(&[key.clone(), missing, key]).await.unwrap(),
        vec![Some(bytes.clone()), None, Some(bytes)],
        "several reads answer in the order asked"
    );
}

/// Wrappers that fail on demand, to prove a failed write never leaves a
/// half-published version on any backend.
pub mod faults {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use bytes::Bytes;

    use crate::artifact::ArtifactKey;
    use crate::auth::{Caller, KeyId, PrincipalId, Scope, Scopes};
    use crate::manifest::DocumentFormat;
    use crate::registry::PublishBody;
    use crate::slug::Slug;
    use crate::store::{
        ArtifactStore, CatalogStore, KeyStore, LatestSummary, PluginListing, PluginRecord,
        PutOutcome, StorageError, VersionChange, VersionRecord,
    };
    use crate::timestamp::{SystemClock, Timestamp};
    use crate::version::PluginVersion;
    use crate::{Registry, RegistryConfig, RegistryError};

    /// An artifact store whose writes fail while `fail` is set.
    pub struct FailingArtifacts {
        /// The real store.
        pub inner: Arc<dyn ArtifactStore>,
        /// Whether writes fail.
        pub fail: AtomicBool,
    }

    #[async_trait]
    impl ArtifactStore for FailingArtifacts {
        async fn put_if_absent(
            &self,
            key: &ArtifactKey,
            bytes: Bytes,
            content_type: &str,
        ) -> Result<PutOutcome, StorageError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(StorageError::Unavailable(
                    "injected artifact failure".into(),
                ));
            }
            self.inner.put_if_absent(key, bytes, content_type).await
        }

        async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError> {
            self.inner.get(key).await
        }
    }

    /// A catalog whose publishing writes fail while `fail` is set: the crash
    /// between the artifact write and the catalog write.
    pub struct FailingCatalog {
        /// The real catalog.
        pub inner: Arc<dyn CatalogStore>,
        /// Whether publishing writes fail.
        pub fail: AtomicBool,
    }

    impl FailingCatalog {
        fn check(&self) -> Result<(), StorageError> {
            if self.fail.load(Ordering::SeqCst) {
                Err(StorageError::Backend("injected catalog failure".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl CatalogStore for FailingCatalog {
        async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
            self.inner.plugin(slug).await
        }
        async fn version(
            &self,
            slug: &Slug,
            version: &PluginVersion,
        ) -> Result<Option<VersionRecord>, StorageError> {
            self.inner.version(slug, version).await
        }
        async fn create_plugin(
            &self,
            slug: &Slug,
            owner: &PrincipalId,
            first: &VersionRecord,
            latest: &LatestSummary,
        ) -> Result<(), StorageError> {
            self.check()?;
            self.inner.create_plugin(slug, owner, first, latest).await
        }
        async fn add_version(
            &self,
            slug: &Slug,
            expected: u64,
            record: &VersionRecord,
            latest: &LatestSummary,
        ) -> Result<(), StorageError> {
            self.check()?;
            self.inner.add_version(slug, expected, record, latest).await
        }
        async fn change_version(
            &self,
            slug: &Slug,
            expected: u64,
            version: &PluginVersion,
            change: &VersionChange,
            latest: Option<&LatestSummary>,
            at: Timestamp,
        ) -> Result<(), StorageError> {
            self.inner
                .change_version(slug, expected, version, change, latest, at)
                .await
        }
        async fn record_download(
            &self,
            slug: &Slug,
            version: &PluginVersion,
            day: time::Date,
        ) -> Result<(), StorageError> {
            self.inner.record_download(slug, version, day).await
        }
        async fn downloads_since(
            &self,
            slug: &Slug,
            version: &PluginVersion,
            since: time::Date,
        ) -> Result<u64, StorageError> {
            self.inner.downloads_since(slug, version, since).await
        }
        async fn roll_up_downloads(&self) -> Result<Vec<Slug>, StorageError> {
            self.inner.roll_up_downloads().await
        }
        async fn catalog_revision(&self) -> Result<u64, StorageError> {
            self.inner.catalog_revision().await
        }
        async fn list_plugins(
            &self,
            after: Option<&Slug>,
            limit: usize,
        ) -> Result<Vec<PluginListing>, StorageError> {
            self.inner.list_plugins(after, limit).await
        }
    }

    fn document(slug: &str, version: &str) -> PublishBody {
        PublishBody::Document {
            bytes: Bytes::from(super::sample_document(slug, version)),
            format: DocumentFormat::Yaml,
        }
    }

    fn publisher() -> Caller {
        Caller {
            principal: PrincipalId::from_stored("prn_author"),
            key_id: KeyId::from_stored("key_author"),
            scopes: Scopes::from([Scope::Publish]),
        }
    }

    fn registry(
        catalog: Arc<dyn CatalogStore>,
        artifacts: Arc<dyn ArtifactStore>,
        keys: Arc<dyn KeyStore>,
    ) -> Registry {
        Registry::new(
            catalog,
            artifacts,
            keys,
            Arc::new(SystemClock),
            RegistryConfig {
                public_url: "http://test".into(),
                private: false,
            },
        )
    }

    /// A publish whose artifact write fails, and one whose catalog write fails after
    /// the artifacts landed, leave no visible version; the retries succeed.
    pub async fn failed_publishes_leave_nothing_visible(
        catalog: Arc<dyn CatalogStore>,
        artifacts: Arc<dyn ArtifactStore>,
        keys: Arc<dyn KeyStore>,
        prefix: &str,
    ) {
        let failing_artifacts = Arc::new(FailingArtifacts {
            inner: artifacts,
            fail: AtomicBool::new(true),
        });
        let failing_catalog = Arc::new(FailingCatalog {
            inner: catalog,
            fail: AtomicBool::new(false),
        });
        let registry = registry(failing_catalog.clone(), failing_artifacts.clone(), keys);
        let slug = format!("{prefix}-fragile");

        let failed = registry
            .publish_version(&publisher(), document(&slug, "1.0.0"))
            .await;
        assert!(
            matches!(
                failed,
                Err(RegistryError::Storage(StorageError::Unavailable(_)))
            ),
            "{failed:?}"
        );
        assert!(matches!(
            registry.plugin_details(&slug, None).await,
            Err(RegistryError::PluginNotFound { .. })
        ));
        failing_artifacts.fail.store(false, Ordering::SeqCst);
        registry
            .publish_version(&publisher(), document(&slug, "1.0.0"))
            .await
            .expect("the retry publishes");

        // The artifacts of 1.1.0 land, then the catalog write fails.
        failing_catalog.fail.store(true, Ordering::SeqCst);
        assert!(
            registry
                .publish_version(&publisher(), document(&slug, "1.1.0"))
                .await
                .is_err()
        );
        let details = registry
            .plugin_details(&slug, None)
            .await
            .expect("1.0.0 is still there");
        assert_eq!(
            details.manifest.version.to_string(),
            "1.0.0",
            "1.1.0 is not visible"
        );
        assert_eq!(details.versions.len(), 1);
        assert!(matches!(
            registry.plugin_details(&slug, Some("1.1.0")).await,
            Err(RegistryError::VersionNotFound { .. })
        ));
        assert!(matches!(
            registry.download_schema(&slug, "1.1.0").await,
            Err(RegistryError::VersionNotFound { .. })
        ));

        failing_catalog.fail.store(false, Ordering::SeqCst);
        registry
            .publish_version(&publisher(), document(&slug, "1.1.0"))
            .await
            .expect("the retry publishes");
        let download = registry
            .download_schema(&slug, "1.1.0")
            .await
            .expect("visible now");
        assert_eq!(
            download.bytes.as_ref(),
            super::sample_document(&slug, "1.1.0").as_bytes()
        );
    }
}
