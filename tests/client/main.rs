//! The two clients over HTTP: request bodies and replies per formatter, streams, retries, errors and secrets.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod chat;
mod completion_wire;
mod headers;
mod model;
mod parts;
mod rate_limits;
mod recorded;
mod responses;
mod retries;
mod routes;
mod scrubbing;
mod secrets;
mod stream;
mod stream_formatter;
mod structured;
mod tools;
mod validation;
