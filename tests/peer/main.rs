//! Conformance against real servers (`scripts/peer-tests.sh`); ignored by plain `cargo test`.

#[path = "../support/mod.rs"]
mod support;

mod dedicated;
mod serverless;
mod yaml;
