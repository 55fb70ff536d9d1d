//! The HTTP seam: one `ureq::Agent` per client, headers, timeouts, retries, limits, redirects.
//!
//! This is the only file that names ureq, so the HTTP stack can change without touching the API.

use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{parse_url, EndpointConfig, ParsedUrl};
use crate::error::{Error, HttpError, Result, Source, TransportError, TransportErrorKind, EXCERPT_CHARS};
use crate::secret::{ApiKey, Scrubber};
use ureq::http::{HeaderName, HeaderValue};

const USER_AGENT: &str = concat!("azureml-endpoint-rs/", env!("CARGO_PKG_VERSION"));
/// Longest server-requested wait we honour; beyond it the error is returned with the hint.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);
const BACKOFF_START: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How much of an error body we read for its message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
const ERROR_MESSAGE_LIMIT: usize = 2048;
const MAX_SAME_HOST_REDIRECTS: u32 = 5;

/// Sends requests to one endpoint. Cheap to clone: the agent is a handle to a shared pool.
#[derive(Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    url: ParsedUrl,
    headers: Vec<(HeaderName, HeaderValue)>,
    scrubber: Scrubber,
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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_send_request(Some(config.timeout))
            .timeout_send_body(Some(config.timeout))
            .timeout_recv_response(Some(config.timeout))
            .timeout_recv_body(Some(config.timeout))
            .user_agent(USER_AGENT)
            .build()
            .into();
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
            headers,
            scrubber: Scrubber::new(key),
            max_retries: config.max_retries,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Posts and reads the whole body, retrying per reliability.md.
    pub fn post(&self, out: &Outgoing<'_>) -> Result<Reply> {
        let timeout = out.timeout.unwrap_or(self.timeout);
        self.with_retries(out, false, |response| {
            let request_id = self.request_id(&response);
            let mut response = response;
            let body = response
                .body_mut()
                .with_config()
                .limit(self.max_response_bytes)
                .read_to_vec()
                .map_err(|e| self.transport_error(e, 1, timeout))?;
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
        let value = parse(&reply.body).map_err(|e| self.scrub_error(e, &reply.body))?;
        Ok((value, reply.request_id))
    }

    /// Posts and hands back the body unread. `timeout` bounds each read, not the whole stream.
    pub fn post_stream(&self, out: &Outgoing<'_>) -> Result<StreamReply> {
        self.with_retries(out, true, |response| {
            let request_id = self.request_id(&response);
            Ok(StreamReply {
                body: Box::new(StreamBody(response.into_body().into_reader())),
                request_id,
            })
        })
    }

    fn with_retries<T>(
        &self,
        out: &Outgoing<'_>,
        streaming: bool,
        on_success: impl Fn(ureq::http::Response<ureq::Body>) -> Result<T>,
    ) -> Result<T> {
        let timeout = out.timeout.unwrap_or(self.timeout);
        let mut attempts = 0;
        let mut redirects = 0;
        let mut url = self.url.normalized.clone();
        loop {
            attempts += 1;
            let retries_left = attempts <= self.max_retries;
            let response = match self.send(&url, out, timeout, streaming) {
                Ok(response) => response,
                Err(e) => {
                    let error = self.transport_error(e, attempts, timeout);
                    let retryable = matches!(
                        &error,
                        Error::Transport(t) if matches!(
                            t.kind,
                            TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout | TransportErrorKind::Reset
                        )
                    );
                    if retryable && retries_left {
                        std::thread::sleep(backoff(attempts));
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                url = self.redirect_target(&response, attempts)?;
                redirects += 1;
                if redirects > MAX_SAME_HOST_REDIRECTS {
                    return Err(self.error(
                        TransportErrorKind::Redirect,
                        "too many redirects".into(),
                        attempts,
                    ));
                }
                attempts -= 1;
                continue;
            }
            if status < 400 {
                return on_success(response);
            }
            let retryable = matches!(status, 408 | 429 | 500 | 502 | 503 | 504);
            let wait = server_wait(&response);
            let mut error = self.http_error(response, attempts);
            if retryable && retries_left {
                match wait {
                    Some(wait) if wait > MAX_SERVER_WAIT => {
                        error.retry_after = Some(wait);
                        return Err(Error::Http(Box::new(error)));
                    }
                    Some(wait) => std::thread::sleep(wait),
                    None => std::thread::sleep(backoff(attempts)),
                }
                continue;
            }
            return Err(Error::Http(Box::new(error)));
        }
    }

    fn send(
        &self,
        url: &str,
        out: &Outgoing<'_>,
        timeout: Duration,
        streaming: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", out.content_type)
            .header("Accept", out.accept);
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        // The deadline is set per phase, not as ureq's global timeout: a global or per-call
        // timeout makes ureq resolve the host on a new thread for every request, which halved
        // throughput against a fast endpoint (examples/bench.rs).
        if streaming {
            request
                .config()
                .timeout_recv_body(None)
                .timeout_per_read(Some(timeout))
                .timeout_recv_response(Some(timeout))
                .build()
                .send(out.body)
        } else if timeout != self.timeout {
            let phase = Some(timeout);
            request
                .config()
                .timeout_send_request(phase)
                .timeout_send_body(phase)
                .timeout_recv_response(phase)
                .timeout_recv_body(phase)
                .build()
                .send(out.body)
        } else {
            request.send(out.body)
        }
    }

    /// Same-origin redirects are followed (the key stays with its host); others are an error.
    fn redirect_target(&self, response: &ureq::http::Response<ureq::Body>, attempts: u32) -> Result<String> {
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
        match parse_url(&target) {
            Ok(parsed) if parsed.origin() == self.url.origin() => Ok(parsed.normalized),
            _ => Err(self.error(
                TransportErrorKind::Redirect,
                format!(
                    "HTTP {} to another host ({}); the key is not sent there: configure the final URL",
                    response.status().as_u16(),
                    parse_url(&target)
                        .map(|p| p.host)
                        .unwrap_or_else(|_| "an unparsable location".into())
                ),
                attempts,
            )),
        }
    }

    /// The scrubber for this client's key, for errors built from server text elsewhere.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    /// A parse error with its server-provided text rebuilt from the whole `body`, scrubbed before
    /// it is cut: a formatter cuts its excerpt without knowing the key, so that excerpt is
    /// replaced, never patched (a key straddling its cut would leave a piece behind).
    fn scrub_error(&self, error: Error, body: &[u8]) -> Error {
        match error {
            Error::Response(mut e) => {
                e.excerpt = self.scrubber.excerpt(body, EXCERPT_CHARS);
                Error::Response(e)
            }
            Error::Stream(mut e) => {
                e.message = self.scrubber.scrub(&e.message).into_owned();
                Error::Stream(e)
            }
            // The one variant a user's own formatter can build, perhaps from the body.
            Error::Input(message) => Error::Input(self.scrubber.scrub(&message).into()),
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

    fn transport_error(&self, e: ureq::Error, attempts: u32, timeout: Duration) -> Error {
        use std::io::ErrorKind as Io;
        let (kind, detail, may_have_run) = match e {
            ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => (
                TransportErrorKind::ConnectTimeout,
                "no connection within the connect timeout".to_owned(),
                false,
            ),
            ureq::Error::Timeout(_) => (
                TransportErrorKind::Timeout,
                format!("no complete response within {:.1} s", timeout.as_secs_f64()),
                true,
            ),
            ureq::Error::BodyExceedsLimit(limit) => (
                TransportErrorKind::TooLarge,
                format!("body is over the {limit}-byte limit (max_response_bytes); not truncated"),
                false,
            ),
            ureq::Error::Io(io) => match io.kind() {
                Io::ConnectionRefused | Io::AddrNotAvailable | Io::NotConnected => {
                    (TransportErrorKind::Connect, io.to_string(), false)
                }
                Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
                    (TransportErrorKind::Reset, io.to_string(), false)
                }
                Io::TimedOut | Io::WouldBlock => (
                    TransportErrorKind::Timeout,
                    format!("no complete response within {:.1} s", timeout.as_secs_f64()),
                    true,
                ),
                _ => (TransportErrorKind::Other, io.to_string(), false),
            },
            ureq::Error::HostNotFound => (TransportErrorKind::Connect, "host not found".to_owned(), false),
            ureq::Error::ConnectionFailed => {
                (TransportErrorKind::Connect, "connection failed".to_owned(), false)
            }
            ureq::Error::Tls(msg) => (TransportErrorKind::Connect, format!("TLS: {msg}"), false),
            ureq::Error::Rustls(e) => (TransportErrorKind::Connect, format!("TLS: {e}"), false),
            // Remaining variants are protocol or header problems; their text names no secret.
            other => (TransportErrorKind::Other, other.to_string(), false),
        };
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

impl Transport {
    /// A header value the service sent, scrubbed, then cut to a message's length (a header may
    /// echo the request's `Authorization`).
    fn server_header(&self, response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
        header(response, name).map(|value| self.scrubber.cut(value, ERROR_MESSAGE_LIMIT))
    }

    fn request_id(&self, response: &ureq::http::Response<ureq::Body>) -> Option<String> {
        ["x-request-id", "x-ms-request-id", "apim-request-id"]
            .iter()
            .find_map(|name| self.server_header(response, name))
    }

    fn http_error(&self, mut response: ureq::http::Response<ureq::Body>, attempts: u32) -> HttpError {
        let status = response.status().as_u16();
        let request_id = self.request_id(&response);
        let model_status = self.server_header(&response, "ms-azureml-model-error-statuscode");
        let model_reason = self.server_header(&response, "ms-azureml-model-error-reason");
        // The message is best effort: only the first 64 KiB are read (a huge body still gives
        // its start), and a read that fails part-way keeps what came.
        let mut body = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(ERROR_BODY_LIMIT)
            .read_to_end(&mut body);
        HttpError {
            status,
            message: service_message(&self.scrubber, &body),
            request_id,
            model_status,
            model_reason,
            attempts,
            retry_after: None,
        }
    }
}

/// The service's message (wire.md): `error.message`, `error` when it is a string, `message`,
/// `detail`, else the raw body; scrubbed, then cut to 2 KiB. A body too big to parse whole
/// (over the 64 KiB read) gives its start raw.
fn service_message(scrubber: &Scrubber, body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = ["/error/message", "/error", "/message", "/detail"]
            .iter()
            .find_map(|p| json.pointer(p).and_then(serde_json::Value::as_str));
        if let Some(message) = found {
            return Some(scrubber.cut(message, ERROR_MESSAGE_LIMIT));
        }
    }
    let text = scrubber.excerpt(body, ERROR_MESSAGE_LIMIT);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The wait a 429/503 asks for: `retry-after-ms`, `x-ms-retry-after-ms`, then `retry-after`.
fn server_wait(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header(response, name).and_then(|v| v.parse::<f64>().ok()) {
            if ms.is_finite() && ms >= 0.0 {
                return Some(Duration::from_secs_f64(ms / 1000.0));
            }
        }
    }
    let value = header(response, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Exponential backoff from 0.8 s, doubling to 30 s, with jitter in the upper half.
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_START
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(BACKOFF_MAX);
    // RandomState is seeded randomly per instance: jitter without a rand dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
    base.mul_f64(fraction)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Retry-After` uses.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace().skip(1);
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_parses() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(
                first >= Duration::from_millis(400) && first <= BACKOFF_START,
                "{first:?}"
            );
            assert!(backoff(20) <= BACKOFF_MAX && backoff(20) >= BACKOFF_MAX / 2);
        }
        assert!(backoff(3) > Duration::from_millis(1600));
    }

    fn message(body: &[u8]) -> Option<String> {
        service_message(&Scrubber::new(&ApiKey::new("sk-unit-SECRET-1234")), body)
    }

    #[test]
    fn service_message_takes_fields_in_wire_order() {
        let all = br#"{"error": {"message": "em"}, "message": "m", "detail": "d"}"#;
        assert_eq!(message(all).as_deref(), Some("em"));
        let string_error = br#"{"error": "e", "message": "m", "detail": "d"}"#;
        assert_eq!(message(string_error).as_deref(), Some("e"));
        assert_eq!(
            message(br#"{"error": 5, "message": "m", "detail": "d"}"#).as_deref(),
            Some("m")
        );
        assert_eq!(message(br#"{"detail": "d"}"#).as_deref(), Some("d"));
        assert_eq!(
            message(br#"{"error": {"code": 1}}"#).as_deref(),
            Some(r#"{"error": {"code": 1}}"#)
        );
        assert_eq!(
            message(b"<html>oops</html>").as_deref(),
            Some("<html>oops</html>")
        );
        assert_eq!(message(b"  "), None);
    }

    #[test]
    fn service_message_is_scrubbed_then_cut() {
        // The key straddles the 2 KiB cut (it starts at 2040): it goes whole.
        let long = format!(
            r#"{{"message": "{}sk-unit-SECRET-1234{}"}}"#,
            "x".repeat(2040),
            "z".repeat(9)
        );
        let expected = format!("{}***zzzzz…", "x".repeat(2040));
        assert_eq!(message(long.as_bytes()), Some(expected));
        let raw = format!("{}sk-unit-SECRET-1234", "y".repeat(2040));
        assert_eq!(message(raw.as_bytes()), Some(format!("{}***", "y".repeat(2040))));
        let escaped = br#"{"error": "Bearer sk\u002dunit-SECRET-1234"}"#;
        assert_eq!(message(escaped).as_deref(), Some("Bearer ***"));
    }
}
