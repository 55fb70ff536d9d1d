//! Mistral chat models, which take no system role (`MistralChatContentFormatter`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::custom_openai_chat::{openai_chat_request, openai_chat_response};
use super::ChatContentFormatter;
use crate::config::ApiType;
use crate::content::ContentPart;
use crate::error::Result;
use crate::message::{ChatCompletion, ChatMessage, Role};

pub(super) const TAG: &str = "mistral_chat";

/// As [`CustomOpenAiChatContentFormatter`](super::CustomOpenAiChatContentFormatter), after folding
/// a leading `system` message into the next one (`system + "\n\n" + next`; when either has
/// content parts, the system's text becomes the leading text part, before its parts and the
/// next message's text and parts); a system message with nothing after it is sent as a `user`
/// message. Dedicated and serverless.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MistralChatContentFormatter;

/// The conversation with its leading system message merged away.
fn merge_system(messages: &[ChatMessage]) -> Cow<'_, [ChatMessage]> {
    match messages {
        [first, rest @ ..] if first.role == Role::System => {
            let mut merged = rest.to_vec();
            match merged.first_mut() {
                Some(next) if first.parts.is_empty() && next.parts.is_empty() => {
                    next.content = Some(format!("{}\n\n{}", first.text(), next.text()));
                }
                // With parts, the system's text and parts lead the next message's.
                Some(next) => {
                    let next_text = next.content.take().map(ContentPart::Text);
                    let next_parts = std::mem::take(&mut next.parts);
                    next.content.clone_from(&first.content);
                    next.parts = first
                        .parts
                        .iter()
                        .cloned()
                        .chain(next_text)
                        .chain(next_parts)
                        .collect();
                }
                None => merged.push(ChatMessage {
                    role: Role::User,
                    ..first.clone()
                }),
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
