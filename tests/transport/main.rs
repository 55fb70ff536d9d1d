//! The HTTP layer: TLS, deadlines, and connections kept alive.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod deadlines;
mod throughput;
mod tls;
