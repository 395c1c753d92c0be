//! End-to-end tests of the registry live in `tests/`.
