//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! entry points the AFL++ harnesses call, so every input the fuzzer kept, crashes
//! it found among them, is checked on every `cargo test` without building AFL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use registry_fuzz::{TARGETS, target};

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

/// Runs every input of `name`'s corpus, naming the input that fails.
fn replay(name: &str) {
    let run = target(name).expect("a known target").run;
    let dir = corpus_root().join(name);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 10,
        "{}: only {} inputs; the corpus is missing",
        dir.display(),
        inputs.len()
    );
    for input in &inputs {
        let bytes = std::fs::read(input).unwrap();
        if let Err(cause) = std::panic::catch_unwind(|| run(&bytes)) {
            let why = cause
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| cause.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{name}: {} fails: {why}", input.display());
        }
    }
}

#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    let mut dirs: Vec<String> = std::fs::read_dir(corpus_root())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    names.sort();
    assert_eq!(dirs, names);
}

#[test]
fn manifest_json_corpus() {
    replay("manifest_json");
}

#[test]
fn manifest_yaml_corpus() {
    replay("manifest_yaml");
}

#[test]
fn bundle_corpus() {
    replay("bundle");
}

#[test]
fn settings_schema_corpus() {
    replay("settings_schema");
}

#[test]
fn multipart_corpus() {
    replay("multipart");
}

#[test]
fn index_path_corpus() {
    replay("index_path");
}
