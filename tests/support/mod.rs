//! Helpers shared by the integration tests: a test key, and in [`fault`] the one scripted HTTP
//! server on 127.0.0.1 for what httpmock cannot express (response sequences, slow, broken or
//! streaming servers).

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code)]

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

/// A GPT-2 (dedicated) client for `url` with `retries` retries and the test key.
pub fn gpt2_client(
    url: String,
    retries: u32,
) -> azureml_endpoint::Result<azureml_endpoint::AzureMlOnlineEndpoint> {
    azureml_endpoint::AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_key(KEY)
        .formatter(azureml_endpoint::formatter::Gpt2ContentFormatter)
        .max_retries(retries)
        .build()
}

/// A prompt with every character that Python's hand escaping used to corrupt.
pub const SPECIAL: &str = "Quote \" backslash \\ newline \n tab \t nul \u{0} 中文 emoji 🦀 end";
