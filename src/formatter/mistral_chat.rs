//! Mistral chat models, which take no system role (`MistralChatContentFormatter`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::custom_openai_chat::{openai_chat_request, openai_chat_response};
use super::ChatContentFormatter;
use crate::config::ApiType;
use crate::error::Result;
use crate::message::{ChatCompletion, ChatMessage, Role};

pub(super) const TAG: &str = "mistral_chat";

/// As [`CustomOpenAiChatContentFormatter`](super::CustomOpenAiChatContentFormatter), after folding
/// a leading `system` message into the next one (`system + "\n\n" + next`); a system message
/// with nothing after it is sent as a `user` message. Dedicated and serverless.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MistralChatContentFormatter;

/// The conversation with its leading system message merged away.
fn merge_system(messages: &[ChatMessage]) -> Cow<'_, [ChatMessage]> {
    match messages {
        [first, rest @ ..] if first.role == Role::System => {
            let mut merged = rest.to_vec();
            match merged.first_mut() {
                Some(next) => next.content = Some(format!("{}\n\n{}", first.text(), next.text())),
                None => merged.push(ChatMessage::user(first.text())),
            }
            Cow::Owned(merged)
        }
        _ => Cow::Borrowed(messages),
    }
}

impl ChatContentFormatter for MistralChatContentFormatter {
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
        openai_chat_request(TAG, &merge_system(messages), params, api_type)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
        openai_chat_response(TAG, body, api_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_system_joins_next_message() {
        let messages = [
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Yo"),
        ];
        let merged = merge_system(&messages);
        assert_eq!(
            &*merged,
            &[ChatMessage::user("Be brief.\n\nHi"), ChatMessage::assistant("Yo")]
        );
    }

    #[test]
    fn system_only_becomes_user() {
        assert_eq!(
            &*merge_system(&[ChatMessage::system("Be brief.")]),
            &[ChatMessage::user("Be brief.")]
        );
    }

    #[test]
    fn no_system_is_untouched() {
        let messages = [ChatMessage::user("Hi")];
        assert!(matches!(merge_system(&messages), Cow::Borrowed(_)));
        assert!(merge_system(&[]).is_empty());
    }
}
