//! The index store's contract: conditional puts, ETag reads, metadata and deletes.

use std::sync::Arc;

use bytes::Bytes;

use crate::store::{Conflict, Fetched, IndexObject, IndexStore, StorageError, WriteCondition};

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
