//! What every test binary shares (`#[path = "../support/mod.rs"] mod support;`): the one test
//! key, a temp folder, a client builder, a recorder for the waits between attempts, and one test
//! server core on 127.0.0.1 ([`server`]) for what httpmock cannot express, answering two ways:
//! [`fault`] (a script per request: slow, broken or streaming answers) and [`keepalive`] (many
//! requests per connection, counted; [`tls`] serves it over HTTPS). [`cli`] runs the binary.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azureml_endpoint::{Error, LoadOptions};

pub mod access;
pub mod cli;
pub mod fault;
pub mod keepalive;
pub mod server;
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
        .formatter(azureml_endpoint::formatter::Gpt2ContentFormatter)
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

/// Neither the key nor any piece of it 8 characters or longer.
pub fn assert_clean(what: &str, text: &str) {
    for len in 8..=KEY.len() {
        let piece = &KEY[..len];
        assert!(!text.contains(piece), "{what} leaks {piece:?}: {text}");
    }
}

/// `text` with every other character written as a `\u` escape, alternating hex case.
pub fn escaped(text: &str) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| match i % 4 {
            1 => format!("\\u{:04X}", u32::from(c)),
            3 => format!("\\u{:04x}", u32::from(c)),
            _ => c.to_string(),
        })
        .collect()
}

/// A port nothing listens on: bound, then released (refused until someone takes it).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A prompt with every character that Python's hand escaping used to corrupt.
pub const SPECIAL: &str = "Quote \" backslash \\ newline \n tab \t nul \u{0} 中文 emoji 🦀 end";

/// A fresh folder of its own under the system temp dir, removed on drop; derefs to its path.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "azureml-tests-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn root(&self) -> &Path {
        &self.0
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file from `fixtures/python-saved/` (exact bytes LangChain Python's `save()` wrote).
pub fn python_saved(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/python-saved")
        .join(name)
}

/// Options whose env vars are exactly `vars`: tests never read or change the process env.
pub fn with_env(vars: &[(&str, &str)]) -> LoadOptions {
    LoadOptions::new().env_vars(vars.iter().copied())
}

/// The error's message, for exact comparisons.
pub fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.expect_err("expected an error").to_string()
}
