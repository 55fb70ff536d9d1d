//! The OpenAI streaming shape every built-in formatter's serverless stream uses: one
//! `chat.completion.chunk` or `text_completion` object per event.

use serde::Deserialize;
use serde_json::Value;

use crate::chunk::{StreamChunk, ToolCallDelta};
use crate::message::{Role, Usage};

/// What [`stream_chunk`] reads, for errors.
pub(crate) const CHUNK_SHAPE: &str =
    "a completion chunk (expected choices[0].delta or choices[0].text, and usage)";

/// The event as the service wrote it; every field optional so that odd-but-valid events pass.
#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Value>,
}

#[derive(Deserialize)]
struct WireDelta {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// The chunk in one OpenAI-style event's data (`choices[0].delta` or `choices[0].text`, and
/// `usage`); `None` when the event is not one (a bad event or an error event: the stream says
/// which). What the formatter traits' `parse_stream_event` does unless a formatter says otherwise.
pub(crate) fn stream_chunk(data: &[u8]) -> Option<StreamChunk> {
    let wire: WireChunk = serde_json::from_slice(data).ok()?;
    if wire.error.is_some_and(|e| !e.is_null()) {
        return None;
    }
    let mut chunk = StreamChunk {
        usage: wire.usage,
        ..StreamChunk::default()
    };
    let Some(choice) = wire.choices.and_then(|choices| choices.into_iter().next()) else {
        return Some(chunk);
    };
    chunk.finish_reason = choice.finish_reason;
    chunk.logprobs = choice.logprobs.filter(|l| !l.is_null());
    match choice.delta {
        Some(delta) => {
            chunk.text = delta.content.or(choice.text).unwrap_or_default();
            chunk.reasoning = delta.reasoning_content.filter(|r| !r.is_empty());
            chunk.role = delta.role;
            chunk.tool_calls = delta
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(position, call)| {
                    let (name, arguments) = call
                        .function
                        .map(|f| (f.name, f.arguments.unwrap_or_default()))
                        .unwrap_or_default();
                    ToolCallDelta {
                        index: call.index.unwrap_or(position),
                        id: call.id,
                        kind: call.kind,
                        name,
                        arguments,
                    }
                })
                .collect();
        }
        None => chunk.text = choice.text.unwrap_or_default(),
    }
    Some(chunk)
}
