//! The HTTP layer: TLS, deadlines, and connections kept alive.

#[path = "../support/mod.rs"]
mod support;

mod deadlines;
mod throughput;
mod tls;
