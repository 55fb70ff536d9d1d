//! The telemetry API without the `tracing` feature: the same calls, doing nothing.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Answer, ClientFacts};
use crate::chunk::StreamChunk;
use crate::error::Error;
use crate::secret::Scrubber;

/// Nothing to record.
#[derive(Debug)]
pub(crate) struct CallSpan;

/// Nothing entered.
#[derive(Debug)]
pub(crate) struct Entered;

impl CallSpan {
    #[inline]
    pub fn start(
        _facts: &Arc<ClientFacts>,
        _streaming: bool,
        _params: &Map<String, Value>,
        _scrubber: impl FnOnce() -> Scrubber,
    ) -> CallSpan {
        CallSpan
    }

    #[inline]
    pub fn enter(&self) -> Entered {
        Entered
    }

    #[inline]
    pub fn input(&self, _messages: impl FnOnce() -> Value) {}

    #[inline]
    pub fn wants_names(&self) -> bool {
        false
    }

    #[inline]
    pub fn names(&mut self, _body: &[u8]) {}

    #[inline]
    pub fn replied(&self, _attempts: u32, _request_id: Option<&str>) {}

    #[inline]
    pub fn succeeded(&mut self, _answer: Answer<'_>, _output: impl FnOnce() -> Value) {}

    #[inline]
    pub fn failed(&mut self, _error: &Error) {}

    #[inline]
    pub fn chunk(&mut self, _chunk: &StreamChunk) {}

    #[inline]
    pub fn stream_ended(&mut self) {}
}

#[derive(Clone, Debug)]
pub(crate) struct Context;

impl Context {
    #[inline]
    pub fn current() -> Self {
        Context
    }

    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AttemptTimer;

impl AttemptTimer {
    #[inline]
    pub fn start() -> Self {
        AttemptTimer
    }
}

#[inline]
pub(crate) fn attempt(
    _timer: AttemptTimer,
    _number: u32,
    _host: &str,
    _path: &str,
    _outcome: Result<u16, &Error>,
    _request_id: impl Fn() -> Option<String>,
) {
}

#[inline]
pub(crate) fn retry_wait(_number: u32, _wait: Duration, _reason: &'static str, _cause: Result<u16, &Error>) {}

#[inline]
pub(crate) fn paused(_waited: Duration) {}

#[inline]
pub(crate) fn token_fetched(_source: &str, _refresh: bool, _elapsed: Duration) {}

#[inline]
pub(crate) fn token_failed(_source: &str, _elapsed: Duration) {}

#[inline]
#[allow(dead_code)] // The hook key failover calls.
pub(crate) fn key_switched(_from: &str, _to: &str, _status: u16) {}

#[inline]
pub(crate) fn headers(_direction: &'static str, _headers: impl Fn() -> String) {}
