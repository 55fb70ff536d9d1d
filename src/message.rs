//! Chat messages, roles and tool calls, and what a call returns: [`Completion`],
//! [`ChatCompletion`] and their [`Usage`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
/// ```
/// use azureml_endpoint::ChatMessage;
/// let conversation = [ChatMessage::system("Answer briefly."), ChatMessage::user("Why is the sky blue?")];
/// assert_eq!(serde_json::to_string(&conversation[1])?, r#"{"role":"user","content":"Why is the sky blue?"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text; `None` (JSON `null`) for an assistant message that only calls tools.
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls an assistant message asks for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with a role and text.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
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

    /// The text, or `""` when there is none.
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or_default()
    }
}

/// A function call requested by the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id a `tool` message answers with.
    pub id: String,
    /// The tool kind; `function` for every tool today.
    #[serde(rename = "type", default = "function_kind")]
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
    /// The reply; its `content` is `None` when it only calls tools.
    pub message: ChatMessage,
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
    pub rate_limits: crate::RateLimits,
}

impl ChatCompletion {
    /// A reply with just its message.
    pub fn new(message: ChatMessage) -> Self {
        ChatCompletion {
            message,
            finish_reason: None,
            logprobs: None,
            usage: None,
            request_id: None,
            rate_limits: crate::RateLimits::default(),
        }
    }
}

/// One generated text, with what the endpoint said about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Completion {
    /// The text exactly as the model produced it (not trimmed).
    pub text: String,
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
    pub rate_limits: crate::RateLimits,
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
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both together.
    #[serde(default)]
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
