//! The `azureml-endpoint` binary, run for real against servers on 127.0.0.1.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod access;
mod args;
mod auth;
mod batch;
mod batch_pipe;
mod chat;
mod commands;
mod fidelity;
mod model;
mod readme;
mod scrubbing;
mod stream;
mod tls;
