//! Saved configs: loading, saving, Python's files, and every error a bad file gives.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod errors;
mod load_formatter;
mod python_saved;
mod round_trip;
