//! The two clients over HTTP: request bodies and replies per formatter, streams, retries, errors and secrets.

#[path = "../support/mod.rs"]
mod support;

mod chat;
mod completion_wire;
mod headers;
mod model;
mod parts;
mod rate_limits;
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
