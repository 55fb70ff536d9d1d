//! Content formatters: how a prompt becomes a request body and a response becomes text.
//!
//! One model family per file. Built-ins are unit structs; users implement [`ContentFormatter`]
//! for their own models.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::chunk::StreamChunk;
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::{ChatCompletion, ChatMessage};
// What the formatter traits return, for implementors that import from here.
#[doc(no_inline)]
pub use crate::message::{Completion, Usage};

mod clip_text;
mod cohere_embed;
mod custom_openai;
mod custom_openai_chat;
mod dolly;
mod embeddings;
mod gpt2;
mod hf;
mod mistral_chat;
pub(crate) mod openai;
mod path;

pub use clip_text::ClipTextEmbeddingsFormatter;
pub use cohere_embed::CohereEmbeddingsFormatter;
pub use custom_openai::CustomOpenAiContentFormatter;
pub use custom_openai_chat::CustomOpenAiChatContentFormatter;
pub use dolly::DollyContentFormatter;
pub use embeddings::{embeddings_formatter, Embeddings, EmbeddingsFormatter, OpenAiEmbeddingsFormatter};
pub(crate) use embeddings::{embeddings_formatter_for_path, EMBEDDINGS_TAGS};
pub use gpt2::Gpt2ContentFormatter;
pub use hf::HfContentFormatter;
pub use mistral_chat::MistralChatContentFormatter;
pub use path::value_at;

/// The content type every built-in formatter sends and accepts.
pub(crate) const JSON: &str = "application/json";

/// Turns a prompt into a request body and a response body into a [`Completion`].
///
/// Implement it for a model family the built-ins do not cover, and pass it to
/// [`AzureMlOnlineEndpointBuilder::formatter`](crate::AzureMlOnlineEndpointBuilder::formatter).
///
/// ```
/// use azureml_endpoint::{ApiType, Completion, ContentFormatter, Result};
/// use serde_json::{json, Map, Value};
///
/// /// A model that takes `{"text": …}` and answers `{"answer": …}`.
/// #[derive(Debug)]
/// struct Plain;
///
/// impl ContentFormatter for Plain {
///     fn tag(&self) -> &str { "plain" }
///     fn supported_api_types(&self) -> &[ApiType] { &[ApiType::Dedicated] }
///     fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
///         Ok(serde_json::to_vec(&json!({"text": prompt, "parameters": params})).unwrap_or_default())
///     }
///     fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
///         let json: Value = azureml_endpoint::formatter::parse_json(self.tag(), api_type, body)?;
///         azureml_endpoint::formatter::text_at(self.tag(), api_type, body, &json, &["answer"])
///             .map(Completion::new)
///     }
/// }
/// # let c = Plain.format_response(br#"{"answer": "hi"}"#, ApiType::Dedicated)?;
/// # assert_eq!(c.text, "hi");
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
pub trait ContentFormatter: fmt::Debug + Send + Sync {
    /// The tag saved in config files (`formatter: {"_type": tag}`) and shown in errors.
    fn tag(&self) -> &str;

    /// The api types this formatter can talk to; building a client for another is an error.
    fn supported_api_types(&self) -> &[ApiType];

    /// The `Content-Type` of requests. Defaults to `application/json`.
    fn content_type(&self) -> &str {
        JSON
    }

    /// The `Accept` of non-streaming requests. Defaults to `application/json`.
    fn accept(&self) -> &str {
        JSON
    }

    /// The request body for `prompt` with the merged parameters.
    ///
    /// # Errors
    /// When the prompt or parameters cannot be encoded for this model.
    fn format_request(&self, prompt: &str, params: &Map<String, Value>, api_type: ApiType)
        -> Result<Vec<u8>>;

    /// The completion in a successful response body.
    ///
    /// # Errors
    /// [`Error::Response`] when the body is not the shape this model family answers with.
    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion>;

    /// The chunk in one streamed event's `data` (serverless streams only), or `None` when the
    /// event is not a chunk: the stream then ends with a service error (for `{"error": …}`) or a
    /// bad-event error, showing the event without the key. Defaults to the OpenAI shape:
    /// `choices[0].delta` or `choices[0].text`, with `finish_reason`, `logprobs` and `usage`.
    /// Events whose chunk carries nothing are skipped.
    fn parse_stream_event(&self, data: &[u8], api_type: ApiType) -> Option<StreamChunk> {
        let _ = api_type;
        openai::stream_chunk(data)
    }

    /// Settings saved next to the tag in config files. Defaults to none.
    fn settings(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// Turns a conversation into a request body and a response body into a [`ChatCompletion`].
///
/// The chat counterpart of [`ContentFormatter`], for
/// [`AzureMlChatOnlineEndpoint`](crate::AzureMlChatOnlineEndpoint).
pub trait ChatContentFormatter: fmt::Debug + Send + Sync {
    /// The tag saved in config files (`formatter: {"_type": tag}`) and shown in errors.
    fn tag(&self) -> &str;

    /// The api types this formatter can talk to; building a client for another is an error.
    fn supported_api_types(&self) -> &[ApiType];

    /// The `Content-Type` of requests. Defaults to `application/json`.
    fn content_type(&self) -> &str {
        JSON
    }

    /// The `Accept` of non-streaming requests. Defaults to `application/json`.
    fn accept(&self) -> &str {
        JSON
    }

    /// The request body for `messages` with the merged parameters.
    ///
    /// # Errors
    /// When the conversation cannot be sent to this model (e.g. it is empty).
    fn format_messages(
        &self,
        messages: &[ChatMessage],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>>;

    /// The reply in a successful response body.
    ///
    /// # Errors
    /// [`Error::Response`] when the body is not the shape this model family answers with.
    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<ChatCompletion>;

    /// The chunk in one streamed event's `data` (serverless streams only), or `None` when the
    /// event is not a chunk: the stream then ends with a service error (for `{"error": …}`) or a
    /// bad-event error, showing the event without the key. Defaults to the OpenAI shape:
    /// `choices[0].delta` or `choices[0].text`, with `finish_reason`, `logprobs` and `usage`.
    /// Events whose chunk carries nothing are skipped.
    fn parse_stream_event(&self, data: &[u8], api_type: ApiType) -> Option<StreamChunk> {
        let _ = api_type;
        openai::stream_chunk(data)
    }

    /// Settings saved next to the tag in config files. Defaults to none.
    fn settings(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// The built-in completion formatter for a tag, alias or Python class name.
///
/// ```
/// let f = azureml_endpoint::formatter::completion_formatter("GPT2ContentFormatter").unwrap();
/// assert_eq!(f.tag(), "gpt2");
/// ```
pub fn completion_formatter(tag: &str) -> Option<Arc<dyn ContentFormatter>> {
    Some(match tag {
        gpt2::TAG | "oss" | "GPT2ContentFormatter" | "OSSContentFormatter" => Arc::new(Gpt2ContentFormatter),
        hf::TAG | "HFContentFormatter" => Arc::new(HfContentFormatter),
        dolly::TAG | "DollyContentFormatter" => Arc::new(DollyContentFormatter),
        custom_openai::TAG | "llama" | "CustomOpenAIContentFormatter" | "LlamaContentFormatter" => {
            Arc::new(CustomOpenAiContentFormatter)
        }
        _ => return None,
    })
}

/// The tags [`completion_formatter`] knows, for error messages.
pub(crate) const COMPLETION_TAGS: &[&str] =
    &[gpt2::TAG, "oss", hf::TAG, dolly::TAG, custom_openai::TAG, "llama"];

/// The built-in chat formatter for a tag, alias or Python class name.
///
/// ```
/// let f = azureml_endpoint::formatter::chat_formatter("llama_chat").unwrap();
/// assert_eq!(f.tag(), "custom_openai_chat");
/// ```
pub fn chat_formatter(tag: &str) -> Option<Arc<dyn ChatContentFormatter>> {
    Some(match tag {
        custom_openai_chat::TAG
        | "llama_chat"
        | "CustomOpenAIChatContentFormatter"
        | "LlamaChatContentFormatter" => Arc::new(CustomOpenAiChatContentFormatter),
        mistral_chat::TAG | "MistralChatContentFormatter" => Arc::new(MistralChatContentFormatter),
        _ => return None,
    })
}

/// The tags [`chat_formatter`] knows, for error messages.
pub(crate) const CHAT_TAGS: &[&str] = &[custom_openai_chat::TAG, "llama_chat", mistral_chat::TAG];

/// What a streamed chunk of formatter `tag` looks like, for the error an event that is not one
/// gives: the OpenAI shape for the built-ins, the formatter's own for a user's.
pub(crate) fn stream_chunk_shape(tag: &str) -> String {
    if COMPLETION_TAGS.contains(&tag) || CHAT_TAGS.contains(&tag) {
        openai::CHUNK_SHAPE.to_owned()
    } else {
        format!("a chunk formatter `{tag}` reads")
    }
}

/// Parses a response body as JSON, or gives the response error for `formatter`.
///
/// # Errors
/// [`Error::Response`] when the body is empty, not UTF-8 or not JSON.
pub fn parse_json(formatter: &str, api_type: ApiType, body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|_| Error::response(formatter, api_type, "a JSON body", body))
}

/// The string at the first of `paths` that holds one, where `[n]` is a list item and `.name` an
/// object key (see [`value_at`]): `"[0].0"` reads `[{"0": text}]`, `"choices[0].text"` reads
/// `{"choices": [{"text": text}]}`.
///
/// # Errors
/// [`Error::Response`] showing the shapes `paths` read when none holds a string: an object where
/// a list is expected, or a number, object or null where text is expected, is not text.
pub fn text_at(
    formatter: &str,
    api_type: ApiType,
    body: &[u8],
    json: &Value,
    paths: &[&str],
) -> Result<String> {
    paths
        .iter()
        .find_map(|p| value_at(json, p).and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| {
            let shapes: Vec<_> = paths.iter().map(|p| path::shape(p, "string")).collect();
            Error::response(formatter, api_type, &shapes.join(" or "), body)
        })
}

/// The completion whose text is at the first of `paths` (see [`text_at`]).
pub(crate) fn completion_at(
    formatter: &str,
    api_type: ApiType,
    body: &[u8],
    paths: &[&str],
) -> Result<Completion> {
    let json = parse_json(formatter, api_type, body)?;
    text_at(formatter, api_type, body, &json, paths).map(Completion::new)
}

/// Serializes a request body; serde_json only fails here on non-string map keys, which a
/// `Map<String, Value>` cannot have, but the error is still typed rather than a panic.
pub(crate) fn to_body(formatter: &str, value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        Error::config(
            "model_kwargs",
            crate::config::Origin::Argument,
            format!("cannot encode request for `{formatter}`: {e}"),
        )
    })
}
