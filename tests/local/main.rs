//! The embedded local endpoint (`azureml_endpoint::local`), and the embeddings client (every
//! route and shape, and its CLI, which the local endpoint also serves).

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../support/mod.rs"]
mod support;

mod embeddings;
mod endpoint;
