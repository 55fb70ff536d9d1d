//! The one rule for reading replies: JSON `null` means absent.
//!
//! Services write `"tool_calls": null`, `"usage": null`, `"finish_reason": null` where others
//! leave the field out (Mistral Large on Azure does so in every reply that calls no tool). So
//! every optional field of a reply or stream event is either an `Option` (serde reads `null` as
//! `None`) or, where the type has a natural empty value (a list, a count), carries
//! `#[serde(default, deserialize_with = "crate::nullable::or_default")]`. A required field that
//! is `null` stays an error.

use serde::{Deserialize, Deserializer};

/// The field's value, or its default when it is `null` (a missing field takes the default
/// through `#[serde(default)]`).
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use crate::config::ApiType;
    use crate::formatter::{chat_formatter, completion_formatter};
    use crate::message::{ChatCompletion, ChatMessage, Completion, Role, ToolCall};

    /// Every optional field of an OpenAI-style reply, `null`.
    const NULLS: &str = r#""logprobs": null, "refusal": null, "function_call": null,
        "content_filter_results": null, "reasoning_content": null"#;

    #[test]
    fn null_optional_fields_of_chat_replies_are_absent() {
        let body = format!(
            r#"{{"choices": [{{"index": 0, "finish_reason": null, {NULLS}, "message":
               {{"role": "assistant", "content": "Hi", "tool_calls": null, "tool_call_id": null, {NULLS}}}}}],
               "usage": {{"prompt_tokens": 3, "completion_tokens": null, "total_tokens": null}},
               "prompt_filter_results": null}}"#
        );
        for tag in ["custom_openai_chat", "mistral_chat"] {
            let reply = chat_formatter(tag).map(|f| f.format_response(body.as_bytes(), ApiType::Serverless));
            let mut expected = ChatCompletion::new(ChatMessage::assistant("Hi"));
            expected.usage = Some(crate::message::Usage::new(3, 0, 0));
            assert_eq!(reply.and_then(Result::ok), Some(expected), "{tag}");
        }
        let calls = br#"{"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": null, "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": null}"#;
        let reply =
            chat_formatter("custom_openai_chat").map(|f| f.format_response(calls, ApiType::Serverless));
        let expected = ChatCompletion::new(ChatMessage::assistant_tool_calls(vec![ToolCall::function(
            "c1", "f", "{}",
        )]));
        assert_eq!(reply.and_then(Result::ok), Some(expected));
    }

    #[test]
    fn null_optional_fields_of_completions_are_absent() {
        let body =
            format!(r#"{{"choices": [{{"text": "Hi", "finish_reason": null, {NULLS}}}], "usage": null}}"#);
        let reply = completion_formatter("custom_openai")
            .map(|f| f.format_response(body.as_bytes(), ApiType::Serverless));
        assert_eq!(reply.and_then(Result::ok), Some(Completion::new("Hi")));
    }

    #[test]
    fn null_optional_fields_of_stream_events_are_absent() {
        let event = br#"{"choices": [{"index": 0, "finish_reason": null, "logprobs": null,
            "content_filter_results": null, "delta": {"role": null, "content": "Hi", "tool_calls": null,
            "reasoning_content": null, "refusal": null}}], "usage": null, "error": null}"#;
        let chunk = crate::formatter::openai::stream_chunk(event);
        assert_eq!(chunk, Some(crate::chunk::StreamChunk::new("Hi")));
        let role_only = br#"{"choices": [{"delta": {"role": "assistant", "content": null}}]}"#;
        let chunk = crate::formatter::openai::stream_chunk(role_only).map(|c| c.role);
        assert_eq!(chunk, Some(Some(Role::Assistant)));
    }

    #[test]
    fn a_null_required_field_is_still_the_wrong_shape() {
        let null_text = br#"{"choices": [{"text": null}]}"#;
        let reply = completion_formatter("custom_openai")
            .map(|f| f.format_response(null_text, ApiType::Serverless).is_err());
        assert_eq!(reply, Some(true));
        let null_choices = br#"{"choices": null}"#;
        let reply = chat_formatter("custom_openai_chat")
            .map(|f| f.format_response(null_choices, ApiType::Serverless).is_err());
        assert_eq!(reply, Some(true));
    }
}
