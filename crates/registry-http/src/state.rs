//! Shared state of the routes.

use std::sync::Arc;
use std::time::Duration;

use registry_core::Registry;
use registry_core::store::IndexStore;
use registry_index::IndexedSearch;

/// What every handler can reach.
pub struct AppState {
    /// The registry services.
    pub registry: Arc<Registry>,
    /// The static index: details, schemas and bundles are read from it.
    pub index: Arc<dyn IndexStore>,
    /// Search over the index's shards, kept in memory (shared with the index
    /// builder in process, which draws the home page from the same entries).
    pub search: Arc<IndexedSearch>,
    /// What `/metrics` renders; `None` where nothing collects metrics (404).
    pub metrics: Option<Arc<dyn MetricsText>>,
}

/// The process's metrics in the Prometheus text format.
pub trait MetricsText: Send + Sync {
    /// Every metric as Prometheus reads it.
    fn render(&self) -> String;
}

impl AppState {
    /// State over `registry` and its `index`; search revalidates the index at most
    /// every `search_revalidate_after` (zero: on every query).
    pub fn new(
        registry: Arc<Registry>,
        index: Arc<dyn IndexStore>,
        search_revalidate_after: Duration,
    ) -> Self {
        let search = Arc::new(IndexedSearch::new(
            Arc::clone(&index),
            search_revalidate_after,
        ));
        Self::with_search(registry, index, search)
    }

    /// State over `registry` and its `index`, answering searches with `search`.
    pub fn with_search(
        registry: Arc<Registry>,
        index: Arc<dyn IndexStore>,
        search: Arc<IndexedSearch>,
    ) -> Self {
        Self {
            registry,
            index,
            search,
            metrics: None,
        }
    }

    /// This state, serving `metrics` at `/metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsText>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}
