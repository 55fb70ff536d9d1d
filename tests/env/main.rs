//! Tests that change the process environment, in a process of their own: env vars are process-wide, and every other test that builds or loads a client reads them.

#[path = "../support/mod.rs"]
mod support;

mod from_env;
mod proxy;
