//! A test-only fault: the process aborts right after its k-th index write, as a
//! crash or `kill -9` would stop it. Compiled only with the `fault-injection`
//! feature (the test suite's builds), and armed only by
//! `OPENWORKFLOW_REGISTRY_TEST_ABORT_AFTER_INDEX_WRITES=k`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use registry_core::store::{
    Fetched, IndexGeneration, IndexObject, IndexStore, StorageError, WriteCondition,
};

/// The variable that arms the fault.
pub const ABORT_AFTER_INDEX_WRITES: &str = "OPENWORKFLOW_REGISTRY_TEST_ABORT_AFTER_INDEX_WRITES";

/// `index`, wrapped to abort the process after the number of writes the
/// environment names; unchanged when it names none.
pub fn arm(index: Arc<dyn IndexStore>) -> Arc<dyn IndexStore> {
    match std::env::var(ABORT_AFTER_INDEX_WRITES)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(writes) => {
            tracing::warn!(
                writes,
                "fault injection armed: aborting after that many index writes"
            );
            Arc::new(AbortAfterWrites {
                inner: index,
                left: Arc::new(AtomicUsize::new(writes)),
            })
        }
        None => index,
    }
}

struct AbortAfterWrites {
    inner: Arc<dyn IndexStore>,
    /// Writes left, shared with the generations a rebuild writes into.
    left: Arc<AtomicUsize>,
}

impl AbortAfterWrites {
    fn wrote(&self) {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            std::process::abort();
        }
    }
}

#[async_trait]
impl IndexStore for AbortAfterWrites {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, StorageError> {
        self.inner.get(key, if_none_match).await
    }

    async fn get_uncached(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, StorageError> {
        self.inner.get_uncached(key, if_none_match).await
    }

    async fn check_reachable(&self) -> Result<(), StorageError> {
        self.inner.check_reachable().await
    }

    async fn put(
        &self,
        key: &str,
        object: &IndexObject,
        condition: &WriteCondition,
    ) -> Result<String, StorageError> {
        let etag = self.inner.put(key, object, condition).await?;
        self.wrote();
        Ok(etag)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await?;
        self.wrote();
        Ok(())
    }

    fn fresh_generation(&self) -> Result<Option<Box<dyn IndexGeneration>>, StorageError> {
        Ok(self.inner.fresh_generation()?.map(|inner| {
            Box::new(AbortingGeneration {
                inner,
                left: Arc::clone(&self.left),
            }) as Box<dyn IndexGeneration>
        }))
    }
}

/// A rebuild's generation whose writes count toward the same abort.
struct AbortingGeneration {
    inner: Box<dyn IndexGeneration>,
    left: Arc<AtomicUsize>,
}

#[async_trait]
impl IndexGeneration for AbortingGeneration {
    fn store(&self) -> Arc<dyn IndexStore> {
        Arc::new(AbortAfterWrites {
            inner: self.inner.store(),
            left: Arc::clone(&self.left),
        })
    }

    async fn swap_in(self: Box<Self>) -> Result<(), StorageError> {
        self.inner.swap_in().await
    }
}
