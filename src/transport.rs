//! The HTTP seam: one `ureq::Agent` per client, headers, deadlines, retries, limits, redirects,
//! proxies.
//!
//! This is the only file that names ureq, so the HTTP stack can change without touching the API.
#![deny(clippy::arithmetic_side_effects)]

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, SystemTime};

use crate::config::{parse_url, EndpointConfig, ParsedUrl};
use crate::error::{Error, HttpError, Result, Source, TransportError, TransportErrorKind};
use crate::retry::{self, Next, RetryHeaders};
use crate::secret::ApiKey;
use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs};
use ureq::unversioned::transport::time::Duration as IoDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport as Io,
};
use ureq::ProxyProtocol;

const USER_AGENT: &str = concat!("azureml-endpoint-rs/", env!("CARGO_PKG_VERSION"));
/// How much of an error body we read for its message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
const ERROR_MESSAGE_LIMIT: usize = 2048;
const MAX_SAME_HOST_REDIRECTS: u32 = 5;

/// Sends requests to one endpoint. Cheap to clone: the agent is a handle to a shared pool.
#[derive(Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    url: ParsedUrl,
    /// `url` parsed once for ureq.
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    key: ApiKey,
    max_retries: u32,
    timeout: Duration,
    max_response_bytes: u64,
}

/// A whole, successful response body.
pub(crate) struct Reply {
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

/// A successful response whose body is read as it arrives.
pub(crate) struct StreamReply {
    pub body: Box<dyn Read + Send>,
    pub request_id: Option<String>,
}

/// What one request needs besides the URL and the fixed headers.
pub(crate) struct Outgoing<'a> {
    pub body: &'a [u8],
    pub content_type: &'a str,
    pub accept: &'a str,
    /// Overrides the client's timeout for this call.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for Transport {
    // Allow-list: the headers carry the key, so only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("url", &self.url.normalized)
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(
        config: &EndpointConfig,
        url: ParsedUrl,
        key: &ApiKey,
        deployment: Option<&str>,
    ) -> Result<Self> {
        let proxy = proxy_for(&url, |name| std::env::var(name).ok())?;
        let uri = Uri::try_from(url.normalized.as_str())
            .map_err(|e| Error::config("endpoint_url", Source::Argument, format!("not a valid URI: {e}")))?;
        // One deadline for the whole attempt (head and body); streams replace it per request.
        // The connect timeout bounds the connection inside it.
        let config_ureq = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .proxy(proxy)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .user_agent(USER_AGENT)
            .build();
        let connector = DefaultConnector::default().chain(CoarseTimeouts);
        let agent = ureq::Agent::with_parts(config_ureq, connector, Resolver);
        let mut fixed = vec![("authorization", format!("Bearer {}", key.expose()), true)];
        if config.api_type == crate::ApiType::Serverless {
            fixed.push(("api-key", key.expose().to_owned(), true));
        }
        if let Some(name) = deployment {
            fixed.push(("azureml-model-deployment", name.to_owned(), false));
        }
        let extra = config
            .extra_headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone(), false));
        // Parsed once here rather than on every request; values were checked for control
        // characters when the settings were resolved, so a failure here is a header name.
        let mut headers = Vec::new();
        for (name, value, secret) in fixed.into_iter().chain(extra) {
            let bad = || {
                Error::config(
                    "extra_headers",
                    Source::Argument,
                    format!("{name:?} is not a valid header"),
                )
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| bad())?;
            value.set_sensitive(secret);
            headers.push((name, value));
        }
        Ok(Transport {
            agent,
            url,
            uri,
            headers,
            key: key.clone(),
            max_retries: config.max_retries,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Posts and reads the whole body, retrying per reliability.md. A body of exactly
    /// `max_response_bytes` is accepted, one byte more is an error.
    pub fn post(&self, out: &Outgoing<'_>) -> Result<Reply> {
        let timeout = out.timeout.unwrap_or(self.timeout);
        let max = self.max_response_bytes;
        self.with_retries(out, false, |mut response, attempts| {
            let request_id = request_id(&response);
            // A declared length over the limit is refused before reading anything.
            if response
                .body()
                .content_length()
                .is_some_and(|length| length > max)
            {
                return Err(self.too_large(attempts));
            }
            // ureq's limit refuses a body that merely reaches it, so read one byte past ours.
            let body = response
                .body_mut()
                .with_config()
                .limit(max.saturating_add(1))
                .read_to_vec()
                .map_err(|e| self.transport_error(e, attempts, timeout, true))?;
            if u64::try_from(body.len()).map_or(true, |len| len > max) {
                return Err(self.too_large(attempts));
            }
            Ok(Reply { body, request_id })
        })
    }

    /// Posts, then parses the body with `parse`; the key is scrubbed from any parse error.
    pub fn exchange<T>(
        &self,
        out: &Outgoing<'_>,
        parse: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<(T, Option<String>)> {
        let reply = self.post(out)?;
        let value = parse(&reply.body).map_err(|e| self.scrub_error(e))?;
        Ok((value, reply.request_id))
    }

    /// Posts and hands back the body unread. `timeout` bounds the wait for the response head,
    /// then each read (the stream's own per-chunk deadline), never the whole stream.
    pub fn post_stream(&self, out: &Outgoing<'_>) -> Result<StreamReply> {
        self.with_retries(out, true, |response, _| {
            let request_id = request_id(&response);
            Ok(StreamReply {
                body: Box::new(StreamBody(response.into_body().into_reader())),
                request_id,
            })
        })
    }

    /// Runs attempts until one answers below 400 (handed to `on_success` with the attempt
    /// count) or the retry rules say stop. Same-origin redirects are not attempts.
    fn with_retries<T>(
        &self,
        out: &Outgoing<'_>,
        streaming: bool,
        on_success: impl Fn(ureq::http::Response<ureq::Body>, u32) -> Result<T>,
    ) -> Result<T> {
        let timeout = out.timeout.unwrap_or(self.timeout);
        let mut attempts: u32 = 1;
        let mut redirects: u32 = 0;
        let mut uri = self.uri.clone();
        loop {
            let response = match self.send(&uri, out, timeout, streaming) {
                Ok(response) => response,
                Err(e) => {
                    let error = self.transport_error(e, attempts, timeout, false);
                    let retryable = matches!(
                        &error,
                        Error::Transport(t) if matches!(
                            t.kind,
                            TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout | TransportErrorKind::Reset
                        )
                    );
                    if retryable && attempts <= self.max_retries {
                        std::thread::sleep(retry::backoff(attempts));
                        attempts = attempts.saturating_add(1);
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                uri = self.redirect_target(&response, attempts)?;
                redirects = redirects.saturating_add(1);
                if redirects > MAX_SAME_HOST_REDIRECTS {
                    return Err(self.error(
                        TransportErrorKind::Redirect,
                        "too many redirects".into(),
                        attempts,
                    ));
                }
                continue;
            }
            if status < 400 {
                return on_success(response, attempts);
            }
            let asked = RetryHeaders {
                retry_after_ms: header(&response, "retry-after-ms"),
                x_ms_retry_after_ms: header(&response, "x-ms-retry-after-ms"),
                retry_after: header(&response, "retry-after"),
            };
            let next = retry::after_status(status, attempts, self.max_retries, asked, SystemTime::now());
            let mut error = http_error(response, attempts);
            error.message = error.message.map(|m| self.scrub(m));
            match next {
                Next::Wait(wait) => std::thread::sleep(wait),
                Next::TooLong(wait) => {
                    error.retry_after = Some(wait);
                    return Err(Error::Http(Box::new(error)));
                }
                Next::GiveUp => return Err(Error::Http(Box::new(error))),
            }
            attempts = attempts.saturating_add(1);
        }
    }

    fn send(
        &self,
        uri: &Uri,
        out: &Outgoing<'_>,
        timeout: Duration,
        streaming: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self
            .agent
            .post(uri.clone())
            .header("Content-Type", out.content_type)
            .header("Accept", out.accept);
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        if streaming {
            // The head within the timeout, then each read within it: a stream may run long.
            request
                .config()
                .timeout_global(None)
                .timeout_send_request(Some(timeout))
                .timeout_send_body(Some(timeout))
                .timeout_recv_response(Some(timeout))
                .timeout_per_read(Some(timeout))
                .build()
                .send(out.body)
        } else if timeout != self.timeout {
            request
                .config()
                .timeout_global(Some(timeout))
                .build()
                .send(out.body)
        } else {
            request.send(out.body)
        }
    }

    /// Same-origin redirects are followed (the key stays with its host); others are an error.
    fn redirect_target(&self, response: &ureq::http::Response<ureq::Body>, attempts: u32) -> Result<Uri> {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let target = if location.starts_with('/') {
            let (scheme, host, port) = self.url.origin();
            format!("{scheme}://{host}:{port}{location}")
        } else {
            location.to_owned()
        };
        let parsed = parse_url(&target).ok();
        if let Some(parsed) = parsed.as_ref().filter(|p| p.origin() == self.url.origin()) {
            if let Ok(uri) = Uri::try_from(parsed.normalized.as_str()) {
                return Ok(uri);
            }
        }
        let host = parsed.map_or_else(|| "an unparsable location".to_owned(), |p| p.host);
        Err(self.error(
            TransportErrorKind::Redirect,
            format!(
                "HTTP {} to another host ({host}); the key is not sent there: configure the final URL",
                response.status().as_u16(),
            ),
            attempts,
        ))
    }

    /// Removes the key from text the server sent back (a gateway may echo request headers).
    pub fn scrub(&self, text: String) -> String {
        let key = self.key.expose();
        if key.is_empty() || !text.contains(key) {
            return text;
        }
        text.replace(key, "***")
    }

    /// [`scrub`](Self::scrub) for the server-provided parts of an error.
    pub fn scrub_error(&self, error: Error) -> Error {
        match error {
            Error::Response(mut e) => {
                e.excerpt = self.scrub(std::mem::take(&mut e.excerpt));
                Error::Response(e)
            }
            Error::Stream(mut e) => {
                e.message = self.scrub(std::mem::take(&mut e.message));
                Error::Stream(e)
            }
            other => other,
        }
    }

    fn error(&self, kind: TransportErrorKind, detail: String, attempts: u32) -> Error {
        Error::Transport(Box::new(TransportError {
            kind,
            host: self.url.host.clone(),
            detail,
            attempts,
            may_have_run: false,
        }))
    }

    /// The body went past `max_response_bytes`: the model answered, but not within the limit.
    fn too_large(&self, attempts: u32) -> Error {
        let detail = format!(
            "body is over the {}-byte limit (max_response_bytes); not truncated",
            self.max_response_bytes
        );
        let mut error = self.error(TransportErrorKind::TooLarge, detail, attempts);
        if let Error::Transport(t) = &mut error {
            t.may_have_run = true;
        }
        error
    }

    /// `after_head`: the response head had arrived, so whatever broke, the model ran.
    fn transport_error(&self, e: ureq::Error, attempts: u32, timeout: Duration, after_head: bool) -> Error {
        use std::io::ErrorKind as Io;
        let timed_out = || {
            (
                TransportErrorKind::Timeout,
                format!("no complete response within {:.1} s", timeout.as_secs_f64()),
            )
        };
        let (kind, detail) = match e {
            ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => (
                TransportErrorKind::ConnectTimeout,
                "no connection within the connect timeout".to_owned(),
            ),
            ureq::Error::Timeout(_) => timed_out(),
            ureq::Error::BodyExceedsLimit(_) => return self.too_large(attempts),
            ureq::Error::Io(io) => match io.kind() {
                Io::ConnectionRefused | Io::AddrNotAvailable | Io::NotConnected => {
                    (TransportErrorKind::Connect, io.to_string())
                }
                Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
                    (TransportErrorKind::Reset, io.to_string())
                }
                Io::TimedOut | Io::WouldBlock => timed_out(),
                _ => (TransportErrorKind::Other, io.to_string()),
            },
            ureq::Error::HostNotFound => (TransportErrorKind::Connect, "host not found".to_owned()),
            ureq::Error::ConnectionFailed => (TransportErrorKind::Connect, "connection failed".to_owned()),
            ureq::Error::ConnectProxyFailed(why) => (
                TransportErrorKind::Connect,
                format!("proxy refused the tunnel: {why}"),
            ),
            ureq::Error::Tls(msg) => (TransportErrorKind::Connect, format!("TLS: {msg}")),
            ureq::Error::Rustls(e) => (TransportErrorKind::Connect, format!("TLS: {e}")),
            // Remaining variants are protocol or header problems; their text names no secret.
            other => (TransportErrorKind::Other, other.to_string()),
        };
        // A timeout once the body is out may have reached the model (never retried).
        let may_have_run = after_head || kind == TransportErrorKind::Timeout;
        Error::Transport(Box::new(TransportError {
            kind,
            host: self.url.host.clone(),
            detail,
            attempts,
            may_have_run,
        }))
    }
}

/// A streamed body whose read timeouts have the kind `TimedOut`, so the SSE reader can tell a
/// stalled stream from a cut one without naming ureq (which wraps its errors in `Other`).
struct StreamBody(ureq::BodyReader<'static>);

impl Read for StreamBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error as IoError, ErrorKind};
        self.0.read(buf).map_err(|e| match ureq::Error::from(e) {
            ureq::Error::Io(io) => io,
            ureq::Error::Timeout(_) => IoError::new(ErrorKind::TimedOut, "no data within the timeout"),
            other => IoError::other(other.to_string()),
        })
    }
}

fn header<'a>(response: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn request_id(response: &ureq::http::Response<ureq::Body>) -> Option<String> {
    ["x-request-id", "x-ms-request-id", "apim-request-id"]
        .iter()
        .find_map(|name| header(response, name))
        .map(str::to_owned)
}

fn http_error(mut response: ureq::http::Response<ureq::Body>, attempts: u32) -> HttpError {
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let model_status = header(&response, "ms-azureml-model-error-statuscode").map(str::to_owned);
    let model_reason = header(&response, "ms-azureml-model-error-reason").map(str::to_owned);
    // The message is best effort: a body we cannot read still leaves status and request id.
    let body = response
        .body_mut()
        .with_config()
        .limit(ERROR_BODY_LIMIT)
        .read_to_vec()
        .unwrap_or_default();
    HttpError {
        status,
        message: service_message(&body),
        request_id,
        model_status,
        model_reason,
        attempts,
        retry_after: None,
    }
}

/// `error.message`, `message` or `detail` from a JSON body, else the raw body cut to 2 KiB.
fn service_message(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = ["/error/message", "/message", "/detail", "/error"]
            .iter()
            .find_map(|p| json.pointer(p).and_then(serde_json::Value::as_str));
        if let Some(message) = found {
            return Some(message.to_owned());
        }
    }
    let text = crate::error::excerpt(body, ERROR_MESSAGE_LIMIT);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Resolves IP literals and `localhost` on the calling thread; other names go to ureq's own
/// resolver, which honours the deadline by resolving on a thread of its own. ureq's resolver
/// alone spawns that thread for every request once any deadline is set, even for 127.0.0.1 and
/// even when a pooled connection is reused, which halved requests/s against a fast endpoint (examples/bench.rs).
#[derive(Debug)]
struct Resolver;

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        });
        let local: Vec<SocketAddr> = match (host.parse::<IpAddr>(), port) {
            (Ok(ip), Some(port)) => vec![SocketAddr::new(ip, port)],
            (_, Some(port)) if host.eq_ignore_ascii_case("localhost") => {
                (host, port).to_socket_addrs()?.collect()
            }
            _ => return DefaultResolver::default().resolve(uri, config, timeout),
        };
        let mut out = self.empty();
        for addr in config.ip_family().keep_wanted(local.into_iter()) {
            if out.try_push(addr).is_err() {
                break;
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// Rounds each I/O deadline up to a coarse grid, at most 1/64 of it later, so back-to-back
/// requests hand the socket the same timeout and ureq does not set it again: an exact, shrinking
/// per-attempt deadline costs three `setsockopt` calls per request (~4% of requests/s against a
/// fast endpoint, examples/bench.rs). An attempt still ends within the timeout plus 1/64.
#[derive(Debug)]
struct CoarseTimeouts;

impl Connector<Box<dyn Io>> for CoarseTimeouts {
    type Out = Box<dyn Io>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<Box<dyn Io>>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| Box::new(Coarse(inner)) as Box<dyn Io>))
    }
}

#[derive(Debug)]
struct Coarse(Box<dyn Io>);

impl Io for Coarse {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.0.transmit_output(amount, coarse(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.0.await_input(coarse(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

/// `timeout` with its remaining time rounded up to a multiple of the largest power of two
/// nanoseconds at most 1/64 of it. Zero stays zero (it means the deadline has passed).
fn coarse(mut timeout: NextTimeout) -> NextTimeout {
    if let IoDuration::Exact(after) = timeout.after {
        timeout.after = IoDuration::Exact(round_up(after));
    }
    timeout
}

fn round_up(after: Duration) -> Duration {
    let nanos = after.as_nanos();
    let rounded = (nanos >> 6)
        .checked_ilog2()
        .and_then(|bits| 1u128.checked_shl(bits))
        .and_then(|grid| nanos.div_ceil(grid).checked_mul(grid));
    let Some(rounded) = rounded else {
        return after;
    };
    // Fits: at most 1/64 above a Duration's nanoseconds.
    let secs = u64::try_from(rounded / 1_000_000_000).unwrap_or(u64::MAX);
    let subsec = u32::try_from(rounded % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, subsec)
}

/// The proxy for an endpoint (reliability.md, Secrets): never for a loopback host; otherwise the
/// usual env vars for its scheme unless `NO_PROXY` names the host. A proxy that would see the key
/// in clear (plain http) is a config error. ureq's own env lookup is not used: it proxies
/// loopback and takes `ALL_PROXY` before the scheme's variable.
fn proxy_for(url: &ParsedUrl, env: impl Fn(&str) -> Option<String>) -> Result<Option<ureq::Proxy>> {
    if url.is_loopback() {
        return Ok(None);
    }
    let vars = if url.scheme == "https" {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let found = vars
        .into_iter()
        .find_map(|var| env(var).filter(|v| !v.trim().is_empty()).map(|v| (var, v)));
    let Some((var, value)) = found else {
        return Ok(None);
    };
    let no_proxy = env("no_proxy").or_else(|| env("NO_PROXY")).unwrap_or_default();
    if no_proxy_matches(&no_proxy, &url.host) {
        return Ok(None);
    }
    if url.scheme != "https" {
        let host = &url.host;
        return Err(Error::config(
            "endpoint_url",
            Source::Env(var),
            format!(
                "plain http to {host} would go through the proxy set in {var}, key in clear; \
                 use an https endpoint, or add {host} to NO_PROXY to connect directly"
            ),
        ));
    }
    // The value may hold proxy credentials: it is not repeated.
    // Only HTTP CONNECT proxies: this build has no SOCKS support (ureq would panic on one).
    match ureq::Proxy::new(value.trim()) {
        Ok(proxy) if matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https) => {
            Ok(Some(proxy))
        }
        _ => Err(Error::config(
            "proxy",
            Source::Env(var),
            format!(
                "{var} is not an http(s) proxy URL (expected http://host:port; SOCKS is not supported); \
                 fix or unset it"
            ),
        )),
    }
}

/// `NO_PROXY` as curl reads it: comma-separated; `*` for all; a name matches itself and its
/// subdomains (a leading `.` or `*.` is optional); IP literals and CIDR ranges.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return in_cidr(&host, net, bits);
            }
            let entry = entry
                .trim_start_matches('*')
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            host == entry || host.strip_suffix(&entry).is_some_and(|rest| rest.ends_with('.'))
        })
}

fn in_cidr(host: &str, net: &str, bits: &str) -> bool {
    let (Ok(host), Ok(net), Ok(bits)) = (host.parse::<IpAddr>(), net.parse::<IpAddr>(), bits.parse::<u32>())
    else {
        return false;
    };
    let (host, net, width) = match (host, net) {
        (IpAddr::V4(h), IpAddr::V4(n)) => (u128::from(u32::from(h)), u128::from(u32::from(n)), 32u32),
        (IpAddr::V6(h), IpAddr::V6(n)) => (u128::from(h), u128::from(n), 128),
        _ => return false,
    };
    // A shift by the whole width (a /0) is `None` on both sides: everything matches.
    width
        .checked_sub(bits)
        .is_some_and(|shift| host.checked_shr(shift) == net.checked_shr(shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ParsedUrl {
        parse_url(text).unwrap()
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const ALL: &[(&str, &str)] = &[
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ];

    #[test]
    fn loopback_is_never_proxied() {
        for endpoint in [
            "http://127.0.0.1:5000/score",
            "http://localhost/score",
            "https://[::1]:8443/score",
            "http://127.9.9.9/score",
        ] {
            assert!(
                proxy_for(&url(endpoint), env(ALL)).unwrap().is_none(),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn https_takes_its_own_variable_then_all_proxy() {
        let remote = url("https://my-endpoint.example.invalid/score");
        let proxy = proxy_for(
            &remote,
            env(&[
                ("HTTPS_PROXY", "http://10.0.0.1:3128"),
                ("ALL_PROXY", "http://10.0.0.2:1"),
            ]),
        );
        assert_eq!(proxy.unwrap().unwrap().host(), "10.0.0.1");
        let proxy = proxy_for(
            &remote,
            env(&[
                ("HTTP_PROXY", "http://10.0.0.1:3128"),
                ("all_proxy", "http://10.0.0.2:1"),
            ]),
        );
        assert_eq!(proxy.unwrap().unwrap().host(), "10.0.0.2");
        assert!(proxy_for(&remote, env(&[("HTTP_PROXY", "http://10.0.0.1:3128")]))
            .unwrap()
            .is_none());
        assert!(proxy_for(&remote, env(&[("HTTPS_PROXY", " ")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn plain_http_through_a_proxy_is_refused() {
        let err = proxy_for(&url("http://scoring.internal:8080/score"), env(ALL)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `endpoint_url` (env var HTTP_PROXY): plain http to scoring.internal would go \
             through the proxy set in HTTP_PROXY, key in clear; use an https endpoint, or add \
             scoring.internal to NO_PROXY to connect directly"
        );
        let direct = [("HTTP_PROXY", "http://127.0.0.1:9"), ("NO_PROXY", "internal")];
        assert!(
            proxy_for(&url("http://scoring.internal:8080/score"), env(&direct))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_bad_proxy_url_names_the_variable_not_the_value() {
        let err = proxy_for(
            &url("https://e.example/score"),
            env(&[("HTTPS_PROXY", "ftp://user:pw@x")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `proxy` (env var HTTPS_PROXY): HTTPS_PROXY is not an http(s) proxy URL (expected \
             http://host:port; SOCKS is not supported); fix or unset it"
        );
        let err = proxy_for(
            &url("https://e.example/score"),
            env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid `proxy` (env var ALL_PROXY): ALL_PROXY is not an http(s) proxy URL"),
            "{err}"
        );
    }

    #[test]
    fn deadlines_round_up_by_at_most_a_64th_and_settle() {
        assert_eq!(round_up(Duration::ZERO), Duration::ZERO);
        assert_eq!(round_up(Duration::from_nanos(63)), Duration::from_nanos(63));
        assert_eq!(
            round_up(Duration::from_secs(50)),
            Duration::from_nanos(50_465_865_728)
        );
        for after in [
            Duration::from_millis(1),
            Duration::from_secs(1),
            Duration::from_secs(86_400),
            Duration::MAX / 2,
        ] {
            let rounded = round_up(after);
            assert!(
                rounded >= after && rounded - after <= after / 64,
                "{after:?} -> {rounded:?}"
            );
        }
        // A request that takes microseconds sees the same value throughout.
        let t = Duration::from_secs(50);
        assert_eq!(round_up(t - Duration::from_micros(80)), round_up(t));
    }

    #[test]
    fn no_proxy_entries() {
        let cases = [
            ("example.com", "example.com", true),
            ("example.com", "api.example.com", true),
            (".example.com", "api.example.com", true),
            ("*.example.com", "api.example.com", true),
            ("example.com", "badexample.com", false),
            ("EXAMPLE.com", "Example.COM", true),
            ("other, example.com ", "example.com", true),
            ("*", "anything.at.all", true),
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.1.2.3", false),
            ("0.0.0.0/0", "11.1.2.3", true),
            ("10.0.0.0/40", "10.1.2.3", false),
            ("fd00::/8", "[fd12::1]", true),
            ("::1", "[::1]", true),
            ("", "example.com", false),
        ];
        for (list, host, expected) in cases {
            assert_eq!(no_proxy_matches(list, host), expected, "{list:?} vs {host}");
        }
    }

    #[test]
    fn service_message_prefers_json_fields() {
        assert_eq!(
            service_message(br#"{"error": {"message": "bad"}}"#).as_deref(),
            Some("bad")
        );
        assert_eq!(service_message(br#"{"detail": "d"}"#).as_deref(), Some("d"));
        assert_eq!(
            service_message(b"<html>oops</html>").as_deref(),
            Some("<html>oops</html>")
        );
        assert_eq!(service_message(b"  "), None);
    }
}
