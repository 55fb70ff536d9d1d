//! A fault-injection HTTP server on 127.0.0.1: the n-th request is answered by the n-th script of
//! raw actions, so a test can reproduce what a broken gateway or a hostile server does (stalled or
//! trickled heads and bodies, resets, bad chunking, absurd headers, cut streams).
//!
//! Each connection serves one request and is then closed, so script n is request n. [`sse`]
//! scripts a streamed answer: events, pauses and how the body ends.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::server::{read_head, Listener};

/// One thing the server does, in order, once it has read the request.
#[derive(Clone, Debug)]
pub enum Act {
    /// Writes these bytes at once.
    Send(Vec<u8>),
    /// Writes these bytes a piece at a time, spread evenly over `over`.
    Trickle {
        bytes: Vec<u8>,
        pieces: usize,
        over: Duration,
    },
    /// Waits, writing nothing; the instant the wait ends is sent on [`FaultServer::resumed`].
    Wait(Duration),
    /// Drops the connection with a TCP reset: the request's last byte is left unread, so the
    /// kernel answers the close with RST instead of FIN.
    Reset,
    /// Keeps the connection open, writing nothing, until the client leaves or the server stops.
    Hold,
}

impl Act {
    /// [`Act::Send`] of a string.
    pub fn send(text: impl Into<String>) -> Act {
        Act::Send(text.into().into_bytes())
    }

    /// [`Act::Trickle`] of a string, one piece per byte.
    pub fn trickle(text: impl Into<String>, over: Duration) -> Act {
        let bytes = text.into().into_bytes();
        Act::Trickle {
            pieces: bytes.len(),
            bytes,
            over,
        }
    }
}

/// A response head (status line, headers, blank line); add `content-length` or
/// `transfer-encoding` yourself, or neither to end the body by closing.
pub fn head(status: u16, headers: &[(&str, &str)]) -> String {
    let mut out = format!("HTTP/1.1 {status} Status\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out
}

/// A whole response with a `content-length` body.
pub fn response(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Vec<Act> {
    let body = body.as_ref();
    let length = body.len().to_string();
    let mut all = headers.to_vec();
    all.push(("content-length", &length));
    let mut bytes = head(status, &all).into_bytes();
    bytes.extend_from_slice(body);
    vec![Act::Send(bytes)]
}

/// A 200 SSE response head with a chunk-less body ended by closing; follow it with
/// `Act::send(event)` steps.
pub fn sse_head() -> Act {
    Act::send(head(200, &[("content-type", "text/event-stream")]))
}

/// `data: <json>\n\n`.
pub fn event(json: &Value) -> String {
    format!("data: {json}\n\n")
}

/// The event that ends a stream.
pub const DONE: &str = "data: [DONE]\n\n";

/// A chat chunk carrying `content` as its delta.
pub fn chat_delta(content: &str) -> String {
    event(
        &json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]}),
    )
}

/// A completion chunk carrying `text`.
pub fn completion_text(text: &str) -> String {
    event(
        &json!({"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": null}]}),
    )
}

/// One step of a streamed answer, after its head.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends these bytes (as one chunk when the body is chunked).
    Write(String),
    /// Waits ([`Act::Wait`]).
    Pause(Duration),
}

/// How a streamed body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Chunked body with its `0` terminator.
    Chunked,
    /// Chunked body whose connection is closed without the terminator (a cut connection).
    ChunkedCut,
    /// No framing: the body ends when the connection closes.
    Close,
}

/// The script of a `200 text/event-stream` answer: `steps`, framed as `end` says.
pub fn sse(steps: Vec<Step>, end: End) -> Vec<Act> {
    let chunked = end != End::Close;
    let framing = if chunked {
        &[("transfer-encoding", "chunked")][..]
    } else {
        &[]
    };
    let mut script = vec![Act::send(head(
        200,
        &[&[("content-type", "text/event-stream")], framing].concat(),
    ))];
    for step in steps {
        script.push(match step {
            Step::Write(text) if chunked => Act::send(format!("{:x}\r\n{text}\r\n", text.len())),
            Step::Write(text) => Act::send(text),
            Step::Pause(pause) => Act::Wait(pause),
        });
    }
    if end == End::Chunked {
        script.push(Act::send("0\r\n\r\n"));
    }
    script
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Request line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

/// The server; stopped, and its connection threads told to leave, when dropped.
pub struct FaultServer {
    pub port: u16,
    listener: Listener,
    requests: Arc<Mutex<Vec<Request>>>,
    /// The instant each [`Act::Wait`] ended, in order.
    pub resumed: mpsc::Receiver<Instant>,
}

impl FaultServer {
    /// Serves request n with `scripts[n]`; requests past the end get a 599.
    pub fn start(scripts: Vec<Vec<Act>>) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let next = AtomicUsize::new(0);
        let (resumed_tx, resumed) = mpsc::channel();
        let reqs = requests.clone();
        let listener = Listener::start(move |stream, stop| {
            serve(stream, &scripts, &next, &reqs, stop, &resumed_tx);
        });
        FaultServer {
            port: listener.port,
            listener,
            requests,
            resumed,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        self.listener.url(path)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.listener.accepted()
    }

    /// Requests read so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or_default()
    }
}

fn serve(
    stream: TcpStream,
    scripts: &[Vec<Act>],
    next: &AtomicUsize,
    requests: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
    resumed: &mpsc::Sender<Instant>,
) {
    // Each act is written as the script says, not held back to be coalesced.
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let Some((head, length)) = read_head(&mut reader) else {
        return;
    };
    let index = next.fetch_add(1, Ordering::SeqCst);
    let fallback = response(599, &[], "script exhausted");
    let script = scripts.get(index).unwrap_or(&fallback);
    // A reset needs an unread byte in the socket when it is closed.
    let resets = script.iter().any(|act| matches!(act, Act::Reset));
    let mut body = vec![0; if resets { length.saturating_sub(1) } else { length }];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if let Ok(mut all) = requests.lock() {
        all.push(Request { head, body });
    }
    let mut stream = reader.into_inner();
    for act in script {
        let ok = match act {
            Act::Send(bytes) => stream.write_all(bytes).and_then(|()| stream.flush()).is_ok(),
            Act::Trickle { bytes, pieces, over } => trickle(&mut stream, bytes, *pieces, *over, stop),
            Act::Wait(wait) => {
                pause(*wait, stop);
                // The test may not be listening; that is not the server's failure.
                let _ = resumed.send(Instant::now());
                true
            }
            Act::Reset => return, // dropped with an unread byte: RST
            Act::Hold => {
                hold(&mut stream, stop);
                return;
            }
        };
        if !ok || stop.load(Ordering::SeqCst) {
            return;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Let the client read the FIN before the socket goes (closing with unread data would reset).
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut [0; 64]);
}

fn trickle(stream: &mut TcpStream, bytes: &[u8], pieces: usize, over: Duration, stop: &AtomicBool) -> bool {
    let pieces = pieces.clamp(1, bytes.len().max(1));
    let size = bytes.len().div_ceil(pieces).max(1);
    let gap = over / pieces as u32;
    for (i, piece) in bytes.chunks(size).enumerate() {
        if i > 0 {
            pause(gap, stop);
        }
        if stop.load(Ordering::SeqCst) || stream.write_all(piece).and_then(|()| stream.flush()).is_err() {
            return false;
        }
    }
    true
}

/// Sleeps in short steps so a stopped server does not keep its threads.
fn pause(wait: Duration, stop: &AtomicBool) {
    let end = Instant::now() + wait;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

fn hold(stream: &mut TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0; 1024];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}
