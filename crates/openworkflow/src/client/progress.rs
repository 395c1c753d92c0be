//! Progress of schema and bundle transfers, reported to whoever draws it.

use std::fmt;

/// Which way bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the registry.
    Download,
    /// To the registry (or its upload storage).
    Upload,
}

/// Receives the progress of schema and bundle transfers, so a caller can draw it
/// (the command line draws progress bars when stderr is a terminal).
pub trait ProgressSink: Send + Sync + fmt::Debug {
    /// A transfer named `what` of `total` bytes (when known) begins.
    fn started(&self, what: &str, direction: Direction, total: Option<u64>);
    /// `bytes` more bytes of `what` moved.
    fn advanced(&self, what: &str, bytes: u64);
    /// `what` ended.
    fn finished(&self, what: &str);
}
