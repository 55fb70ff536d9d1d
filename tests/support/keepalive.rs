//! A keep-alive HTTP/1.1 server on 127.0.0.1 that serves any number of requests per connection
//! and counts the connections it accepts, for tests of connection reuse, shared waits and TLS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// Turns an accepted socket into the stream to serve (e.g. a TLS handshake); `None` drops it.
pub type Wrap = dyn Fn(TcpStream) -> Option<Box<dyn Conn>> + Send + Sync;

/// Answers request n (0-based, across all connections) with `respond(n, body)`.
pub type Respond = dyn Fn(usize, &[u8]) -> Reply + Send + Sync;

/// The server; stopped, and every connection shut down, when dropped.
pub struct KeepAliveServer {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let wrap: Arc<Wrap> = Arc::new(wrap);
        let respond: Arc<Respond> = Arc::new(respond);
        let (acc, reqs, op, st) = (accepted.clone(), requests.clone(), open.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                acc.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = tcp.try_clone() {
                    op.lock().unwrap().push(clone);
                }
                let (wrap, respond, reqs) = (wrap.clone(), respond.clone(), reqs.clone());
                std::thread::spawn(move || {
                    if let Some(conn) = wrap(tcp) {
                        serve(conn, &*respond, &reqs);
                    }
                });
            }
        });
        KeepAliveServer {
            port,
            accepted,
            requests,
            open,
            stop,
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for KeepAliveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
        for tcp in self.open.lock().unwrap().drain(..) {
            let _ = tcp.shutdown(Shutdown::Both);
        }
    }
}

/// Reads requests (head and `content-length` body) and answers each, until the client leaves.
fn serve(conn: Box<dyn Conn>, respond: &Respond, requests: &AtomicUsize) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
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
