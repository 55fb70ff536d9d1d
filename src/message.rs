//! Chat messages (text and [`ContentPart`]s), roles and tool calls, and what a call returns: [`Completion`],
//! [`ChatCompletion`] and their [`Usage`].

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::content::ContentPart;

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person asking.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, answering an assistant's `tool_calls`.
    Tool,
    /// Any other role a service sends back, kept as written.
    Other(String),
}

impl Role {
    /// The role as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Other(role) => role,
        }
    }
}

impl From<String> for Role {
    fn from(role: String) -> Self {
        match role.as_str() {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => Role::Other(role),
        }
    }
}

impl From<Role> for String {
    fn from(role: Role) -> Self {
        role.as_str().to_owned()
    }
}

/// One message of a conversation, in the OpenAI shape the chat formatters send.
///
/// Its content is text, parts (images and others, see [`ContentPart`]), or both: with any
/// parts, the content goes on the wire as a list, the text (when there is some) as its leading
/// text part. A list received (from a `--messages` file, a saved conversation, a reply) is kept
/// whole in `parts`, with `content` `None`, so it goes out again exactly as it came.
///
/// ```
/// use azureml_endpoint::ChatMessage;
/// let conversation = [ChatMessage::system("Answer briefly."), ChatMessage::user("Why is the sky blue?")];
/// assert_eq!(serde_json::to_string(&conversation[1])?, r#"{"role":"user","content":"Why is the sky blue?"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "WireMessage")]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text; `None` (JSON `null`) for an assistant message that only calls tools.
    pub content: Option<String>,
    /// Content parts after the text (images, audio, …); empty for a text-only message.
    pub parts: Vec<ContentPart>,
    /// Tool calls an assistant message asks for.
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the id of the call it answers.
    pub tool_call_id: Option<String>,
}

/// A message as it is read: `content` a string, a list of parts, or `null`.
#[derive(Deserialize)]
struct WireMessage {
    role: Role,
    #[serde(default)]
    content: WireContent,
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    tool_calls: Vec<ToolCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Default)]
struct WireContent(Option<String>, Vec<ContentPart>);

impl<'de> Deserialize<'de> for WireContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(WireContent(None, Vec::new())),
            Value::String(text) => Ok(WireContent(Some(text), Vec::new())),
            Value::Array(parts) => parts
                .into_iter()
                .enumerate()
                .map(|(i, part)| {
                    ContentPart::json(part).map_err(|e| match e {
                        crate::error::Error::Input(why) => {
                            D::Error::custom(format!("content part {i}: {why}"))
                        }
                        other => D::Error::custom(other),
                    })
                })
                .collect::<std::result::Result<_, _>>()
                .map(|parts| WireContent(None, parts)),
            other => Err(D::Error::custom(format!(
                "message content is a string, a list of content parts or null, not {}",
                json_kind(&other)
            ))),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Object(_) => "an object (wrap a single part in a list)",
        _ => "that",
    }
}

impl From<WireMessage> for ChatMessage {
    fn from(wire: WireMessage) -> Self {
        let WireContent(content, parts) = wire.content;
        ChatMessage {
            role: wire.role,
            content,
            parts,
            tool_calls: wire.tool_calls,
            tool_call_id: wire.tool_call_id,
        }
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let fields = 2 + usize::from(!self.tool_calls.is_empty()) + usize::from(self.tool_call_id.is_some());
        let mut map = serializer.serialize_map(Some(fields))?;
        map.serialize_entry("role", &self.role)?;
        if self.parts.is_empty() {
            map.serialize_entry("content", &self.content)?;
        } else {
            let leading = self.content.as_ref().map(|text| ContentPart::Text(text.clone()));
            map.serialize_entry("content", &PartList(leading.as_ref(), &self.parts))?;
        }
        if !self.tool_calls.is_empty() {
            map.serialize_entry("tool_calls", &self.tool_calls)?;
        }
        if let Some(id) = &self.tool_call_id {
            map.serialize_entry("tool_call_id", id)?;
        }
        map.end()
    }
}

/// The leading text part, if any, then the others.
struct PartList<'a>(Option<&'a ContentPart>, &'a [ContentPart]);

impl Serialize for PartList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.into_iter().chain(self.1))
    }
}

impl ChatMessage {
    /// A message with a role and text.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
            parts: Vec::new(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An `assistant` message that calls tools and has no text.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: None,
            parts: Vec::new(),
            tool_calls,
            tool_call_id: None,
        }
    }

    /// A `tool` message carrying the result of the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// The text, or `""` when there is none (text parts in `parts` are not included).
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or_default()
    }

    /// This message with one more content part after its text and parts.
    ///
    /// ```
    /// # fn main() -> azureml_endpoint::Result<()> {
    /// use azureml_endpoint::{ChatMessage, ContentPart};
    /// # let dir = std::env::temp_dir().join(format!("doc-image-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("chart.png");
    /// # std::fs::write(&path, b"\x89PNG\r\n\x1a\n").unwrap();
    /// let message = ChatMessage::user("Describe this chart.").with_part(ContentPart::image_file(&path)?);
    /// assert_eq!(message.parts, [ContentPart::image_url("data:image/png;base64,iVBORw0KGgo=")?]);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_part(mut self, part: ContentPart) -> Self {
        self.parts.push(part);
        self
    }

    /// This message with more content parts after its text and parts.
    #[must_use]
    pub fn with_parts(mut self, parts: impl IntoIterator<Item = ContentPart>) -> Self {
        self.parts.extend(parts);
        self
    }
}

/// A function call requested by the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id a `tool` message answers with.
    pub id: String,
    /// The tool kind; `function` for every tool today.
    #[serde(
        rename = "type",
        default = "function_kind",
        deserialize_with = "kind_or_function"
    )]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
}

impl ToolCall {
    /// A `function` tool call.
    pub fn function(id: impl Into<String>, name: impl Into<String>, arguments: impl Into<String>) -> Self {
        ToolCall {
            id: id.into(),
            kind: function_kind(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

fn function_kind() -> String {
    "function".to_owned()
}

/// `"type": null` is absent too (see `nullable.rs`): a function call.
fn kind_or_function<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<String, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_else(function_kind))
}

/// The function a tool call names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// Its arguments, as the JSON text the model wrote (parse it yourself: models make mistakes).
    pub arguments: String,
}

/// The model's reply to a conversation, with what the endpoint said about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// The reply; its `content` is `None` when it only calls tools. A reasoning model's
    /// thinking is not in it but in [`reasoning`](Self::reasoning).
    pub message: ChatMessage,
    /// A reasoning model's thinking: the message's `reasoning_content`, or the leading
    /// `<think>…</think>` block of its content (the content is then the text after the block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Why generation stopped (`stop`, `length`, `tool_calls`, …), when the endpoint says.
    pub finish_reason: Option<String>,
    /// Token log-probabilities, when the endpoint returns them.
    pub logprobs: Option<Value>,
    /// Token counts, when the endpoint returns them.
    pub usage: Option<Usage>,
    /// The service's request id, for support tickets.
    pub request_id: Option<String>,
    /// The endpoint's `x-ratelimit-*` headers.
    #[serde(skip)]
    pub rate_limits: crate::rate_limit::RateLimits,
}

impl ChatCompletion {
    /// A reply with just its message.
    pub fn new(message: ChatMessage) -> Self {
        ChatCompletion {
            message,
            reasoning: None,
            finish_reason: None,
            logprobs: None,
            usage: None,
            request_id: None,
            rate_limits: crate::rate_limit::RateLimits::default(),
        }
    }
}

/// One generated text, with what the endpoint said about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Completion {
    /// The text exactly as the model produced it (not trimmed); for a reasoning model, the
    /// answer after its thinking.
    pub text: String,
    /// A reasoning model's thinking: `reasoning_content`, or the leading `<think>…</think>`
    /// block of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Why generation stopped (`stop`, `length`, …), when the endpoint says.
    pub finish_reason: Option<String>,
    /// Token log-probabilities, when the endpoint returns them.
    pub logprobs: Option<Value>,
    /// Token counts, when the endpoint returns them.
    pub usage: Option<Usage>,
    /// The service's request id (`x-request-id` and kin), for support tickets.
    pub request_id: Option<String>,
    /// The endpoint's `x-ratelimit-*` headers.
    #[serde(skip)]
    pub rate_limits: crate::rate_limit::RateLimits,
}

impl Completion {
    /// A completion with just its text.
    pub fn new(text: impl Into<String>) -> Self {
        Completion {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// Token counts reported by the endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub completion_tokens: u64,
    /// Both together.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub total_tokens: u64,
}

impl Usage {
    /// Token counts from their parts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64, total_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens,
        }
    }
}
