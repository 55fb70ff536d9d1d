//! The `azureml-endpoint` binary, run for real against servers on 127.0.0.1.

#[path = "../support/mod.rs"]
mod support;

mod args;
mod auth;
mod batch;
mod batch_pipe;
mod chat;
mod commands;
mod model;
mod readme;
mod scrubbing;
mod stream;
mod tls;
