//! The events of the transport and the credential, emitted through `tracing` (feature
//! `tracing`): attempts, waits, tokens, key switches and, at trace level, headers. A call's span
//! is in `span.rs`.

use std::time::{Duration, Instant};

use tracing::{Level, Span};

use super::{error_type, TARGET};
use crate::error::Error;

/// The caller's span and subscriber, carried to the threads of a batch so their spans nest
/// under it and reach the subscriber the caller set (a scoped one is per thread).
#[derive(Clone, Debug)]
pub(crate) struct Context {
    span: Span,
    /// `None` when no subscriber was ever set: setting one here would silence the `log` bridge.
    dispatch: Option<tracing::Dispatch>,
}

impl Context {
    pub fn current() -> Self {
        Context {
            span: Span::current(),
            dispatch: tracing::dispatcher::has_been_set()
                .then(|| tracing::dispatcher::get_default(tracing::Dispatch::clone)),
        }
    }

    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.dispatch {
            Some(dispatch) => tracing::dispatcher::with_default(dispatch, || self.span.in_scope(f)),
            None => f(),
        }
    }
}

/// When an attempt started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttemptTimer(Instant);

impl AttemptTimer {
    pub fn start() -> Self {
        AttemptTimer(Instant::now())
    }
}

/// One attempt's outcome: an HTTP `status`, or the `error` class that ended it. `request_id` is
/// asked for only when someone listens.
pub(crate) fn attempt(
    timer: AttemptTimer,
    number: u32,
    host: &str,
    path: &str,
    outcome: Result<u16, &Error>,
    request_id: impl Fn() -> Option<String>,
) {
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(error) => (None, Some(error_type(error))),
    };
    tracing::event!(
        target: TARGET,
        Level::DEBUG,
        azureml.attempt = number,
        http.request.method = "POST",
        server.address = host,
        url.path = path,
        http.response.status_code = status,
        error.r#type = error.as_deref(),
        azureml.elapsed = timer.0.elapsed().as_secs_f64(),
        azureml.request_id = request_id().as_deref(),
        "attempt"
    );
}

/// A wait before attempt `number + 1`, and why (`retry-after`: the server asked; `backoff`).
pub(crate) fn retry_wait(number: u32, wait: Duration, reason: &'static str, cause: Result<u16, &Error>) {
    let (status, error) = match cause {
        Ok(status) => (Some(status), None),
        Err(error) => (None, Some(error_type(error))),
    };
    tracing::event!(
        target: TARGET,
        Level::INFO,
        azureml.attempt = number,
        azureml.wait = wait.as_secs_f64(),
        azureml.wait.reason = reason,
        http.response.status_code = status,
        error.r#type = error.as_deref(),
        "retry wait"
    );
}

/// An attempt waited out the client's shared 429 pause that another call set.
pub(crate) fn paused(waited: Duration) {
    tracing::event!(
        target: TARGET,
        Level::INFO,
        azureml.wait = waited.as_secs_f64(),
        azureml.wait.reason = "429 pause",
        "retry wait"
    );
}

/// A token was fetched (`refresh` when one was held before) from `source` (an auth mode's
/// name), taking `elapsed`. Never the token.
pub(crate) fn token_fetched(source: &str, refresh: bool, elapsed: Duration) {
    tracing::event!(
        target: TARGET,
        Level::INFO,
        azureml.token.source = source,
        azureml.token.refresh = refresh,
        azureml.elapsed = elapsed.as_secs_f64(),
        "token"
    );
}

/// No token could be had from `source`.
pub(crate) fn token_failed(source: &str, elapsed: Duration) {
    tracing::event!(
        target: TARGET,
        Level::WARN,
        azureml.token.source = source,
        error.r#type = "credential",
        azureml.elapsed = elapsed.as_secs_f64(),
        "token"
    );
}

/// The client switched keys (e.g. `primary` to `secondary`) after `status`. Names, never keys.
#[allow(dead_code)] // The hook key failover calls.
pub(crate) fn key_switched(from: &str, to: &str, status: u16) {
    tracing::event!(
        target: TARGET,
        Level::WARN,
        azureml.key.from = from,
        azureml.key.to = to,
        http.response.status_code = status,
        "key switch"
    );
}

/// The request's or response's headers (`direction`), as `headers` lists them, at trace level.
/// The caller redacts: `headers` is asked for only when someone listens.
pub(crate) fn headers(direction: &'static str, headers: impl Fn() -> String) {
    tracing::event!(
        target: TARGET,
        Level::TRACE,
        azureml.headers = headers().as_str(),
        "{direction} headers"
    );
}
