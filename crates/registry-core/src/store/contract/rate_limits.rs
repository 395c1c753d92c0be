//! The rate-limit port's contract: a mark changes only from the value it was
//! read as, so of racing requests each takes its own share of the allowance.

use std::sync::Arc;

use super::{conflict, exactly_one_wins};
use crate::store::{Conflict, RateLimitStore};

/// Seconds since the epoch in 2099: a store that forgets passed marks keeps these.
const LATER: i64 = 4_070_908_800;

/// Runs every rate-limit-store check.
pub async fn rate_limit_store_contract(store: Arc<dyn RateLimitStore>, prefix: &str) {
    let key = format!("new-plugin:prn_{prefix}");
    assert_eq!(store.rate_mark(&key).await.unwrap(), None);
    store.swap_rate_mark(&key, None, LATER).await.unwrap();
    assert_eq!(store.rate_mark(&key).await.unwrap(), Some(LATER));
    assert_eq!(
        conflict(store.swap_rate_mark(&key, None, LATER + 1).await),
        Conflict::RevisionChanged,
        "a mark that exists is not created again"
    );
    assert_eq!(
        conflict(store.swap_rate_mark(&key, Some(LATER - 5), LATER + 1).await),
        Conflict::RevisionChanged,
        "a mark changes only from the value it holds"
    );
    assert_eq!(store.rate_mark(&key).await.unwrap(), Some(LATER));

    exactly_one_wins(
        |i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            async move {
                store
                    .swap_rate_mark(&key, Some(LATER), LATER + 60 + i as i64)
                    .await
            }
        },
        Conflict::RevisionChanged,
        "of racing requests reading the same mark, exactly one moves it",
    )
    .await;
    let moved = store.rate_mark(&key).await.unwrap().unwrap();
    assert!(moved > LATER + 59, "{moved}");
    assert_eq!(
        store
            .rate_mark(&format!("new-version:prn_{prefix}"))
            .await
            .unwrap(),
        None,
        "each key is its own"
    );
}
