//! A streamed echo answer, made one event at a time as the connection writes it.
//!
//! Nothing here grows with the answer: the connection asks for the next event only when the
//! previous one is on the socket, so a client that stops reading holds the server to one event
//! (plus the text it sent), however long the answer.

use serde_json::{json, Value};

/// A piece of text is cut here too when no whitespace comes sooner, so one event stays small.
pub(super) const MAX_PIECE: usize = 1024;

/// What comes after the text's pieces.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    Pieces,
    Finish,
    Usage,
    Done,
    End,
}

pub(super) struct Events {
    id: String,
    chat: bool,
    text: String,
    /// Where the next piece starts in `text`.
    at: usize,
    step: Step,
    /// Sent after the finish event when the request asked for it.
    usage: Option<Value>,
}

impl Events {
    pub(super) fn new(id: &str, chat: bool, text: &str, usage: Option<Value>) -> Events {
        Events {
            id: id.to_owned(),
            chat,
            text: text.to_owned(),
            at: 0,
            step: Step::Pieces,
            usage,
        }
    }

    /// True once `[DONE]` has been written.
    pub(super) fn done(&self) -> bool {
        self.step == Step::End
    }

    /// Appends the next event, `data: <payload>\n\n`, to `out`; nothing once [`done`](Self::done).
    pub(super) fn write_next(&mut self, out: &mut Vec<u8>) {
        let payload = match self.step {
            Step::Pieces => match next_piece(&self.text, self.at) {
                Some(piece) => {
                    let first = self.at == 0;
                    self.at += piece.len();
                    let content = match (self.chat, first) {
                        (false, _) => json!(piece),
                        (true, true) => json!({"role": "assistant", "content": piece}),
                        (true, false) => json!({"content": piece}),
                    };
                    self.chunk(content, Value::Null)
                }
                None => {
                    self.step = Step::Finish;
                    return self.write_next(out);
                }
            },
            Step::Finish => {
                self.step = match self.usage {
                    Some(_) => Step::Usage,
                    None => Step::Done,
                };
                let empty = if self.chat { json!({}) } else { json!("") };
                self.chunk(empty, json!("stop"))
            }
            Step::Usage => {
                self.step = Step::Done;
                let mut event = self.event(json!([]));
                if let (Some(usage), Some(fields)) = (self.usage.take(), event.as_object_mut()) {
                    fields.insert("usage".into(), usage);
                }
                event
            }
            Step::Done => {
                self.step = Step::End;
                out.extend_from_slice(b"data: [DONE]\n\n");
                return;
            }
            Step::End => return,
        };
        out.extend_from_slice(b"data: ");
        // A Value always serializes; writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &payload);
        out.extend_from_slice(b"\n\n");
    }

    fn event(&self, choices: Value) -> Value {
        let object = if self.chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        json!({"id": self.id, "object": object, "model": "echo", "choices": choices})
    }

    fn chunk(&self, content: Value, finish: Value) -> Value {
        let field = if self.chat { "delta" } else { "text" };
        self.event(json!([{"index": 0, field: content, "finish_reason": finish}]))
    }
}

/// The piece of `text` from `at`: up to and including the next whitespace run, or
/// [`MAX_PIECE`] bytes (at a character boundary) if that comes first; `None` at the end.
fn next_piece(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..).filter(|rest| !rest.is_empty())?;
    let mut after_space = false;
    for (i, c) in rest.char_indices() {
        if (after_space && !c.is_whitespace()) || i >= MAX_PIECE {
            return rest.get(..i);
        }
        after_space = c.is_whitespace();
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    use serde_json::json;

    use super::super::echo;
    use super::super::http::{write_events, Payload, Request};
    use super::*;

    /// Splits like the stream does, to the end.
    fn pieces(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(piece) = next_piece(text, at) {
            at += piece.len();
            out.push(piece);
        }
        out
    }

    #[test]
    fn pieces_end_after_whitespace_runs_and_concatenate_to_the_text() {
        assert_eq!(pieces("  a  b\n"), ["  ", "a  ", "b\n"]);
        assert_eq!(pieces("a\u{3000}b"), ["a\u{3000}", "b"]);
        assert_eq!(pieces(""), Vec::<&str>::new());
        let long = format!("{} ok", "é".repeat(MAX_PIECE));
        let cut = pieces(&long);
        assert_eq!(
            cut.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [1024, 1024, 1, 2]
        );
        assert_eq!(cut.concat(), long);
    }

    /// A socket stand-in that keeps counts, not bytes; with `stall_after`, it stops taking bytes
    /// there, as a client that stops reading does once the kernel's buffers are full.
    struct Counting {
        total: usize,
        writes: usize,
        largest: usize,
        stall_after: Option<usize>,
    }

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.stall_after.is_some_and(|n| self.total + buf.len() > n) {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.total += buf.len();
            self.writes += 1;
            self.largest = self.largest.max(buf.len());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The echo model's answer to a streamed chat whose last message is `text`.
    fn streamed_chat(text: &str) -> Events {
        let body = json!({"messages": [{"role": "user", "content": text}], "stream": true,
                          "stream_options": {"include_usage": true}});
        let request = Request {
            method: "POST".into(),
            target: "/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "Bearer k".into())],
            body: body.to_string().into_bytes(),
            close: false,
        };
        match echo::answer(&request, "local-1").payload {
            Payload::Events(events) => events,
            Payload::Json(json) => panic!("not a stream: {json}"),
        }
    }

    #[test]
    fn a_long_answer_is_written_holding_one_event_at_a_time() {
        // 20000 words and one word of 1 MiB: about 4 MB of events.
        let text = format!("{}{}", "word ".repeat(20_000), "x".repeat(1 << 20));
        let mut events = streamed_chat(&text);
        let mut socket = Counting {
            total: 0,
            writes: 0,
            largest: 0,
            stall_after: None,
        };
        let held = write_events(&mut socket, &mut events, || Ok(())).unwrap();
        // One write per event: 20000 words, 1024 pieces of the long word, finish, usage, [DONE].
        assert_eq!(socket.writes, 20_000 + 1024 + 3);
        assert!(socket.total > 4_000_000, "{}", socket.total);
        assert!(held <= 4096, "the server held {held} bytes at once");
        assert!(socket.largest <= 4096, "{}", socket.largest);
        assert!(events.done());
    }

    #[test]
    fn a_client_that_stops_reading_holds_the_server_to_one_event() {
        let mut events = streamed_chat(&"word ".repeat(100_000));
        let mut socket = Counting {
            total: 0,
            writes: 0,
            largest: 0,
            stall_after: Some(64 * 1024),
        };
        let error = write_events(&mut socket, &mut events, || Ok(())).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        // Events were made only as fast as they were taken: the rest of the 100000 are unmade.
        assert!(socket.writes < 1000, "{}", socket.writes);
        let mut next = Vec::new();
        events.write_next(&mut next);
        let next = String::from_utf8(next).unwrap();
        assert!(next.starts_with("data: {\"id\":\"local-1\""), "{next}");
        assert!(
            next.ends_with("\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n"),
            "{next}"
        );
        // The event the stalled write refused, and the one just made.
        assert_eq!(events.at, (socket.writes + 2) * "word ".len());
    }
}
