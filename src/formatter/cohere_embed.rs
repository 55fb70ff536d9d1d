//! Cohere's own embeddings route on Azure (`…/v1/embed`), the `CohereEmbeddingsFormatter`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::embeddings::{refuse_param, Embeddings, EmbeddingsFormatter, Raw};
use super::to_body;
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::Usage;

pub(super) const TAG: &str = "cohere_embed";

/// Cohere's own route (`…/v1/embed`): `{"texts": [text, …], "input_type": "search_document",
/// …parameters}` (an `input_type` parameter wins: `search_query`, `classification`,
/// `clustering`) → `{"embeddings": [[number, …], …]}` or, with `embedding_types`,
/// `{"embeddings": {"float": […]}}` (else the first of `int8`, `uint8`, `binary`, `ubinary`,
/// as the numbers they are). Usage from `meta.billed_units.input_tokens`. Cohere takes at most
/// 96 texts per request, the default `batch_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CohereEmbeddingsFormatter;

const COHERE_SHAPE: &str =
    r#"{"embeddings": [[number, …], …]} or {"embeddings": {"float": [[number, …], …]}}"#;
/// Which of Cohere's embedding types is read when several came back.
const COHERE_TYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary", "base64"];

#[derive(Serialize)]
struct CohereRequest<'a> {
    texts: &'a [String],
    input_type: &'a Value,
    #[serde(flatten)]
    params: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct CohereReply {
    embeddings: CohereVectors,
    #[serde(default)]
    meta: Option<CohereMeta>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CohereVectors {
    Plain(Vec<Raw>),
    ByType(Map<String, Value>),
}

#[derive(Deserialize)]
struct CohereMeta {
    #[serde(default)]
    billed_units: Option<CohereUnits>,
}

#[derive(Deserialize)]
struct CohereUnits {
    #[serde(default)]
    input_tokens: Option<u64>,
}

impl EmbeddingsFormatter for CohereEmbeddingsFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Serverless]
    }

    fn format_request(&self, inputs: &[String], params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        refuse_param(params, "texts")?;
        let mut params = params.clone();
        let input_type = params
            .shift_remove("input_type")
            .unwrap_or_else(|| "search_document".into());
        let request = CohereRequest {
            texts: inputs,
            input_type: &input_type,
            params: &params,
        };
        to_body(TAG, &request)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Embeddings> {
        let bad = |why: &str| Error::response(TAG, api_type, &format!("{COHERE_SHAPE}{why}"), body);
        let reply: CohereReply = serde_json::from_slice(body).map_err(|_| bad(""))?;
        let raw = match reply.embeddings {
            CohereVectors::Plain(raw) => raw,
            CohereVectors::ByType(mut by_type) => {
                let chosen = COHERE_TYPES
                    .iter()
                    .find_map(|t| by_type.remove(*t))
                    .ok_or_else(|| bad("; one of the types float, int8, uint8, binary, ubinary"))?;
                Vec::<Raw>::deserialize(chosen).map_err(|_| bad(""))?
            }
        };
        let vectors = raw
            .into_iter()
            .map(Raw::into_vector)
            .collect::<std::result::Result<_, _>>()
            .map_err(bad)?;
        let tokens = reply
            .meta
            .and_then(|m| m.billed_units)
            .and_then(|u| u.input_tokens);
        Ok(Embeddings::new(vectors).with_usage(tokens.map(|n| Usage::new(n, 0, n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: Value) -> Map<String, Value> {
        json.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn cohere_sends_texts_and_input_type_and_reads_both_reply_shapes() -> Result<()> {
        let f = CohereEmbeddingsFormatter;
        let body = f.format_request(&["a".to_owned()], &Map::new(), ApiType::Serverless)?;
        assert_eq!(body, br#"{"texts":["a"],"input_type":"search_document"}"#);
        let query = params(serde_json::json!({"truncate": "END", "input_type": "search_query"}));
        let body = f.format_request(&["a".to_owned()], &query, ApiType::Serverless)?;
        assert_eq!(
            body,
            br#"{"texts":["a"],"input_type":"search_query","truncate":"END"}"#
        );
        let plain = br#"{"embeddings": [[1, 2]], "meta": {"billed_units": {"input_tokens": 4}}}"#;
        let e = f.format_response(plain, ApiType::Serverless)?;
        assert_eq!(
            (e.vectors, e.usage),
            (vec![vec![1.0, 2.0]], Some(Usage::new(4, 0, 4)))
        );
        let typed = br#"{"embeddings": {"int8": [[-3]], "float": [[0.25]]}}"#;
        assert_eq!(f.format_response(typed, ApiType::Serverless)?.vectors, [[0.25]]);
        let int8 = br#"{"embeddings": {"int8": [[-3, 7]]}}"#;
        assert_eq!(
            f.format_response(int8, ApiType::Serverless)?.vectors,
            [[-3.0, 7.0]]
        );
        Ok(())
    }
}
