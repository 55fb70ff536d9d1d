//! Databricks Dolly models on dedicated endpoints (`DollyContentFormatter`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::gpt2::Inputs;
use super::{parse_json, text_at, to_body, ContentFormatter};
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "dolly";

/// `{"input_data": {"input_string": [prompt]}, "parameters": {…}}` → `[text]`. Dedicated only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DollyContentFormatter;

#[derive(Serialize)]
struct Request<'a> {
    input_data: Inputs<'a>,
    parameters: &'a Map<String, Value>,
}

impl ContentFormatter for DollyContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        let input_data = Inputs {
            input_string: [prompt],
        };
        to_body(
            TAG,
            &Request {
                input_data,
                parameters: params,
            },
        )
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        let json = parse_json(TAG, api_type, body)?;
        text_at(TAG, api_type, body, &json, &["[0]"]).map(Completion::new)
    }
}
