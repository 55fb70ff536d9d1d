//! The one credential file that names ureq: a GET or a POST to a token endpoint (or to Azure
//! Resource Manager, which hands out an endpoint's keys and AML tokens).
//!
//! Token requests follow no redirects (a redirect could carry a secret elsewhere), read at most
//! [`MAX_BODY`] bytes, and skip any proxy for loopback, link-local (IMDS) and `direct` requests.

use std::net::IpAddr;
use std::time::Duration;

/// Largest token response read; a token with many group claims is a few KiB.
const MAX_BODY: u64 = 256 * 1024;
/// Whole-request bound for a token request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect bound for token services other than IMDS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends token requests on a shared `ureq::Agent` (the client's own, once wired in).
#[derive(Clone)]
pub(crate) struct TokenHttp {
    agent: ureq::Agent,
}

/// One token request.
pub(crate) struct TokenRequest<'a> {
    pub url: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub method: Method<'a>,
    /// Never through a proxy, whatever the host (IMDS and managed identity endpoints).
    pub direct: bool,
    /// Overrides the connect bound (IMDS's short probe).
    pub connect_timeout: Option<Duration>,
}

/// How a request is sent.
#[derive(Clone, Copy)]
pub(crate) enum Method<'a> {
    Get,
    /// A form POST.
    Form(&'a [(&'a str, &'a str)]),
    /// A POST with an empty body (Azure Resource Manager's actions).
    Post,
}

/// Whatever status the service answered, with at most [`MAX_BODY`] bytes of body.
pub(crate) struct TokenReply {
    pub status: u16,
    pub body: Vec<u8>,
    /// `x-ms-request-id`, as sent (the caller scrubs and cuts it).
    pub request_id: Option<String>,
}

impl std::fmt::Debug for TokenReply {
    // The body may hold a token: only its size is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why no reply arrived. The text names the host and the cause, never a header or body.
#[derive(Debug)]
pub(crate) enum HttpFailure {
    /// Nothing listens there, or nothing answered the connect in time.
    Connect(String),
    /// Connected, then timed out, reset, or sent something unreadable or too large.
    Exchange(String),
}

impl std::fmt::Debug for TokenHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHttp")
    }
}

impl Default for TokenHttp {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .user_agent(concat!("azureml-endpoint-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        TokenHttp::with_agent(agent)
    }
}

impl TokenHttp {
    /// Requests go out on `agent`; the per-request settings below override its own.
    pub fn with_agent(agent: ureq::Agent) -> Self {
        TokenHttp { agent }
    }

    pub fn send(&self, request: &TokenRequest<'_>) -> Result<TokenReply, HttpFailure> {
        let direct = request.direct || is_local(request.url);
        let result = match request.method {
            Method::Form(form) => {
                prepare(self.agent.post(request.url), request, direct).send_form(form.iter().copied())
            }
            Method::Post => prepare(self.agent.post(request.url), request, direct).send_empty(),
            Method::Get => prepare(self.agent.get(request.url), request, direct).call(),
        };
        let mut response = result.map_err(failure)?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-ms-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    HttpFailure::Exchange(format!("the answer is larger than {} KiB", MAX_BODY / 1024))
                }
                other => failure(other),
            })?;
        Ok(TokenReply {
            status,
            body,
            request_id,
        })
    }
}

/// The query, headers and per-request settings, which override the agent's own.
fn prepare<B>(
    builder: ureq::RequestBuilder<B>,
    request: &TokenRequest<'_>,
    direct: bool,
) -> ureq::RequestBuilder<B> {
    let mut builder = builder.query_pairs(request.query.iter().copied());
    for (name, value) in request.headers {
        builder = builder.header(*name, *value);
    }
    let config = builder
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(request.connect_timeout.unwrap_or(CONNECT_TIMEOUT)))
        .timeout_global(Some(REQUEST_TIMEOUT));
    if direct {
        config.proxy(None).build()
    } else {
        config.build()
    }
}

fn failure(error: ureq::Error) -> HttpFailure {
    use ureq::Error as E;
    match &error {
        E::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            HttpFailure::Connect("the connection timed out".into())
        }
        E::ConnectionFailed | E::HostNotFound => HttpFailure::Connect(error.to_string()),
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            HttpFailure::Connect("the connection was refused".into())
        }
        E::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable
            ) =>
        {
            HttpFailure::Connect(error.to_string())
        }
        E::Timeout(_) => HttpFailure::Exchange("the token service did not answer in time".into()),
        _ => HttpFailure::Exchange(error.to_string()),
    }
}

/// Loopback and link-local hosts (IMDS is 169.254.169.254) never go through a proxy.
pub(crate) fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_link_local(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Answers one request with `200 ok` and hands back its request line.
    fn one_shot() -> std::io::Result<(u16, std::thread::JoinHandle<String>)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let handle = std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return String::new();
            };
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            first.trim_end().to_owned()
        });
        Ok((port, handle))
    }

    fn proxied_agent(proxy_port: u16) -> Result<ureq::Agent, ureq::Error> {
        let proxy = ureq::Proxy::new(&format!("http://127.0.0.1:{proxy_port}"))?;
        Ok(ureq::Agent::config_builder().proxy(Some(proxy)).build().into())
    }

    fn get(url: &str, direct: bool) -> TokenRequest<'_> {
        TokenRequest {
            url,
            query: &[],
            headers: &[],
            method: Method::Get,
            direct,
            connect_timeout: None,
        }
    }

    #[test]
    fn loopback_skips_the_agents_proxy() -> Result<(), Box<dyn std::error::Error>> {
        let (port, server) = one_shot()?;
        let dead_proxy = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let http = TokenHttp::with_agent(proxied_agent(dead_proxy)?);
        let reply = http
            .send(&get(&format!("http://127.0.0.1:{port}/token"), false))
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(
            server.join().map_err(|_| "server panicked")?,
            "GET /token HTTP/1.1"
        );
        Ok(())
    }

    #[test]
    fn other_hosts_use_the_proxy_unless_direct() -> Result<(), Box<dyn std::error::Error>> {
        let (proxy, server) = one_shot()?;
        let http = TokenHttp::with_agent(proxied_agent(proxy)?);
        // ureq tunnels through the proxy; the fake proxy's plain answer then ends the exchange.
        let _ = http.send(&get("http://login.invalid/t/token", false));
        assert_eq!(
            server.join().map_err(|_| "server panicked")?,
            "CONNECT login.invalid:80 HTTP/1.1"
        );
        // `direct` skips the proxy, so the made-up host has to be resolved, and is not.
        let direct = http.send(&get("http://login.invalid/t/token", true));
        let detail = format!("{direct:?}");
        assert!(detail.contains("failed to lookup address"), "{detail}");
        Ok(())
    }

    #[test]
    fn local_hosts_skip_the_proxy() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://169.254.169.254/metadata/identity/oauth2/token",
            "http://127.0.0.2?x",
        ] {
            assert!(is_local(url), "{url}");
        }
        for url in [
            "https://login.microsoftonline.com/t",
            "http://10.0.0.1/",
            "http://localhost.evil/",
        ] {
            assert!(!is_local(url), "{url}");
        }
    }
}
