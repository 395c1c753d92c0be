//! What `/metrics` renders: a Prometheus recorder, installed as the process's
//! `metrics` recorder once, plus the database pool's use and the allocator's
//! figures, read at each scrape.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use registry_http::state::MetricsText;
use registry_postgres::PostgresStore;

/// Bucket bounds of every `_seconds` histogram: 1 ms to 30 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// How often recorded histogram samples are folded into their buckets when
/// nobody scrapes (they are held until then).
pub(crate) const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Connections of the PostgreSQL pool, by `state` (`in_use`, `idle`).
const POOL_CONNECTIONS: &str = "registry_db_pool_connections";
/// Callers waiting for a pooled connection.
const POOL_WAITING: &str = "registry_db_pool_waiting";
/// The most connections the pool opens.
const POOL_MAX: &str = "registry_db_pool_max_connections";

/// Bytes of the heap by `kind`: `allocated` (live objects), `active` (the
/// pages those occupy), `resident` (pages the allocator holds in memory, its
/// own bookkeeping and freed pages not yet returned included) and `metadata`.
const HEAP_BYTES: &str = "registry_heap_bytes";

/// What the process's allocator says of its heap, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapFigures {
    /// Held by live objects.
    pub allocated: u64,
    /// In pages holding live objects.
    pub active: u64,
    /// In pages the allocator keeps resident.
    pub resident: u64,
    /// The allocator's own bookkeeping.
    pub metadata: u64,
}

/// Where `/metrics` reads the heap's figures: set by the binary that chose the
/// allocator (a library cannot know which one its process runs).
static HEAP_FIGURES: OnceLock<fn() -> Option<HeapFigures>> = OnceLock::new();

/// Lets `/metrics` report the allocator's figures through `reader`; the first
/// reader given stays.
pub fn report_heap_figures(reader: fn() -> Option<HeapFigures>) {
    let _ = HEAP_FIGURES.set(reader);
}

/// The recorder, or why it could not be installed, for the whole process: the
/// `metrics` facade takes one recorder per process, and tests run several
/// servers in one.
static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The server's metrics.
pub(crate) struct PrometheusMetrics {
    handle: PrometheusHandle,
    postgres: Option<Arc<PostgresStore>>,
}

impl PrometheusMetrics {
    /// Metrics from the process's recorder (installed now if it is not yet), with
    /// the pool of `postgres` when the catalog is there.
    pub(crate) fn new(postgres: Option<Arc<PostgresStore>>) -> Result<Self, String> {
        let handle = RECORDER
            .get_or_init(|| {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
                    .map_err(|e| e.to_string())?
                    .install_recorder()
                    .map_err(|e| e.to_string())
            })
            .clone()?;
        Ok(Self { handle, postgres })
    }

    /// Folds held histogram samples into their buckets.
    pub(crate) fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl MetricsText for PrometheusMetrics {
    fn render(&self) -> String {
        if let Some(postgres) = &self.postgres {
            let pool = postgres.pool_use();
            metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(pool.in_use as f64);
            metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(pool.idle as f64);
            metrics::gauge!(POOL_WAITING).set(pool.waiting as f64);
            metrics::gauge!(POOL_MAX).set(pool.max as f64);
        }
        if let Some(heap) = HEAP_FIGURES.get().and_then(|read| read()) {
            for (kind, bytes) in [
                ("allocated", heap.allocated),
                ("active", heap.active),
                ("resident", heap.resident),
                ("metadata", heap.metadata),
            ] {
                metrics::gauge!(HEAP_BYTES, "kind" => kind).set(bytes as f64);
            }
        }
        self.handle.render()
    }
}
