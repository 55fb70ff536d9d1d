//! What the transport tells of its attempts: one event each and, at trace level, the headers
//! sent and received with every secret hidden.

use ureq::http::Response;
use ureq::Body;

use super::{Outgoing, Transport};
use crate::error::Error;
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
            let shown: Vec<String> = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = value.to_str().unwrap_or("(not text)");
                    format!("{name}: {}", scrubber.cut(value, HEADER_CHARS))
                })
                .collect();
            shown.join("; ")
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
    pub(super) fn request_headers_shown(&self, out: &Outgoing<'_>, bearer: bool) -> String {
        let mut shown = vec![
            format!("content-type: {}", out.content_type),
            format!("accept: {}", out.accept),
        ];
        let scrubber = self.scrubber();
        for (name, value) in &self.headers {
            if out
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                continue;
            }
            let value = match value.to_str() {
                Ok(_) if value.is_sensitive() => "***".to_owned(),
                Ok(text) => scrubber.cut(text, HEADER_CHARS),
                Err(_) => "(not text)".to_owned(),
            };
            shown.push(format!("{name}: {value}"));
        }
        shown.extend(out.headers.iter().map(|(name, _)| format!("{name}: ***")));
        if bearer {
            shown.push("authorization: Bearer ***".to_owned());
        }
        shown.join("; ")
    }
}
