//! Whole tool calls from a stream's pieces.

use std::collections::BTreeMap;

use crate::chunk::{StreamChunk, ToolCallDelta};
use crate::error::{Error, Result, StreamErrorKind};
use crate::message::{FunctionCall, ToolCall};

/// Folds the [`ToolCallDelta`]s of a streamed reply into whole [`ToolCall`]s: pieces with the
/// same `index` make one call, its `id`, kind and name from the first piece that has them, its
/// arguments the pieces' arguments joined in order.
///
/// ```no_run
/// # fn main() -> azureml_endpoint::Result<()> {
/// use azureml_endpoint::{AzureMlChatOnlineEndpoint, CallOptions, ChatMessage, ToolCalls};
/// # let client = AzureMlChatOnlineEndpoint::builder().build()?;
/// # let (conversation, options) = (vec![ChatMessage::user("Weather in Paris?")], CallOptions::new());
/// let mut calls = ToolCalls::new();
/// for chunk in client.stream_with(&conversation, &options)? {
///     let chunk = chunk?;
///     print!("{}", chunk.text);
///     calls.push(&chunk);
/// }
/// for call in calls.finish()? {
///     println!("{} wants {}({})", call.id, call.function.name, call.function.arguments);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ToolCalls {
    /// By index: a hostile index cannot make a huge allocation.
    calls: BTreeMap<usize, Partial>,
}

#[derive(Clone, Debug, Default)]
struct Partial {
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: String,
}

impl ToolCalls {
    /// No calls yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk's tool-call pieces.
    pub fn push(&mut self, chunk: &StreamChunk) {
        for delta in &chunk.tool_calls {
            self.push_delta(delta);
        }
    }

    /// Adds one piece.
    pub fn push_delta(&mut self, delta: &ToolCallDelta) {
        let call = self.calls.entry(delta.index).or_default();
        for (field, piece) in [
            (&mut call.id, &delta.id),
            (&mut call.kind, &delta.kind),
            (&mut call.name, &delta.name),
        ] {
            // Some services repeat these in every piece: the first one stands.
            if field.is_none() {
                field.clone_from(piece);
            }
        }
        call.arguments.push_str(&delta.arguments);
    }

    /// Whether no piece has arrived.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls, in index order. A call whose pieces never gave an id or a function name
    /// cannot be answered: that is [`Error::Stream`] ([`StreamErrorKind::BadEvent`]) naming its index.
    ///
    /// # Errors
    /// [`Error::Stream`] for a call without an id or a function name.
    pub fn finish(self) -> Result<Vec<ToolCall>> {
        self.calls
            .into_iter()
            .map(|(index, call)| {
                let missing = |what: &str| {
                    Error::stream(
                        StreamErrorKind::BadEvent,
                        format!("the tool call at index {index} has no {what} in any of its pieces"),
                    )
                };
                Ok(ToolCall {
                    id: call.id.ok_or_else(|| missing("id"))?,
                    kind: call.kind.unwrap_or_else(|| "function".to_owned()),
                    function: FunctionCall {
                        name: call.name.ok_or_else(|| missing("function name"))?,
                        arguments: call.arguments,
                    },
                })
            })
            .collect()
    }
}
