//! Helpers shared by the integration tests: a test key, and in [`fault`] the one scripted HTTP
//! server on 127.0.0.1 for what httpmock cannot express (response sequences, slow, broken or
//! streaming servers).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod cli;
pub mod config_helpers;
pub mod fault;
pub mod keepalive;
pub mod tls;

/// A key that must never show up in any output.
pub const KEY: &str = "sk-test-SECRET-4f9a27c1d3";

/// The env var whose proxy a plain-http request to `host` would take (the transport's rule),
/// for tests whose expected outcome depends on the machine's proxy settings.
pub fn http_proxy_in_env(host: &str) -> Option<&'static str> {
    let set = |var: &str| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
    let no_proxy = std::env::var("no_proxy")
        .or_else(|_| std::env::var("NO_PROXY"))
        .unwrap_or_default();
    if no_proxy.split(',').map(str::trim).any(|e| e == "*" || e == host) {
        return None;
    }
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .into_iter()
        .find(|var| set(var))
}

/// A GPT-2 (dedicated) client for `url` with the test key; add what the test needs, then build.
pub fn gpt2(url: impl Into<String>) -> azureml_endpoint::AzureMlOnlineEndpointBuilder {
    azureml_endpoint::AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_key(KEY)
        .formatter(azureml_endpoint::Gpt2ContentFormatter)
}

/// The waits a client asks for between attempts (backoff, `Retry-After`, a 429 pause), in order
/// and none of them slept: install with `.sleeper(waits.sleeper())`.
#[derive(Clone, Debug, Default)]
pub struct Waits(Arc<Mutex<Vec<Duration>>>);

impl Waits {
    /// Records each wait and returns at once.
    pub fn sleeper(&self) -> impl Fn(Duration) + Send + Sync + 'static {
        let log = self.0.clone();
        move |wait| log.lock().unwrap().push(wait)
    }

    /// The waits asked for so far.
    pub fn asked(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// The first backoff (attempt 1): 0.8 s with jitter in its upper half.
pub const FIRST_BACKOFF: std::ops::Range<Duration> = Duration::from_millis(400)..Duration::from_millis(800);

/// A prompt with every character that Python's hand escaping used to corrupt.
pub const SPECIAL: &str = "Quote \" backslash \\ newline \n tab \t nul \u{0} 中文 emoji 🦀 end";
