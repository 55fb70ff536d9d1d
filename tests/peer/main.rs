//! Conformance against real servers (`scripts/peer-tests.sh`); ignored by plain `cargo test`.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod dedicated;
mod serverless;
mod yaml;
