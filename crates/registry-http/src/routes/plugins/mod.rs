//! `/plugins/...` handlers, one file per verb.

pub mod deprecate;
pub mod details;
pub mod download;
pub mod index_file;
pub mod publish;
pub mod search;
pub mod unpublish;
