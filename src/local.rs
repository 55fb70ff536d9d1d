//! An embedded "echo model" endpoint on 127.0.0.1, to try the crate with no Azure account.
//!
//! [`LocalEndpoint`] serves, on threads of its own, the request and response shapes of Azure ML
//! dedicated (`…/score`) and serverless (`…/completions`, `…/chat/completions`) endpoints,
//! including SSE streaming. Its model echoes: the answer is the input text, unchanged (no prefix,
//! no trimming). The quickstart, the CLI's `local` command, doc examples and tests use it. It is a
//! test double built on std and serde_json only: plain HTTP/1.1, loopback only, no TLS.
//!
//! ```
//! use std::io::{Read, Write};
//! use azureml_endpoint::local::LocalEndpoint;
//!
//! let local = LocalEndpoint::start()?;
//! let mut conn = std::net::TcpStream::connect(local.addr())?;
//! conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(answer.ends_with("\r\n\r\n{\"status\":\"ok\"}"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # HTTP
//! - Binds only `127.0.0.1`. One thread per connection. Connections are kept alive for many
//!   (also pipelined) requests; `Connection: close` and HTTP/1.0 without `keep-alive` close after
//!   the answer.
//! - A request body is read by its `Content-Length` (none means empty). Chunked (any
//!   `Transfer-Encoding`) request bodies are refused with 411. `Expect: 100-continue` is answered.
//! - Limits: request line plus headers 64 KiB (else 431), body 8 MiB = 8388608 bytes (else 413).
//!   A malformed request line, header or `Content-Length` gets 400. These errors close the
//!   connection; every other answer keeps it open.
//! - Every response carries `x-request-id: local-N`, N counting this endpoint's requests from 1,
//!   and echoes a request's `azureml-model-deployment` header. JSON answers are compact
//!   `application/json` with `Content-Length`; streams are `text/event-stream` with
//!   `Transfer-Encoding: chunked`, one chunk per event, each sent as it is written.
//! - Errors are JSON `{"error":{"message":"…"}}`.
//!
//! # Routes
//! Query strings (`?api-version=…`) are ignored. Checked in this order:
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | 200 `{"status":"ok"}` |
//! | any `POST` without `Authorization: Bearer <non-empty>` | 401 `missing or empty Authorization: Bearer header` (any key is accepted) |
//! | `POST` to a path ending in `/score` | dedicated, below |
//! | `POST` to a path ending in `/chat/completions` | serverless chat, below |
//! | `POST` to another path ending in `/completions` | serverless completion, below |
//! | anything else | 404 naming the routes |
//!
//! A body that is not JSON, or has no shape the path accepts, gets 400 listing the shapes.
//!
//! # Dedicated (`…/score`)
//! P is a prompt string, K any parameters, M a non-empty list of message objects, and T the
//! `content` of M's last message: a string, or `null`/missing for `""` (other messages are not
//! looked at). Lists of prompts must be non-empty;
//! the answer has one item per prompt, in order. Inside `input_data`, a `parameters` key means
//! custom_openai, its absence dolly. `"stream"` is ignored (dedicated endpoints do not stream).
//!
//! | formatter | request | answer |
//! |---|---|---|
//! | gpt2 | `{"inputs": {"input_string": [P]}, "parameters": K}` | `[{"0": P}]` |
//! | hf | `{"inputs": [P], "parameters": K}` | `[{"generated_text": P}]` |
//! | dolly | `{"input_data": {"input_string": [P]}, "parameters": K}` | `[P]` |
//! | custom_openai | `{"input_data": {"input_string": [P], "parameters": K}}` | `[{"0": P}]` |
//! | chat | `{"input_data": {"input_string": M, "parameters": K}}` | `{"output": T}` |
//!
//! # Serverless
//! With ID the request id (`local-N`) and n the number of whitespace-separated words of the
//! answer, USAGE is `{"prompt_tokens":n,"completion_tokens":n,"total_tokens":2n}`. Key order as
//! shown.
//!
//! - `{"prompt": P, …}` (P a string) answers
//!   `{"id":ID,"object":"text_completion","model":"echo","choices":[{"index":0,"text":P,"finish_reason":"stop","logprobs":null}],"usage":USAGE}`.
//! - `{"messages": M, …}` answers
//!   `{"id":ID,"object":"chat.completion","model":"echo","choices":[{"index":0,"message":{"role":"assistant","content":T},"finish_reason":"stop","logprobs":null}],"usage":USAGE}`.
//!
//! # Streaming
//! A serverless body with `"stream": true` is answered with events `data: <json>\n\n`. The text
//! is cut after each whitespace run (Unicode whitespace), so the pieces concatenate to the text
//! exactly (`"  a  b\n"` → `"  "`, `"a  "`, `"b\n"`; `""` → none). Each event's JSON starts with
//! `"id":ID,"object":O,"model":"echo"`, O being `"chat.completion.chunk"` (chat) or
//! `"text_completion"`, then `"choices"`:
//! 1. one event per piece: chat `[{"index":0,"delta":{"role":"assistant","content":piece},"finish_reason":null}]`
//!    (`role` in the first piece only), completion `[{"index":0,"text":piece,"finish_reason":null}]`;
//! 2. chat `[{"index":0,"delta":{},"finish_reason":"stop"}]`, completion
//!    `[{"index":0,"text":"","finish_reason":"stop"}]`;
//! 3. only with `"stream_options": {"include_usage": true}`: `[]`, then `"usage":USAGE`;
//! 4. `data: [DONE]`.
//!
//! # Delay
//! A number `echo_delay_ms` (looked up at the top level, then in `parameters`, then in
//! `input_data.parameters`; negative is 0, capped at 60000) makes the server sleep that long
//! before a JSON answer, and between stream events (not before the first), so tests can observe
//! incremental delivery and timeouts.
#![deny(missing_docs, missing_debug_implementations)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;
use std::io::ErrorKind::{Interrupted, TimedOut, UnexpectedEof, WouldBlock};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
const MAX_DELAY_MS: f64 = 60_000.0;
/// How often blocked reads and sleeps look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// A client that stops reading must not hold up shutdown forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const UNAUTHORIZED: &str = "missing or empty Authorization: Bearer header";
const ROUTES: &str = "the local endpoint answers GET / and POST to paths ending in /score, \
                      /completions or /chat/completions";
const SCORE_SHAPES: &str = r#"accepted /score bodies: gpt2 {"inputs": {"input_string": [P]}, "parameters": K}, hf {"inputs": [P], "parameters": K}, dolly {"input_data": {"input_string": [P]}, "parameters": K}, custom_openai {"input_data": {"input_string": [P], "parameters": K}}, chat {"input_data": {"input_string": M, "parameters": K}}; P a prompt string, M a non-empty list of {"role", "content"} messages"#;
const COMPLETIONS_SHAPE: &str = r#"accepted /completions body: {"prompt": P, ...}; P a string"#;
const CHAT_SHAPE: &str = r#"accepted /chat/completions body: {"messages": M, ...}; M a non-empty list of {"role", "content"} messages"#;

/// A running echo-model endpoint on `127.0.0.1`; see the [module docs](self) for its behaviour.
///
/// Dropping it stops the server, like [`shutdown`](Self::shutdown).
pub struct LocalEndpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    requests: AtomicU64,
}

impl LocalEndpoint {
    /// Starts an endpoint on `127.0.0.1` with a port chosen by the system.
    ///
    /// # Errors
    /// When the socket cannot be bound or the server thread cannot be started.
    ///
    /// # Example
    /// ```
    /// let local = azureml_endpoint::local::LocalEndpoint::start()?;
    /// assert!(local.chat_url().ends_with("/v1/chat/completions"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> io::Result<LocalEndpoint> {
        Self::start_on(0)
    }

    /// Starts an endpoint on `127.0.0.1:port` (`0` lets the system choose).
    ///
    /// # Errors
    /// When the port is taken or not allowed, or the server thread cannot be started.
    pub fn start_on(port: u16) -> io::Result<LocalEndpoint> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let for_server = Arc::clone(&shared);
        let server = thread::Builder::new()
            .name("azureml-local".into())
            .spawn(move || accept_loop(listener, &for_server))?;
        Ok(LocalEndpoint {
            addr,
            shared,
            server: Some(server),
        })
    }

    /// The bound address, always `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A dedicated scoring URL: `http://127.0.0.1:PORT/score`.
    pub fn dedicated_url(&self) -> String {
        format!("{}/score", self.base_url())
    }

    /// A serverless completion URL: `http://127.0.0.1:PORT/v1/completions`.
    pub fn completions_url(&self) -> String {
        format!("{}/v1/completions", self.base_url())
    }

    /// A serverless chat URL: `http://127.0.0.1:PORT/v1/chat/completions`.
    pub fn chat_url(&self) -> String {
        format!("{}/v1/chat/completions", self.base_url())
    }

    /// Blocks the calling thread while the endpoint serves, until the process ends.
    pub fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }

    /// Stops accepting, ends every connection (an answer being streamed is cut off) and joins
    /// the server threads; the port is free again when this returns.
    pub fn shutdown(self) {}
}

impl Drop for LocalEndpoint {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        self.shared.stop.store(true, SeqCst);
        // accept() only returns for a connection, so make one; if even that fails, leave the
        // thread behind rather than hang.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
            let _ = server.join();
        }
    }
}

impl fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEndpoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.stop.load(SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // e.g. out of file descriptors: back off instead of spinning.
            thread::sleep(POLL);
            continue;
        };
        connections.retain(|c| !c.is_finished());
        let shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("azureml-local-conn".into())
            .spawn(move || serve(stream, &shared));
        connections.extend(spawned.ok());
    }
    drop(listener);
    for c in connections {
        let _ = c.join();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    // Short read timeouts let idle keep-alive connections notice shutdown.
    if stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
        || stream.set_nodelay(true).is_err()
    {
        return;
    }
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        shared,
    };
    loop {
        let request = match conn.read_request() {
            Err(ReadError::Gone) => return,
            request => request,
        };
        let id = format!("local-{}", shared.requests.fetch_add(1, SeqCst) + 1);
        let (reply, deployment, close) = match request {
            Ok(req) => {
                let deployment = req.header("azureml-model-deployment").map(str::to_owned);
                (answer(&req, &id), deployment, req.close)
            }
            Err(ReadError::Gone) => return,
            Err(ReadError::Reject(status, message)) => (Reply::error(status, &message), None, true),
        };
        if conn.send(&reply, &id, deployment.as_deref(), close).is_err() {
            return;
        }
        if close {
            return conn.linger();
        }
    }
}

struct Request {
    method: String,
    target: String,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum ReadError {
    /// Closed, broken or shutting down: nobody to answer.
    Gone,
    /// Answer with this status and message, then close.
    Reject(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

struct Reply {
    status: u16,
    payload: Payload,
    delay: Duration,
}

enum Payload {
    Json(Value),
    /// `data:` payloads, `[DONE]` included.
    Events(Vec<String>),
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            payload: Payload::Json(body),
            delay: Duration::ZERO,
        }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, json!({"error": {"message": message}}))
    }
}

struct Conn<'a> {
    stream: TcpStream,
    /// Bytes read but not yet consumed: pipelined requests wait here.
    buf: Vec<u8>,
    shared: &'a Shared,
}

impl Conn<'_> {
    /// Reads more bytes into `buf`; fails on EOF, errors, shutdown and after `until`.
    fn fill(&mut self, until: Option<Instant>) -> io::Result<()> {
        let mut chunk = [0; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(UnexpectedEof.into()),
                Ok(n) => {
                    // read() never reports more than the chunk holds.
                    self.buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(());
                }
                Err(e) if e.kind() == Interrupted => {}
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {
                    if self.shared.stop.load(SeqCst) || until.is_some_and(|t| Instant::now() >= t) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_request(&mut self) -> Result<Request, ReadError> {
        let too_large = || ReadError::Reject(431, "request line and headers exceed 64 KiB".into());
        let end = loop {
            // Clients may send stray CRLFs between requests (RFC 9112, section 2.2).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(too_large());
            }
            self.fill(None)?;
        };
        if end > MAX_HEAD {
            return Err(too_large());
        }
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let malformed = || ReadError::Reject(400, "malformed request line or header".into());
        let mut req = parse_head(&head).ok_or_else(malformed)?;
        if req.header("transfer-encoding").is_some() {
            let message = "chunked request bodies are not supported; send Content-Length";
            return Err(ReadError::Reject(411, message.into()));
        }
        let len: usize = match req.header("content-length") {
            None => 0,
            Some(v) => v
                .parse()
                .map_err(|_| ReadError::Reject(400, format!("invalid Content-Length {v:?}")))?,
        };
        if len > MAX_BODY {
            let message =
                format!("request body of {len} bytes exceeds the limit of {MAX_BODY} bytes (8 MiB)");
            return Err(ReadError::Reject(413, message));
        }
        if len > self.buf.len()
            && req
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        while self.buf.len() < len {
            self.fill(None)?;
        }
        let rest = self.buf.split_off(len);
        req.body = std::mem::replace(&mut self.buf, rest);
        Ok(req)
    }

    fn send(&mut self, reply: &Reply, id: &str, deployment: Option<&str>, close: bool) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nx-request-id: {id}\r\n",
            reply.status,
            reason(reply.status)
        );
        if let Some(deployment) = deployment {
            head.push_str(&format!("azureml-model-deployment: {deployment}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        match &reply.payload {
            Payload::Json(body) => {
                self.nap(reply.delay)?;
                let body = body.to_string();
                head.push_str(&format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ));
                self.stream.write_all(head.as_bytes())
            }
            Payload::Events(events) => {
                head.push_str("Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
                self.stream.write_all(head.as_bytes())?;
                for (i, event) in events.iter().enumerate() {
                    if i > 0 {
                        self.nap(reply.delay)?;
                    }
                    let data = format!("data: {event}\n\n");
                    // One write per event: with TCP_NODELAY it leaves at once, as one chunk.
                    self.stream
                        .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())?;
                    self.stream.flush()?;
                }
                self.stream.write_all(b"0\r\n\r\n")
            }
        }
    }

    /// Sleeps in short steps, so a long `echo_delay_ms` does not hold up shutdown.
    fn nap(&self, total: Duration) -> io::Result<()> {
        let end = Instant::now() + total;
        loop {
            if self.shared.stop.load(SeqCst) {
                return Err(Interrupted.into());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            thread::sleep(left.min(POLL));
        }
    }

    /// Half-closes, then drains what the client still sends (such as a refused body), so it
    /// reads our answer instead of a reset.
    fn linger(mut self) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let until = Instant::now() + Duration::from_secs(1);
        while self.fill(Some(until)).is_ok() {
            self.buf.clear();
        }
    }
}

/// The length of the head including its blank line; bare-LF line ends are tolerated.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_head(head: &[u8]) -> Option<Request> {
    let mut lines = std::str::from_utf8(head).ok()?.lines();
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if parts.next().is_some() || !method_ok || !target.starts_with('/') {
        return None;
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return None,
    };
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim_matches([' ', '\t']);
        // Values are echoed into our headers: no control characters may get through.
        if name.is_empty()
            || name.contains(|c: char| c.is_whitespace() || c.is_control())
            || value.contains(|c: char| c.is_control() && c != '\t')
        {
            return None;
        }
        headers.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    let has = |token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let close = has("close") || (http10 && !has("keep-alive"));
    Some(Request {
        method: method.into(),
        target: target.into(),
        headers,
        body: Vec::new(),
        close,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}

fn authorized(req: &Request) -> bool {
    req.header("authorization")
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
}

#[derive(Clone, Copy)]
enum Route {
    Score,
    Completions,
    Chat,
}

fn answer(req: &Request, id: &str) -> Reply {
    let path = req.target.split('?').next().unwrap_or_default();
    let not_found = || Reply::error(404, &format!("no route for {} {path}; {ROUTES}", req.method));
    match req.method.as_str() {
        "GET" if path == "/" => return Reply::json(200, json!({"status": "ok"})),
        "POST" if !authorized(req) => return Reply::error(401, UNAUTHORIZED),
        "POST" => {}
        _ => return not_found(),
    }
    let (route, accepted) = if path.ends_with("/score") {
        (Route::Score, SCORE_SHAPES)
    } else if path.ends_with("/chat/completions") {
        (Route::Chat, CHAT_SHAPE)
    } else if path.ends_with("/completions") {
        (Route::Completions, COMPLETIONS_SHAPE)
    } else {
        return not_found();
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(e) => return Reply::error(400, &format!("request body is not JSON ({e}); {accepted}")),
    };
    let payload = match route {
        Route::Score => score(&body).map(Payload::Json),
        Route::Completions => body
            .get("prompt")
            .and_then(Value::as_str)
            .map(|p| serverless(false, p, &body, id)),
        Route::Chat => body
            .get("messages")
            .and_then(last_content)
            .map(|t| serverless(true, t, &body, id)),
    };
    match payload {
        Some(payload) => Reply {
            status: 200,
            payload,
            delay: delay(&body),
        },
        None => Reply::error(400, &format!("request body has no known shape; {accepted}")),
    }
}

/// The dedicated formatters' answers, told apart by the body's shape.
fn score(body: &Value) -> Option<Value> {
    let each = |prompts: Vec<&str>, item: fn(&str) -> Value| prompts.into_iter().map(item).collect();
    if let Some(inputs) = body.get("inputs") {
        if let Some(prompts) = inputs.get("input_string").and_then(prompt_list) {
            return Some(each(prompts, |p| json!({"0": p})));
        }
        return prompt_list(inputs).map(|prompts| each(prompts, |p| json!({"generated_text": p})));
    }
    let data = body.get("input_data")?;
    let input = data.get("input_string")?;
    if let Some(text) = last_content(input) {
        return Some(json!({"output": text}));
    }
    let prompts = prompt_list(input)?;
    // dolly and custom_openai differ only in where `parameters` sits.
    Some(match data.get("parameters") {
        Some(_) => each(prompts, |p| json!({"0": p})),
        None => each(prompts, |p| json!(p)),
    })
}

/// A non-empty list of strings.
fn prompt_list(value: &Value) -> Option<Vec<&str>> {
    value
        .as_array()
        .filter(|l| !l.is_empty())?
        .iter()
        .map(Value::as_str)
        .collect()
}

/// The last message's content, from a non-empty list of message objects.
fn last_content(messages: &Value) -> Option<&str> {
    let list = messages.as_array().filter(|l| l.iter().all(Value::is_object))?;
    match list.last()?.get("content") {
        None | Some(Value::Null) => Some(""),
        Some(content) => content.as_str(),
    }
}

fn delay(body: &Value) -> Duration {
    let ms = [
        "/echo_delay_ms",
        "/parameters/echo_delay_ms",
        "/input_data/parameters/echo_delay_ms",
    ]
    .iter()
    .find_map(|p| body.pointer(p))
    .and_then(Value::as_f64)
    .unwrap_or(0.0);
    // A saturating cast: negative becomes 0.
    Duration::from_millis(ms.min(MAX_DELAY_MS) as u64)
}

fn serverless(chat: bool, text: &str, body: &Value, id: &str) -> Payload {
    let n = text.split_whitespace().count();
    let usage = json!({"prompt_tokens": n, "completion_tokens": n, "total_tokens": 2 * n});
    let stream = body.get("stream") == Some(&Value::Bool(true));
    let object = match (chat, stream) {
        (false, _) => "text_completion",
        (true, false) => "chat.completion",
        (true, true) => "chat.completion.chunk",
    };
    let answer = |choices: Value, usage: Option<&Value>| {
        let mut answer = json!({"id": id, "object": object, "model": "echo", "choices": choices});
        if let (Some(usage), Some(fields)) = (usage, answer.as_object_mut()) {
            fields.insert("usage".into(), usage.clone());
        }
        answer
    };
    if !stream {
        let (field, content) = match chat {
            true => ("message", json!({"role": "assistant", "content": text})),
            false => ("text", json!(text)),
        };
        let choice = json!({"index": 0, field: content, "finish_reason": "stop", "logprobs": null});
        return Payload::Json(answer(json!([choice]), Some(&usage)));
    }
    let field = if chat { "delta" } else { "text" };
    let chunk = |content: Value, finish: Value| {
        let choice = json!({"index": 0, field: content, "finish_reason": finish});
        answer(json!([choice]), None).to_string()
    };
    let mut events: Vec<String> = (pieces(text).into_iter().enumerate())
        .map(|(i, piece)| match (chat, i) {
            (false, _) => chunk(json!(piece), Value::Null),
            (true, 0) => chunk(json!({"role": "assistant", "content": piece}), Value::Null),
            (true, _) => chunk(json!({"content": piece}), Value::Null),
        })
        .collect();
    events.push(chunk(if chat { json!({}) } else { json!("") }, json!("stop")));
    if body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)) {
        events.push(answer(json!([]), Some(&usage)).to_string());
    }
    events.push("[DONE]".into());
    Payload::Events(events)
}

/// Cuts after each whitespace run, so the pieces concatenate back to `text`.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut after_space) = (0, false);
    for (i, c) in text.char_indices() {
        if after_space && !c.is_whitespace() {
            out.extend(text.get(start..i));
            start = i;
        }
        after_space = c.is_whitespace();
    }
    out.extend(text.get(start..).filter(|rest| !rest.is_empty()));
    out
}
