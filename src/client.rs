//! The private core both clients share: validated settings, the transport and the formatter, and
//! the steps of one call. Each public client declares its whole API in its own file on top.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::{Builder, Formatter, Resolved};
use crate::chunk::StreamChunk;
use crate::config::{ApiType, ClientKind, EndpointConfig, Origin};
use crate::config_file::ConfigFile;
use crate::error::Result;
use crate::formatter::stream_chunk_shape;
use crate::options::CallOptions;
use crate::stream::CompletionStream;
use crate::transport::{Outgoing, ReplyMeta};

/// The `Accept` of streaming requests.
const EVENT_STREAM: &str = "text/event-stream";

/// A built client's state; the public clients hold it in an `Arc`, so clones share it.
#[derive(Debug)]
pub(crate) struct Core<F: ?Sized> {
    resolved: Resolved,
    formatter: Arc<F>,
}

impl<F: ?Sized + Formatter> Core<F> {
    /// Validates `builder`'s settings for a client of `kind`, with its formatter or `default`.
    pub fn build(
        builder: Builder<F>,
        kind: ClientKind,
        default: impl FnOnce() -> Arc<F>,
    ) -> Result<Arc<Self>> {
        let (resolved, formatter) = builder.resolve_for(kind, default)?;
        Ok(Arc::new(Core { resolved, formatter }))
    }

    /// One call: `request` encodes the input with the client's `model_kwargs` and the options
    /// merged, `response` reads the answer. Returns it with the service's request id and rate
    /// limits.
    pub fn call<T>(
        &self,
        options: &CallOptions,
        request: impl FnOnce(&F, &Map<String, Value>, ApiType) -> Result<Vec<u8>>,
        response: impl FnOnce(&F, &[u8], ApiType) -> Result<T>,
    ) -> Result<(T, ReplyMeta)> {
        let formatter = &*self.formatter;
        let api_type = self.resolved.config.api_type;
        let params = self.with_model(options.merge(&self.resolved.config.model_kwargs));
        let body = request(formatter, &params, api_type)?;
        let out = Outgoing {
            body: &body,
            content_type: formatter.content_type(),
            accept: formatter.accept(),
            timeout: options.checked_timeout()?,
            headers: options.checked_headers()?,
        };
        self.resolved
            .transport
            .exchange(&out, |body| response(formatter, body, api_type))
    }

    /// One streamed call. A dedicated endpoint does not stream: the answer `whole` reads is the
    /// one chunk. A serverless one gets the request `request` encodes with `"stream": true` in
    /// the parameters (so custom formatters see it too), and `parse` reads each event.
    pub fn stream(
        &self,
        options: &CallOptions,
        request: impl FnOnce(&F, &Map<String, Value>, ApiType) -> Result<Vec<u8>>,
        whole: impl FnOnce(&F, &[u8], ApiType) -> Result<StreamChunk>,
        parse: fn(&F, &[u8], ApiType) -> Option<StreamChunk>,
    ) -> Result<CompletionStream>
    where
        F: Send + Sync + 'static,
    {
        let config = &self.resolved.config;
        let api_type = config.api_type;
        let formatter = &*self.formatter;
        let dedicated = api_type == ApiType::Dedicated;
        if dedicated && !formatter.streams_on_dedicated() {
            let (chunk, meta) = self.call(options, request, whole)?;
            return Ok(CompletionStream::whole(chunk, meta.request_id).with_rate_limits(meta.rate_limits));
        }
        let mut params = self.with_model(options.merge(&config.model_kwargs)).into_owned();
        params.insert("stream".to_owned(), Value::Bool(true));
        let body = request(formatter, &params, api_type)?;
        let timeout = options.checked_timeout()?;
        let headers = options.checked_headers()?;
        let transport = &self.resolved.transport;
        let reply = transport.post_stream(&Outgoing {
            body: &body,
            content_type: formatter.content_type(),
            accept: EVENT_STREAM,
            timeout,
            headers,
        })?;
        let expected = stream_chunk_shape(formatter.tag());
        let formatter = Arc::clone(&self.formatter);
        let rate_limits = reply.rate_limits;
        Ok(CompletionStream::events(
            reply.body,
            reply.request_id,
            timeout.unwrap_or(config.timeout),
            transport.scrubber().clone(),
            Box::new(move |data| parse(&formatter, data, api_type)),
            expected,
            dedicated,
        )
        .with_rate_limits(rate_limits))
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

    pub fn formatter(&self) -> &Arc<F> {
        &self.formatter
    }

    pub fn sources(&self) -> &[(&'static str, Origin)] {
        &self.resolved.sources
    }

    /// The config this client saves, under `_type` `type_name`.
    pub fn config_map(&self, type_name: &str) -> Map<String, Value> {
        ConfigFile::saved(type_name, self.config(), &*self.formatter).into_map()
    }
}
