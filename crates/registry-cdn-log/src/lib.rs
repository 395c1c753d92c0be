//! CloudFront standard logs read into download counts, as crates.io counts its
//! downloads: the CDN answers schema and bundle downloads from the bucket without
//! running any code, so its access logs are the only record of them.
//!
//! [`tally_log`] reads one (decompressed) log file into counts per version, day and
//! client; [`record_tally`] writes them through the download counter port in
//! parts, each added exactly once, then marks the file counted. A file delivered
//! again, whole or after a failure part-way, adds nothing twice.

mod tally;

use registry_core::downloads::{LogPart, LogPartOutcome, Retention, log_parts};
use registry_core::store::{DownloadCounters, StorageError};
use registry_core::timestamp::Timestamp;

pub use tally::{
    LogTally, MAX_CLIENTS_PER_FILE, MAX_LINE_BYTES, MAX_REPORTED_REJECTIONS, RejectedLine,
    download_of, tally_log,
};

/// What recording one log file's tally did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Parts whose counts were added now.
    pub parts_counted: usize,
    /// Parts found counted by an earlier delivery, which added nothing.
    pub parts_already_counted: usize,
}

/// Adds `tally`'s counts for log file `file` (its object key) through
/// `counters`, part by part, each exactly once, and then marks the file counted.
pub async fn record_tally(
    counters: &dyn DownloadCounters,
    file: &str,
    tally: LogTally,
    retention: Retention,
    now: Timestamp,
) -> Result<Recorded, StorageError> {
    let mut recorded = Recorded::default();
    for (number, counts) in log_parts(tally.counts).into_iter().enumerate() {
        let part = LogPart {
            file: file.to_owned(),
            number: u32::try_from(number).unwrap_or(u32::MAX),
        };
        match counters.count_log_part(&part, &counts, retention).await? {
            LogPartOutcome::Counted => recorded.parts_counted += 1,
            LogPartOutcome::AlreadyCounted => recorded.parts_already_counted += 1,
        }
    }
    counters.mark_log_file_counted(file, now, retention).await?;
    Ok(recorded)
}
