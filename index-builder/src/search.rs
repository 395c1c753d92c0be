//! Search answered from the static search shards: loaded once, kept in memory,
//! and revalidated by ETag, so a warm search costs one conditional read of
//! `snapshot.json` at most every `revalidate_after` and re-fetches only the shards
//! whose bin hash moved.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use registry_core::search::{SearchHit, SearchIndex, SearchPage, SearchQuery};
use registry_core::store::StorageError;

use crate::format::{SearchShard, Signed, Snapshot};
use crate::path::{IndexPath, Shard};
use crate::store::{Fetched, IndexStore, get_path};

/// Shards fetched at once on a cold load.
const LOAD_CONCURRENCY: usize = 32;

#[derive(Default)]
struct Loaded {
    snapshot_etag: Option<String>,
    checked_at: Option<Instant>,
    bins: BTreeMap<String, String>,
    shards: BTreeMap<Shard, (String, Vec<Arc<SearchHit>>)>,
}

/// What reading one shard found.
enum ShardRead {
    /// Still at the ETag held.
    Unchanged,
    /// No longer there.
    Gone,
    /// New content, with its ETag, not parsed yet.
    Loaded(String, Bytes),
}

/// One shard's part of a new index.
enum ShardSource {
    /// Hits already held.
    Held(Vec<Arc<SearchHit>>),
    /// A shard just read, to parse.
    Fetched(Shard, String, Bytes),
}

/// Hits of a shard as read: its shard and ETag, and its hits.
type ParsedShard = (Shard, String, Vec<Arc<SearchHit>>);

fn parse_shard(shard: Shard, bytes: &[u8]) -> Result<Vec<Arc<SearchHit>>, StorageError> {
    let doc: SearchShard = serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt(format!("search/{shard}.json: {e}")))?;
    Ok(doc
        .plugins
        .into_iter()
        .map(|entry| Arc::new(SearchHit::from(entry)))
        .collect())
}

/// Builds the index from every shard's source, parsing fetched shards on the
/// build threads; returns it with the shards parsed.
fn build_index(sources: Vec<ShardSource>) -> Result<(SearchIndex, Vec<ParsedShard>), StorageError> {
    let parsed = std::sync::Mutex::new(Vec::new());
    let index = SearchIndex::from_sources(sources, |source| match source {
        ShardSource::Held(hits) => Ok(hits),
        ShardSource::Fetched(shard, etag, bytes) => {
            let hits = parse_shard(shard, &bytes)?;
            parsed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((shard, etag, hits.clone()));
            Ok(hits)
        }
    })?;
    Ok((
        index,
        parsed.into_inner().unwrap_or_else(|p| p.into_inner()),
    ))
}

async fn read_shard(
    index: &dyn IndexStore,
    shard: Shard,
    etag: Option<String>,
) -> Result<ShardRead, StorageError> {
    Ok(
        match get_path(index, &IndexPath::SearchShard(shard), etag.as_deref()).await? {
            Fetched::NotModified => ShardRead::Unchanged,
            Fetched::Missing => ShardRead::Gone,
            Fetched::Found { object, etag } => ShardRead::Loaded(etag, object.bytes),
        },
    )
}

/// Search over an index store's search shards.
pub struct IndexedSearch {
    index: Arc<dyn IndexStore>,
    revalidate_after: Duration,
    loaded: tokio::sync::Mutex<Loaded>,
    current: RwLock<Arc<SearchIndex>>,
}

impl IndexedSearch {
    /// Search over `index`, revalidating at most every `revalidate_after`
    /// (zero: on every query).
    pub fn new(index: Arc<dyn IndexStore>, revalidate_after: Duration) -> Self {
        Self {
            index,
            revalidate_after,
            loaded: tokio::sync::Mutex::new(Loaded::default()),
            current: RwLock::new(Arc::new(SearchIndex::default())),
        }
    }

    /// Answers a query from the current index.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StorageError> {
        Ok(self.current_index().await?.search(query))
    }

    fn snapshot_of_current(&self) -> Arc<SearchIndex> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The in-memory index, revalidated against the store if it is due.
    pub async fn current_index(&self) -> Result<Arc<SearchIndex>, StorageError> {
        let mut loaded = self.loaded.lock().await;
        if loaded
            .checked_at
            .is_some_and(|at| at.elapsed() < self.revalidate_after)
        {
            return Ok(self.snapshot_of_current());
        }
        let fetched = get_path(
            self.index.as_ref(),
            &IndexPath::Snapshot,
            loaded.snapshot_etag.as_deref(),
        )
        .await?;
        let (bins, etag) = match fetched {
            Fetched::NotModified => {
                loaded.checked_at = Some(Instant::now());
                return Ok(self.snapshot_of_current());
            }
            Fetched::Missing => (BTreeMap::new(), None),
            Fetched::Found { object, etag } => {
                let snapshot: Signed<Snapshot> = serde_json::from_slice(&object.bytes)
                    .map_err(|e| StorageError::Corrupt(format!("snapshot.json: {e}")))?;
                (snapshot.signed.bins, Some(etag))
            }
        };
        let moved: Vec<Shard> = bins
            .iter()
            .filter(|(name, sha)| loaded.bins.get(*name) != Some(sha))
            .filter_map(|(name, _)| Shard::parse(name))
            .collect();
        loaded
            .shards
            .retain(|shard, _| bins.contains_key(&shard.to_string()));
        let index = Arc::clone(&self.index);
        let known: BTreeMap<Shard, String> = moved
            .iter()
            .filter_map(|s| loaded.shards.get(s).map(|(etag, _)| (*s, etag.clone())))
            .collect();
        // Shards are fetched concurrently, then parsed and indexed on every core.
        let reads: Vec<(Shard, Result<ShardRead, StorageError>)> =
            futures_util::stream::iter(moved)
                .map(|shard| {
                    let index = Arc::clone(&index);
                    let etag = known.get(&shard).cloned();
                    async move { (shard, read_shard(index.as_ref(), shard, etag).await) }
                })
                .buffer_unordered(LOAD_CONCURRENCY)
                .collect()
                .await;
        let mut fetched = BTreeMap::new();
        for (shard, read) in reads {
            match read? {
                ShardRead::Unchanged => {}
                ShardRead::Gone => {
                    loaded.shards.remove(&shard);
                }
                ShardRead::Loaded(etag, bytes) => {
                    loaded.shards.remove(&shard);
                    fetched.insert(shard, (etag, bytes));
                }
            }
        }
        // In shard order, whichever way each shard came.
        let mut sources: BTreeMap<Shard, ShardSource> = loaded
            .shards
            .iter()
            .map(|(shard, (_, hits))| (*shard, ShardSource::Held(hits.clone())))
            .collect();
        for (shard, (etag, bytes)) in fetched {
            sources.insert(shard, ShardSource::Fetched(shard, etag, bytes));
        }
        let sources: Vec<ShardSource> = sources.into_values().collect();
        // Building a large index takes every core for a moment: off the runtime.
        let (rebuilt, parsed) = tokio::task::spawn_blocking(move || build_index(sources))
            .await
            .map_err(|e| StorageError::Backend(Box::new(e)))??;
        for (shard, etag, hits) in parsed {
            loaded.shards.insert(shard, (etag, hits));
        }
        let rebuilt = Arc::new(rebuilt);
        loaded.bins = bins;
        loaded.snapshot_etag = etag;
        loaded.checked_at = Some(Instant::now());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&rebuilt);
        Ok(rebuilt)
    }
}
