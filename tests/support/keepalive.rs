//! A keep-alive HTTP/1.1 server on 127.0.0.1 that serves any number of requests per connection
//! and counts the connections it accepts, for tests of connection reuse, shared waits and TLS.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::server::{read_head, Listener};

/// One answer: status, headers and a `content-length` body, after a delay.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A connection's byte stream: plain TCP, or TLS over it.
pub trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

/// Answers request n (0-based, across all connections) with `respond(n, body)`.
pub type Respond = dyn Fn(usize, &[u8]) -> Reply + Send + Sync;

/// The server; stopped, and every connection shut down, when dropped.
pub struct KeepAliveServer {
    pub port: u16,
    listener: Listener,
    requests: Arc<AtomicUsize>,
}

impl KeepAliveServer {
    /// Plain HTTP; request n is answered with `respond(n)`.
    pub fn start(respond: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(|tcp| Some(Box::new(tcp) as Box<dyn Conn>), move |n, _| respond(n))
    }

    /// Plain HTTP; request n is answered with `respond(n, its body)`.
    pub fn start_reading(respond: impl Fn(usize, &[u8]) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(|tcp| Some(Box::new(tcp) as Box<dyn Conn>), respond)
    }

    /// Each accepted socket goes through `wrap` first.
    pub fn start_with(
        wrap: impl Fn(TcpStream) -> Option<Box<dyn Conn>> + Send + Sync + 'static,
        respond: impl Fn(usize, &[u8]) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let requests = Arc::new(AtomicUsize::new(0));
        let reqs = requests.clone();
        let listener = Listener::start(move |tcp, _| {
            if let Some(conn) = wrap(tcp) {
                serve(conn, &respond, &reqs);
            }
        });
        KeepAliveServer {
            port: listener.port,
            listener,
            requests,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.listener.url(path)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.listener.accepted()
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads requests (head and `content-length` body) and answers each, until the client leaves.
fn serve(conn: Box<dyn Conn>, respond: &Respond, requests: &AtomicUsize) {
    let mut reader = BufReader::new(conn);
    while let Some((_, length)) = read_head(&mut reader) {
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = respond(requests.fetch_add(1, Ordering::SeqCst), &body);
        std::thread::sleep(reply.delay);
        let mut out = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&reply.body);
        let conn = reader.get_mut();
        if conn.write_all(&bytes).and_then(|()| conn.flush()).is_err() {
            return;
        }
    }
}
