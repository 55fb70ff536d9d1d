//! The one test server core on 127.0.0.1: an accept loop that hands each connection to a thread
//! of its own, and the request-head reader. [`fault`](super::fault) answers each request with a
//! script on a connection of its own; [`keepalive`](super::keepalive) answers any number of
//! requests per connection (over TLS with [`tls`](super::tls)).

use std::collections::HashMap;
use std::io::BufRead;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Listening on 127.0.0.1; on drop it stops accepting, raises the stop flag its connection
/// threads watch, and shuts down the sockets still being served.
pub struct Listener {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    /// A handle on each connection still being served, by accept order.
    open: Arc<Mutex<HashMap<usize, TcpStream>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Listener {
    /// Serves each accepted connection with `serve(connection, stop flag)` on its own thread.
    pub fn start(serve: impl Fn(TcpStream, &AtomicBool) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let serve = Arc::new(serve);
        let (acc, op, st) = (accepted.clone(), open.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let id = acc.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = tcp.try_clone() {
                    op.lock().unwrap().insert(id, clone);
                }
                let (serve, st, op) = (serve.clone(), st.clone(), op.clone());
                std::thread::spawn(move || {
                    serve(tcp, &st);
                    // The last handle: the socket closes now (a reset if a byte was left unread).
                    op.lock().unwrap().remove(&id);
                });
            }
        });
        Listener {
            port,
            accepted,
            open,
            stop,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the stop flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
        for (_, tcp) in self.open.lock().unwrap().drain() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
    }
}

/// Reads a request head up to its blank line: the head as sent and its `content-length` (0 when
/// absent or unreadable). `None` when the client left first.
pub fn read_head(reader: &mut impl BufRead) -> Option<(String, usize)> {
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Some((head, length));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
}
