//! Printing a stream as it arrives, in text or as one JSON object written piece by piece, so
//! memory stays flat however long the answer is.

use std::io::{self, Write};

use azureml_endpoint::{CompletionStream, ToolCall, ToolCalls, Usage};
use serde_json::json;

use crate::args::Args;
use crate::failure::Failure;

/// Prints each chunk as it arrives and flushes it; returns the exit status.
///
/// With `json`, the object is opened before the first chunk, the text (`text`, or
/// `message.content` for chat) is written as escaped pieces, and `finish_reason`, `usage`,
/// `request_id` close it. If the stream fails midway, what was printed stays, the object is
/// left open (stdout is then not valid JSON, so no parser takes it for a whole answer) and the
/// error goes to stderr with exit status 1. A reasoning model's thinking is kept for the
/// object's `reasoning` (JSON), or printed in a `<think>` block as it comes (`--show-reasoning`),
/// or dropped.
pub fn print(stream: CompletionStream, args: &Args, chat: bool) -> Result<u8, Failure> {
    let json = args.json;
    let request_id = stream.request_id().map(str::to_owned);
    let mut out = io::stdout().lock();
    if json {
        out.write_all(if chat {
            br#"{"message":{"role":"assistant","content":""#
        } else {
            br#"{"text":""#
        })?;
    }
    let mut calls = ToolCalls::new();
    let mut printed_text = false;
    let (mut reasoning, mut thinking) = (String::new(), false);
    let (mut finish_reason, mut usage): (Option<String>, Option<Usage>) = (None, None);
    for chunk in stream {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                // End the partial line so the shell prompt and the error start on their own lines.
                writeln!(out)?;
                out.flush()?;
                return Err(error.into());
            }
        };
        let thought = chunk.reasoning.as_deref().unwrap_or_default();
        if json {
            reasoning.push_str(thought);
            write_escaped(&mut out, &chunk.text)?;
        } else {
            if args.show_reasoning && !thought.is_empty() {
                if !thinking {
                    out.write_all(b"<think>\n")?;
                }
                out.write_all(thought.as_bytes())?;
                thinking = true;
            }
            if thinking && !chunk.text.is_empty() {
                out.write_all(b"\n</think>\n\n")?;
                thinking = false;
            }
            out.write_all(chunk.text.as_bytes())?;
        }
        out.flush()?;
        printed_text |= !chunk.text.is_empty();
        calls.push(&chunk);
        finish_reason = chunk.finish_reason.or(finish_reason);
        usage = chunk.usage.or(usage);
    }
    // A call that never got its id or name is the library's stream error, like any other.
    let calls = calls.finish()?;
    if json {
        out.write_all(b"\"")?;
        if !calls.is_empty() {
            write!(out, ",\"tool_calls\":{}", json!(calls))?;
        }
        if chat {
            out.write_all(b"}")?;
        }
        let mut tail = json!({"finish_reason": finish_reason, "usage": usage, "request_id": request_id});
        if let (false, Some(tail)) = (reasoning.is_empty(), tail.as_object_mut()) {
            tail.insert("reasoning".into(), reasoning.into());
        }
        // `tail` is an object: its text after the `{` continues ours.
        let tail = tail.to_string();
        writeln!(out, ",{}", tail.strip_prefix('{').unwrap_or(&tail))?;
    } else {
        if thinking {
            out.write_all(b"\n</think>\n\n")?;
        }
        // A reply that only calls tools prints its calls, not a blank line first.
        if printed_text || calls.is_empty() {
            writeln!(out)?;
        }
        print_tool_calls(&mut out, &calls)?;
    }
    out.flush()?;
    Ok(crate::call::finish_status(finish_reason.as_deref()))
}

/// Writes `text` JSON-escaped without the quotes: escaping is per character, so the pieces of
/// a string escape to the pieces of its escaped form.
fn write_escaped(out: &mut impl Write, text: &str) -> io::Result<()> {
    let quoted = serde_json::to_string(text).map_err(io::Error::other)?;
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default();
    out.write_all(inner.as_bytes())
}

/// `tool call ID NAME ARGUMENTS`, one line per call: a reply that only calls tools is not blank.
pub fn print_tool_calls(out: &mut impl Write, calls: &[ToolCall]) -> io::Result<()> {
    for call in calls {
        writeln!(
            out,
            "tool call {} {} {}",
            call.id, call.function.name, call.function.arguments
        )?;
    }
    Ok(())
}
