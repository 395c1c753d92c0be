//! Search answered from the static search shards: loaded once, kept in memory,
//! and revalidated by ETag, so a warm search costs one conditional read of
//! `snapshot.json` at most every `revalidate_after` and re-fetches only the shards
//! whose bin hash moved.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use registry_core::search::{
    SearchHit, SearchIndex, SearchPage, SearchQuery, build_parallelism, consecutive_runs,
};
use registry_core::store::StorageError;

use crate::format::{SearchShard, Signed, Snapshot};
use crate::path::{IndexPath, Shard};
use crate::store::{Fetched, IndexStore, get_path, get_path_uncached};

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

/// One shard's part of a new index, as it reaches a build thread.
enum ShardSource {
    /// Hits already held.
    Held(Vec<Arc<SearchHit>>),
    /// What reading the shard found; new content is parsed on the build thread.
    Read(Shard, ShardRead),
}

/// Hits of a shard as read: its shard and ETag, and its hits.
type ParsedShard = (Shard, String, Vec<Arc<SearchHit>>);

fn parse_shard(shard: Shard, bytes: &[u8]) -> Result<Vec<Arc<SearchHit>>, StorageError> {
    let doc: SearchShard = serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt(format!("search/{shard}.json: {e}")))?;
    Ok(doc.plugins.into_iter().map(Arc::new).collect())
}

/// Builds the index from the shards each run's channel delivers, parsing new
/// content on the build threads; returns it with the shards parsed.
fn build_index(
    runs: Vec<std::sync::mpsc::Receiver<Result<ShardSource, StorageError>>>,
) -> Result<(SearchIndex, Vec<ParsedShard>), StorageError> {
    let parsed = std::sync::Mutex::new(Vec::new());
    let parse = |source: Result<ShardSource, StorageError>| match source? {
        ShardSource::Held(hits) => Ok(hits),
        ShardSource::Read(shard, ShardRead::Loaded(etag, bytes)) => {
            let hits = parse_shard(shard, &bytes)?;
            parsed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((shard, etag, hits.clone()));
            Ok(hits)
        }
        ShardSource::Read(_, ShardRead::Gone | ShardRead::Unchanged) => Ok(Vec::new()),
    };
    let parse = &parse;
    let index = SearchIndex::from_runs(
        runs.into_iter()
            .map(|run| run.into_iter().map(parse))
            .collect(),
    )?;
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
        // The hits are kept parsed; the shard's bytes need not be cached as well.
        match get_path_uncached(index, &IndexPath::SearchShard(shard), etag.as_deref()).await? {
            Fetched::NotModified => ShardRead::Unchanged,
            Fetched::Missing => ShardRead::Gone,
            Fetched::Found { object, etag } => ShardRead::Loaded(etag, object.bytes),
        },
    )
}

/// What a revalidation does with one shard.
enum Planned {
    /// Keep the hits held.
    Held(Vec<Arc<SearchHit>>),
    /// Read it, conditionally on the ETag of the copy held, if any.
    Read(Option<String>),
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

    /// Builds the index the plan describes. Build threads take consecutive runs of
    /// shards and parse and index each as it arrives, while the runtime reads
    /// shards a few at a time from every run in turn, so reading overlaps
    /// building. Returns the index, the shards parsed, and the shards now gone.
    async fn load_index(
        &self,
        plan: BTreeMap<Shard, Planned>,
        held: &BTreeMap<Shard, (String, Vec<Arc<SearchHit>>)>,
    ) -> Result<(SearchIndex, Vec<ParsedShard>, Vec<Shard>), StorageError> {
        let runs = consecutive_runs(plan.into_iter().collect(), build_parallelism());
        let (senders, receivers): (Vec<_>, Vec<_>) =
            runs.iter().map(|_| std::sync::mpsc::channel()).unzip();
        let build = tokio::task::spawn_blocking(move || build_index(receivers));
        // Round-robin over the runs, so every build thread is fed from the start.
        let mut queues: Vec<_> = runs
            .into_iter()
            .map(|run| run.into_iter().peekable())
            .collect();
        let mut order = Vec::new();
        while queues.iter_mut().any(|q| q.peek().is_some()) {
            for (run, queue) in queues.iter_mut().enumerate() {
                if let Some(item) = queue.next() {
                    order.push((run, item));
                }
            }
        }
        let index = Arc::clone(&self.index);
        let mut reads = futures_util::stream::iter(order)
            .map(|(run, (shard, planned))| {
                let index = Arc::clone(&index);
                async move {
                    let source = match planned {
                        Planned::Held(hits) => Ok(ShardSource::Held(hits)),
                        Planned::Read(etag) => read_shard(index.as_ref(), shard, etag)
                            .await
                            .map(|read| ShardSource::Read(shard, read)),
                    };
                    (run, source)
                }
            })
            .buffered(LOAD_CONCURRENCY);
        let mut gone = Vec::new();
        while let Some((run, source)) = reads.next().await {
            let source = match source {
                Ok(ShardSource::Read(shard, ShardRead::Gone)) => {
                    gone.push(shard);
                    continue;
                }
                Ok(ShardSource::Read(shard, ShardRead::Unchanged)) => match held.get(&shard) {
                    Some((_, hits)) => Ok(ShardSource::Held(hits.clone())),
                    None => Err(StorageError::Corrupt(format!(
                        "search/{shard}.json: unchanged, yet not held"
                    ))),
                },
                other => other,
            };
            let failed = source.is_err();
            // A closed channel means its thread already failed; the build reports why.
            let _ = senders[run].send(source);
            if failed {
                break;
            }
        }
        drop(senders);
        let (index, parsed) = build
            .await
            .map_err(|e| StorageError::Backend(Box::new(e)))??;
        Ok((index, parsed, gone))
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
        // Every shard of the new index in order: held ones as they are, moved ones
        // to read (conditionally, when an older copy is held).
        let mut plan: BTreeMap<Shard, Planned> = loaded
            .shards
            .iter()
            .map(|(shard, (_, hits))| (*shard, Planned::Held(hits.clone())))
            .collect();
        for shard in moved {
            let etag = loaded.shards.get(&shard).map(|(etag, _)| etag.clone());
            plan.insert(shard, Planned::Read(etag));
        }
        let (rebuilt, parsed, gone) = self.load_index(plan, &loaded.shards).await?;
        for shard in gone {
            loaded.shards.remove(&shard);
        }
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
