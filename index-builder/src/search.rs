//! Search answered from the static search shards: loaded once, kept in memory,
//! and revalidated by ETag, so a warm search costs one conditional read of
//! `snapshot.json` at most every `revalidate_after` and re-fetches only the shards
//! whose bin hash moved.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
    shards: BTreeMap<Shard, (String, Vec<SearchHit>)>,
}

/// What reading one shard found.
enum ShardRead {
    /// Still at the ETag held.
    Unchanged,
    /// No longer there.
    Gone,
    /// New content, with its ETag.
    Loaded(String, Vec<SearchHit>),
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
            Fetched::Found { object, etag } => {
                let doc: SearchShard = serde_json::from_slice(&object.bytes)
                    .map_err(|e| StorageError::Corrupt(format!("search/{shard}.json: {e}")))?;
                ShardRead::Loaded(etag, doc.plugins.into_iter().map(SearchHit::from).collect())
            }
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
        // Each shard is fetched and parsed on its own task, so parsing a cold
        // load's shards uses every core.
        let reads: Vec<(Shard, Result<ShardRead, StorageError>)> =
            futures_util::stream::iter(moved)
                .map(|shard| {
                    let index = Arc::clone(&index);
                    let etag = known.get(&shard).cloned();
                    tokio::spawn(
                        async move { (shard, read_shard(index.as_ref(), shard, etag).await) },
                    )
                })
                .buffer_unordered(LOAD_CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(|e| StorageError::Backend(Box::new(e)))?;
        for (shard, read) in reads {
            match read? {
                ShardRead::Unchanged => {}
                ShardRead::Gone => {
                    loaded.shards.remove(&shard);
                }
                ShardRead::Loaded(etag, hits) => {
                    loaded.shards.insert(shard, (etag, hits));
                }
            }
        }
        let rebuilt = Arc::new(SearchIndex::from_hits(
            loaded
                .shards
                .values()
                .flat_map(|(_, hits)| hits.iter().cloned()),
        ));
        loaded.bins = bins;
        loaded.snapshot_etag = etag;
        loaded.checked_at = Some(Instant::now());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&rebuilt);
        Ok(rebuilt)
    }
}
