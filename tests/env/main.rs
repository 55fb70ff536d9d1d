//! Tests that change process-wide state, in a process of their own — the environment, and the
//! global `log` logger the telemetry tests install: env vars are process-wide, and every other test that builds or loads a client reads them. Each test here
//! holds [`ENV`] while it changes them.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Mutex;

#[path = "../support/mod.rs"]
mod support;

mod from_env;
mod proxy;
// The spans need the `tracing` feature; the log line tests need the local endpoint.
#[cfg(all(feature = "tracing", feature = "local"))]
mod telemetry;

/// Held by every test of this binary while it changes the process env.
static ENV: Mutex<()> = Mutex::new(());
