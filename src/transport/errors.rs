//! The errors a response or a failed attempt becomes: HTTP errors with the service's message,
//! transport errors by kind, and parse errors rebuilt from the whole body; every text the server
//! sent is scrubbed before it is cut.

use std::io::Read;
use std::time::Duration;

use super::{header, rate_limits, Transport};
use crate::error::{Error, HttpError, TransportError, TransportErrorKind};
use crate::excerpt::EXCERPT_CHARS;
use crate::secret::Scrubber;

/// How much of an error body we read for its message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
const ERROR_MESSAGE_LIMIT: usize = 2048;

impl Transport {
    /// A parse error with its server-provided text rebuilt from the whole `body`, scrubbed before
    /// it is cut: a formatter cuts its excerpt without knowing the key, so that excerpt is
    /// replaced, never patched (a key straddling its cut would leave a piece behind).
    pub(super) fn scrub_error(&self, error: Error, body: &[u8]) -> Error {
        match error {
            Error::Response(mut e) => {
                e.excerpt = self.scrubber().excerpt(body, EXCERPT_CHARS);
                Error::Response(e)
            }
            Error::Stream(mut e) => {
                e.message = self.scrubber().scrub(&e.message).into_owned();
                Error::Stream(e)
            }
            // The one variant a user's own formatter can build, perhaps from the body.
            Error::Input(message) => Error::Input(self.scrubber().scrub(&message).into()),
            other => other,
        }
    }

    pub(super) fn error(&self, kind: TransportErrorKind, detail: String, attempts: u32) -> Error {
        Error::Transport(Box::new(TransportError {
            kind,
            host: self.url.host.clone(),
            detail,
            attempts,
            may_have_run: false,
        }))
    }

    /// The body went past `max_response_bytes`: the model answered, but not within the limit.
    pub(super) fn too_large(&self, attempts: u32) -> Error {
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
    pub(super) fn transport_error(
        &self,
        e: ureq::Error,
        attempts: u32,
        timeout: Duration,
        after_head: bool,
    ) -> Error {
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
                // rustls reports a failed handshake (an untrusted certificate) as I/O.
                _ if io.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
                    (TransportErrorKind::Tls, io.to_string())
                }
                _ => (TransportErrorKind::Other, io.to_string()),
            },
            ureq::Error::HostNotFound => (TransportErrorKind::Connect, "host not found".to_owned()),
            ureq::Error::ConnectionFailed => (TransportErrorKind::Connect, "connection failed".to_owned()),
            ureq::Error::ConnectProxyFailed(why) => (
                TransportErrorKind::Connect,
                format!("proxy refused the tunnel: {why}"),
            ),
            ureq::Error::Tls(msg) => (TransportErrorKind::Tls, msg.to_owned()),
            ureq::Error::Rustls(e) => (TransportErrorKind::Tls, e.to_string()),
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

impl Transport {
    /// A header value the service sent, scrubbed, then cut to a message's length (a header may
    /// echo the request's `Authorization`).
    pub(super) fn server_header(
        &self,
        response: &ureq::http::Response<ureq::Body>,
        name: &str,
    ) -> Option<String> {
        header(response, name).map(|value| self.scrubber().cut(value, ERROR_MESSAGE_LIMIT))
    }

    pub(super) fn request_id(&self, response: &ureq::http::Response<ureq::Body>) -> Option<String> {
        ["x-request-id", "x-ms-request-id", "apim-request-id"]
            .iter()
            .find_map(|name| self.server_header(response, name))
    }

    pub(super) fn http_error(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
        attempts: u32,
    ) -> HttpError {
        let status = response.status().as_u16();
        let request_id = self.request_id(&response);
        let model_status = self.server_header(&response, "ms-azureml-model-error-statuscode");
        let model_reason = self.server_header(&response, "ms-azureml-model-error-reason");
        let rate_limits = rate_limits(&response);
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
            message: service_message(&self.scrubber(), &body),
            request_id,
            model_status,
            model_reason,
            attempts,
            retry_after: None,
            rate_limits,
        }
    }
}

/// The service's message (docs/wire.md): `error.message`, `error` when it is a string, `message`,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ApiKey;

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
