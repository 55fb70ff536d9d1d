//! Embeddings formatters: how a list of texts becomes a request body and a response body becomes
//! one vector per text. The trait, what it returns, how a vector is read (numbers or base64), and
//! the default shape, OpenAI's (serverless, Azure OpenAI, Model Inference); Cohere's native
//! `/v1/embed` is in `cohere_embed.rs`, CLIP's `/score` in `clip_text.rs`.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::clip_text::{ClipTextEmbeddingsFormatter, TAG as CLIP_TAG};
use super::cohere_embed::{CohereEmbeddingsFormatter, TAG as COHERE_TAG};
use super::{to_body, JSON};
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::Usage;
use crate::rate_limit::RateLimits;

/// The vectors of a list of inputs: one per input, in input order.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Embeddings {
    /// One vector per input, in input order (whatever order the service listed them in).
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read, when the service counts them (`completion_tokens` is 0); summed over the
    /// requests of a batch.
    pub usage: Option<Usage>,
    /// The model the service named, if it did.
    pub model: Option<String>,
    /// The service's request ids, one per request in input order, where it gave one.
    pub request_ids: Vec<String>,
    /// The `x-ratelimit-*` headers of the last request.
    pub rate_limits: RateLimits,
}

impl Embeddings {
    /// Vectors with no usage or model, as a formatter makes them.
    pub fn new(vectors: Vec<Vec<f32>>) -> Self {
        Embeddings {
            vectors,
            ..Embeddings::default()
        }
    }

    /// With the token counts the service sent.
    pub fn with_usage(mut self, usage: Option<Usage>) -> Self {
        self.usage = usage;
        self
    }

    /// With the model the service named.
    pub fn with_model(mut self, model: Option<String>) -> Self {
        self.model = model;
        self
    }
}

/// Turns a list of texts into a request body and a response body into [`Embeddings`], for
/// [`AzureMlEmbeddingsEndpoint`](crate::embeddings::AzureMlEmbeddingsEndpoint).
///
/// Implement it for a dedicated (`/score`) deployment whose shape the built-ins do not cover.
///
/// ```
/// use azureml_endpoint::{ApiType, Result};
/// use azureml_endpoint::formatter::{parse_json, Embeddings, EmbeddingsFormatter};
/// use serde_json::{json, Map, Value};
///
/// /// A model that takes `{"sentences": […]}` and answers `{"vectors": [[…], …]}`.
/// #[derive(Debug)]
/// struct Sentences;
///
/// impl EmbeddingsFormatter for Sentences {
///     fn tag(&self) -> &str { "sentences" }
///     fn supported_api_types(&self) -> &[ApiType] { &[ApiType::Dedicated] }
///     fn format_request(&self, inputs: &[String], _: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
///         Ok(serde_json::to_vec(&json!({"sentences": inputs})).unwrap_or_default())
///     }
///     fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Embeddings> {
///         let json = parse_json(self.tag(), api_type, body)?;
///         let vectors = serde_json::from_value(json["vectors"].clone()).unwrap_or_default();
///         Ok(Embeddings::new(vectors))
///     }
/// }
/// # let e = Sentences.format_response(br#"{"vectors": [[0.5, 1]]}"#, ApiType::Dedicated)?;
/// # assert_eq!(e.vectors, [[0.5, 1.0]]);
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
pub trait EmbeddingsFormatter: fmt::Debug + Send + Sync {
    /// The tag saved in config files (`formatter: {"_type": tag}`) and shown in errors.
    fn tag(&self) -> &str;

    /// The api types this formatter can talk to; building a client for another is an error.
    fn supported_api_types(&self) -> &[ApiType];

    /// The `Content-Type` of requests. Defaults to `application/json`.
    fn content_type(&self) -> &str {
        JSON
    }

    /// The `Accept` of requests. Defaults to `application/json`.
    fn accept(&self) -> &str {
        JSON
    }

    /// The request body for one request's `inputs` (at most `batch_size` of them) with the
    /// merged parameters.
    ///
    /// # Errors
    /// When the inputs or parameters cannot be encoded for this model.
    fn format_request(
        &self,
        inputs: &[String],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>>;

    /// The vectors in a successful response body, in the order of the request's inputs. The
    /// client checks there is one per input.
    ///
    /// # Errors
    /// [`Error::Response`] when the body is not the shape this model family answers with.
    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Embeddings>;

    /// Settings saved next to the tag in config files. Defaults to none.
    fn settings(&self) -> Map<String, Value> {
        Map::new()
    }
}

const OPENAI_TAG: &str = "openai_embeddings";

/// The tags [`embeddings_formatter`] knows, for error messages.
pub(crate) const EMBEDDINGS_TAGS: &[&str] = &[OPENAI_TAG, COHERE_TAG, CLIP_TAG];

/// The built-in embeddings formatter for a tag.
///
/// ```
/// let f = azureml_endpoint::formatter::embeddings_formatter("cohere_embed").unwrap();
/// assert_eq!(f.tag(), "cohere_embed");
/// ```
pub fn embeddings_formatter(tag: &str) -> Option<Arc<dyn EmbeddingsFormatter>> {
    Some(match tag {
        OPENAI_TAG => Arc::new(OpenAiEmbeddingsFormatter),
        COHERE_TAG => Arc::new(CohereEmbeddingsFormatter),
        CLIP_TAG => Arc::new(ClipTextEmbeddingsFormatter),
        _ => return None,
    })
}

/// The formatter a URL's path calls for when none is named: Cohere's for `…/embed`, CLIP's for a
/// dedicated `…/score`, OpenAI's otherwise.
pub(crate) fn embeddings_formatter_for_path(path: &str) -> Arc<dyn EmbeddingsFormatter> {
    if path.ends_with("/embed") {
        Arc::new(CohereEmbeddingsFormatter)
    } else if path.ends_with("/score") {
        Arc::new(ClipTextEmbeddingsFormatter)
    } else {
        Arc::new(OpenAiEmbeddingsFormatter)
    }
}

/// The OpenAI shape, on serverless and Foundry (`…/v1/embeddings`, `…/embeddings`), Azure AI
/// Model Inference (`…/models/embeddings`) and Azure OpenAI (`…/openai/deployments/<d>/embeddings`,
/// `…/openai/v1/embeddings`): `{"input": [text, …], …parameters}` → `{"data": [{"index",
/// "embedding"}], "model", "usage"}`. Vectors are put in `index` order; an embedding sent as
/// base64 (`encoding_format: "base64"`) is decoded as little-endian `f32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenAiEmbeddingsFormatter;

const OPENAI_SHAPE: &str =
    r#"{"data": [{"index": n, "embedding": [number, …] or base64 text}, …], "usage": {…}}"#;

#[derive(Serialize)]
struct OpenAiRequest<'a> {
    input: &'a [String],
    #[serde(flatten)]
    params: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct OpenAiReply {
    data: Vec<OpenAiItem>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct OpenAiItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Raw,
}

impl EmbeddingsFormatter for OpenAiEmbeddingsFormatter {
    fn tag(&self) -> &str {
        OPENAI_TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Serverless]
    }

    fn format_request(&self, inputs: &[String], params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        refuse_param(params, "input")?;
        to_body(
            OPENAI_TAG,
            &OpenAiRequest {
                input: inputs,
                params,
            },
        )
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Embeddings> {
        let bad = |why: &str| Error::response(OPENAI_TAG, api_type, &format!("{OPENAI_SHAPE}{why}"), body);
        let reply: OpenAiReply = serde_json::from_slice(body).map_err(|_| bad(""))?;
        let count = reply.data.len();
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; count];
        for (position, item) in reply.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            let vector = item.embedding.into_vector().map_err(bad)?;
            match slots.get_mut(index) {
                Some(slot @ None) => *slot = Some(vector),
                _ => return Err(bad("; each index from 0 once")),
            }
        }
        // Every slot is filled: `count` distinct indexes below `count`.
        let vectors = slots.into_iter().flatten().collect();
        Ok(Embeddings::new(vectors)
            .with_usage(reply.usage)
            .with_model(reply.model))
    }
}

/// A parameter the formatter fills from the inputs.
pub(super) fn refuse_param(params: &Map<String, Value>, owned: &str) -> Result<()> {
    if params.contains_key(owned) {
        return Err(Error::input(format!(
            "`{owned}` is set from the inputs you pass; remove it from the parameters"
        )));
    }
    Ok(())
}

/// One embedding as sent: numbers (floats, or the integers of the int8/binary formats) or base64
/// text. Read without an intermediate `Value`, so a large batch costs one pass.
pub(super) enum Raw {
    Numbers(Vec<f32>),
    Base64(String),
}

impl Raw {
    /// The vector, or why it is not one (for the error's expected shape).
    pub(super) fn into_vector(self) -> std::result::Result<Vec<f32>, &'static str> {
        let vector = match self {
            Raw::Numbers(numbers) => numbers,
            Raw::Base64(text) => {
                let bytes =
                    crate::base64::decode(&text).ok_or("; base64 embeddings in the standard alphabet")?;
                if bytes.len() % 4 != 0 {
                    return Err("; base64 embeddings of whole little-endian f32s (a multiple of 4 bytes)");
                }
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([0, 1, 2, 3].map(|i| b.get(i).copied().unwrap_or(0))))
                    .collect()
            }
        };
        // A number past f32's range reads as infinite; NaN can come in base64. Either would
        // poison every similarity computed with it.
        if vector.iter().all(|x| x.is_finite()) {
            Ok(vector)
        } else {
            Err("; finite numbers within f32's range")
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct RawVisitor;

        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of numbers or base64 text")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Raw, A::Error> {
                // The hint is the server's word: capped so it cannot reserve much up front.
                let mut numbers = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(x) = seq.next_element::<f32>()? {
                    numbers.push(x);
                }
                Ok(Raw::Numbers(numbers))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Raw, E> {
                Ok(Raw::Base64(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> std::result::Result<Raw, E> {
                Ok(Raw::Base64(text))
            }
        }

        deserializer.deserialize_any(RawVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    fn params(json: Value) -> Map<String, Value> {
        json.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn openai_orders_by_index_and_decodes_base64() -> Result<()> {
        let f = OpenAiEmbeddingsFormatter;
        let body = f.format_request(
            &inputs(&["a", "b"]),
            &params(serde_json::json!({"dimensions": 2})),
            ApiType::Serverless,
        )?;
        assert_eq!(body, br#"{"input":["a","b"],"dimensions":2}"#);
        // 1.0 and -2.5 as little-endian f32s.
        let reply =
            br#"{"data": [{"index": 1, "embedding": "AACAPwAAIMA="}, {"index": 0, "embedding": [0.5, -1]}],
            "model": "m", "usage": {"prompt_tokens": 3, "total_tokens": 3}}"#;
        let e = f.format_response(reply, ApiType::Serverless)?;
        assert_eq!(e.vectors, [vec![0.5, -1.0], vec![1.0, -2.5]]);
        assert_eq!(e.usage, Some(Usage::new(3, 0, 3)));
        assert_eq!(e.model.as_deref(), Some("m"));
        Ok(())
    }

    #[test]
    fn openai_refuses_bad_indexes_lengths_and_numbers() {
        let f = OpenAiEmbeddingsFormatter;
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]}"#,
                "; each index from 0 once",
            ),
            (
                br#"{"data": [{"index": 2, "embedding": [1]}]}"#,
                "; each index from 0 once",
            ),
            (
                br#"{"data": [{"index": 0, "embedding": "AACAPwA="}]}"#,
                "; base64 embeddings of whole little-endian f32s (a multiple of 4 bytes)",
            ),
            (
                br#"{"data": [{"index": 0, "embedding": "not base64!"}]}"#,
                "; base64 embeddings in the standard alphabet",
            ),
            (
                br#"{"data": [{"index": 0, "embedding": [1e39]}]}"#,
                "; finite numbers within f32's range",
            ),
            (
                br#"{"data": [{"index": 0, "embedding": "AADAfw=="}]}"#,
                "; finite numbers within f32's range",
            ),
            (br#"{"data": [{"index": 0, "embedding": {"x": 1}}]}"#, ""),
        ];
        for (body, why) in cases {
            match f.format_response(body, ApiType::Serverless) {
                Err(Error::Response(e)) => assert_eq!(e.expected, format!("{OPENAI_SHAPE}{why}")),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_path_picks_the_default_formatter() {
        assert_eq!(embeddings_formatter_for_path("/v1/embed").tag(), COHERE_TAG);
        assert_eq!(embeddings_formatter_for_path("/score").tag(), CLIP_TAG);
        assert_eq!(
            embeddings_formatter_for_path("/openai/v1/embeddings").tag(),
            OPENAI_TAG
        );
    }
}
