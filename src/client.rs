//! The private core every client shares: validated settings, the transport and the formatter,
//! and the steps of one call. A kind of client says what it sends and reads by implementing
//! [`Kind`]; its public type is a thin handle over `Arc<Core<Kind>>` (see `docs/architecture.md`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::{Builder, Formatter};
use crate::chunk::StreamChunk;
use crate::config::{ApiType, ClientKind, EndpointConfig, Origin};
use crate::error::Result;
use crate::formatter::stream_chunk_shape;
use crate::options::CallOptions;
use crate::rate_limit::RateLimits;
use crate::resolve::Resolved;
use crate::settings::Setting;
use crate::stream::CompletionStream;
use crate::telemetry::{Answer, CallSpan, ClientFacts, Operation};
use crate::transport::{Outgoing, ReplyMeta, StreamReply};

/// The `Accept` of streaming requests.
const EVENT_STREAM: &str = "text/event-stream";

/// What one kind of client sends and reads.
pub(crate) trait Kind: 'static {
    /// The formatter trait this kind takes.
    type Formatter: ?Sized + Formatter + fmt::Debug + Send + Sync;
    /// What one call sends (a prompt, a conversation).
    type Input: ?Sized;
    /// What one call returns.
    type Output;
    /// Which URL rules apply.
    const CLIENT: ClientKind;
    /// The `_type` a saved config of this kind has.
    const TYPE_NAME: &'static str;
    /// The span's `gen_ai.operation.name`.
    const OPERATION: Operation;

    fn default_formatter() -> Arc<Self::Formatter>;
    /// A built-in formatter by tag, alias or Python class name.
    fn builtin_formatter(tag: &str) -> Option<Arc<Self::Formatter>>;
    fn request(
        formatter: &Self::Formatter,
        input: &Self::Input,
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>>;
    fn response(formatter: &Self::Formatter, body: &[u8], api_type: ApiType) -> Result<Self::Output>;
    /// Records the service's request id and rate limits on an answer.
    fn set_meta(output: &mut Self::Output, request_id: Option<String>, rate_limits: RateLimits);
    /// A whole answer as the one chunk of a stream (dedicated endpoints do not stream).
    fn into_chunk(output: Self::Output) -> StreamChunk;
    /// One stream event's chunk, or `None` for an event of another shape.
    fn stream_event(formatter: &Self::Formatter, data: &[u8], api_type: ApiType) -> Option<StreamChunk>;
    /// The input as `gen_ai.input.messages` (recorded on opt-in only).
    fn input_messages(input: &Self::Input) -> Value;
    /// What an answer says for its span.
    fn answer(output: &Self::Output) -> Answer<'_>;
    /// An answer as `gen_ai.output.messages` (recorded on opt-in only).
    fn output_messages(output: &Self::Output) -> Value;
}

/// A built client's state; the public clients hold it in an `Arc`, so clones share it.
pub(crate) struct Core<K: Kind> {
    resolved: Resolved,
    formatter: Arc<K::Formatter>,
    /// What each call's span says about the client.
    telemetry: Arc<ClientFacts>,
}

impl<K: Kind> fmt::Debug for Core<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("config", &self.resolved.config)
            .field("transport", &self.resolved.transport)
            .field("formatter", &self.formatter)
            .finish()
    }
}

impl<K: Kind> Core<K> {
    /// Validates `builder`'s settings.
    pub fn build(builder: Builder<K::Formatter>) -> Result<Arc<Self>> {
        let (checked, formatter) =
            builder.check_for(K::CLIENT, K::builtin_formatter, K::default_formatter, true)?;
        let mut resolved = checked.into_resolved()?;
        let type_name = &mut resolved.settings._type;
        let origin = type_name.origin().cloned().unwrap_or(Origin::Default);
        *type_name = Setting::new(K::TYPE_NAME.to_owned(), origin);
        let config = &resolved.config;
        let transport = &resolved.transport;
        let telemetry = ClientFacts::new(K::OPERATION, transport.url(), config, &transport.scrubber());
        Ok(Arc::new(Core {
            resolved,
            formatter,
            telemetry: Arc::new(telemetry),
        }))
    }

    /// The config a client built from `builder` would save, checked as `build()` checks it but
    /// without a key (never saved) or the transport.
    pub fn saved(builder: Builder<K::Formatter>) -> Result<Map<String, Value>> {
        let (mut checked, _) =
            builder.check_for(K::CLIENT, K::builtin_formatter, K::default_formatter, false)?;
        checked.settings._type = Setting::new(K::TYPE_NAME.to_owned(), Origin::Default);
        Ok(checked.settings.to_map())
    }

    /// One call, with the service's request id and rate limits recorded on the answer.
    pub fn call(&self, input: &K::Input, options: &CallOptions) -> Result<K::Output> {
        let (
            mut output,
            ReplyMeta {
                request_id,
                rate_limits,
                ..
            },
        ) = self.traced_exchange(input, options)?;
        K::set_meta(&mut output, request_id, rate_limits);
        Ok(output)
    }

    /// [`exchange`](Self::exchange) in a span of its own.
    fn traced_exchange(&self, input: &K::Input, options: &CallOptions) -> Result<(K::Output, ReplyMeta)> {
        let params = self.params(options);
        let mut span = self.span(false, &params);
        let _in_span = span.enter();
        match self.exchange(input, &params, options, &mut span) {
            Ok((output, meta)) => {
                span.replied(meta.attempts, meta.request_id.as_deref());
                span.succeeded(K::answer(&output), || K::output_messages(&output));
                Ok((output, meta))
            }
            Err(error) => {
                span.failed(&error);
                Err(error)
            }
        }
    }

    /// The input encoded with `params`, sent, and the answer read.
    fn exchange(
        &self,
        input: &K::Input,
        params: &Map<String, Value>,
        options: &CallOptions,
        span: &mut CallSpan,
    ) -> Result<(K::Output, ReplyMeta)> {
        let formatter = &*self.formatter;
        let api_type = self.resolved.config.api_type;
        span.input(|| K::input_messages(input));
        let body = K::request(formatter, input, params, api_type)?;
        let out = Outgoing {
            body: &body,
            content_type: formatter.content_type(),
            accept: formatter.accept(),
            timeout: options.checked_timeout()?,
            headers: options.checked_headers()?,
        };
        self.resolved.transport.exchange(&out, |body| {
            span.names(body);
            K::response(formatter, body, api_type)
        })
    }

    /// The client's `model_kwargs` with the call's options merged in and the configured `model`.
    fn params(&self, options: &CallOptions) -> Cow<'_, Map<String, Value>> {
        self.with_model(options.merge(&self.resolved.config.model_kwargs))
    }

    /// A call's span; the scrubber is made only if the span is recorded.
    fn span(&self, streaming: bool, params: &Map<String, Value>) -> CallSpan {
        CallSpan::start(&self.telemetry, streaming, params, || {
            self.resolved.transport.scrubber()
        })
    }

    /// One streamed call. A dedicated endpoint does not stream: the whole answer is the one
    /// chunk. A serverless one gets the request with `"stream": true` in the parameters (so
    /// custom formatters see it too), and each event is read as it arrives.
    pub fn stream(&self, input: &K::Input, options: &CallOptions) -> Result<CompletionStream> {
        let config = &self.resolved.config;
        let api_type = config.api_type;
        let formatter = &*self.formatter;
        let dedicated = api_type == ApiType::Dedicated;
        if dedicated && !formatter.streams_on_dedicated() {
            let (output, meta) = self.traced_exchange(input, options)?;
            return Ok(CompletionStream::whole(K::into_chunk(output), meta.request_id)
                .with_rate_limits(meta.rate_limits));
        }
        let mut params = self.params(options).into_owned();
        params.insert("stream".to_owned(), Value::Bool(true));
        let mut span = self.span(true, &params);
        let reply = {
            let _in_span = span.enter();
            self.open_stream(input, &params, options, &span)
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                span.failed(&error);
                return Err(error);
            }
        };
        span.replied(reply.attempts, reply.request_id.as_deref());
        let formatter = Arc::clone(&self.formatter);
        let expected = stream_chunk_shape(formatter.tag());
        Ok(CompletionStream::events(
            reply.body,
            reply.request_id,
            options.checked_timeout()?.unwrap_or(config.timeout),
            self.resolved.transport.scrubber(),
            Box::new(move |data| K::stream_event(&formatter, data, api_type)),
            expected,
            dedicated,
        )
        .with_rate_limits(reply.rate_limits)
        .with_span(span))
    }

    /// The streamed request sent, up to the response head.
    fn open_stream(
        &self,
        input: &K::Input,
        params: &Map<String, Value>,
        options: &CallOptions,
        span: &CallSpan,
    ) -> Result<StreamReply> {
        let formatter = &*self.formatter;
        span.input(|| K::input_messages(input));
        let body = K::request(formatter, input, params, self.resolved.config.api_type)?;
        self.resolved.transport.post_stream(&Outgoing {
            body: &body,
            content_type: formatter.content_type(),
            accept: EVENT_STREAM,
            timeout: options.checked_timeout()?,
            headers: options.checked_headers()?,
        })
    }

    /// The parameters with the configured `model` added, unless they name one already.
    fn with_model<'a>(&self, mut params: Cow<'a, Map<String, Value>>) -> Cow<'a, Map<String, Value>> {
        if let Some(model) = &self.resolved.config.model {
            if !params.contains_key("model") {
                params.to_mut().insert("model".to_owned(), model.as_str().into());
            }
        }
        params
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.resolved.config
    }

    /// Replaces the primary or the secondary key (see `Transport::set_key`).
    pub fn set_key(&self, secondary: bool, key: crate::secret::ApiKey) -> Result<()> {
        self.resolved.transport.set_key(secondary, key)
    }

    pub fn formatter(&self) -> &Arc<K::Formatter> {
        &self.formatter
    }

    /// Where each setting came from, in file order, defaults included.
    pub fn sources(&self) -> Vec<(&'static str, Origin)> {
        self.resolved.settings.origins()
    }

    /// The config this client saves: every setting as resolved, never the key.
    pub fn config_map(&self) -> Map<String, Value> {
        self.resolved.settings.to_map()
    }
}
