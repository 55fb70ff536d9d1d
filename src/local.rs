//! An embedded "echo model" endpoint on 127.0.0.1, to try the crate with no Azure account.
//!
//! [`LocalEndpoint`] serves, on threads of its own, the request and response shapes of Azure ML
//! dedicated (`…/score`) and serverless (`…/completions`, `…/chat/completions`, `…/embeddings`,
//! Cohere's `…/embed`) endpoints, including SSE streaming. Its model echoes: the answer is the
//! input text, unchanged (no prefix, no trimming); an embedding is a vector made from a hash of
//! the text. The quickstart, the CLI's `local` command, doc examples and tests use it. It is a
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
//! - A request body is read by its `Content-Length` (none means empty) or, with
//!   `Transfer-Encoding: chunked`, decoded as it arrives (extensions and trailers are ignored).
//!   Other transfer codings get 501; `Transfer-Encoding` with `Content-Length`, or differing
//!   `Content-Length`s, get 400. `Expect: 100-continue` is answered.
//! - A malformed request line, header, `Content-Length` or chunk gets 400. These errors, and
//!   those of the bounds below, close the connection; every other answer keeps it open.
//! - Every response carries `x-request-id: local-N`, N counting this endpoint's answers from 1,
//!   and echoes a request's `azureml-model-deployment` header. JSON answers are compact
//!   `application/json` with `Content-Length`; streams are `text/event-stream` with
//!   `Transfer-Encoding: chunked`, one chunk per event, each made just before it is sent.
//! - Errors are JSON `{"error":{"message":"…"}}`.
//!
//! # Bounds
//! The endpoint faces its clients as if they were hostile; [`LocalEndpoint::builder`] changes
//! the connection cap and the timeouts.
//! - At most [`DEFAULT_MAX_CONNECTIONS`] open connections. The accept loop answers one more with
//!   503 `Connection: close` and closes it itself, so refused connections cost no thread.
//! - A connection that sends no byte of a next request for [`DEFAULT_IDLE_TIMEOUT`] is closed
//!   without an answer; a body that stops arriving for as long gets 408.
//! - Once a request's first byte arrives, its head must be complete within
//!   [`DEFAULT_HEAD_TIMEOUT`] (else 408) and 64 KiB (else 431). Blank lines before the request
//!   line count toward both, so a flood of them ends like any other oversized head.
//! - Bodies are at most 8 MiB = 8388608 bytes (else 413): a larger `Content-Length` is refused
//!   before its body is read, a chunked body as soon as its chunk sizes pass the limit. Reading
//!   a request holds its head, its body and a 16 KiB read buffer, nothing more.
//! - A streamed answer is made one event at a time as the socket takes it, so answering holds
//!   the answer's text and one event (a few KiB) whatever the answer's length, also when the
//!   client stops reading.
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
//! | `POST` to a path ending in `/embeddings` or `/embed` | embeddings, below |
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
//! | clip_text_embeddings | `{"input_data": {"columns": C, "data": [[I, X]]}}` (C any, I ignored) | `[{"text_features": V(X)}]` |
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
//! # Embeddings
//! V(X) is text X's echo vector: 8 numbers (or `dimensions`, 1 to 4096) in [-1, 1] with three
//! decimals, from an FNV-1a hash of X, so the same text always gets the same vector. n is the
//! number of whitespace-separated words of all the texts.
//!
//! - `…/embeddings`, `{"input": X or [X, …], …}`: answers
//!   `{"object":"list","data":[{"object":"embedding","index":0,"embedding":V(X)},…],"model":"echo","usage":{"prompt_tokens":n,"total_tokens":n}}`,
//!   in input order; with `"encoding_format": "base64"` each embedding is the base64 of V(X)'s
//!   little-endian f32s.
//! - `…/embed` (Cohere), `{"texts": [X, …], …}`: answers
//!   `{"id":ID,"embeddings":[V(X),…],"texts":[X,…],"meta":{"billed_units":{"input_tokens":n}}}`;
//!   with `embedding_types` present, `"embeddings":{"float":[V(X),…]}`.
//! - A `dimensions` that is not an integer from 1 to 4096, or an `encoding_format` other than
//!   `float` and `base64`, gets 422, as an Azure model that does not support the value answers.
//!
//! # Streaming
//! A serverless body with `"stream": true` is answered with events `data: <json>\n\n`. The text
//! is cut after each whitespace run (Unicode whitespace), and at the first character boundary
//! at or past 1024 bytes when no cut comes sooner, so the pieces concatenate to the text
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

mod echo;
mod events;
mod http;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use http::{Conn, ReadError, Reply, POLL};

/// How many connections a [`LocalEndpoint`] serves at once unless
/// [`max_connections`](LocalEndpointBuilder::max_connections) says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// How long a request's head may take to arrive, from its first byte, unless
/// [`head_timeout`](LocalEndpointBuilder::head_timeout) says otherwise.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may send nothing, between requests or within a body, unless
/// [`idle_timeout`](LocalEndpointBuilder::idle_timeout) says otherwise. Longer than the 15 s
/// for which `ureq` keeps idle connections, so a client never reuses one the endpoint is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
/// A client that stops reading must not hold up shutdown forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running echo-model endpoint on `127.0.0.1`; see the [module docs](self) for its behaviour.
///
/// Dropping it stops the server, like [`shutdown`](Self::shutdown).
pub struct LocalEndpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

/// Sets a [`LocalEndpoint`]'s port and bounds, then starts it; from [`LocalEndpoint::builder`].
///
/// ```
/// use std::time::Duration;
///
/// let local = azureml_endpoint::local::LocalEndpoint::builder()
///     .max_connections(16)
///     .head_timeout(Duration::from_secs(2))
///     .idle_timeout(Duration::from_secs(5))
///     .start()?;
/// assert!(local.base_url().starts_with("http://127.0.0.1:"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LocalEndpointBuilder {
    port: u16,
    limits: Limits,
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    max_connections: usize,
    head_timeout: Duration,
    idle_timeout: Duration,
}

struct Shared {
    stop: AtomicBool,
    requests: AtomicU64,
    limits: Limits,
}

impl Shared {
    /// `local-N`, N counting this endpoint's answers from 1.
    fn next_id(&self) -> String {
        format!("local-{}", self.requests.fetch_add(1, SeqCst) + 1)
    }
}

impl LocalEndpointBuilder {
    /// The port on `127.0.0.1`; `0` (the default) lets the system choose.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The most connections served at once ([`DEFAULT_MAX_CONNECTIONS`] by default); any more
    /// get 503 and are closed. `0` refuses every connection.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// How long a request's head may take from its first byte ([`DEFAULT_HEAD_TIMEOUT`] by
    /// default); a slower one gets 408 and the connection is closed.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.limits.head_timeout = timeout;
        self
    }

    /// How long a connection may send nothing between requests, or within a body, before it
    /// is closed ([`DEFAULT_IDLE_TIMEOUT`] by default).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Binds the port and starts serving.
    ///
    /// # Errors
    /// When the port is taken or not allowed, or the server thread cannot be started.
    pub fn start(self) -> io::Result<LocalEndpoint> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            limits: self.limits,
        });
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
}

impl LocalEndpoint {
    /// Starts an endpoint on `127.0.0.1` with a port chosen by the system and the default
    /// bounds.
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
        Self::builder().start()
    }

    /// Starts an endpoint on `127.0.0.1:port` (`0` lets the system choose) with the default
    /// bounds.
    ///
    /// # Errors
    /// When the port is taken or not allowed, or the server thread cannot be started.
    pub fn start_on(port: u16) -> io::Result<LocalEndpoint> {
        Self::builder().port(port).start()
    }

    /// A builder for an endpoint with another port or other bounds.
    pub fn builder() -> LocalEndpointBuilder {
        LocalEndpointBuilder {
            port: 0,
            limits: Limits {
                max_connections: DEFAULT_MAX_CONNECTIONS,
                head_timeout: DEFAULT_HEAD_TIMEOUT,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
            },
        }
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

    /// A serverless embeddings URL: `http://127.0.0.1:PORT/v1/embeddings`.
    pub fn embeddings_url(&self) -> String {
        format!("{}/v1/embeddings", self.base_url())
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
        let max = shared.limits.max_connections;
        if connections.len() >= max {
            http::refuse(stream, &shared.next_id(), max);
            continue;
        }
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
    // Short read timeouts let waits notice shutdown and their deadlines.
    if stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
        || stream.set_nodelay(true).is_err()
    {
        return;
    }
    let mut conn = Conn::new(stream, shared);
    loop {
        let request = conn.read_request();
        if let Err(ReadError::Gone) = request {
            return;
        }
        let id = shared.next_id();
        let (reply, deployment, close) = match request {
            Ok(req) => {
                let deployment = req.header("azureml-model-deployment").map(str::to_owned);
                (echo::answer(&req, &id), deployment, req.close)
            }
            Err(ReadError::Gone) => return,
            Err(ReadError::Reject(status, message)) => (Reply::error(status, &message), None, true),
        };
        if conn.send(reply, &id, deployment.as_deref(), close).is_err() {
            return;
        }
        if close {
            return conn.linger();
        }
    }
}
