//! The static index: everything a public registry's readers need, as files behind a
//! CDN, so details, versions, schemas and search cost no compute per read.
//!
//! - [`format`]: the documented structs of every file, with a format version.
//! - [`path`]: one typed path per file kind, and the mapping of protocol URLs onto
//!   them (the same table the CloudFront Function is tested against).
//! - [`render`]: each plugin's files, rendered from the catalog (the source of truth).
//! - [`builder`]: incremental updates and the full rebuild, which give the same bytes.
//! - [`signing`] and [`verify`]: the Ed25519-signed snapshot chain.
//! - [`store`]: the port the files are written to, and its directory adapter.
//! - [`search`]: search answered from the sharded search index, kept in memory.
//! - `lambda` (feature `binaries`): the `index-builder` function's stream and
//!   schedule handlers, reading the DynamoDB table's keys through `registry-aws`.

pub mod builder;
pub mod canonical;
pub mod format;
mod hot;
#[cfg(feature = "binaries")]
pub mod lambda;
pub mod path;
pub mod render;
pub mod search;
pub mod signing;
pub mod store;
pub mod verify;

/// Directory of the index inside a data directory.
pub const INDEX_DIR: &str = "index";
/// File of the index signing key inside a data directory.
pub const INDEX_KEY_FILE: &str = "index.key";

pub use builder::InProcessIndexer;
pub use builder::{ChangeReport, ForeignIndex, IndexBuilder, IndexError, IndexSettings, Rerender};
pub use hot::DEFAULT_BUDGET as DEFAULT_INDEX_CACHE_BYTES;
pub use path::{IndexPath, Shard};
pub use search::IndexedSearch;
pub use signing::{IndexPublicKey, IndexSigningKey};
pub use store::{FileIndexStore, IndexObject, IndexStore};
