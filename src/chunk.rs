//! What a stream yields: [`StreamChunk`] and its [`ToolCallDelta`]s, and the one chunk a whole
//! answer becomes when an endpoint does not stream.

use serde_json::Value;

use crate::message::{ChatCompletion, Completion, Role, Usage};

/// One piece of a streamed answer: the text added since the previous chunk, and whatever else
/// the event carried.
///
/// Chat and completion streams yield the same type: a completion chunk has no `role` and no
/// `tool_calls`. On a dedicated endpoint the one chunk holds the whole answer.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StreamChunk {
    /// New text: `choices[0].delta.content` (chat) or `choices[0].text` (completions); may be
    /// empty, e.g. in the chunk that only carries the finish reason or usage.
    pub text: String,
    /// New thinking of a reasoning model (`reasoning_content`, or text inside a leading
    /// `<think>…</think>` block, which is then not in `text`), when this chunk carries some.
    pub reasoning: Option<String>,
    /// The speaker, usually only in the first chat chunk.
    pub role: Option<Role>,
    /// Pieces of tool calls; join them by [`index`](ToolCallDelta::index).
    pub tool_calls: Vec<ToolCallDelta>,
    /// Why generation stopped (`stop`, `length`, `tool_calls`, …), in the last content chunk.
    pub finish_reason: Option<String>,
    /// Token log-probabilities for this chunk, when requested.
    pub logprobs: Option<Value>,
    /// Token counts for the whole answer, when the endpoint sends them (usually in a final chunk
    /// with no text, e.g. with `stream_options: {"include_usage": true}`).
    pub usage: Option<Usage>,
}

impl StreamChunk {
    /// A chunk carrying `text` and nothing else; set the other fields on it as the event says.
    ///
    /// ```
    /// let mut chunk = azureml_endpoint::StreamChunk::new("Hel");
    /// chunk.finish_reason = Some("stop".into());
    /// assert_eq!(chunk.text, "Hel");
    /// ```
    pub fn new(text: impl Into<String>) -> Self {
        StreamChunk {
            text: text.into(),
            ..StreamChunk::default()
        }
    }

    /// Whether the chunk carries nothing at all (such events are skipped, not yielded).
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
            && self.reasoning.is_none()
            && self.role.is_none()
            && self.tool_calls.is_empty()
            && self.finish_reason.is_none()
            && self.logprobs.is_none()
            && self.usage.is_none()
    }
}

/// A piece of a tool call: the first piece of a call has its `id` and `name`, later pieces add
/// to its `arguments`.
///
/// Concatenate `arguments` of the pieces with the same `index` to get the call's arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCallDelta {
    /// Which call of the reply this piece belongs to.
    pub index: usize,
    /// The call's id, in its first piece.
    pub id: Option<String>,
    /// The tool kind (`function`), in its first piece.
    pub kind: Option<String>,
    /// The function's name, in its first piece.
    pub name: Option<String>,
    /// The next piece of the arguments' JSON text (may be empty).
    pub arguments: String,
}

/// A dedicated endpoint's whole answer, as the one chunk its stream yields.
impl From<Completion> for StreamChunk {
    fn from(completion: Completion) -> Self {
        let Completion {
            text,
            reasoning,
            finish_reason,
            logprobs,
            usage,
            ..
        } = completion;
        StreamChunk {
            text,
            reasoning,
            finish_reason,
            logprobs,
            usage,
            ..StreamChunk::default()
        }
    }
}

/// A dedicated endpoint's whole reply, as the one chunk its stream yields.
impl From<ChatCompletion> for StreamChunk {
    fn from(completion: ChatCompletion) -> Self {
        let ChatCompletion {
            message,
            reasoning,
            finish_reason,
            logprobs,
            usage,
            ..
        } = completion;
        let tool_calls = message
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(index, call)| ToolCallDelta {
                index,
                id: Some(call.id),
                kind: Some(call.kind),
                name: Some(call.function.name),
                arguments: call.function.arguments,
            })
            .collect();
        StreamChunk {
            text: message.content.unwrap_or_default(),
            reasoning,
            role: Some(message.role),
            tool_calls,
            finish_reason,
            logprobs,
            usage,
        }
    }
}
