//! Saved configs: loading, saving, Python's files, and every error a bad file gives.

#[path = "../support/mod.rs"]
mod support;

mod errors;
mod load_formatter;
mod python_saved;
mod round_trip;
