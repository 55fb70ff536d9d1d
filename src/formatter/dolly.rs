//! Databricks Dolly models on dedicated endpoints (`DollyContentFormatter`).

use serde_json::{Map, Value};

use super::gpt2::InputString;
use super::ContentFormatter;
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "dolly";

/// `{"input_data": {"input_string": [prompt]}, "parameters": {…}}` → `[text]`, or any other reply
/// the model catalog documents. Dedicated only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DollyContentFormatter;

const SHAPE: InputString = InputString {
    tag: TAG,
    wrapper: "input_data",
};

impl ContentFormatter for DollyContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        SHAPE.request(prompt, params)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        SHAPE.response(body, api_type)
    }
}
