//! Llama and other OpenAI-style chat models, dedicated or serverless
//! (`CustomOpenAIChatContentFormatter`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::custom_openai::openai_meta;
use super::{parse_json, split_think, string_at, text_at, to_body, value_at, ChatContentFormatter};
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::{ChatCompletion, ChatMessage};
use crate::reasoning;

pub(super) const TAG: &str = "custom_openai_chat";

/// Dedicated: `{"input_data": {"input_string": messages, "parameters": {…}}}` → `{"output": text}`.
/// Serverless: `{"messages": messages, …parameters}` → `{"choices": [{"message": …}], "usage": …}`,
/// tool calls, null content, finish reason, logprobs and usage kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomOpenAiChatContentFormatter;

#[derive(Serialize)]
struct DedicatedInput<'a> {
    input_string: &'a [ChatMessage],
    parameters: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct Dedicated<'a> {
    input_data: DedicatedInput<'a>,
}

#[derive(Serialize)]
struct Serverless<'a> {
    messages: &'a [ChatMessage],
    #[serde(flatten)]
    params: &'a Map<String, Value>,
}

/// The request body shared by the OpenAI-style chat formatters.
pub(super) fn openai_chat_request(
    tag: &str,
    messages: &[ChatMessage],
    params: &Map<String, Value>,
    api_type: ApiType,
) -> Result<Vec<u8>> {
    if messages.is_empty() {
        return Err(Error::input(
            "the conversation is empty: pass at least one message".to_owned(),
        ));
    }
    match api_type {
        ApiType::Dedicated => to_body(
            tag,
            &Dedicated {
                input_data: DedicatedInput {
                    input_string: messages,
                    parameters: params,
                },
            },
        ),
        ApiType::Serverless if params.contains_key("messages") => Err(Error::input(
            "`messages` is set from the conversation you pass; remove it from the parameters".to_owned(),
        )),
        ApiType::Serverless => to_body(tag, &Serverless { messages, params }),
    }
}

/// The reply in an OpenAI-style chat response body.
pub(super) fn openai_chat_response(tag: &str, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
    let json = parse_json(tag, api_type, body)?;
    match api_type {
        ApiType::Dedicated => text_at(tag, api_type, body, &json, &["output"]).map(|text| {
            let (reasoning, text) = split_think(&text);
            ChatCompletion {
                reasoning,
                ..ChatCompletion::new(ChatMessage::assistant(text))
            }
        }),
        ApiType::Serverless => {
            let expected = "choices[0].message with a role and string or null content";
            let mut message = value_at(&json, "choices[0].message")
                .and_then(|m| ChatMessage::deserialize(m).ok())
                .ok_or_else(|| Error::response(tag, api_type, expected, body))?;
            let think = message
                .content
                .as_deref()
                .map(split_think)
                .and_then(|(think, answer)| {
                    message.content = Some(answer);
                    think
                });
            let reasoning = reasoning::join(string_at(&json, "choices[0].message.reasoning_content"), think);
            // A reply cut while thinking (`length`) may hold only its reasoning.
            if message.content.is_none()
                && message.parts.is_empty()
                && message.tool_calls.is_empty()
                && reasoning.is_none()
            {
                return Err(Error::response(
                    tag,
                    api_type,
                    "message content or tool_calls",
                    body,
                ));
            }
            let (meta, usage) = openai_meta(tag, api_type, body, &json)?;
            Ok(ChatCompletion {
                message,
                reasoning,
                finish_reason: meta.finish_reason,
                logprobs: meta.logprobs.filter(|l| !l.is_null()),
                usage,
                request_id: None,
                rate_limits: crate::rate_limit::RateLimits::default(),
            })
        }
    }
}

impl ChatContentFormatter for CustomOpenAiChatContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated, ApiType::Serverless]
    }

    fn format_messages(
        &self,
        messages: &[ChatMessage],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        openai_chat_request(TAG, messages, params, api_type)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
        openai_chat_response(TAG, body, api_type)
    }
}
