//! The HTTP seam: one `ureq::Agent` per client, headers, deadlines, retries, limits, redirects,
//! proxies.
//!
//! This module (with its files and `credential/http.rs`) is the only place that names ureq, so
//! the HTTP stack can change without touching the API.
#![deny(clippy::arithmetic_side_effects)]

mod auth;
mod clock;
mod connect;
mod failure;
mod keys;
mod pause;
mod proxy;
mod tls;
mod traced;

use std::io::Read;
use std::time::{Duration, SystemTime};

use crate::config::{parse_url, EndpointConfig, Origin, ParsedUrl};
use crate::credential::TokenHttp;
use crate::error::{Error, Result, TransportErrorKind};
use crate::rate_limit::RateLimits;
use crate::retry::{self, Next, RetryHeaders};
use crate::secret::{ApiKey, Scrubber};
use crate::telemetry::{self, AttemptTimer};
use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::unversioned::transport::{Connector, DefaultConnector};

pub(crate) use auth::Auth;
use auth::{Signature, Signer};
pub(crate) use clock::Clock;
use connect::{CoarseTimeouts, Resolver};
use pause::SharedPause;
use proxy::proxy_for;
pub(crate) use tls::{CaCertificates, Trust};

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
    /// The keys or the token source each attempt is signed with.
    signer: Signer,
    /// The proxy, as shown, and the env var that set it.
    proxy: Option<(String, &'static str)>,
    max_retries: u32,
    timeout: Duration,
    max_response_bytes: u64,
    /// A 429's wait, shared by every thread using this client.
    pause: SharedPause,
    /// Every wait between attempts goes through it.
    clock: Clock,
}

/// A whole, successful response body.
pub(crate) struct Reply {
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    pub rate_limits: RateLimits,
    pub attempts: u32,
}

/// What a response said about itself besides its body, and how many attempts it took.
#[derive(Debug, Default)]
pub(crate) struct ReplyMeta {
    pub request_id: Option<String>,
    pub rate_limits: RateLimits,
    pub attempts: u32,
}

/// A successful response whose body is read as it arrives.
pub(crate) struct StreamReply {
    pub body: Box<dyn Read + Send>,
    pub request_id: Option<String>,
    pub rate_limits: RateLimits,
    pub attempts: u32,
}

/// What one request needs besides the URL and the fixed headers.
pub(crate) struct Outgoing<'a> {
    pub body: &'a [u8],
    pub content_type: &'a str,
    pub accept: &'a str,
    /// Overrides the client's timeout for this call.
    pub timeout: Option<Duration>,
    /// This call's headers, checked; each replaces a client header of the same name.
    pub headers: &'a [(String, String)],
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
        auth: Auth<'_>,
        deployment: Option<&str>,
        trust: &Trust,
    ) -> Result<Self> {
        let proxy = proxy_for(&url, |name| std::env::var(name).ok())?;
        let tls = trust.tls_config()?;
        let shown_proxy = proxy.as_ref().map(|(proxy, var)| (proxy::shown(proxy), *var));
        let proxy = proxy.map(|(proxy, _)| proxy);
        let uri = Uri::try_from(url.normalized.as_str())
            .map_err(|e| Error::config("endpoint_url", Origin::Argument, format!("not a valid URI: {e}")))?;
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
            .tls_config(tls)
            // One endpoint per agent, so the per-host and total pools are the same size. ureq's
            // default (3 per host) closed 5 of an 8-thread batch's connections whenever all were
            // idle at once (between `generate` calls: ~1,400 per 10,000 requests in calls of 32).
            .max_idle_connections(config.max_idle_connections)
            .max_idle_connections_per_host(config.max_idle_connections)
            .build();
        let connector = DefaultConnector::default().chain(CoarseTimeouts);
        let agent = ureq::Agent::with_parts(config_ureq, connector, Resolver);
        let signer = auth.signer(config, &agent)?;
        let deployment = deployment.map(|name| ("azureml-model-deployment", name.to_owned()));
        let extra = config.extra_headers.iter().map(|(n, v)| (n.as_str(), v.clone()));
        // Parsed once here rather than on every request; values were checked for control
        // characters when the settings were resolved, so a failure here is a header name.
        let mut headers = Vec::new();
        for (name, value) in deployment.into_iter().chain(extra) {
            let bad = || {
                Error::config(
                    "extra_headers",
                    Origin::Argument,
                    format!("{name:?} is not a valid header"),
                )
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| bad())?;
            headers.push((name, value));
        }
        Ok(Transport {
            agent,
            url,
            uri,
            headers,
            signer,
            proxy: shown_proxy,
            max_retries: config.max_retries,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
            pause: SharedPause::default(),
            clock: Clock::default(),
        })
    }

    /// Waits between attempts through `clock` instead of the real one.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Posts and reads the whole body, retrying per docs/reliability.md. A body of exactly
    /// `max_response_bytes` is accepted, one byte more is an error.
    pub fn post(&self, out: &Outgoing<'_>) -> Result<Reply> {
        let timeout = out.timeout.unwrap_or(self.timeout);
        let max = self.max_response_bytes;
        self.with_retries(out, false, |mut response, attempts| {
            let request_id = self.request_id(&response);
            let rate_limits = rate_limits(&response);
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
            Ok(Reply {
                body,
                request_id,
                rate_limits,
                attempts,
            })
        })
    }

    /// Posts, then parses the body with `parse`; the key is scrubbed from any parse error.
    pub fn exchange<T>(
        &self,
        out: &Outgoing<'_>,
        parse: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<(T, ReplyMeta)> {
        let reply = self.post(out)?;
        let value = parse(&reply.body).map_err(|e| self.scrub_error(e, &reply.body))?;
        let meta = ReplyMeta {
            request_id: reply.request_id,
            rate_limits: reply.rate_limits,
            attempts: reply.attempts,
        };
        Ok((value, meta))
    }

    /// Posts and hands back the body unread. `timeout` bounds the wait for the response head,
    /// then each read (the stream's own per-chunk deadline), never the whole stream.
    pub fn post_stream(&self, out: &Outgoing<'_>) -> Result<StreamReply> {
        self.with_retries(out, true, |response, attempts| {
            let request_id = self.request_id(&response);
            let rate_limits = rate_limits(&response);
            Ok(StreamReply {
                body: Box::new(StreamBody(response.into_body().into_reader())),
                request_id,
                rate_limits,
                attempts,
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
        // A 401 gets one new token, or the other key, and one more attempt beyond max_retries.
        let mut extra: u32 = 0;
        // This attempt set the shared pause itself: its wait is already told as a retry wait.
        let mut paused_here = false;
        loop {
            let waited = self.pause.wait(&self.clock);
            if !std::mem::take(&mut paused_here) && !waited.is_zero() {
                telemetry::paused(waited);
            }
            let signature = self.signer.sign()?;
            let timer = AttemptTimer::start();
            let response = match self.send(&uri, out, timeout, streaming, &signature) {
                Ok(response) => response,
                Err(e) => {
                    let error = self.transport_error(e, attempts, timeout, false);
                    self.traced_failure(timer, attempts, &error);
                    let retryable = matches!(
                        &error,
                        Error::Transport(t) if matches!(
                            t.kind,
                            TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout | TransportErrorKind::Reset
                        )
                    );
                    if retryable && attempts <= self.max_retries.saturating_add(extra) {
                        let wait = retry::backoff(attempts);
                        telemetry::retry_wait(attempts, wait, "backoff", Err(&error));
                        self.clock.sleep(wait);
                        attempts = attempts.saturating_add(1);
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status().as_u16();
            self.traced_response(timer, attempts, &response);
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
            if status == 401 && extra == 0 && self.signer.rejected(&signature) {
                extra = 1;
                attempts = attempts.saturating_add(1);
                continue;
            }
            let asked = RetryHeaders {
                retry_after_ms: header(&response, "retry-after-ms"),
                x_ms_retry_after_ms: header(&response, "x-ms-retry-after-ms"),
                retry_after: header(&response, "retry-after"),
            };
            let now = SystemTime::now();
            let next = retry::after_status(
                status,
                attempts,
                self.max_retries.saturating_add(extra),
                asked,
                now,
            );
            let reason = match retry::server_wait(asked, now) {
                Some(_) => "retry-after",
                None => "backoff",
            };
            let mut error = self.http_error(response, attempts);
            error.signed_with = signature.label();
            if let Next::Wait(wait) = next {
                telemetry::retry_wait(attempts, wait, reason, Ok(status));
            }
            match next {
                // Every thread of this client waits out a 429, not just the one that got it.
                Next::Wait(wait) if status == 429 => {
                    self.pause.pause_for(wait, &self.clock);
                    paused_here = true;
                }
                Next::Wait(wait) => self.clock.sleep(wait),
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
        signature: &Signature,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self
            .agent
            .post(uri.clone())
            .header("Content-Type", out.content_type)
            .header("Accept", out.accept);
        for (name, value) in &self.headers {
            if !out
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                request = request.header(name.clone(), value.clone());
            }
        }
        for (name, value) in out.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request = request.header(
            ureq::http::header::AUTHORIZATION,
            signature.authorization().clone(),
        );
        if let Some(value) = signature.api_key() {
            request = request.header("api-key", value.clone());
        }
        telemetry::headers("request", || {
            self.request_headers_shown(out, signature.is_token(), signature.api_key().is_some())
        });
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
        // Named as the server wrote it (parsing lowercases hosts), then scrubbed: a key is a
        // valid host label, so a hostile Location can carry one.
        let host = match parsed {
            Some(_) => {
                let rest = target.split_once("://").map_or(target.as_str(), |(_, rest)| rest);
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = match authority.find(']') {
                    Some(end) => authority.get(..=end).unwrap_or(authority),
                    None => authority.split(':').next().unwrap_or(authority),
                };
                self.scrubber().cut(host, 255)
            }
            None => "an unparsable location".to_owned(),
        };
        Err(self.error(
            TransportErrorKind::Redirect,
            format!(
                "HTTP {} to another host ({host}); the key is not sent there: configure the final URL",
                response.status().as_u16(),
            ),
            attempts,
        ))
    }

    /// The endpoint's URL, parsed.
    pub fn url(&self) -> &ParsedUrl {
        &self.url
    }

    /// The scrubber for this client's keys or current token, for errors built from server text
    /// elsewhere.
    pub fn scrubber(&self) -> Scrubber {
        self.signer.scrubber()
    }

    /// Replaces the primary key (then used) or the secondary one, for every clone and thread,
    /// keeping the connection pool.
    ///
    /// # Errors
    /// [`Error::Config`] for a key that cannot go in a header, or a client that signs in with
    /// a token.
    pub fn set_key(&self, secondary: bool, key: ApiKey) -> Result<()> {
        match &self.signer {
            Signer::Keys(ring) => ring.set(usize::from(secondary), key),
            Signer::Token(_) => Err(Error::config(
                if secondary {
                    "secondary_api_key"
                } else {
                    "endpoint_api_key"
                },
                Origin::Argument,
                "this client signs in with a token, not a key; build one with auth `key` to use keys",
            )),
        }
    }

    /// The proxy requests go through, as shown to users, and the env var that set it.
    pub fn proxy(&self) -> Option<(String, Origin)> {
        self.proxy
            .as_ref()
            .map(|(proxy, var)| (proxy.clone(), Origin::Env(var)))
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

/// Parsed once: a header looked up by `&str` is parsed and checked on every lookup.
static RATE_LIMIT_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

fn rate_limits(response: &ureq::http::Response<ureq::Body>) -> RateLimits {
    let headers = response.headers();
    RateLimits::from_headers(|name| {
        let known = RATE_LIMIT_HEADERS.iter().find(|h| h.as_str() == name)?;
        headers.get(known).and_then(|v| v.to_str().ok()).map(str::trim)
    })
}

fn header<'a>(response: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// An HTTP client for the side requests of a client (Azure Resource Manager and its sign-in),
/// with the proxy for `url`'s host and the client's trusted CAs.
///
/// # Errors
/// [`Error::Config`] for a proxy that would see a token in clear, or CA certificates that do not
/// load.
pub(crate) fn side_http(url: &ParsedUrl, trust: &Trust) -> Result<TokenHttp> {
    let proxy = proxy_for(url, |name| std::env::var(name).ok())?.map(|(proxy, _)| proxy);
    let config = ureq::Agent::config_builder()
        .user_agent(USER_AGENT)
        .proxy(proxy)
        .tls_config(trust.tls_config()?)
        .build();
    Ok(TokenHttp::with_agent(config.into()))
}
