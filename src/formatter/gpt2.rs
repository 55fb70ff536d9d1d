//! GPT-2 and other open-source models on dedicated endpoints (`GPT2ContentFormatter`).

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{completion_at, to_body, ContentFormatter, CATALOG_REPLIES};
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "gpt2";

/// `{"inputs": {"input_string": [prompt]}, "parameters": {…}}` → `[{"0": text}]`, or any other
/// reply the model catalog documents (`["text"]`, `{"output": …}`, …). Dedicated only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gpt2ContentFormatter;

/// The request shape GPT-2 and Dolly share, `{wrapper: {"input_string": [prompt]}, "parameters":
/// {…}}`; both read the answer wherever the catalog puts it.
pub(super) struct InputString {
    pub tag: &'static str,
    /// `inputs` for GPT-2, `input_data` for Dolly.
    pub wrapper: &'static str,
}

impl InputString {
    pub fn request(&self, prompt: &str, parameters: &Map<String, Value>) -> Result<Vec<u8>> {
        let request = Request {
            wrapper: self.wrapper,
            prompt,
            parameters,
        };
        to_body(self.tag, &request)
    }

    pub fn response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        completion_at(self.tag, api_type, body, CATALOG_REPLIES)
    }
}

const SHAPE: InputString = InputString {
    tag: TAG,
    wrapper: "inputs",
};

struct Request<'a> {
    wrapper: &'static str,
    prompt: &'a str,
    parameters: &'a Map<String, Value>,
}

impl Serialize for Request<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(
            self.wrapper,
            &Inputs {
                input_string: [self.prompt],
            },
        )?;
        map.serialize_entry("parameters", self.parameters)?;
        map.end()
    }
}

#[derive(Serialize)]
struct Inputs<'a> {
    input_string: [&'a str; 1],
}

impl ContentFormatter for Gpt2ContentFormatter {
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
