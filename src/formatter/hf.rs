//! Hugging Face text-generation models on dedicated endpoints (`HFContentFormatter`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{completion_at, to_body, ContentFormatter, CATALOG_REPLIES};
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "hf";

/// `{"inputs": [prompt], "parameters": {…}}` → `[{"0": {"generated_text": text}}]` or
/// `[{"generated_text": text}]`, or any other reply the model catalog documents. Dedicated only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HfContentFormatter;

#[derive(Serialize)]
struct Request<'a> {
    inputs: [&'a str; 1],
    parameters: &'a Map<String, Value>,
}

impl ContentFormatter for HfContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        to_body(
            TAG,
            &Request {
                inputs: [prompt],
                parameters: params,
            },
        )
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        completion_at(TAG, api_type, body, CATALOG_REPLIES)
    }
}
