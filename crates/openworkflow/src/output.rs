//! What the command line prints: human lines, or one JSON document with `--json`;
//! nothing but errors and warnings with `--quiet`. Results go to stdout; warnings
//! and errors to stderr, so `--json` output always parses.

use std::io::Write;

use serde::Serialize;

use crate::commands::Failure;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines for people.
    Human,
    /// One JSON document per command, for scripts.
    Json,
    /// Only warnings and errors.
    Quiet,
}

/// The command's printer.
#[derive(Debug)]
pub struct Output {
    mode: Mode,
}

impl Output {
    /// A printer for the flags given; `--json` wins over `--quiet`.
    pub fn new(json: bool, quiet: bool) -> Self {
        let mode = match (json, quiet) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Quiet,
            (false, false) => Mode::Human,
        };
        Self { mode }
    }

    /// Whether people are reading (so progress bars help).
    pub fn is_human(&self) -> bool {
        self.mode == Mode::Human
    }

    /// Prints a command's result: `human` lines, or `json` as one JSON document.
    pub fn result<T: Serialize>(&self, human: impl FnOnce() -> String, json: impl FnOnce() -> T) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (`| head`) is not worth a panic.
        let _ = match self.mode {
            Mode::Human => writeln!(stdout, "{}", human()),
            Mode::Json => writeln!(stdout, "{}", to_json_text(&json())),
            Mode::Quiet => Ok(()),
        };
    }

    /// Prints bytes to stdout whatever the mode (`canonical`, which scripts pipe).
    pub fn raw(&self, bytes: &[u8]) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
    }

    /// A warning, on stderr in every mode.
    pub fn warn(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
    }

    /// Something a person must act on (open a page, type a code), on stderr in
    /// every mode, quiet included: nothing goes on without it, and a script's
    /// JSON on stdout stays clean.
    pub fn instruct(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// A progress note for people, on stderr.
    pub fn note(&self, text: &str) {
        if self.mode == Mode::Human {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Reports a failure: `error: ...` and each field problem on stderr, or the
    /// failure as JSON on stdout.
    pub fn failure(&self, failure: &Failure) {
        if self.mode == Mode::Json {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                to_json_text(&failure.report())
            );
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {}", failure.message);
        for field in &failure.fields {
            let _ = writeln!(stderr, "  - {}: {}", field.field, field.message);
        }
        if let Some(hint) = &failure.hint {
            let _ = writeln!(stderr, "hint: {hint}");
        }
    }
}

/// `value` as JSON text; a value that cannot be written (never one of ours) says so.
fn to_json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":{{\"message\":\"unwritable result: {e}\"}}}}"))
}
