//! `-v` / `-vv`: the library's events as lines on stderr (stdout is untouched). `-v` shows each
//! attempt (method, host and path, status or error class, time, request id), each wait and why,
//! where tokens came from and key switches; `-vv` adds the request and response headers, secrets
//! shown as `***`. Also counts the waits for 429 that `batch` progress shows.

use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Waits caused by a 429 so far (this request's, or the client's shared pause).
pub static WAITS_FOR_429: AtomicU64 = AtomicU64::new(0);

/// Installs the stderr subscriber: `verbosity` 0 prints nothing (it only counts), 1 is `-v`,
/// 2 or more `-vv`.
pub fn install(verbosity: u8) {
    let shown = match verbosity {
        0 => None,
        1 => Some(Level::DEBUG),
        _ => Some(Level::TRACE),
    };
    // Fails only if one is installed already, which this program never does.
    let _ = tracing::subscriber::set_global_default(Stderr {
        shown,
        next_id: AtomicU64::new(1),
    });
}

struct Stderr {
    /// The most detailed level printed; `None`: nothing is printed.
    shown: Option<Level>,
    next_id: AtomicU64,
}

impl Stderr {
    /// The library's events this program prints or counts; never spans, never metrics.
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        let ours = meta.target() == "azureml_endpoint";
        let counted = meta.fields().field("azureml.wait.reason").is_some();
        let printed = self.shown.is_some_and(|level| meta.level() <= &level);
        ours && meta.is_event() && (counted || printed)
    }
}

impl Subscriber for Stderr {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wants(meta)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let is_429 = fields.get("http.response.status_code") == Some("429")
            || fields.get("azureml.wait.reason") == Some("429 pause");
        if fields.get("message") == Some("retry wait") && is_429 {
            WAITS_FOR_429.fetch_add(1, Ordering::Relaxed);
        }
        if self.shown.is_none_or(|level| event.metadata().level() > &level) {
            return;
        }
        let lines = describe(&fields);
        if !lines.is_empty() {
            let mut err = std::io::stderr().lock();
            for line in lines {
                let _ = writeln!(err, "{}", crate::one_line(&line));
            }
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's fields as text, in order.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn seconds(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.parse().ok())
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_owned()));
    }
}

/// The lines an event prints: one, or one per header.
fn describe(f: &Fields) -> Vec<String> {
    let status_or_error = || match (f.get("http.response.status_code"), f.get("error.type")) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.to_owned(),
        (None, None) => "no answer".to_owned(),
    };
    let line = match f.get("message").unwrap_or_default() {
        "attempt" => {
            let mut line = format!(
                "* POST {}{}: {} in {} (attempt {})",
                f.get("server.address").unwrap_or("?"),
                f.get("url.path").unwrap_or(""),
                status_or_error(),
                time(f.seconds("azureml.elapsed")),
                f.get("azureml.attempt").unwrap_or("?"),
            );
            if let Some(id) = f.get("azureml.request_id") {
                line.push_str(&format!(", request id {id}"));
            }
            line
        }
        "retry wait" => match f.get("azureml.wait.reason") {
            Some("429 pause") => format!(
                "* waiting {} (429 pause: the endpoint throttled another request of this client)",
                time(f.seconds("azureml.wait"))
            ),
            reason => format!(
                "* waiting {} ({} after {}) before attempt {}",
                time(f.seconds("azureml.wait")),
                reason.unwrap_or("backoff"),
                status_or_error(),
                f.get("azureml.attempt")
                    .and_then(|n| n.parse::<u32>().ok())
                    .map_or_else(|| "?".to_owned(), |n| n.saturating_add(1).to_string()),
            ),
        },
        "token" => match f.get("error.type") {
            Some(_) => format!(
                "* no token from {} after {}",
                f.get("azureml.token.source").unwrap_or("?"),
                time(f.seconds("azureml.elapsed"))
            ),
            None => format!(
                "* token {} {} in {}",
                if f.get("azureml.token.refresh") == Some("true") {
                    "refreshed from"
                } else {
                    "from"
                },
                f.get("azureml.token.source").unwrap_or("?"),
                time(f.seconds("azureml.elapsed"))
            ),
        },
        "key switch" => format!(
            "* key switch: {} -> {} after {}",
            f.get("azureml.key.from").unwrap_or("?"),
            f.get("azureml.key.to").unwrap_or("?"),
            status_or_error()
        ),
        "request headers" | "response headers" => {
            let mark = if f.get("message") == Some("request headers") {
                '>'
            } else {
                '<'
            };
            let headers = f.get("azureml.headers").unwrap_or_default();
            return headers
                .split("; ")
                .map(|header| format!("{mark} {header}"))
                .collect();
        }
        _ => return Vec::new(),
    };
    vec![line]
}

/// `12 ms`, `1.50 s`.
fn time(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
        None => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, &str)]) -> Fields {
        Fields(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    #[test]
    fn attempts_waits_tokens_and_headers_read_as_lines() {
        let attempt = fields(&[
            ("message", "attempt"),
            ("azureml.attempt", "1"),
            ("server.address", "127.0.0.1"),
            ("url.path", "/score"),
            ("http.response.status_code", "503"),
            ("azureml.elapsed", "0.0123"),
            ("azureml.request_id", "r-1"),
        ]);
        assert_eq!(
            describe(&attempt),
            ["* POST 127.0.0.1/score: HTTP 503 in 12 ms (attempt 1), request id r-1"]
        );
        let wait = fields(&[
            ("message", "retry wait"),
            ("azureml.attempt", "1"),
            ("azureml.wait", "1.5"),
            ("azureml.wait.reason", "retry-after"),
            ("http.response.status_code", "429"),
        ]);
        assert_eq!(
            describe(&wait),
            ["* waiting 1.50 s (retry-after after HTTP 429) before attempt 2"]
        );
        let failed = fields(&[
            ("message", "attempt"),
            ("azureml.attempt", "2"),
            ("server.address", "h"),
            ("url.path", "/p"),
            ("error.type", "connect"),
            ("azureml.elapsed", "0.002"),
        ]);
        assert_eq!(describe(&failed), ["* POST h/p: connect in 2 ms (attempt 2)"]);
        let token = fields(&[
            ("message", "token"),
            ("azureml.token.source", "managed_identity"),
            ("azureml.token.refresh", "false"),
            ("azureml.elapsed", "0.2"),
        ]);
        assert_eq!(describe(&token), ["* token from managed_identity in 200 ms"]);
        let headers = fields(&[
            ("message", "request headers"),
            ("azureml.headers", "accept: application/json; authorization: ***"),
        ]);
        assert_eq!(
            describe(&headers),
            ["> accept: application/json", "> authorization: ***"]
        );
    }
}
