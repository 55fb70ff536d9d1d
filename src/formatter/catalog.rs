//! The request shape the Azure ML model catalog documents today for text-generation models on
//! dedicated endpoints (gpt2, distilgpt2, dolly-v2-12b, orca-2 and others since late 2023).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{completion_at, to_body, ContentFormatter, CATALOG_REPLIES};
use crate::config::ApiType;
use crate::error::Result;
use crate::message::Completion;

pub(super) const TAG: &str = "catalog";

/// `{"input_data": [prompt], "params": {…}}` → `["text"]`, or any other reply the model catalog
/// documents (`[{"0": "text"}]`, `{"output": …}`, …). Dedicated only.
///
/// The shape of the current model cards (`Azure/azureml-assets`, each model's card under
/// `assets/models/system/<model>/`; see docs/wire.md); LangChain's formatters predate it.
///
/// ```
/// use azureml_endpoint::{formatter::CatalogContentFormatter, ApiType, ContentFormatter};
/// let params = serde_json::json!({"max_new_tokens": 100}).as_object().cloned().unwrap_or_default();
/// let body = CatalogContentFormatter.format_request("Hi", &params, ApiType::Dedicated)?;
/// assert_eq!(body, br#"{"input_data":["Hi"],"params":{"max_new_tokens":100}}"#);
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CatalogContentFormatter;

#[derive(Serialize)]
struct Request<'a> {
    input_data: [&'a str; 1],
    params: &'a Map<String, Value>,
}

impl ContentFormatter for CatalogContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        let request = Request {
            input_data: [prompt],
            params,
        };
        to_body(TAG, &request)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        completion_at(TAG, api_type, body, CATALOG_REPLIES)
    }
}
