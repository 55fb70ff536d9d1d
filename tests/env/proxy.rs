//! Proxy policy (docs/reliability.md, Secrets): loopback is never proxied, other hosts follow the
//! usual env vars and `NO_PROXY`, and the key crosses a proxy only inside TLS.
//!
//! The variables are process-wide, so every test here holds `crate::ENV` while it sets them.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::fault::{response, FaultServer};
use crate::support::{gpt2, KEY};
use azureml_endpoint::{AzureMlOnlineEndpoint, Error, Result};

const OK: &str = r#"[{"0": "done"}]"#;
const VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];
const DEAD: &str = "http://127.0.0.1:9";

/// Holds the env lock with exactly `vars` set among the proxy variables; clears them when dropped.
struct ProxyEnv(#[allow(dead_code)] MutexGuard<'static, ()>);

impl ProxyEnv {
    fn set(vars: &[(&str, &str)]) -> Self {
        let guard = crate::ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for name in VARS {
            std::env::remove_var(name);
        }
        for (name, value) in vars {
            std::env::set_var(name, value);
        }
        ProxyEnv(guard)
    }
}

impl Drop for ProxyEnv {
    fn drop(&mut self) {
        for name in VARS {
            std::env::remove_var(name);
        }
    }
}

/// A proxy that records what the first connection sends before its head ends, then refuses.
struct FakeProxy {
    url: String,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FakeProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let done = Arc::new(AtomicBool::new(false));
        let over = done.clone();
        listener.set_nonblocking(true).unwrap();
        let handle = std::thread::spawn(move || {
            // Until told the call is over; a connection made before that is still accepted.
            loop {
                let Ok((mut stream, _)) = listener.accept() else {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut bytes = Vec::new();
                let mut buf = [0; 1024];
                while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => bytes.extend_from_slice(&buf[..n]),
                    }
                }
                *record.lock().unwrap() = Some(bytes);
                let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
                return;
            }
        });
        FakeProxy {
            url,
            seen,
            done: over,
            handle: Some(handle),
        }
    }

    /// What the proxy received; `None` when nothing connected. Call it once the call is over.
    fn seen(mut self) -> Option<String> {
        self.done.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            handle.join().unwrap();
        }
        let bytes = self.seen.lock().unwrap().take();
        bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

fn client(url: &str) -> Result<AzureMlOnlineEndpoint> {
    gpt2(url)
        .max_retries(0)
        .connect_timeout(Duration::from_secs(2))
        .build()
}

#[test]
fn loopback_is_direct_with_every_proxy_variable_set() -> Result<()> {
    // Every proxy variable but NO_PROXY.
    let vars: Vec<(&str, &str)> = VARS
        .iter()
        .filter(|n| !n.eq_ignore_ascii_case("no_proxy"))
        .map(|n| (*n, DEAD))
        .collect();
    let _env = ProxyEnv::set(&vars);
    for host in ["127.0.0.1", "localhost"] {
        let server = FaultServer::start(vec![response(200, &[], OK)]);
        let url = server.url("/score").replace("127.0.0.1", host);
        assert_eq!(client(&url)?.invoke("x")?.text, "done", "{url}");
        assert_eq!(server.hits(), 1);
    }
    Ok(())
}

#[test]
fn an_https_endpoint_is_tunnelled_and_the_key_never_crosses_in_clear() -> Result<()> {
    let proxy = FakeProxy::start();
    let _env = ProxyEnv::set(&[("HTTPS_PROXY", &proxy.url), ("HTTP_PROXY", DEAD)]);
    let err = client("https://my-endpoint.example.invalid/score")?
        .invoke("x")
        .unwrap_err();
    let seen = proxy.seen().expect("the request went to the proxy");
    assert!(
        seen.starts_with("CONNECT my-endpoint.example.invalid:443 HTTP/1.1\r\n"),
        "{seen}"
    );
    assert!(!seen.contains(KEY) && !seen.contains("sk-test"), "{seen}");
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(t.host, "my-endpoint.example.invalid");
    assert!(!format!("{err} {err:?}").contains(KEY));
    Ok(())
}

#[test]
fn no_proxy_sends_a_host_direct() -> Result<()> {
    // The same remote-looking endpoint, once through the proxy and once excluded from it.
    let endpoint = "https://10.255.255.1/score";
    let proxy = FakeProxy::start();
    let _env = ProxyEnv::set(&[("https_proxy", &proxy.url)]);
    assert!(client(endpoint)?.invoke("x").is_err());
    let seen = proxy.seen().expect("proxied without NO_PROXY");
    assert!(
        seen.starts_with("CONNECT 10.255.255.1:443 HTTP/1.1\r\n"),
        "{seen}"
    );
    drop(_env);

    for no_proxy in [
        ("NO_PROXY", "10.0.0.0/8"),
        ("no_proxy", "example.org, 10.255.255.1"),
    ] {
        let proxy = FakeProxy::start();
        let _env = ProxyEnv::set(&[("HTTPS_PROXY", &proxy.url), no_proxy]);
        // No network here: the direct attempt fails, but never through the proxy.
        let err = client(endpoint)?.invoke("x").unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        assert_eq!(proxy.seen(), None, "{no_proxy:?}");
    }
    Ok(())
}

#[test]
fn plain_http_through_a_proxy_is_refused_at_build() -> Result<()> {
    let _env = ProxyEnv::set(&[("HTTP_PROXY", DEAD)]);
    let insecure = |url: &str| {
        AzureMlOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_key(KEY)
            .allow_insecure_http(true)
            .build()
    };
    let err = insecure("http://scoring.example.invalid:8080/score").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `endpoint_url` (env var HTTP_PROXY): plain http to scoring.example.invalid would go \
         through the proxy set in HTTP_PROXY, key in clear; use an https endpoint, or add \
         scoring.example.invalid to NO_PROXY to connect directly"
    );
    drop(_env);
    let _env = ProxyEnv::set(&[("ALL_PROXY", DEAD), ("NO_PROXY", ".example.invalid")]);
    insecure("http://scoring.example.invalid:8080/score")?;
    Ok(())
}
