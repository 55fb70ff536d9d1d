//! Microsoft Entra ID: the credential sources, and clients that sign in with them.

#[path = "../support/mod.rs"]
mod support;

mod client;
mod sources;
