//! The blocking iterator both clients' `stream` methods return, and its error policy: what
//! ends a stream, what is an error, and what an error may show. The framing is in `sse.rs`; what
//! an event means is the formatter's `parse_stream_event`.

use std::fmt;
use std::io::Read;
use std::iter::FusedIterator;
use std::time::Duration;

use serde_json::Value;

use crate::chunk::StreamChunk;
use crate::error::{Error, Result, StreamErrorKind};
use crate::excerpt::EXCERPT_CHARS;
use crate::reasoning::ThinkSplitter;
use crate::secret::Scrubber;
use crate::sse::{ReadFailure, SseReader, MAX_EVENT_BYTES};
use crate::telemetry::CallSpan;

/// How much of a service's error message a stream error shows.
const MESSAGE_CHARS: usize = 2048;

/// Reads one event's data as a chunk: the formatter's `parse_stream_event`, bound to the client's
/// api type. `None` when the event is not a chunk.
pub(crate) type ParseEvent = Box<dyn Fn(&[u8]) -> Option<StreamChunk> + Send>;

/// A streamed answer: a blocking iterator of [`StreamChunk`]s, each yielded as its event arrives.
///
/// The stream ends (`None`) after `data: [DONE]`, or when the body ends after a chunk with a
/// finish reason. Otherwise it yields one [`Error::Stream`] and then ends; the chunks before it
/// were real, but the answer is incomplete:
///
/// - [`StreamErrorKind::Truncated`]: the body ended (or the connection broke) before `[DONE]`
///   and without a finish reason;
/// - [`StreamErrorKind::ServiceError`]: an event carried `{"error": …}` (or was an
///   `event: error`);
/// - [`StreamErrorKind::BadEvent`]: an event's data was not a chunk the formatter reads (see
///   [`ContentFormatter::parse_stream_event`](crate::ContentFormatter::parse_stream_event));
/// - [`StreamErrorKind::EventTooLarge`]: one event was over 1 MiB;
/// - [`StreamErrorKind::Timeout`]: no next chunk within the timeout (the client's, or the
///   call's). Only a yielded chunk restarts that wait: comments (`: keep-alive`), blank `data:`
///   and events carrying nothing do not, and a server trickling them (or an event byte by byte)
///   is cut off within twice the timeout.
///
/// Comments, `event:`/`id:`/`retry:` fields, CRLF or CR line ends and events carrying nothing
/// (such as Azure's content-filter preamble) are skipped. A stream is never retried once it has
/// started. It holds no key: its `Debug` shows only the request id and progress, and the key is
/// removed from error events and bad events before they become errors.
pub struct CompletionStream {
    state: State,
    request_id: Option<String>,
    rate_limits: crate::rate_limit::RateLimits,
    chunks: u64,
    scrubber: Scrubber,
    /// The call's span, ended with the stream (or when it is dropped).
    span: Option<CallSpan>,
}

enum State {
    Events(Events),
    Whole(StreamChunk),
    Done,
}

/// A stream being read: its events, how to read one, and whether the answer is whole yet.
struct Events {
    reader: SseReader,
    parse: ParseEvent,
    /// What a chunk looks like, for the error an event that is not one gives.
    expected: String,
    /// A chunk with a finish reason was yielded: the answer is whole even without `[DONE]`.
    finished: bool,
    /// Moves a leading `<think>` block from the chunks' text to their reasoning.
    think: ThinkSplitter,
    /// The answer is whole when the body ends cleanly (a dedicated endpoint's stream, such as a
    /// prompt flow's, has no `[DONE]`).
    ends_with_body: bool,
}

impl fmt::Debug for CompletionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Events(_) => "streaming",
            State::Whole(_) => "whole answer pending",
            State::Done => "done",
        };
        f.debug_struct("CompletionStream")
            .field("request_id", &self.request_id)
            .field("chunks", &self.chunks)
            .field("state", &state)
            .finish()
    }
}

impl CompletionStream {
    /// The service's request id, for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The endpoint's `x-ratelimit-*` headers on the response.
    pub fn rate_limits(&self) -> &crate::rate_limit::RateLimits {
        &self.rate_limits
    }

    pub(crate) fn with_rate_limits(mut self, rate_limits: crate::rate_limit::RateLimits) -> Self {
        self.rate_limits = rate_limits;
        self
    }

    pub(crate) fn with_span(mut self, span: CallSpan) -> Self {
        self.span = Some(span);
        self
    }

    /// A stream over an SSE `body`, each event read by `parse` (`expected` says what it reads);
    /// `timeout` bounds the wait for each next chunk, and `scrubber` removes the key from what
    /// error events show. With `ends_with_body` a clean end of the body ends the answer.
    pub(crate) fn events(
        body: Box<dyn Read + Send>,
        request_id: Option<String>,
        timeout: Duration,
        scrubber: Scrubber,
        parse: ParseEvent,
        expected: String,
        ends_with_body: bool,
    ) -> Self {
        let events = Events {
            reader: SseReader::new(body, timeout),
            parse,
            expected,
            finished: false,
            think: ThinkSplitter::default(),
            ends_with_body,
        };
        CompletionStream {
            state: State::Events(events),
            request_id,
            rate_limits: crate::rate_limit::RateLimits::default(),
            chunks: 0,
            scrubber,
            span: None,
        }
    }

    /// A stream of one chunk, a whole answer from an endpoint that does not stream.
    pub(crate) fn whole(chunk: StreamChunk, request_id: Option<String>) -> Self {
        CompletionStream {
            state: State::Whole(chunk),
            request_id,
            rate_limits: crate::rate_limit::RateLimits::default(),
            chunks: 0,
            scrubber: Scrubber::default(),
            span: None,
        }
    }

    /// The next chunk from the SSE body, or the end, or the error that ends the stream.
    fn next_event_chunk(
        events: &mut Events,
        chunks: u64,
        scrubber: &Scrubber,
        mut span: Option<&mut CallSpan>,
    ) -> Option<Result<StreamChunk>> {
        let Events {
            reader,
            parse,
            expected,
            finished,
            think,
            ends_with_body,
        } = events;
        loop {
            let event = match reader.next_event() {
                Ok(event) => event,
                Err(ReadFailure::TooLarge) => {
                    return Some(Err(Error::stream(
                        StreamErrorKind::EventTooLarge,
                        format!(
                            "an event is over the {MAX_EVENT_BYTES}-byte limit, after {}",
                            count(chunks)
                        ),
                    )))
                }
                Err(ReadFailure::Timeout) => {
                    return Some(Err(Error::stream(
                        StreamErrorKind::Timeout,
                        format!(
                            "no chunk within {:.1} s, after {}; the answer is incomplete",
                            reader.timeout.as_secs_f64(),
                            count(chunks)
                        ),
                    )))
                }
                Err(ReadFailure::Io(e)) => return ended(*finished, chunks, Some(&e)),
            };
            let Some(event) = event else {
                return ended(*finished || *ends_with_body, chunks, None);
            };
            let data = event.data.trim_ascii();
            if data == b"[DONE]" {
                return None;
            }
            if data.is_empty() {
                continue;
            }
            if event.is_error {
                return Some(Err(event_error(data, true, expected, scrubber)));
            }
            if let Some(span) = span.as_mut().filter(|s| s.wants_names()) {
                span.names(data);
            }
            match parse(data) {
                Some(mut chunk) => {
                    think.apply(&mut chunk);
                    if chunk.finish_reason.is_some() {
                        think.finish(&mut chunk);
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    *finished |= chunk.finish_reason.is_some();
                    reader.restart_deadline();
                    return Some(Ok(chunk));
                }
                None => return Some(Err(event_error(data, false, expected, scrubber))),
            }
        }
    }
}

impl Iterator for CompletionStream {
    type Item = Result<StreamChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match std::mem::replace(&mut self.state, State::Done) {
            State::Done => None,
            State::Whole(chunk) => Some(Ok(chunk)),
            State::Events(mut events) => {
                let span = self.span.as_mut();
                let item = Self::next_event_chunk(&mut events, self.chunks, &self.scrubber, span);
                match item {
                    Some(Ok(_)) => self.state = State::Events(events),
                    // A whole stream: text still held for a `<think>` tag that never came.
                    None => {
                        let mut last = StreamChunk::default();
                        events.think.finish(&mut last);
                        return (!last.is_empty()).then(|| {
                            self.chunks += 1;
                            Ok(last)
                        });
                    }
                    Some(Err(_)) => {}
                }
                item
            }
        };
        if matches!(item, Some(Ok(_))) {
            self.chunks += 1;
        }
        if let Some(span) = &mut self.span {
            match &item {
                Some(Ok(chunk)) => span.chunk(chunk),
                Some(Err(error)) => span.failed(error),
                None => span.stream_ended(),
            }
        }
        item
    }
}

impl FusedIterator for CompletionStream {}

/// The error an event that is not a chunk stands for. The only way event text reaches an error:
/// the key is removed from the whole event first, then what is shown is cut.
fn event_error(data: &[u8], is_error_event: bool, expected: &str, scrubber: &Scrubber) -> Error {
    let data = scrubber.scrub_bytes(data);
    let excerpt = |max| crate::excerpt::excerpt(&data, max);
    match serde_json::from_slice::<Value>(&data) {
        Ok(json) if is_error_event || json.get("error").is_some_and(|e| !e.is_null()) => {
            service_error(&json, scrubber).unwrap_or_else(|| service_error_text(&excerpt(500)))
        }
        Err(_) if is_error_event => service_error_text(&excerpt(500)),
        Ok(_) => Error::stream(
            StreamErrorKind::BadEvent,
            format!("an event is not {expected}: {:?}", excerpt(EXCERPT_CHARS)),
        ),
        Err(e) => Error::stream(
            StreamErrorKind::BadEvent,
            format!("an event is not JSON ({e}): {:?}", excerpt(EXCERPT_CHARS)),
        ),
    }
}

/// The service's own words from an error event's JSON: `error.message`, `error` as text, or
/// `message`, with `error.code`; `None` when it has none of them.
fn service_error(json: &Value, scrubber: &Scrubber) -> Option<Error> {
    let error = json.get("error").unwrap_or(json);
    let message = error
        .get("message")
        .or_else(|| json.get("message"))
        .and_then(Value::as_str)
        .or_else(|| error.as_str())?;
    let code = error
        .get("code")
        .filter(|c| c.is_string() || c.is_number())
        .map(|c| {
            let code = c.as_str().map_or_else(|| c.to_string(), str::to_owned);
            format!(" (code {})", scrubber.cut(&code, 100))
        })
        .unwrap_or_default();
    // Decoding may have joined a key that escapes had split: scrubbed again, then cut.
    let message = scrubber.cut(message, MESSAGE_CHARS);
    Some(Error::stream(
        StreamErrorKind::ServiceError,
        format!("the service sent an error event{code}: {message}"),
    ))
}

fn service_error_text(text: &str) -> Error {
    Error::stream(
        StreamErrorKind::ServiceError,
        format!("the service sent an error event: {text}"),
    )
}

/// "1 chunk", "2 chunks": how far a failed stream got.
fn count(chunks: u64) -> String {
    match chunks {
        1 => "1 chunk".to_owned(),
        n => format!("{n} chunks"),
    }
}

/// The end of the body (or a broken connection, `cause`): whole if a finish reason came.
fn ended(finished: bool, chunks: u64, cause: Option<&std::io::Error>) -> Option<Result<StreamChunk>> {
    if finished {
        return None;
    }
    let mut message = format!(
        "the stream ended before `data: [DONE]` and without a finish reason, after {}; the \
         answer is incomplete",
        count(chunks)
    );
    if let Some(cause) = cause {
        message.push_str(&format!(" (connection: {cause})"));
    } else if chunks == 0 {
        message.push_str(" (no events at all: does this endpoint stream?)");
    }
    Some(Err(Error::stream(StreamErrorKind::Truncated, message)))
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    /// Reads `body` in pieces of `step` bytes, to cross every boundary.
    struct Trickle {
        body: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let end = (self.pos + self.step)
                .min(self.body.len())
                .min(self.pos + buf.len());
            let n = end - self.pos;
            buf[..n].copy_from_slice(&self.body[self.pos..end]);
            self.pos = end;
            Ok(n)
        }
    }

    fn openai_stream(body: Box<dyn Read + Send>, timeout: Duration) -> CompletionStream {
        let parse = Box::new(crate::formatter::openai::stream_chunk);
        let expected = crate::formatter::stream_chunk_shape("gpt2");
        CompletionStream::events(body, None, timeout, Scrubber::default(), parse, expected, false)
    }

    fn stream_of(body: &[u8], step: usize) -> CompletionStream {
        let reader = Trickle {
            body: body.to_vec(),
            pos: 0,
            step,
        };
        openai_stream(Box::new(reader), Duration::from_secs(5))
    }

    fn texts(body: &[u8], step: usize) -> Vec<std::result::Result<String, String>> {
        stream_of(body, step)
            .map(|c| c.map(|c| c.text).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn line_ends_and_fields_across_every_read_boundary() {
        let body = "\u{feff}data: {\"choices\": [{\"text\": \"0\"}]}\n\n: hi\r\nevent: message\r\nid: 1\r\nretry: 5\r\n\
                    data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}]}\r\n\r\n\
                    data: {\"choices\": [{\"text\": \"b\"}]}\r\r\
                    data: {\"choices\": [{\"delta\": {\"content\": \"c\\n\"}}]}\n\n\
                    data: [DONE]\n\n";
        for step in 1..=body.len() {
            assert_eq!(
                texts(body.as_bytes(), step),
                vec![Ok("0".into()), Ok("a".into()), Ok("b".into()), Ok("c\n".into())],
                "step {step}"
            );
        }
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let body = b"data: {\"choices\":\ndata: [{\"text\": \"x\"}]}\n\ndata:[DONE]\n\n";
        assert_eq!(texts(body, 7), vec![Ok("x".into())]);
    }

    #[test]
    fn done_without_blank_line_ends_cleanly() {
        assert_eq!(
            texts(b"data: {\"choices\": [{\"text\": \"x\"}]}\n\ndata: [DONE]", 64),
            vec![Ok("x".into())]
        );
    }

    #[test]
    fn end_after_finish_reason_is_whole_and_cut_event_is_dropped() {
        let body = b"data: {\"choices\": [{\"text\": \"x\", \"finish_reason\": \"stop\"}]}\n\ndata: {\"us";
        assert_eq!(texts(body, 64), vec![Ok("x".into())]);
    }

    #[test]
    fn event_limit_counts_bytes_before_buffering_them() {
        let mut body = b"data: ".to_vec();
        body.resize(MAX_EVENT_BYTES + 10, b'a');
        let mut stream = stream_of(&body, 4096);
        match stream.next() {
            Some(Err(Error::Stream(e))) => assert_eq!(e.kind, StreamErrorKind::EventTooLarge),
            other => panic!("{other:?}"),
        }
        assert!(stream.next().is_none());
    }

    #[test]
    fn read_timeout_is_a_timeout_error() {
        struct Stalled;
        impl Read for Stalled {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(ErrorKind::TimedOut.into())
            }
        }
        let mut stream = openai_stream(Box::new(Stalled), Duration::from_secs(2));
        assert_eq!(
            stream.next().map(|r| r.map_err(|e| e.to_string())),
            Some(Err(
                "stream failed: no chunk within 2.0 s, after 0 chunks; the answer is incomplete".into()
            ))
        );
        assert!(stream.next().is_none());
    }

    #[test]
    fn empty_and_preamble_events_are_skipped() {
        let body = b"data: {\"choices\": [], \"prompt_filter_results\": []}\n\ndata:\n\n\
                     data: {\"choices\": [{\"text\": \"x\"}]}\n\ndata: [DONE]\n\n";
        assert_eq!(texts(body, 64), vec![Ok("x".into())]);
    }

    #[test]
    fn error_event_type_and_error_field_are_service_errors() {
        let body = b"event: error\ndata: {\"message\": \"overloaded\"}\n\n";
        assert_eq!(
            texts(body, 64),
            vec![Err(
                "stream failed: the service sent an error event: overloaded".into()
            )]
        );
        let body = b"data: {\"error\": {\"code\": 429, \"message\": \"slow down\"}}\n\n";
        assert_eq!(
            texts(body, 64),
            vec![Err(
                "stream failed: the service sent an error event (code 429): slow down".into()
            )]
        );
    }

    #[test]
    fn wrong_types_are_bad_events() {
        let body = b"data: {\"choices\": [{\"text\": 5}]}\n\n";
        let mut stream = stream_of(body, 64);
        match stream.next() {
            Some(Err(Error::Stream(e))) => assert_eq!(e.kind, StreamErrorKind::BadEvent),
            other => panic!("{other:?}"),
        }
        assert!(stream.next().is_none());
    }

    #[test]
    fn a_think_block_across_events_is_reasoning() {
        let body = b"data: {\"choices\": [{\"delta\": {\"role\": \"assistant\", \"content\": \"<thi\"}}]}\n\n\
                     data: {\"choices\": [{\"delta\": {\"content\": \"nk>sky</thi\"}}]}\n\n\
                     data: {\"choices\": [{\"delta\": {\"content\": \"nk>\\n\\nBlue\"}}]}\n\n\
                     data: {\"choices\": [{\"delta\": {\"reasoning_content\": \"late\"}, \"finish_reason\": \"stop\"}]}\n\n\
                     data: [DONE]\n\n";
        let parts: Vec<_> = stream_of(body, 64)
            .map(|c| c.map(|c| (c.reasoning, c.text)).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            parts,
            vec![
                Ok((None, "".into())),
                Ok((Some("sky".into()), "".into())),
                Ok((None, "\n\nBlue".into())),
                Ok((Some("late".into()), "".into())),
            ]
        );
        let unclosed = b"data: {\"choices\": [{\"text\": \"<think>hm</th\"}]}\n\ndata: [DONE]\n\n";
        let parts: Vec<_> = stream_of(unclosed, 64)
            .map(|c| c.map(|c| (c.reasoning, c.text)).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            parts,
            vec![
                Ok((Some("hm".into()), "".into())),
                Ok((Some("</th".into()), "".into()))
            ]
        );
    }
}
