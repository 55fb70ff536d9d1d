//! Streaming: a Server-Sent Events reader over the response body, and the blocking iterator both
//! clients return.
//!
//! The reader holds at most one event (capped at 1 MiB) plus a fixed read buffer, so memory stays
//! flat however long the stream runs, and each event is handed out as soon as its blank line
//! arrives.

use std::fmt;
use std::io::{ErrorKind, Read};
use std::iter::FusedIterator;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::ApiType;
use crate::error::{Error, Result, StreamErrorKind, EXCERPT_CHARS};
use crate::formatter::{Completion, Usage};
use crate::message::{ChatCompletion, ChatMessage, Role};
use crate::params::CallOptions;
use crate::secret::Scrubber;
use crate::transport::{Outgoing, Transport};
use crate::{AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint};

/// The `Accept` of streaming requests.
const EVENT_STREAM: &str = "text/event-stream";
/// One event (its lines, comments included) larger than this is an error.
const MAX_EVENT_BYTES: usize = 1024 * 1024;
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// How much of a service's error message a stream error shows.
const MESSAGE_CHARS: usize = 2048;

impl AzureMlOnlineEndpoint {
    /// Completes one prompt, yielding the text as the model produces it.
    ///
    /// On a serverless endpoint the request is the one [`invoke`](Self::invoke) sends, with
    /// `"stream": true` added to the parameters and `Accept: text/event-stream`; each event's
    /// `choices[0].text` is yielded as soon as it arrives. A dedicated endpoint does not stream:
    /// the whole answer comes as one chunk.
    ///
    /// ```no_run
    /// use azureml_endpoint::{ApiType, AzureMlOnlineEndpoint};
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-model.eastus2.models.ai.azure.com/v1/completions")
    ///     .api_type(ApiType::Serverless)
    ///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
    ///     .build()?;
    /// for chunk in llm.stream("Once upon a time")? {
    ///     print!("{}", chunk?.text);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Before the first chunk, as [`invoke`](Self::invoke): [`Error::Http`] for an error status
    /// (after retries), [`Error::Transport`] when no response came. Failures part-way come
    /// from the iterator, see [`CompletionStream`].
    pub fn stream(&self, prompt: &str) -> Result<CompletionStream> {
        self.stream_with(prompt, &CallOptions::default())
    }

    /// Like [`stream`](Self::stream), with per-call parameters, stop words or timeout; the
    /// timeout bounds the wait for each next chunk.
    ///
    /// # Errors
    /// As [`stream`](Self::stream).
    pub fn stream_with(&self, prompt: &str, options: &CallOptions) -> Result<CompletionStream> {
        let config = self.config();
        if config.api_type == ApiType::Dedicated {
            return self
                .invoke_with(prompt, options)
                .map(CompletionStream::from_completion);
        }
        let formatter = self.formatter();
        let params = streaming_params(options, &config.model_kwargs);
        let body = formatter.format_request(prompt, &params, config.api_type)?;
        CompletionStream::start(
            self.transport(),
            &body,
            formatter.content_type(),
            options,
            config.timeout,
        )
    }
}

impl AzureMlChatOnlineEndpoint {
    /// Sends a conversation, yielding the reply as the model produces it.
    ///
    /// On a serverless endpoint the request is the one [`invoke`](Self::invoke) sends (Mistral's
    /// system merge included), with `"stream": true` added to the parameters and
    /// `Accept: text/event-stream`; each event's `choices[0].delta` is yielded as soon as it
    /// arrives. A dedicated endpoint does not stream: the whole reply comes as one chunk.
    ///
    /// ```no_run
    /// use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, ChatMessage};
    ///
    /// let chat = AzureMlChatOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-model.eastus2.models.ai.azure.com/v1/chat/completions")
    ///     .api_type(ApiType::Serverless)
    ///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
    ///     .build()?;
    /// let reply: String = chat
    ///     .stream(&[ChatMessage::user("Why is the sky blue?")])?
    ///     .map(|chunk| chunk.map(|c| c.text))
    ///     .collect::<Result<_, _>>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Input`] for an empty conversation, then as
    /// [`AzureMlOnlineEndpoint::stream`].
    pub fn stream(&self, messages: &[ChatMessage]) -> Result<CompletionStream> {
        self.stream_with(messages, &CallOptions::default())
    }

    /// Like [`stream`](Self::stream), with per-call parameters (e.g. `tools`), stop words or
    /// timeout; the timeout bounds the wait for each next chunk.
    ///
    /// # Errors
    /// As [`stream`](Self::stream).
    pub fn stream_with(&self, messages: &[ChatMessage], options: &CallOptions) -> Result<CompletionStream> {
        let config = self.config();
        if config.api_type == ApiType::Dedicated {
            return self
                .invoke_with(messages, options)
                .map(CompletionStream::from_chat);
        }
        let formatter = self.formatter();
        let params = streaming_params(options, &config.model_kwargs);
        let body = formatter.format_messages(messages, &params, config.api_type)?;
        CompletionStream::start(
            self.transport(),
            &body,
            formatter.content_type(),
            options,
            config.timeout,
        )
    }
}

/// The merged parameters with `"stream": true`, so custom formatters see it too.
fn streaming_params(options: &CallOptions, model_kwargs: &Map<String, Value>) -> Map<String, Value> {
    let mut params = options.merge(model_kwargs).into_owned();
    params.insert("stream".to_owned(), Value::Bool(true));
    params
}

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
    /// Whether the chunk carries nothing at all (such events are skipped, not yielded).
    fn is_empty(&self) -> bool {
        self.text.is_empty()
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
/// - [`StreamErrorKind::BadEvent`]: an event's data was not a JSON completion chunk;
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
    chunks: u64,
    scrubber: Scrubber,
}

enum State {
    Events(SseReader),
    Whole(StreamChunk),
    Done,
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

    fn start(
        transport: &Transport,
        body: &[u8],
        content_type: &str,
        options: &CallOptions,
        client_timeout: Duration,
    ) -> Result<Self> {
        let call_timeout = options.checked_timeout()?;
        let reply = transport.post_stream(&Outgoing {
            body,
            content_type,
            accept: EVENT_STREAM,
            timeout: call_timeout,
        })?;
        let timeout = call_timeout.unwrap_or(client_timeout);
        Ok(CompletionStream {
            state: State::Events(SseReader::new(reply.body, timeout)),
            request_id: reply.request_id,
            chunks: 0,
            scrubber: transport.scrubber().clone(),
        })
    }

    fn from_completion(completion: Completion) -> Self {
        let Completion {
            text,
            finish_reason,
            logprobs,
            usage,
            request_id,
            ..
        } = completion;
        CompletionStream {
            state: State::Whole(StreamChunk {
                text,
                finish_reason,
                logprobs,
                usage,
                ..StreamChunk::default()
            }),
            request_id,
            chunks: 0,
            scrubber: Scrubber::default(),
        }
    }

    fn from_chat(completion: ChatCompletion) -> Self {
        let ChatCompletion {
            message,
            finish_reason,
            logprobs,
            usage,
            request_id,
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
        CompletionStream {
            state: State::Whole(StreamChunk {
                text: message.content.unwrap_or_default(),
                role: Some(message.role),
                tool_calls,
                finish_reason,
                logprobs,
                usage,
            }),
            request_id,
            chunks: 0,
            scrubber: Scrubber::default(),
        }
    }

    /// The next chunk from the SSE body, or the end, or the error that ends the stream.
    fn next_event_chunk(
        reader: &mut SseReader,
        chunks: u64,
        scrubber: &Scrubber,
    ) -> Option<Result<StreamChunk>> {
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
                Err(ReadFailure::Io(e)) => return reader.ended(chunks, Some(&e)),
            };
            let Some(event) = event else {
                return reader.ended(chunks, None);
            };
            let data = event.data.trim_ascii();
            if data == b"[DONE]" {
                return None;
            }
            if data.is_empty() {
                continue;
            }
            if event.is_error {
                return Some(Err(event_error(data, true, scrubber)));
            }
            match parse_chunk(data) {
                Some(chunk) if chunk.is_empty() => continue,
                Some(chunk) => {
                    reader.finished |= chunk.finish_reason.is_some();
                    reader.restart_deadline();
                    return Some(Ok(chunk));
                }
                None => return Some(Err(event_error(data, false, scrubber))),
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
            State::Events(mut reader) => {
                let item = Self::next_event_chunk(&mut reader, self.chunks, &self.scrubber);
                if matches!(item, Some(Ok(_))) {
                    self.state = State::Events(reader);
                }
                item
            }
        };
        if matches!(item, Some(Ok(_))) {
            self.chunks += 1;
        }
        item
    }
}

impl FusedIterator for CompletionStream {}

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

/// The chunk in one event's data; `None` when the event is not one (a bad event or an error
/// event: [`event_error`] says which).
fn parse_chunk(data: &[u8]) -> Option<StreamChunk> {
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

/// The error an event that is not a chunk stands for. The only way event text reaches an error:
/// the key is removed from the whole event first, then what is shown is cut.
fn event_error(data: &[u8], is_error_event: bool, scrubber: &Scrubber) -> Error {
    let data = scrubber.scrub_bytes(data);
    let excerpt = |max| crate::error::excerpt(&data, max);
    match serde_json::from_slice::<Value>(&data) {
        Ok(json) if is_error_event || json.get("error").is_some_and(|e| !e.is_null()) => {
            service_error(&json, scrubber).unwrap_or_else(|| service_error_text(&excerpt(500)))
        }
        Err(_) if is_error_event => service_error_text(&excerpt(500)),
        Ok(_) => Error::stream(
            StreamErrorKind::BadEvent,
            format!(
                "an event is not a completion chunk (expected choices[0].delta or \
                 choices[0].text, and usage): {:?}",
                excerpt(EXCERPT_CHARS)
            ),
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

/// Why the reader could not give the next event.
enum ReadFailure {
    TooLarge,
    Timeout,
    Io(std::io::Error),
}

/// One dispatched event: its joined `data:` lines and whether it was `event: error`.
struct Event<'a> {
    data: &'a [u8],
    is_error: bool,
}

/// Splits a byte stream into SSE events (HTML Living Standard, "event stream interpretation").
struct SseReader {
    body: Box<dyn Read + Send>,
    /// Bytes read but not yet scanned are `buffer[pos..filled]`.
    buffer: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// The line being read, without its end.
    line: Vec<u8>,
    /// The current event's `data:` values joined with `\n`.
    data: Vec<u8>,
    has_data: bool,
    is_error: bool,
    /// The previous line ended with CR, so a leading LF belongs to it.
    after_cr: bool,
    /// A UTF-8 BOM may still come.
    at_start: bool,
    /// The wait allowed for each next chunk.
    timeout: Duration,
    /// When that wait began: at the start, then at each yielded chunk (events that carry
    /// nothing do not restart it).
    waiting_since: Instant,
    /// A chunk with a finish reason was yielded: the answer is whole even without `[DONE]`.
    finished: bool,
}

impl SseReader {
    fn new(body: Box<dyn Read + Send>, timeout: Duration) -> Self {
        SseReader {
            body,
            buffer: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            filled: 0,
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            is_error: false,
            after_cr: false,
            at_start: true,
            timeout,
            waiting_since: Instant::now(),
            finished: false,
        }
    }

    /// A chunk is being yielded: the wait for the next one starts now.
    fn restart_deadline(&mut self) {
        self.waiting_since = Instant::now();
    }

    /// The next event, or `None` at the end of the body. A last event without its blank line
    /// is incomplete and, as the SSE spec says, dropped, except a bare `[DONE]`.
    fn next_event(&mut self) -> std::result::Result<Option<Event<'_>>, ReadFailure> {
        self.data.clear();
        self.has_data = false;
        self.is_error = false;
        loop {
            if !self.read_line()? {
                let done = self.has_data && self.data.trim_ascii() == b"[DONE]";
                return Ok(done.then_some(Event {
                    data: &self.data,
                    is_error: false,
                }));
            }
            if std::mem::take(&mut self.at_start) && self.line.starts_with(b"\xEF\xBB\xBF") {
                self.line.drain(..3);
            }
            if self.line.is_empty() {
                if self.has_data {
                    return Ok(Some(Event {
                        data: &self.data,
                        is_error: self.is_error,
                    }));
                }
                self.is_error = false;
                continue;
            }
            let (field, value) = match self.line.iter().position(|&b| b == b':') {
                Some(0) => continue,
                Some(colon) => {
                    let (field, rest) = self.line.split_at(colon);
                    let value = rest.get(1..).unwrap_or_default();
                    (field, value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (self.line.as_slice(), &[][..]),
            };
            match field {
                b"data" => {
                    if self.has_data {
                        self.data.push(b'\n');
                    }
                    self.data.extend_from_slice(value);
                    self.has_data = true;
                }
                b"event" => self.is_error = value == b"error",
                _ => {}
            }
        }
    }

    /// Reads the next line into `self.line`; `false` at the
    /// end of the body with no partial line left.
    fn read_line(&mut self) -> std::result::Result<bool, ReadFailure> {
        self.line.clear();
        loop {
            let available = self.buffer.get(self.pos..self.filled).unwrap_or_default();
            if !available.is_empty() {
                let mut available = available;
                if std::mem::take(&mut self.after_cr) && available.first() == Some(&b'\n') {
                    self.pos += 1;
                    available = available.get(1..).unwrap_or_default();
                }
                let end = available.iter().position(|&b| b == b'\n' || b == b'\r');
                let take = end.unwrap_or(available.len());
                if self.data.len() + self.line.len() + take > MAX_EVENT_BYTES {
                    return Err(ReadFailure::TooLarge);
                }
                self.line
                    .extend_from_slice(available.get(..take).unwrap_or_default());
                match end {
                    Some(end) => {
                        self.after_cr = available.get(end) == Some(&b'\r');
                        self.pos += end + 1;
                        return Ok(true);
                    }
                    None => self.pos = self.filled,
                }
            }
            if self.waiting_since.elapsed() > self.timeout {
                return Err(ReadFailure::Timeout);
            }
            match self.body.read(&mut self.buffer) {
                Ok(0) => return Ok(!self.line.is_empty()),
                Ok(n) => {
                    self.pos = 0;
                    self.filled = n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    return Err(ReadFailure::Timeout)
                }
                Err(e) => return Err(ReadFailure::Io(e)),
            }
        }
    }

    /// The end of the body (or a broken connection, `cause`): whole if a finish reason came.
    fn ended(&self, chunks: u64, cause: Option<&std::io::Error>) -> Option<Result<StreamChunk>> {
        if self.finished {
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
}

#[cfg(test)]
mod tests {
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

    fn stream_of(body: &[u8], step: usize) -> CompletionStream {
        let reader = Trickle {
            body: body.to_vec(),
            pos: 0,
            step,
        };
        CompletionStream {
            state: State::Events(SseReader::new(Box::new(reader), Duration::from_secs(5))),
            request_id: None,
            chunks: 0,
            scrubber: Scrubber::default(),
        }
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
        let mut stream = CompletionStream {
            state: State::Events(SseReader::new(Box::new(Stalled), Duration::from_secs(2))),
            request_id: None,
            chunks: 0,
            scrubber: Scrubber::default(),
        };
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
}
