//! Llama and other OpenAI-style models, dedicated or serverless (`CustomOpenAIContentFormatter`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    answer, parse_json, split_think, string_at, text_at, to_body, value_at, ContentFormatter, CATALOG_REPLIES,
};
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::{Completion, Usage};
use crate::reasoning;

pub(super) const TAG: &str = "custom_openai";

/// Dedicated: `{"input_data": {"input_string": [prompt], "parameters": {…}}}` → `[{"0": text}]`
/// (Llama 2, Falcon, phi-2, …) or `{"output": ["text"]}` (phi-1.5), or any other reply the model
/// catalog documents.
/// Serverless: `{"prompt": prompt, …parameters}` → `{"choices": [{"text": …}], "usage": …}`, with
/// finish reason, logprobs and usage kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomOpenAiContentFormatter;

#[derive(Serialize)]
struct DedicatedInput<'a> {
    input_string: [&'a str; 1],
    parameters: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct Dedicated<'a> {
    input_data: DedicatedInput<'a>,
}

#[derive(Serialize)]
struct Serverless<'a> {
    prompt: &'a str,
    #[serde(flatten)]
    params: &'a Map<String, Value>,
}

/// The parts of an OpenAI-style choice besides its text.
#[derive(Deserialize)]
pub(crate) struct ChoiceMeta {
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// `finish_reason` and `logprobs` of `choices[0]`, and `usage`, from an OpenAI-style body.
pub(crate) fn openai_meta(
    tag: &str,
    api_type: ApiType,
    body: &[u8],
    json: &Value,
) -> Result<(ChoiceMeta, Option<Usage>)> {
    let bad = |what: &str| Error::response(tag, api_type, what, body);
    let meta = value_at(json, "choices[0]")
        .map(|choice| {
            ChoiceMeta::deserialize(choice).map_err(|_| bad("choices[0].finish_reason as a string"))
        })
        .transpose()?
        .unwrap_or(ChoiceMeta {
            finish_reason: None,
            logprobs: None,
        });
    let usage = match json.get("usage") {
        None | Some(Value::Null) => None,
        Some(usage) => Some(Usage::deserialize(usage).map_err(|_| bad("usage with integer token counts"))?),
    };
    Ok((meta, usage))
}

impl ContentFormatter for CustomOpenAiContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated, ApiType::Serverless]
    }

    fn format_request(
        &self,
        prompt: &str,
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        match api_type {
            ApiType::Dedicated => {
                let input_data = DedicatedInput {
                    input_string: [prompt],
                    parameters: params,
                };
                to_body(TAG, &Dedicated { input_data })
            }
            ApiType::Serverless if params.contains_key("prompt") => Err(Error::input(
                "`prompt` is set from the prompt you pass; remove it from the parameters".to_owned(),
            )),
            ApiType::Serverless => to_body(TAG, &Serverless { prompt, params }),
        }
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        let json = parse_json(TAG, api_type, body)?;
        match api_type {
            ApiType::Dedicated => text_at(TAG, api_type, body, &json, CATALOG_REPLIES).map(|t| answer(&t)),
            ApiType::Serverless => {
                let text = text_at(TAG, api_type, body, &json, &["choices[0].text"])?;
                let (think, text) = split_think(&text);
                let (meta, usage) = openai_meta(TAG, api_type, body, &json)?;
                Ok(Completion {
                    text,
                    reasoning: reasoning::join(string_at(&json, "choices[0].reasoning_content"), think),
                    finish_reason: meta.finish_reason,
                    logprobs: meta.logprobs.filter(|l| !l.is_null()),
                    usage,
                    request_id: None,
                    rate_limits: crate::rate_limit::RateLimits::default(),
                })
            }
        }
    }
}
