//! What the transport tells of its attempts: one event each and, at trace level, the headers
//! sent and received with every secret hidden.

use ureq::http::Response;
use ureq::Body;

use super::{Outgoing, Transport};
use crate::error::Error;
use crate::secret::Scrubber;
use crate::telemetry::{self, AttemptTimer};

/// The most characters of one header value shown.
const HEADER_CHARS: usize = 256;

impl Transport {
    /// The attempt that got `response`, then its headers (values scrubbed).
    pub(super) fn traced_response(&self, timer: AttemptTimer, attempt: u32, response: &Response<Body>) {
        let status = response.status().as_u16();
        telemetry::attempt(timer, attempt, &self.url.host, &self.url.path, Ok(status), || {
            self.request_id(response)
        });
        telemetry::headers("response", || {
            let scrubber = self.scrubber();
            let mut shown = String::with_capacity(256);
            for (name, value) in response.headers() {
                let value = value.to_str().unwrap_or("(not text)");
                push_header(&mut shown, name.as_str(), value, &scrubber);
            }
            // One pass for all: a header may echo the key or token.
            scrubber.scrub(&shown).into_owned()
        });
    }

    /// The attempt that got no response.
    pub(super) fn traced_failure(&self, timer: AttemptTimer, attempt: u32, error: &Error) {
        telemetry::attempt(timer, attempt, &self.url.host, &self.url.path, Err(error), || {
            None
        });
    }

    /// The headers a request goes out with: secret values (the key, a token) and per-call
    /// values (which may carry a token) as `***`, the others as set.
    /// The key or token is signed onto each request (`authorization`, `Bearer ***` for a token;
    /// `api-key` when `api_key`), so it is shown here as `***` too.
    pub(super) fn request_headers_shown(&self, out: &Outgoing<'_>, bearer: bool, api_key: bool) -> String {
        let scrubber = self.scrubber();
        let mut shown = String::with_capacity(256);
        push_header(&mut shown, "content-type", out.content_type, &scrubber);
        push_header(&mut shown, "accept", out.accept, &scrubber);
        for (name, value) in &self.headers {
            if out
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                continue;
            }
            let value = match value.to_str() {
                Ok(_) if value.is_sensitive() => "***",
                Ok(text) => text,
                Err(_) => "(not text)",
            };
            push_header(&mut shown, name.as_str(), value, &scrubber);
        }
        for (name, _) in out.headers {
            push_header(&mut shown, name, "***", &scrubber);
        }
        let authorization = if bearer { "Bearer ***" } else { "***" };
        push_header(&mut shown, "authorization", authorization, &scrubber);
        if api_key {
            push_header(&mut shown, "api-key", "***", &scrubber);
        }
        scrubber.scrub(&shown).into_owned()
    }
}

/// Appends `name: value` to a `; `-separated list. A long value is cut, scrubbed first so no piece
/// of a key survives the cut; the whole list is scrubbed after.
fn push_header(shown: &mut String, name: &str, value: &str, scrubber: &Scrubber) {
    if !shown.is_empty() {
        shown.push_str("; ");
    }
    shown.push_str(name);
    shown.push_str(": ");
    if value.len() <= HEADER_CHARS {
        shown.push_str(value);
    } else {
        shown.push_str(&scrubber.cut(value, HEADER_CHARS));
    }
}
