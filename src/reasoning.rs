//! A reasoning model's thinking, split off from its answer.
//!
//! DeepSeek-R1 and its kin write their reasoning either in a `reasoning_content` field (the
//! formatter reads that) or inline, as a leading `<think>…</think>` block of the text. This file
//! splits the inline block off: the answer is then the text after `</think>`, byte for byte. In a
//! stream the block may be cut anywhere, even inside a tag, so [`ThinkSplitter`] holds back the
//! few bytes that could still turn out to be a tag.

use crate::chunk::StreamChunk;

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Leading whitespace held while waiting for `<think>`: past this the text is an answer.
const MAX_LEADING_WHITESPACE: usize = 1024;

/// Splits a whole text into its leading `<think>` block's content and the answer after it.
///
/// Whitespace before `<think>` is dropped with the block. A block that never closes (the answer
/// was cut, e.g. by `max_tokens`) is all reasoning, with an empty answer. A text without the
/// block is all answer.
///
/// ```
/// use azureml_endpoint::formatter::split_think;
/// assert_eq!(
///     split_think("<think>\nsky: Rayleigh\n</think>\n\nBlue."),
///     (Some("\nsky: Rayleigh\n".to_owned()), "\n\nBlue.".to_owned())
/// );
/// assert_eq!(split_think("Blue."), (None, "Blue.".to_owned()));
/// ```
pub fn split_think(text: &str) -> (Option<String>, String) {
    let Some(inside) = text.trim_start().strip_prefix(OPEN) else {
        return (None, text.to_owned());
    };
    match inside.split_once(CLOSE) {
        Some((reasoning, answer)) => (Some(reasoning.to_owned()), answer.to_owned()),
        None => (Some(inside.to_owned()), String::new()),
    }
}

/// Joins reasoning from a field and from a `<think>` block, either of which may be absent.
pub(crate) fn join(field: Option<String>, block: Option<String>) -> Option<String> {
    match (field, block) {
        (Some(field), Some(block)) => Some(field + "\n" + &block),
        (field, block) => field.or(block),
    }
}

/// Where a stream is in its text.
#[derive(Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Nothing but whitespace yet: a `<think>` may still open.
    #[default]
    Start,
    /// Inside the block.
    Thinking,
    /// After the block, or there was none: all text is answer.
    Answer,
}

/// Splits a leading `<think>` block off a streamed text, whatever the chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct ThinkSplitter {
    phase: Phase,
    /// Text not yet given out: leading whitespace and a partial `<think>`, or inside the block a
    /// tail that may be the start of `</think>`.
    held: String,
}

impl ThinkSplitter {
    /// Moves the chunk's block text (if any) from `text` to `reasoning`, holding back what may
    /// be part of a tag.
    pub fn apply(&mut self, chunk: &mut StreamChunk) {
        if self.phase == Phase::Answer || chunk.text.is_empty() {
            return;
        }
        self.held.push_str(&chunk.text);
        chunk.text.clear();
        if self.phase == Phase::Start {
            let trimmed = self.held.trim_start();
            if let Some(inside) = trimmed.strip_prefix(OPEN) {
                self.held = inside.to_owned();
                self.phase = Phase::Thinking;
            } else if (OPEN.starts_with(trimmed) || trimmed.is_empty())
                && self.held.len() <= MAX_LEADING_WHITESPACE
            {
                return;
            } else {
                self.phase = Phase::Answer;
                chunk.text = std::mem::take(&mut self.held);
                return;
            }
        }
        let thought = match self.held.split_once(CLOSE) {
            Some((thought, answer)) => {
                chunk.text = answer.to_owned();
                self.phase = Phase::Answer;
                let thought = thought.to_owned();
                self.held.clear();
                thought
            }
            None => {
                let keep = partial_close(&self.held);
                let rest = self.held.split_off(self.held.len() - keep);
                std::mem::replace(&mut self.held, rest)
            }
        };
        push_reasoning(chunk, thought);
    }

    /// Adds what is still held to `chunk`, the last of the text: leading text that never became
    /// a block is answer, the tail of an unclosed block is reasoning.
    pub fn finish(&mut self, chunk: &mut StreamChunk) {
        let held = std::mem::take(&mut self.held);
        if std::mem::replace(&mut self.phase, Phase::Answer) == Phase::Thinking {
            push_reasoning(chunk, held);
        } else {
            chunk.text.push_str(&held);
        }
    }
}

fn push_reasoning(chunk: &mut StreamChunk, thought: String) {
    if thought.is_empty() {
        return;
    }
    match &mut chunk.reasoning {
        // A `reasoning_content` in the same event comes first.
        Some(reasoning) => reasoning.push_str(&thought),
        None => chunk.reasoning = Some(thought),
    }
}

/// The length of the longest tail of `text` that is a proper start of `</think>`.
fn partial_close(text: &str) -> usize {
    (1..CLOSE.len())
        .rev()
        .find(|&n| CLOSE.get(..n).is_some_and(|start| text.ends_with(start)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (reasoning, answer) a stream of `pieces` gives, joined.
    fn streamed(pieces: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::default();
        let (mut reasoning, mut answer) = (String::new(), String::new());
        let mut take = |chunk: &StreamChunk| {
            reasoning.push_str(chunk.reasoning.as_deref().unwrap_or_default());
            answer.push_str(&chunk.text);
        };
        for piece in pieces {
            let mut chunk = StreamChunk::new(*piece);
            splitter.apply(&mut chunk);
            take(&chunk);
        }
        let mut last = StreamChunk::default();
        splitter.finish(&mut last);
        take(&last);
        (reasoning, answer)
    }

    #[test]
    fn whole_texts() {
        let split = |t: &str| split_think(t);
        assert_eq!(split("<think>a</think>b"), (Some("a".into()), "b".into()));
        assert_eq!(split("\n <think>a</think>"), (Some("a".into()), "".into()));
        assert_eq!(split("<think>cut short"), (Some("cut short".into()), "".into()));
        assert_eq!(split("x<think>a</think>b"), (None, "x<think>a</think>b".into()));
        assert_eq!(
            split("<think></think>b</think>"),
            (Some("".into()), "b</think>".into())
        );
        assert_eq!(split(""), (None, "".into()));
    }

    #[test]
    fn a_block_split_at_every_byte_gives_the_same_parts() {
        let text = "\n<think>Rayleigh, 😀 </thin no; </think>\n\nBlue <think>x</think>.";
        let whole = split_think(text);
        let expected = (whole.0.unwrap_or_default(), whole.1);
        for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let (a, b) = text.split_at(cut);
            assert_eq!(streamed(&[a, b]), expected, "cut at {cut}");
        }
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let pieces: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(streamed(&pieces), expected);
    }

    #[test]
    fn streams_without_a_block_pass_through_at_once() {
        let mut splitter = ThinkSplitter::default();
        let mut chunk = StreamChunk::new("Hello");
        splitter.apply(&mut chunk);
        assert_eq!(chunk, StreamChunk::new("Hello"));
        assert_eq!(streamed(&["<th", "ink? no"]), ("".into(), "<think? no".into()));
        assert_eq!(streamed(&["<thi"]), ("".into(), "<thi".into()));
        assert_eq!(
            streamed(&["<think>never closed </th"]),
            ("never closed </th".into(), "".into())
        );
    }

    #[test]
    fn leading_whitespace_is_held_only_so_long() {
        let spaces = " ".repeat(MAX_LEADING_WHITESPACE + 1);
        assert_eq!(
            streamed(&[&spaces, "<think>a</think>"]),
            ("".into(), format!("{spaces}<think>a</think>"))
        );
    }
}
