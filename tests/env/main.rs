//! Tests that change the process environment, in a process of their own: env vars are
//! process-wide, and every other test that builds or loads a client reads them. Each test here
//! holds [`ENV`] while it changes them.

use std::sync::Mutex;

#[path = "../support/mod.rs"]
mod support;

mod from_env;
mod proxy;

/// Held by every test of this binary while it changes the process env.
static ENV: Mutex<()> = Mutex::new(());
