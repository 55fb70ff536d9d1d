//! What a client tells an operator: one `tracing` span per call, events for attempts, waits,
//! tokens and key switches, and metrics as events in `tracing-opentelemetry`'s `MetricsLayer`
//! convention (the README's "Observability" lists the names).
//!
//! The names and the facts a span is built from live here; `telemetry/span.rs` (a call's span) and
//! `telemetry/events.rs` (the transport's events) emit them through `tracing` (feature
//! `tracing`, default), and `telemetry/off.rs` is the same API doing nothing.
//! Every text a span or event records that a server, a user or a credential supplied passes
//! through the client's [`Scrubber`](crate::secret::Scrubber) first.
// Without `tracing`, the facts and names are made but nobody reads them.
#![cfg_attr(not(feature = "tracing"), allow(dead_code))]

use serde_json::{json, Map, Value};

use crate::config::{ApiType, ParsedUrl};
use crate::content::ContentPart;
use crate::error::{Error, StreamErrorKind, TransportErrorKind};
use crate::message::ChatMessage;
use crate::secret::Scrubber;

#[cfg(feature = "tracing")]
mod events;
#[cfg(not(feature = "tracing"))]
mod off;
#[cfg(feature = "tracing")]
mod span;

#[cfg(feature = "tracing")]
#[allow(unused_imports)] // `key_switched`: the hook key failover calls.
pub(crate) use events::{
    attempt, headers, key_switched, paused, retry_wait, token_failed, token_fetched, AttemptTimer, Context,
};
#[cfg(not(feature = "tracing"))]
#[allow(unused_imports)] // `key_switched`: the hook key failover calls.
pub(crate) use off::{
    attempt, headers, key_switched, paused, retry_wait, token_failed, token_fetched, AttemptTimer, CallSpan,
    Context,
};
#[cfg(feature = "tracing")]
pub(crate) use span::CallSpan;

/// The target of every span and event (`RUST_LOG=azureml_endpoint=debug`).
pub(crate) const TARGET: &str = "azureml_endpoint";
/// The target of the metric events, so a log can leave them out
/// (`RUST_LOG=azureml_endpoint=info,azureml_endpoint::metrics=off`).
pub(crate) const METRICS_TARGET: &str = "azureml_endpoint::metrics";

/// `gen_ai.provider.name` of a dedicated `/score` endpoint: the conventions have no well-known
/// value for Azure ML managed online endpoints, so this one is ours.
pub(crate) const PROVIDER_ONLINE_ENDPOINT: &str = "azure.ml.online_endpoint";
/// `gen_ai.provider.name` of serverless (models-as-a-service, Foundry) routes.
pub(crate) const PROVIDER_INFERENCE: &str = "azure.ai.inference";
/// `gen_ai.provider.name` of Azure OpenAI routes.
pub(crate) const PROVIDER_OPENAI: &str = "azure.ai.openai";

/// `gen_ai.operation.name`: what kind of call a client makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    TextCompletion,
    Chat,
    Embeddings,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::TextCompletion => "text_completion",
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// What every span of one client says about it, worked out once at build.
#[derive(Debug)]
pub(crate) struct ClientFacts {
    pub operation: Operation,
    pub provider: &'static str,
    pub address: String,
    pub port: u16,
    /// The `model` setting, the request model unless a call's parameters name another.
    pub model: Option<String>,
    /// The span's name with that model (`chat gpt-4o`), made once.
    pub span_name: String,
    pub deployment: Option<String>,
    /// The auth mode's name, never a key or token.
    pub auth: &'static str,
    /// Prompts and replies are recorded (`capture_message_content`).
    pub capture_content: bool,
}

impl ClientFacts {
    /// The facts of a client; `scrubber` removes its key from the names it was given.
    pub(crate) fn new(
        operation: Operation,
        url: &ParsedUrl,
        config: &crate::config::EndpointConfig,
        scrubber: &Scrubber,
    ) -> Self {
        let scrubbed = |name: &str| scrubber.scrub(name).into_owned();
        let model = config.model.as_deref().map(scrubbed);
        ClientFacts {
            operation,
            provider: provider(config.api_type, url),
            address: scrubbed(&url.host),
            port: url.port,
            span_name: span_name(operation, model.as_deref()),
            model,
            deployment: config.deployment_name.as_deref().map(scrubbed),
            auth: config.auth.as_str(),
            capture_content: config.capture_message_content,
        }
    }
}

/// `{gen_ai.operation.name} {gen_ai.request.model}`, or the operation alone with no model.
pub(crate) fn span_name(operation: Operation, model: Option<&str>) -> String {
    match model {
        Some(model) => format!("{} {model}", operation.as_str()),
        None => operation.as_str().to_owned(),
    }
}

/// `gen_ai.provider.name` for an endpoint: by api type, then by host or route.
fn provider(api_type: ApiType, url: &ParsedUrl) -> &'static str {
    match api_type {
        ApiType::Dedicated => PROVIDER_ONLINE_ENDPOINT,
        ApiType::Serverless
            if url.host.to_ascii_lowercase().ends_with(".openai.azure.com")
                || url.path.contains("/openai/") =>
        {
            PROVIDER_OPENAI
        }
        ApiType::Serverless => PROVIDER_INFERENCE,
    }
}

/// `error.type`: the HTTP status, or a short class of what failed.
pub(crate) fn error_type(error: &Error) -> String {
    let class = match error {
        Error::Http(e) => return e.status.to_string(),
        Error::Transport(e) => match e.kind {
            TransportErrorKind::Dns => "dns",
            TransportErrorKind::Proxy => "proxy",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::ConnectTimeout => "connect_timeout",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Reset => "reset",
            TransportErrorKind::TooLarge => "too_large",
            TransportErrorKind::Redirect => "redirect",
            TransportErrorKind::Tls => "tls",
            TransportErrorKind::Other => "transport",
        },
        Error::Response(_) => "response_shape",
        Error::Stream(e) => match e.kind {
            StreamErrorKind::Truncated => "stream_cut",
            StreamErrorKind::BadEvent => "stream_bad_event",
            StreamErrorKind::EventTooLarge => "stream_event_too_large",
            StreamErrorKind::ServiceError => "stream_error_event",
            StreamErrorKind::Timeout => "stream_timeout",
        },
        Error::Input(_) => "input",
        Error::Credential(_) => "credential",
        _ => "_OTHER",
    };
    class.to_owned()
}

/// How many attempts an error says were made, when it says.
pub(crate) fn error_attempts(error: &Error) -> Option<u32> {
    match error {
        Error::Http(e) => Some(e.attempts),
        Error::Transport(e) => Some(e.attempts),
        _ => None,
    }
}

/// A prompt as `gen_ai.input.messages`.
pub(crate) fn prompt_messages(prompt: &str) -> Value {
    json!([{"role": "user", "parts": [{"type": "text", "content": prompt}]}])
}

/// A conversation as `gen_ai.input.messages`: text, tool calls and tool results as parts. Image
/// URLs lose their query (a signed URL's signature) and data URLs their data.
pub(crate) fn chat_messages(messages: &[ChatMessage]) -> Value {
    Value::Array(messages.iter().map(chat_message).collect())
}

fn chat_message(message: &ChatMessage) -> Value {
    let mut parts = Vec::new();
    if let Some(id) = &message.tool_call_id {
        parts.push(json!({"type": "tool_call_response", "id": id, "response": message.text()}));
    } else {
        if let Some(text) = &message.content {
            parts.push(json!({"type": "text", "content": text}));
        }
        parts.extend(message.parts.iter().map(content_part));
    }
    parts.extend(tool_call_parts(message));
    json!({"role": message.role.as_str(), "parts": parts})
}

fn content_part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text(text) => json!({"type": "text", "content": text}),
        ContentPart::ImageUrl { url, .. }
            if url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("data:")) =>
        {
            let mime = url
                .get(5..)
                .and_then(|rest| rest.split([';', ',']).next())
                .unwrap_or("");
            json!({"type": "blob", "modality": "image", "mime_type": mime})
        }
        ContentPart::ImageUrl { url, .. } => {
            let bare = url.split(['?', '#']).next().unwrap_or_default();
            json!({"type": "uri", "modality": "image", "uri": bare})
        }
        ContentPart::Other(map) => {
            let kind = map.get("type").and_then(Value::as_str).unwrap_or("unknown");
            json!({"type": kind})
        }
    }
}

/// A reply as `gen_ai.output.messages`: one assistant message.
pub(crate) fn reply_messages(text: &str, tool_calls: &[Value], finish_reason: Option<&str>) -> Value {
    let mut parts = Vec::new();
    if !text.is_empty() || tool_calls.is_empty() {
        parts.push(json!({"type": "text", "content": text}));
    }
    parts.extend(tool_calls.iter().cloned());
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("parts".into(), parts.into());
    if let Some(reason) = finish_reason {
        message.insert("finish_reason".into(), reason.into());
    }
    json!([message])
}

/// A chat reply's tool calls as output parts.
pub(crate) fn tool_call_parts(message: &ChatMessage) -> Vec<Value> {
    message
        .tool_calls
        .iter()
        .map(|call| {
            json!({"type": "tool_call", "id": call.id, "name": call.function.name,
                   "arguments": call.function.arguments})
        })
        .collect()
}

/// What a finished answer says for its span.
#[derive(Debug, Default)]
pub(crate) struct Answer<'a> {
    pub finish_reason: Option<&'a str>,
    pub usage: Option<&'a crate::message::Usage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_url;
    use crate::error::HttpError;

    fn provider_of(api_type: ApiType, url: &str) -> &'static str {
        provider(api_type, &parse_url(url).unwrap())
    }

    #[test]
    fn provider_by_api_type_host_and_route() {
        assert_eq!(
            provider_of(
                ApiType::Dedicated,
                "https://e.eastus2.inference.ml.azure.com/score"
            ),
            "azure.ml.online_endpoint"
        );
        assert_eq!(
            provider_of(
                ApiType::Serverless,
                "https://m.eastus2.models.ai.azure.com/v1/chat/completions"
            ),
            "azure.ai.inference"
        );
        assert_eq!(
            provider_of(
                ApiType::Serverless,
                "https://r.OpenAI.azure.com/openai/deployments/x/chat/completions"
            ),
            "azure.ai.openai"
        );
        assert_eq!(
            provider_of(
                ApiType::Serverless,
                "https://r.services.ai.azure.com/openai/v1/chat/completions"
            ),
            "azure.ai.openai"
        );
    }

    #[test]
    fn error_types_are_statuses_or_short_classes() {
        let http = Error::Http(Box::new(HttpError {
            status: 429,
            message: None,
            request_id: None,
            model_status: None,
            model_reason: None,
            attempts: 4,
            retry_after: None,
            rate_limits: Default::default(),
            content_filter: None,
            signed_with: None,
        }));
        assert_eq!(error_type(&http), "429");
        assert_eq!(error_attempts(&http), Some(4));
        assert_eq!(
            error_type(&Error::stream(StreamErrorKind::Truncated, "x")),
            "stream_cut"
        );
        assert_eq!(error_type(&Error::input("x")), "input");
    }

    #[test]
    fn images_lose_signatures_and_data() {
        let message = ChatMessage::user("look").with_parts([
            ContentPart::image_url("https://blob.example/cat.png?sig=SECRET&se=1").unwrap(),
            ContentPart::image_url("data:image/png;base64,AAAA").unwrap(),
        ]);
        assert_eq!(
            chat_messages(&[message]),
            json!([{"role": "user", "parts": [
                {"type": "text", "content": "look"},
                {"type": "uri", "modality": "image", "uri": "https://blob.example/cat.png"},
                {"type": "blob", "modality": "image", "mime_type": "image/png"},
            ]}])
        );
    }

    #[test]
    fn replies_are_one_assistant_message() {
        assert_eq!(
            reply_messages("hi", &[], Some("stop")),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}], "finish_reason": "stop"}])
        );
    }
}
