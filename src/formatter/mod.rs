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

mod catalog;
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
mod promptflow;

pub use crate::reasoning::split_think;
pub use catalog::CatalogContentFormatter;
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
pub use promptflow::PromptFlowContentFormatter;

/// The content type every built-in formatter sends and accepts.
pub(crate) const JSON: &str = "application/json";

/// Where the text is in every reply the Azure ML model catalog documents for a text-generation
/// model on a dedicated endpoint (its cards' "Sample inputs and outputs"), whichever request
/// shape asked: `["T"]` (gpt2, dolly-v2, orca-2 since late 2023), `[{"0": "T"}]` (Llama 2,
/// Falcon, phi-2, DeciLM, FLOR and the 2023 gpt2), `{"output": "T"}` and `{"output": ["T"]}`
/// (phi-1.5), and the Hugging Face `[{"generated_text": "T"}]` and `[{"0": {"generated_text":
/// "T"}}]`. The reply shape follows the serving container, not the request, so every built-in
/// completion formatter reads them all; anything else is still the wrong-shape error.
pub(crate) const CATALOG_REPLIES: &[&str] = &[
    "[0]",
    "[0].0",
    "output",
    "output[0]",
    "[0].generated_text",
    "[0].0.generated_text",
];

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

    /// The completion in a successful response body. For a reasoning model, put its thinking in
    /// [`Completion::reasoning`] ([`split_think`] splits a leading `<think>` block off); streams
    /// split such a block off by themselves.
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

    /// Whether this formatter streams on a dedicated endpoint: its `/score` answers a request
    /// with `Accept: text/event-stream` with events [`parse_stream_event`](Self::parse_stream_event)
    /// reads, until the body ends (there is no `[DONE]`: a clean end of the body is the end of
    /// the answer, a broken connection is still an incomplete one). Defaults to `false`: a
    /// dedicated endpoint's stream is then its whole answer as one chunk.
    fn streams_on_dedicated(&self) -> bool {
        false
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

    /// The reply in a successful response body (a reasoning model's thinking in
    /// [`ChatCompletion::reasoning`], as for [`ContentFormatter::format_response`]).
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

    /// Whether this formatter streams on a dedicated endpoint: its `/score` answers a request
    /// with `Accept: text/event-stream` with events [`parse_stream_event`](Self::parse_stream_event)
    /// reads, until the body ends (there is no `[DONE]`: a clean end of the body is the end of
    /// the answer, a broken connection is still an incomplete one). Defaults to `false`: a
    /// dedicated endpoint's stream is then its whole answer as one chunk.
    fn streams_on_dedicated(&self) -> bool {
        false
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
        catalog::TAG => Arc::new(CatalogContentFormatter),
        promptflow::TAG => Arc::new(PromptFlowContentFormatter::default()),
        hf::TAG | "HFContentFormatter" => Arc::new(HfContentFormatter),
        dolly::TAG | "DollyContentFormatter" => Arc::new(DollyContentFormatter),
        custom_openai::TAG | "llama" | "CustomOpenAIContentFormatter" | "LlamaContentFormatter" => {
            Arc::new(CustomOpenAiContentFormatter)
        }
        _ => return None,
    })
}

/// The tags [`completion_formatter`] knows, for error messages.
pub(crate) const COMPLETION_TAGS: &[&str] = &[
    gpt2::TAG,
    "oss",
    hf::TAG,
    dolly::TAG,
    custom_openai::TAG,
    "llama",
    catalog::TAG,
    promptflow::TAG,
];

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
        promptflow::TAG => Arc::new(PromptFlowContentFormatter::default()),
        _ => return None,
    })
}

/// The tags [`chat_formatter`] knows, for error messages.
pub(crate) const CHAT_TAGS: &[&str] = &[
    custom_openai_chat::TAG,
    "llama_chat",
    mistral_chat::TAG,
    promptflow::TAG,
];

/// How the registry makes a built-in formatter from a tag and its settings.
pub(crate) type Builtin<T> = fn(&str, &Map<String, Value>) -> Option<std::result::Result<Arc<T>, String>>;

/// A built-in completion formatter made from a config file's settings for it; `None` for a tag
/// no built-in has. Only the prompt flow formatter takes settings.
pub(crate) fn completion_formatter_with(
    tag: &str,
    settings: &Map<String, Value>,
) -> Option<std::result::Result<Arc<dyn ContentFormatter>, String>> {
    if tag == promptflow::TAG {
        let flow = PromptFlowContentFormatter::from_settings(settings)
            .map_err(|e| format!("formatter `{tag}`: {e}"));
        return Some(flow.map(|f| Arc::new(f) as Arc<dyn ContentFormatter>));
    }
    let formatter = completion_formatter(tag)?;
    Some(no_settings(tag, settings).map(|()| formatter))
}

/// The chat counterpart of [`completion_formatter_with`].
pub(crate) fn chat_formatter_with(
    tag: &str,
    settings: &Map<String, Value>,
) -> Option<std::result::Result<Arc<dyn ChatContentFormatter>, String>> {
    if tag == promptflow::TAG {
        let flow = PromptFlowContentFormatter::from_settings(settings)
            .map_err(|e| format!("formatter `{tag}`: {e}"));
        return Some(flow.map(|f| Arc::new(f) as Arc<dyn ChatContentFormatter>));
    }
    let formatter = chat_formatter(tag)?;
    Some(no_settings(tag, settings).map(|()| formatter))
}

/// The embeddings counterpart of [`completion_formatter_with`]: no built-in takes settings.
pub(crate) fn embeddings_formatter_with(
    tag: &str,
    settings: &Map<String, Value>,
) -> Option<std::result::Result<Arc<dyn EmbeddingsFormatter>, String>> {
    let formatter = embeddings_formatter(tag)?;
    Some(no_settings(tag, settings).map(|()| formatter))
}

fn no_settings(tag: &str, settings: &Map<String, Value>) -> std::result::Result<(), String> {
    match settings.keys().next() {
        Some(setting) => Err(format!("formatter `{tag}` takes no settings; remove `{setting}`")),
        None => Ok(()),
    }
}

/// What a streamed chunk of formatter `tag` looks like, for the error an event that is not one
/// gives: the OpenAI shape for the built-ins, the formatter's own for a user's.
pub(crate) fn stream_chunk_shape(tag: &str) -> String {
    if tag == promptflow::TAG {
        "a prompt flow event (a JSON object whose output field, if any, is a string)".to_owned()
    } else if COMPLETION_TAGS.contains(&tag) || CHAT_TAGS.contains(&tag) {
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
    text_at(formatter, api_type, body, &json, paths).map(|text| answer(&text))
}

/// The completion of a whole text: a leading `<think>` block is its reasoning.
pub(crate) fn answer(text: &str) -> Completion {
    let (reasoning, text) = split_think(text);
    Completion {
        reasoning,
        ..Completion::new(text)
    }
}

/// The string at `path`, if there is one: for optional text fields such as
/// `reasoning_content`, where anything else means absent.
pub(crate) fn string_at(json: &Value, path: &str) -> Option<String> {
    value_at(json, path).and_then(Value::as_str).map(str::to_owned)
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
