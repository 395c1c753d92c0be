//! The coordination port's contract: one index writer at a time, waiting bounded,
//! a lease freed by release or by drop, and each scheduled run claimed once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::RACERS;
use crate::store::{NodeCoordination, StorageError};

/// Long enough for any lease in these checks to come free.
const PATIENT: Duration = Duration::from_secs(20);

/// Runs every coordination check against `nodes`: handles onto one shared store,
/// as separate processes would hold (at least two).
pub async fn node_coordination_contract(nodes: Vec<Arc<dyn NodeCoordination>>, prefix: &str) {
    assert!(nodes.len() >= 2, "the contract needs two handles");
    one_writer_at_a_time(&nodes).await;
    a_wait_is_bounded_and_a_release_lets_the_next_in(&nodes).await;
    a_dropped_lease_frees_the_writer(&nodes).await;
    each_scheduled_run_is_claimed_once(&nodes, prefix).await;
}

async fn one_writer_at_a_time(nodes: &[Arc<dyn NodeCoordination>]) {
    let inside = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..RACERS)
        .map(|i| {
            let node = Arc::clone(&nodes[i % nodes.len()]);
            let (inside, entered) = (Arc::clone(&inside), Arc::clone(&entered));
            tokio::spawn(async move {
                let lease = node.lead_index_writes(PATIENT).await.unwrap();
                assert!(
                    !inside.swap(true, Ordering::SeqCst),
                    "two writers hold the index lease at once"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.store(false, Ordering::SeqCst);
                entered.fetch_add(1, Ordering::SeqCst);
                lease.release().await;
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        entered.load(Ordering::SeqCst),
        RACERS,
        "every writer had its turn"
    );
}

async fn a_wait_is_bounded_and_a_release_lets_the_next_in(nodes: &[Arc<dyn NodeCoordination>]) {
    let held = nodes[0].lead_index_writes(PATIENT).await.unwrap();
    match nodes[1].lead_index_writes(Duration::from_millis(200)).await {
        Err(StorageError::Unavailable(_)) => {}
        Err(other) => panic!("a wait that runs out is Unavailable, not {other}"),
        Ok(_) => panic!("a second writer got the lease while the first held it"),
    }
    let next = tokio::spawn({
        let node = Arc::clone(&nodes[1]);
        async move { node.lead_index_writes(PATIENT).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!next.is_finished(), "the next writer waits for the lease");
    held.release().await;
    let next = tokio::time::timeout(PATIENT, next)
        .await
        .expect("a released lease lets the waiting writer in")
        .unwrap()
        .unwrap();
    next.release().await;
}

async fn a_dropped_lease_frees_the_writer(nodes: &[Arc<dyn NodeCoordination>]) {
    let lease = nodes[0].lead_index_writes(PATIENT).await.unwrap();
    drop(lease);
    let next = nodes[1]
        .lead_index_writes(PATIENT)
        .await
        .expect("a lease dropped without release comes free");
    next.release().await;
}

async fn each_scheduled_run_is_claimed_once(nodes: &[Arc<dyn NodeCoordination>], prefix: &str) {
    let job = format!("{prefix}-health");
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let node = Arc::clone(&nodes[i % nodes.len()]);
            let job = job.clone();
            tokio::spawn(async move { node.claim_scheduled_run(&job, 7).await.unwrap() })
        })
        .collect();
    let mut claimed = 0;
    for racer in racers {
        claimed += usize::from(racer.await.unwrap());
    }
    assert_eq!(
        claimed, 1,
        "of {RACERS} racing claims of one period, one wins"
    );
    assert!(
        !nodes[1].claim_scheduled_run(&job, 7).await.unwrap(),
        "a claimed period is not claimed again"
    );
    assert!(
        !nodes[0].claim_scheduled_run(&job, 6).await.unwrap(),
        "an earlier period than one claimed is not run"
    );
    assert!(
        nodes[1].claim_scheduled_run(&job, 8).await.unwrap(),
        "the next period is claimed"
    );
    assert!(
        nodes[0]
            .claim_scheduled_run(&format!("{prefix}-rollup"), 7)
            .await
            .unwrap(),
        "each job's periods are its own"
    );
}
