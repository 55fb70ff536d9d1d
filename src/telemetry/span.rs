//! A call's span, emitted through `tracing` (feature `tracing`); the transport's events are in
//! `events.rs`.
//!
//! With no subscriber and no `log` logger, each span and event is a few relaxed atomic loads: the
//! macros evaluate their fields only for someone listening, and a span's later fields are worked
//! out only while a subscriber records it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::field::Empty;
use tracing::{Level, Span};

use super::{error_attempts, error_type, Answer, ClientFacts, Operation, METRICS_TARGET, TARGET};
use crate::chunk::StreamChunk;
use crate::error::Error;
use crate::message::Usage;
use crate::secret::Scrubber;

/// The most characters of a server-sent name (a response id or model) a field holds.
const NAME_CHARS: usize = 256;

/// The span of one call, named `$name` (a span's name is static: one call site per operation).
macro_rules! call_span {
    ($name:literal, $facts:expr, $streaming:expr) => {
        tracing::span!(
            target: TARGET,
            Level::INFO,
            $name,
            otel.name = Empty,
            otel.kind = "client",
            otel.status_code = Empty,
            gen_ai.operation.name = $name,
            gen_ai.provider.name = $facts.provider,
            server.address = $facts.address.as_str(),
            server.port = $facts.port,
            gen_ai.request.model = Empty,
            gen_ai.request.max_tokens = Empty,
            gen_ai.request.temperature = Empty,
            gen_ai.request.top_p = Empty,
            gen_ai.request.stop_sequences = Empty,
            gen_ai.request.stream = $streaming.then_some(true),
            gen_ai.response.id = Empty,
            gen_ai.response.model = Empty,
            gen_ai.response.finish_reasons = Empty,
            gen_ai.response.time_to_first_chunk = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            error.r#type = Empty,
            azureml.request_id = Empty,
            azureml.attempts = Empty,
            azureml.deployment = $facts.deployment.as_deref(),
            azureml.auth = $facts.auth,
            gen_ai.input.messages = Empty,
            gen_ai.output.messages = Empty,
        )
    };
}

/// One call's span: created before the request is encoded, ended when the answer is read (a
/// stream's when it ends or is dropped), with the duration and token metrics.
pub(crate) struct CallSpan {
    span: Span,
    start: Instant,
    facts: Arc<ClientFacts>,
    /// Present while a subscriber records the span.
    recording: Option<Recording>,
    streaming: bool,
    ended: bool,
}

/// What only a recorded span needs.
struct Recording {
    scrubber: Scrubber,
    /// The call's model when its parameters name another than the client's `model`.
    call_model: Option<String>,
    response_model: Option<String>,
    /// The response id and model are still to be read from the answer.
    wants_names: bool,
    /// A stream's progress: chunks seen, the last finish reason and usage, and (on opt-in) the
    /// text so far.
    chunks: u64,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    text: Option<String>,
}

impl std::fmt::Debug for CallSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSpan")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl CallSpan {
    /// The span of a call with these merged `params`; `scrubber` is asked for only when the span
    /// is recorded.
    pub fn start(
        facts: &Arc<ClientFacts>,
        streaming: bool,
        params: &Map<String, Value>,
        scrubber: impl FnOnce() -> Scrubber,
    ) -> CallSpan {
        let span = match facts.operation {
            Operation::TextCompletion => call_span!("text_completion", facts, streaming),
            Operation::Chat => call_span!("chat", facts, streaming),
            Operation::Embeddings => call_span!("embeddings", facts, streaming),
        };
        let recording = (!span.is_disabled()).then(|| {
            let scrubber = scrubber();
            let call_model = params
                .get("model")
                .and_then(Value::as_str)
                .filter(|model| facts.model.as_deref() != Some(*model))
                .map(|model| scrubber.cut(model, NAME_CHARS));
            match &call_model {
                Some(model) => {
                    span.record("otel.name", super::span_name(facts.operation, Some(model)));
                    span.record("gen_ai.request.model", model.as_str());
                }
                None => {
                    span.record("otel.name", facts.span_name.as_str());
                    span.record("gen_ai.request.model", facts.model.as_deref());
                }
            }
            record_request(&span, params, &scrubber);
            Recording {
                scrubber,
                call_model,
                response_model: None,
                wants_names: true,
                chunks: 0,
                finish_reason: None,
                usage: None,
                text: facts.capture_content.then(String::new),
            }
        });
        CallSpan {
            span,
            start: Instant::now(),
            facts: Arc::clone(facts),
            recording,
            streaming,
            ended: false,
        }
    }

    /// Enters the span until the guard is dropped, so the transport's events are its children.
    pub fn enter(&self) -> tracing::span::EnteredSpan {
        self.span.clone().entered()
    }

    /// Records the prompt or messages, on opt-in.
    pub fn input(&self, messages: impl FnOnce() -> Value) {
        if let Some(r) = self.recording.as_ref().filter(|_| self.facts.capture_content) {
            let text = messages().to_string();
            self.span
                .record("gen_ai.input.messages", r.scrubber.scrub(&text).as_ref());
        }
    }

    /// Whether the answer's body should be shown to [`names`](Self::names).
    pub fn wants_names(&self) -> bool {
        self.recording.as_ref().is_some_and(|r| r.wants_names)
    }

    /// Records the response id and model from an answer's (or the first stream event's) JSON.
    pub fn names(&mut self, body: &[u8]) {
        let Some(r) = self.recording.as_mut().filter(|r| r.wants_names) else {
            return;
        };
        r.wants_names = false;
        let names = Names::of(body);
        if let Some(id) = names.id {
            self.span
                .record("gen_ai.response.id", short(&r.scrubber, &id).as_ref());
        }
        if let Some(model) = names.model {
            let model = short(&r.scrubber, &model).into_owned();
            self.span.record("gen_ai.response.model", model.as_str());
            r.response_model = Some(model);
        }
    }

    /// The response head arrived: after `attempts`, with the service's request id.
    pub fn replied(&self, attempts: u32, request_id: Option<&str>) {
        if let Some(r) = &self.recording {
            self.span.record("azureml.attempts", attempts);
            if let Some(id) = request_id {
                self.span
                    .record("azureml.request_id", short(&r.scrubber, id).as_ref());
            }
        }
    }

    /// A whole answer was read: records it and ends the span.
    pub fn succeeded(&mut self, answer: Answer<'_>, output: impl FnOnce() -> Value) {
        if let Some(r) = &self.recording {
            record_answer(&self.span, r, answer.finish_reason, answer.usage);
            if self.facts.capture_content {
                let text = output().to_string();
                self.span
                    .record("gen_ai.output.messages", r.scrubber.scrub(&text).as_ref());
            }
        }
        self.end(None, answer.usage.map(|u| (u.prompt_tokens, u.completion_tokens)));
    }

    /// The call failed: records why and ends the span.
    pub fn failed(&mut self, error: &Error) {
        if self.ended {
            return;
        }
        let kind = error_type(error);
        let attempts = error_attempts(error);
        if let Some(r) = &self.recording {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", kind.as_str());
            if let Some(attempts) = attempts {
                self.span.record("azureml.attempts", attempts);
            }
            if let Some(id) = error.request_id() {
                self.span
                    .record("azureml.request_id", short(&r.scrubber, id).as_ref());
            }
        }
        tracing::event!(
            target: TARGET,
            parent: &self.span,
            Level::WARN,
            error.r#type = kind.as_str(),
            azureml.attempts = attempts,
            "call failed"
        );
        self.end(Some(&kind), None);
    }

    /// A stream yielded `chunk`.
    pub fn chunk(&mut self, chunk: &StreamChunk) {
        let Some(r) = self.recording.as_mut() else {
            return;
        };
        if r.chunks == 0 {
            self.span.record(
                "gen_ai.response.time_to_first_chunk",
                self.start.elapsed().as_secs_f64(),
            );
        }
        r.chunks = r.chunks.saturating_add(1);
        if let Some(reason) = &chunk.finish_reason {
            r.finish_reason = Some(reason.clone());
        }
        if let Some(usage) = &chunk.usage {
            r.usage = Some(*usage);
        }
        if let Some(text) = &mut r.text {
            text.push_str(&chunk.text);
        }
    }

    /// A stream reached its end: records what it carried and ends the span.
    pub fn stream_ended(&mut self) {
        if self.ended {
            return;
        }
        let mut tokens = None;
        if let Some(r) = &self.recording {
            record_answer(&self.span, r, r.finish_reason.as_deref(), r.usage.as_ref());
            if let Some(text) = &r.text {
                let output = super::reply_messages(text, &[], r.finish_reason.as_deref()).to_string();
                self.span
                    .record("gen_ai.output.messages", r.scrubber.scrub(&output).as_ref());
            }
            tokens = r.usage.as_ref().map(|u| (u.prompt_tokens, u.completion_tokens));
        }
        self.end(None, tokens);
    }

    /// Emits the metrics once.
    fn end(&mut self, error: Option<&str>, tokens: Option<(u64, u64)>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        // A span's end is its last exit for tracing-opentelemetry: a stream's is now, not when
        // its response head came.
        if self.streaming {
            drop(self.span.enter());
        }
        let facts = &*self.facts;
        let request_model = self
            .recording
            .as_ref()
            .and_then(|r| r.call_model.as_deref())
            .or(facts.model.as_deref());
        let response_model = self.recording.as_ref().and_then(|r| r.response_model.as_deref());
        let operation = facts.operation.as_str();
        tracing::event!(
            target: METRICS_TARGET,
            parent: None,
            Level::INFO,
            histogram.gen_ai.client.operation.duration = self.start.elapsed().as_secs_f64(),
            gen_ai.operation.name = operation,
            gen_ai.provider.name = facts.provider,
            server.address = facts.address.as_str(),
            server.port = facts.port,
            gen_ai.request.model = request_model,
            gen_ai.response.model = response_model,
            error.r#type = error,
        );
        let Some((input, output)) = tokens else {
            return;
        };
        for (token_type, count) in [("input", input), ("output", output)] {
            tracing::event!(
                target: METRICS_TARGET,
                parent: None,
                Level::INFO,
                histogram.gen_ai.client.token.usage = count,
                gen_ai.token.r#type = token_type,
                gen_ai.operation.name = operation,
                gen_ai.provider.name = facts.provider,
                server.address = facts.address.as_str(),
                server.port = facts.port,
                gen_ai.request.model = request_model,
                gen_ai.response.model = response_model,
            );
        }
    }
}

/// A stream dropped before its end still ends its span and reports its duration.
impl Drop for CallSpan {
    fn drop(&mut self) {
        if !self.ended {
            self.stream_ended();
        }
    }
}

/// A name a server sent (an id, a model, a finish reason), scrubbed, and cut when long: borrowed
/// when there is nothing to do.
fn short<'a>(scrubber: &Scrubber, name: &'a str) -> Cow<'a, str> {
    if name.len() <= NAME_CHARS {
        scrubber.scrub(name)
    } else {
        Cow::Owned(scrubber.cut(name, NAME_CHARS))
    }
}

/// The top-level `id` and `model` of an answer.
#[derive(Default)]
struct Names {
    id: Option<String>,
    model: Option<String>,
}

impl Names {
    /// Read until both are found: the rest of the answer (its choices) is not parsed a second
    /// time, so the cost does not grow with the answer. Not JSON, or not strings: none.
    fn of(body: &[u8]) -> Names {
        use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Key {
            Id,
            Model,
            #[serde(other)]
            Other,
        }

        struct Peek<'a>(&'a mut Names);

        impl<'de> Visitor<'de> for Peek<'_> {
            type Value = ();

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Id => self.0.id = map.next_value()?,
                        Key::Model => self.0.model = map.next_value()?,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    if self.0.id.is_some() && self.0.model.is_some() {
                        break;
                    }
                }
                Ok(())
            }
        }

        let mut names = Names::default();
        // Stopping early leaves the object unfinished, an error for serde_json: what was read
        // before it is kept.
        let _ = serde_json::Deserializer::from_slice(body).deserialize_map(Peek(&mut names));
        names
    }
}

/// The request parameters the conventions name.
fn record_request(span: &Span, params: &Map<String, Value>, scrubber: &Scrubber) {
    let max_tokens = ["max_tokens", "max_completion_tokens", "max_new_tokens"]
        .iter()
        .find_map(|key| params.get(*key).and_then(Value::as_u64));
    if let Some(max) = max_tokens {
        span.record("gen_ai.request.max_tokens", max);
    }
    if let Some(t) = params.get("temperature").and_then(Value::as_f64) {
        span.record("gen_ai.request.temperature", t);
    }
    if let Some(p) = params.get("top_p").and_then(Value::as_f64) {
        span.record("gen_ai.request.top_p", p);
    }
    // A string array has no `tracing` value: the list is recorded as its JSON text.
    let stop = match params.get("stop") {
        Some(Value::String(one)) => Some(Value::from([one.as_str()])),
        Some(list @ Value::Array(_)) => Some(list.clone()),
        _ => None,
    };
    if let Some(stop) = stop {
        span.record(
            "gen_ai.request.stop_sequences",
            scrubber.scrub(&stop.to_string()).as_ref(),
        );
    }
}

/// The finish reason and token usage of an answer.
fn record_answer(span: &Span, r: &Recording, finish_reason: Option<&str>, usage: Option<&Usage>) {
    if let Some(reason) = finish_reason {
        // A string array has no `tracing` value: the list is recorded as its JSON text.
        let reasons = serde_json::to_string(&[short(&r.scrubber, reason)]);
        span.record("gen_ai.response.finish_reasons", reasons.unwrap_or_default());
    }
    if let Some(usage) = usage {
        span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
        span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn names_are_read_up_to_the_last_one_needed() {
        let names = Names::of(br#"{"id": "c-1", "object": "x", "model": "m\u0031", "choices": [{"text": "#);
        assert_eq!(
            (names.id.as_deref(), names.model.as_deref()),
            (Some("c-1"), Some("m1"))
        );
        let names = Names::of(br#"{"choices": [], "model": "m"}"#);
        assert_eq!((names.id, names.model.as_deref()), (None, Some("m")));
        let names = Names::of(br#"{"id": 5, "model": "m"}"#);
        assert_eq!((names.id, names.model), (None, None));
        let names = Names::of(br#"[{"0": "text"}]"#);
        assert_eq!((names.id, names.model), (None, None));
    }
}
