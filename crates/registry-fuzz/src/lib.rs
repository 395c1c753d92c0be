//! The fuzz targets' entry points: what a stranger's bytes reach first.
//!
//! Each target takes arbitrary bytes, runs them through the registry's own parser
//! or check, and panics only when that code breaks a promise: a panic inside it, an
//! accepted input that does not mean what was accepted, or a refusal with a status
//! that blames the server. The AFL++ harnesses in `fuzz/` call these, and
//! `tests/corpus.rs` replays the committed corpus through the same functions in
//! ordinary `cargo test`, so CI keeps every input the fuzzer found interesting
//! without building AFL.
// A panic is how a target reports a broken promise to the fuzzer and to the replay.
#![allow(clippy::expect_used, clippy::panic)]

mod bundle;
mod index_path;
mod manifest;
mod multipart;
mod settings;

/// A fuzz target: its name (its corpus directory and harness binary) and entry point.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Name of the harness binary and of its directory under `fuzz/corpus/`.
    pub name: &'static str,
    /// Runs one input; panics when the code under test breaks a promise.
    pub run: fn(&[u8]),
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "manifest_json",
        run: manifest::json,
    },
    Target {
        name: "manifest_yaml",
        run: manifest::yaml,
    },
    Target {
        name: "bundle",
        run: bundle::check,
    },
    Target {
        name: "settings_schema",
        run: settings::check,
    },
    Target {
        name: "multipart",
        run: multipart::read,
    },
    Target {
        name: "index_path",
        run: index_path::parse,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}
