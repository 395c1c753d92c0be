//! What the HTTP benches share: percentiles, the report line, and a fresh bucket
//! (and table) on the local AWS stand-ins. Each bench uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use openworkflow_registry::{init_aws, s3_needs_path_style};

/// The `p` quantile of `sorted` samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Prints one line: `what`, the sample count, p50, p90 and p99.
pub fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what:<40} n={:<5} p50={:>8.2?} p90={:>8.2?} p99={:>8.2?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.90),
        percentile(&samples, 0.99)
    );
}

/// A new table and bucket named after `tag` and this process, created.
pub async fn new_aws_resources(tag: &str) -> String {
    let name = format!("{tag}-{}", std::process::id());
    init_aws(&registry_aws::AwsSettings {
        table: name.clone(),
        bucket: name.clone(),
        force_path_style: s3_needs_path_style(),
    })
    .await
    .unwrap();
    name
}
