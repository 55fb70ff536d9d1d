//! Helpers for streaming tests: SSE event bodies, and a tiny std-only HTTP server for what
//! httpmock cannot do (pauses between events, connections cut mid-stream).
//!
//! Include with `#[path = "common/sse.rs"] mod sse;`.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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

/// One thing the scripted server does after sending the response head.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends bytes (as one chunk when the body is chunked) and flushes.
    Write(String),
    /// Waits; the instant the pause ends is sent on [`Server::resumed`].
    Pause(Duration),
}

/// How the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Chunked body with its `0` terminator.
    Chunked,
    /// Chunked body whose connection is dropped without the terminator (a cut connection).
    ChunkedCut,
    /// No framing: the body ends when the connection closes.
    Close,
}

/// What the client sent.
#[derive(Debug)]
pub struct Request {
    /// Request line and headers, as sent.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of a header (case-insensitive name), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Result<Value> {
        serde_json::from_slice(&self.body)
    }
}

/// A server that answers one request on 127.0.0.1 with a scripted `200 text/event-stream` body.
pub struct Server {
    base: String,
    handle: JoinHandle<io::Result<Request>>,
    /// The instant each [`Step::Pause`] ended, in order.
    pub resumed: mpsc::Receiver<Instant>,
}

impl Server {
    /// Starts the server; it answers the first connection and then stops.
    pub fn start(steps: Vec<Step>, end: End) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let (tx, resumed) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let (socket, _) = listener.accept()?;
            serve(socket, &steps, end, &tx)
        });
        Ok(Server {
            base,
            handle,
            resumed,
        })
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits for the server to finish and returns the request it got.
    pub fn request(self) -> io::Result<Request> {
        self.handle
            .join()
            .map_err(|_| io::Error::other("server thread panicked"))?
    }
}

fn serve(
    socket: TcpStream,
    steps: &[Step],
    end: End,
    resumed: &mpsc::Sender<Instant>,
) -> io::Result<Request> {
    socket.set_nodelay(true)?;
    let mut reader = BufReader::new(socket.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    drop(reader);
    // The client may hang up early (a timeout test does): its assertions report that, so write
    // errors are not the server's to report.
    let _ = respond(socket, steps, end, resumed);
    Ok(Request { head, body })
}

fn respond(
    mut socket: TcpStream,
    steps: &[Step],
    end: End,
    resumed: &mpsc::Sender<Instant>,
) -> io::Result<()> {
    let framing = match end {
        End::Chunked | End::ChunkedCut => "Transfer-Encoding: chunked\r\n",
        End::Close => "Connection: close\r\n",
    };
    write!(
        socket,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-request-id: req-stream-1\r\n{framing}\r\n"
    )?;
    socket.flush()?;
    let chunked = end != End::Close;
    for step in steps {
        match step {
            Step::Write(bytes) if chunked => {
                write!(socket, "{:x}\r\n{bytes}\r\n", bytes.len())?;
                socket.flush()?;
            }
            Step::Write(bytes) => {
                socket.write_all(bytes.as_bytes())?;
                socket.flush()?;
            }
            Step::Pause(pause) => {
                std::thread::sleep(*pause);
                // The test may have stopped listening; that is not the server's failure.
                let _ = resumed.send(Instant::now());
            }
        }
    }
    if end == End::Chunked {
        socket.write_all(b"0\r\n\r\n")?;
        socket.flush()?;
    }
    // Dropping the socket closes the connection (for `ChunkedCut`, without the terminator).
    Ok(())
}
