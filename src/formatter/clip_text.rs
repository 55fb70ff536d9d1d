//! OpenAI CLIP's text embeddings on a dedicated `/score` deployment of the Azure ML catalog, the
//! `ClipTextEmbeddingsFormatter`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::embeddings::{Embeddings, EmbeddingsFormatter, Raw};
use super::to_body;
use crate::config::ApiType;
use crate::error::{Error, Result};

pub(super) const TAG: &str = "clip_text_embeddings";

/// OpenAI CLIP's text embeddings on a dedicated `/score` deployment of the Azure ML catalog
/// model `openai-clip-image-text-embeddings-vit-base-patch32` (and its `vit-large-patch14-336`
/// sibling): `{"input_data": {"columns": ["image", "text"], "index": [0, …], "data": [["", text],
/// …]}}` → `[{"text_features": [number, …]}, …]`, one item per input in order. The shape is the
/// model cards' "Sample input and output for text embeddings" (`Azure/azureml-assets` at
/// 4b41f8ccbc01, the two models' cards under `assets/models/system/`; cited in docs/wire.md).
/// The card documents no parameters, so none are sent: any is an input error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClipTextEmbeddingsFormatter;

const CLIP_SHAPE: &str = r#"[{"text_features": [number, …]}, …]"#;

#[derive(Serialize)]
struct ClipRequest<'a> {
    input_data: ClipData<'a>,
}

#[derive(Serialize)]
struct ClipData<'a> {
    columns: [&'static str; 2],
    index: Vec<usize>,
    data: Vec<[&'a str; 2]>,
}

#[derive(Deserialize)]
struct ClipItem {
    text_features: Raw,
}

impl EmbeddingsFormatter for ClipTextEmbeddingsFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, inputs: &[String], params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        if let Some(name) = params.keys().next() {
            return Err(Error::input(format!(
                "formatter `{TAG}` sends no parameters (the model card documents none); \
                 remove `{name}`"
            )));
        }
        let input_data = ClipData {
            columns: ["image", "text"],
            index: (0..inputs.len()).collect(),
            data: inputs.iter().map(|text| ["", text.as_str()]).collect(),
        };
        to_body(TAG, &ClipRequest { input_data })
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Embeddings> {
        let bad = |why: &str| Error::response(TAG, api_type, &format!("{CLIP_SHAPE}{why}"), body);
        let items: Vec<ClipItem> = serde_json::from_slice(body).map_err(|_| bad(""))?;
        let vectors = items
            .into_iter()
            .map(|item| item.text_features.into_vector())
            .collect::<std::result::Result<_, _>>()
            .map_err(bad)?;
        Ok(Embeddings::new(vectors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_follows_the_model_card() -> Result<()> {
        let f = ClipTextEmbeddingsFormatter;
        let body = f.format_request(
            &["sample text 1".to_owned(), "sample text 2".to_owned()],
            &Map::new(),
            ApiType::Dedicated,
        )?;
        assert_eq!(
            body,
            br#"{"input_data":{"columns":["image","text"],"index":[0,1],"data":[["","sample text 1"],["","sample text 2"]]}}"#
        );
        let reply = br#"[{"text_features": [0.42, -0.13]}, {"text_features": [-0.14, 0.93]}]"#;
        assert_eq!(
            f.format_response(reply, ApiType::Dedicated)?.vectors,
            [[0.42, -0.13], [-0.14, 0.93]]
        );
        let error = f
            .format_request(
                &["a".to_owned()],
                serde_json::json!({"top_k": 1}).as_object().unwrap_or(&Map::new()),
                ApiType::Dedicated,
            )
            .map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err("invalid input: formatter `clip_text_embeddings` sends no parameters (the model card documents none); remove `top_k`".to_owned())
        );
        Ok(())
    }
}
