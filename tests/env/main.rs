//! Tests that change the process environment, in a process of their own: env vars are process-wide, and every other test that builds or loads a client reads them.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod from_env;
mod proxy;
