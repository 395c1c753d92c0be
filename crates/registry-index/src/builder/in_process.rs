//! The self-hosted server's indexer: the index updated in process after each write.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use registry_core::registry::ChangeListener;
use registry_core::slug::Slug;
use registry_core::store::{BackendError, ChangeJournal};
use registry_core::version::PluginVersion;

use crate::path::IndexPath;
use crate::store::{Fetched, get_path_uncached};

use super::{ChangeReport, IndexBuilder};

/// Blocking threads of the writer's runtime: its file writes and catalog reads.
const WRITER_BLOCKING_THREADS: usize = 2;

/// Seconds from a change reaching the indexer to the index having it (the wait
/// behind earlier updates, then its own): how far the index lags the catalog.
const LAG_SECONDS: &str = "registry_index_lag_seconds";
/// Seconds one update took, once started.
const UPDATE_SECONDS: &str = "registry_index_update_seconds";
/// Updates made, by `outcome` (`ok`, `failed`).
const UPDATES_TOTAL: &str = "registry_index_updates_total";
/// Updates waiting for the writer.
const QUEUED: &str = "registry_index_updates_queued";

/// The local server's listener: updates the index right after each catalog write.
///
/// Updates run one at a time on a thread of their own, so the directory store sees
/// one writer, and rendering and signing (work that grows with a plugin's history)
/// neither holds up the threads serving requests nor scatters its short-lived
/// buffers over their allocator arenas, where they fragmented memory that a long
/// run never got back.
///
/// With a change journal, each update drains the journal (the write just made is
/// in it, committed with the catalog row), so what an earlier failure or crash
/// left undone is finished too; without one, only the plugin named is updated.
/// A drain holds the index writer's lease: nodes sharing the catalog take turns,
/// and a node that waited finds its change already applied or still pending.
pub struct InProcessIndexer {
    builder: Arc<IndexBuilder>,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

/// One update for the writer thread: the plugin changed (none: only the journal's
/// backlog), and where to answer.
struct Job {
    slug: Option<Slug>,
    queued_at: std::time::Instant,
    done: tokio::sync::oneshot::Sender<Result<ChangeReport, BackendError>>,
}

impl InProcessIndexer {
    /// A listener driving `builder` on a writer thread of its own, draining
    /// `journal` when the catalog keeps one.
    pub fn new(
        builder: Arc<IndexBuilder>,
        journal: Option<Arc<dyn ChangeJournal>>,
    ) -> std::io::Result<Self> {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(WRITER_BLOCKING_THREADS)
            .build()?;
        let writer = Arc::clone(&builder);
        std::thread::Builder::new()
            .name("index-writer".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        metrics::gauge!(QUEUED).decrement(1.0);
                        let started = std::time::Instant::now();
                        let update = async {
                            match (&journal, &job.slug) {
                                (Some(journal), _) => {
                                    writer
                                        .as_sole_writer(writer.apply_journal(journal.as_ref()))
                                        .await
                                }
                                (None, Some(slug)) => {
                                    writer.update_plugins(std::slice::from_ref(slug)).await
                                }
                                (None, None) => Ok(ChangeReport::default()),
                            }
                        };
                        // A panic fails this update, not the writer: the journal
                        // still holds the change for the next one.
                        let report = match AssertUnwindSafe(update).catch_unwind().await {
                            Ok(report) => report.map_err(|e| Box::new(e) as BackendError),
                            Err(_) => Err(Box::new(UpdatePanicked) as BackendError),
                        };
                        metrics::histogram!(UPDATE_SECONDS).record(started.elapsed().as_secs_f64());
                        metrics::histogram!(LAG_SECONDS)
                            .record(job.queued_at.elapsed().as_secs_f64());
                        let outcome = if report.is_ok() { "ok" } else { "failed" };
                        metrics::counter!(UPDATES_TOTAL, "outcome" => outcome).increment(1);
                        // The caller may have gone (its request dropped): the update
                        // stands all the same.
                        let _ = job.done.send(report);
                    }
                });
            })?;
        Ok(Self { builder, jobs })
    }

    /// Runs one update on the writer thread and waits for it.
    async fn update(&self, slug: Option<Slug>) -> Result<ChangeReport, BackendError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        // Counted before it is sent, so the writer never takes one off first.
        metrics::gauge!(QUEUED).increment(1.0);
        let sent = self.jobs.send(Job {
            slug,
            queued_at: std::time::Instant::now(),
            done,
        });
        if sent.is_err() {
            metrics::gauge!(QUEUED).decrement(1.0);
            return Err(Box::new(WriterStopped));
        }
        answer.await.map_err(|_| WriterStopped)?
    }

    /// Applies whatever the journal holds (at start, what a crash left); a no-op
    /// without a journal.
    pub async fn catch_up(&self) -> Result<(), BackendError> {
        let report = self.update(None).await?;
        if report.plugins > 0 {
            tracing::info!(
                plugins = report.plugins,
                files = report.written.len(),
                "applied the change journal"
            );
        }
        Ok(())
    }
}

/// The index writer thread is gone, so no update can be made.
#[derive(Debug, thiserror::Error)]
#[error("the index writer thread has stopped; restart the server to update the index")]
struct WriterStopped;

/// An index update panicked (a bug); the change waits in the journal.
#[derive(Debug, thiserror::Error)]
#[error("the index update panicked; the next update or a restart retries it")]
struct UpdatePanicked;

#[async_trait::async_trait]
impl ChangeListener for InProcessIndexer {
    async fn plugin_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Result<Option<String>, BackendError> {
        self.update(Some(slug.clone())).await?;
        let Some(version) = version else {
            return Ok(None);
        };
        let path = IndexPath::VersionDetails(slug.clone(), version.clone());
        // A one-off read: kept in the store's cache, each publish's new file would
        // push a hot one out, and the churn of entries fragments the heap.
        match get_path_uncached(self.builder.index.as_ref(), &path, None).await {
            Ok(Fetched::Found { etag, .. }) => Ok(Some(etag)),
            Ok(_) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}
