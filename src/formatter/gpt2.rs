//! GPT-2 and other open-source models on dedicated endpoints (`GPT2ContentFormatter`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{parse_json, text_at, to_body, ContentFormatter};
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "gpt2";

/// `{"inputs": {"input_string": [prompt]}, "parameters": {…}}` → `[{"0": text}]`. Dedicated only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gpt2ContentFormatter;

/// Python's `OSSContentFormatter`, the same wire format under its old name (tag `oss`).
pub type OssContentFormatter = Gpt2ContentFormatter;

#[derive(Serialize)]
pub(super) struct Inputs<'a> {
    pub input_string: [&'a str; 1],
}

#[derive(Serialize)]
struct Request<'a> {
    inputs: Inputs<'a>,
    parameters: &'a Map<String, Value>,
}

impl ContentFormatter for Gpt2ContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        let inputs = Inputs {
            input_string: [prompt],
        };
        to_body(
            TAG,
            &Request {
                inputs,
                parameters: params,
            },
        )
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        let json = parse_json(TAG, api_type, body)?;
        text_at(TAG, api_type, body, &json, &["[0].0"]).map(Completion::new)
    }
}
