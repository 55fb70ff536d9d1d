//! The embedded local endpoint (`azureml_endpoint::local`).

#[path = "../support/mod.rs"]
mod support;

mod endpoint;
