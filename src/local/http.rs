//! HTTP/1.1 for the local endpoint: reading requests within their bounds, writing answers.
//!
//! Every wait has a deadline, every buffer a cap, and every byte is looked at a bounded number
//! of times, so no input makes a connection spin, hang or grow without limit.

use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::events::Events;
use super::{Shared, MAX_BODY, MAX_HEAD};

/// How often blocked reads and sleeps look at the stop flag and their deadline.
pub(super) const POLL: Duration = Duration::from_millis(100);
/// A chunk-size line with its extensions; clients send a few bytes.
const MAX_CHUNK_LINE: usize = 1024;
const READ_SIZE: usize = 16 * 1024;

pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    /// Names lowercased.
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) close: bool,
}

impl Request {
    pub(super) fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.values(name).next()
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) enum ReadError {
    /// Closed, broken, idle too long or shutting down: nobody to answer.
    Gone,
    /// Answer with this status and message, then close.
    Reject(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

/// Why [`Conn::fill`] got no bytes.
enum Wait {
    Deadline,
    Gone,
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) payload: Payload,
    pub(super) delay: Duration,
}

pub(super) enum Payload {
    Json(Value),
    /// Made one event at a time as they are written.
    Events(Events),
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            payload: Payload::Json(body),
            delay: Duration::ZERO,
        }
    }

    pub(super) fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, error_body(message))
    }
}

fn error_body(message: &str) -> Value {
    json!({"error": {"message": message}})
}

enum Framing {
    Length(usize),
    Chunked,
}

pub(super) struct Conn<'a> {
    stream: TcpStream,
    /// Bytes read; those before `pos` are consumed, the rest (pipelined requests) wait.
    buf: Vec<u8>,
    pos: usize,
    shared: &'a Shared,
}

impl<'a> Conn<'a> {
    pub(super) fn new(stream: TcpStream, shared: &'a Shared) -> Conn<'a> {
        Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            shared,
        }
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    /// Moves the unread bytes to the front. Callers consume all they can first, so what moves
    /// is at most one unfinished head or line: the copying stays linear in the bytes read.
    fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }

    /// Reads more bytes after the unread ones; fails on EOF, errors, shutdown and at `until`
    /// (checked before every read, so a client trickling bytes cannot outrun it).
    fn fill(&mut self, until: Instant) -> Result<(), Wait> {
        self.compact();
        let old = self.buf.len();
        self.buf.resize(old + READ_SIZE, 0);
        let read = loop {
            if self.shared.stop.load(SeqCst) {
                break Err(Wait::Gone);
            }
            if Instant::now() >= until {
                break Err(Wait::Deadline);
            }
            match self.stream.read(self.buf.get_mut(old..).unwrap_or_default()) {
                Ok(0) => break Err(Wait::Gone),
                Ok(n) => break Ok(n),
                Err(e) if matches!(e.kind(), Interrupted | WouldBlock | TimedOut) => {}
                Err(_) => break Err(Wait::Gone),
            }
        };
        // read() never reports more than the slice holds.
        self.buf.truncate(old + read.as_ref().map_or(0, |n| *n));
        read.map(drop)
    }

    /// Reads more body bytes; a client that sends none for the idle timeout gets 408.
    fn fill_body(&mut self) -> Result<(), ReadError> {
        let idle = self.shared.limits.idle_timeout;
        self.fill(Instant::now() + idle).map_err(|wait| match wait {
            Wait::Gone => ReadError::Gone,
            Wait::Deadline => {
                ReadError::Reject(408, format!("request body stalled: no bytes for {}", secs(idle)))
            }
        })
    }

    /// Reads one request. A connection with no bytes of a next request for the idle timeout
    /// is closed silently; once a byte arrives (blank lines too), the whole head must arrive
    /// within the head timeout and 64 KiB.
    pub(super) fn read_request(&mut self) -> Result<Request, ReadError> {
        let limits = self.shared.limits;
        if self.unread().is_empty() {
            self.fill(Instant::now() + limits.idle_timeout)
                .map_err(|_| ReadError::Gone)?;
        }
        let deadline = Instant::now() + limits.head_timeout;
        let too_large = || {
            let message =
                "request head exceeds 64 KiB (request line, headers and any blank lines before them)";
            ReadError::Reject(431, message.into())
        };
        let (mut blank, mut scanned) = (0, 0);
        let end = loop {
            // Clients may send stray CRLFs before a request (RFC 9112, section 2.2).
            let skip = self
                .unread()
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            self.consume(skip);
            blank += skip;
            if let Some(end) = head_end(self.unread(), scanned) {
                break end;
            }
            scanned = self.unread().len();
            if blank + scanned > MAX_HEAD {
                return Err(too_large());
            }
            self.fill(deadline).map_err(|wait| match wait {
                Wait::Gone => ReadError::Gone,
                Wait::Deadline => ReadError::Reject(
                    408,
                    format!("request head not complete within {}", secs(limits.head_timeout)),
                ),
            })?;
        };
        if blank + end > MAX_HEAD {
            return Err(too_large());
        }
        let malformed = || ReadError::Reject(400, "malformed request line or header".into());
        let mut req = parse_head(self.unread().get(..end).unwrap_or_default()).ok_or_else(malformed)?;
        self.consume(end);
        let framing = framing(&req)?;
        let waiting = match framing {
            Framing::Length(len) => len > self.unread().len(),
            Framing::Chunked => self.unread().is_empty(),
        };
        if waiting
            && req
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        req.body = match framing {
            Framing::Length(len) => self.read_sized(len)?,
            Framing::Chunked => self.read_chunked()?,
        };
        Ok(req)
    }

    /// A `Content-Length` body, already checked against the limit.
    fn read_sized(&mut self, len: usize) -> Result<Vec<u8>, ReadError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        self.compact();
        // One allocation that the reads below never outgrow.
        let room = (len + READ_SIZE).saturating_sub(self.buf.len());
        self.buf.reserve_exact(room);
        while self.buf.len() < len {
            self.fill_body()?;
        }
        // The body leaves without a copy; only pipelined bytes after it move.
        let rest = self.buf.split_off(len.min(self.buf.len()));
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// A chunked body, decoded as it arrives and refused as soon as its declared sizes pass
    /// the limit; chunk extensions and trailers are ignored.
    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let malformed = || ReadError::Reject(400, "malformed chunked request body".into());
        let mut body = Vec::new();
        loop {
            let line = self.line(MAX_CHUNK_LINE, malformed)?;
            let size = chunk_size(&line).ok_or_else(malformed)?;
            if size == 0 {
                break;
            }
            if size > MAX_BODY - body.len() {
                let message = format!("chunked request body exceeds the limit of {MAX_BODY} bytes (8 MiB)");
                return Err(ReadError::Reject(413, message));
            }
            grow(&mut body, size);
            let mut left = size;
            while left > 0 {
                if self.unread().is_empty() {
                    self.fill_body()?;
                }
                let data = self
                    .unread()
                    .get(..left.min(self.unread().len()))
                    .unwrap_or_default();
                body.extend_from_slice(data);
                left -= data.len();
                self.consume(data.len());
            }
            if !self.line(0, malformed)?.is_empty() {
                return Err(malformed());
            }
        }
        let mut trailers = 0;
        loop {
            let too_large = || ReadError::Reject(431, "request trailers exceed 64 KiB".into());
            let line = self.line(MAX_HEAD - trailers, too_large)?;
            if line.is_empty() {
                return Ok(body);
            }
            trailers += line.len();
        }
    }

    /// The next line without its CRLF (or bare LF); longer than `max` is `too_long`.
    fn line(&mut self, max: usize, too_long: impl Fn() -> ReadError) -> Result<Vec<u8>, ReadError> {
        let mut scanned = 0;
        loop {
            let unread = self.unread();
            if let Some(at) = unread
                .get(scanned..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'))
            {
                let end = scanned + at;
                let line = unread.get(..end).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                if line.len() > max {
                    return Err(too_long());
                }
                self.consume(end + 1);
                return Ok(line);
            }
            scanned = unread.len();
            // Room for the CR before the LF.
            if scanned > max + 1 {
                return Err(too_long());
            }
            self.fill_body()?;
        }
    }

    pub(super) fn send(
        &mut self,
        reply: Reply,
        id: &str,
        deployment: Option<&str>,
        close: bool,
    ) -> io::Result<()> {
        match reply.payload {
            Payload::Json(body) => {
                self.nap(reply.delay)?;
                let response = json_response(reply.status, &body, id, deployment, close);
                self.stream.write_all(&response)
            }
            Payload::Events(mut events) => {
                let mut head = head(reply.status, id, deployment, close);
                head.push_str("Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
                self.stream.write_all(head.as_bytes())?;
                let mut stream = &self.stream;
                write_events(&mut stream, &mut events, || self.nap(reply.delay))?;
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
    pub(super) fn linger(mut self) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let until = Instant::now() + Duration::from_secs(1);
        while self.fill(until).is_ok() {
            self.buf.clear();
            self.pos = 0;
        }
    }
}

/// Answers a connection beyond the cap with 503 and closes it, without blocking the caller.
pub(super) fn refuse(mut stream: TcpStream, id: &str, max_connections: usize) {
    let message = format!(
        "the local endpoint already has its maximum of {max_connections} open connections; \
         retry when one closes"
    );
    let response = json_response(503, &error_body(&message), id, None, true);
    if stream.set_nonblocking(true).is_ok() {
        // A fresh socket's send buffer takes it whole; if not, the answer is lost, not the loop.
        let _ = stream.write(&response);
        let _ = stream.shutdown(Shutdown::Write);
        // Reading what already arrived makes close() send FIN, not a reset that would
        // discard the answer at the client.
        let _ = stream.read(&mut [0; 4096]);
    }
}

/// Writes a stream's events, each made just before it is sent as one chunk, with `pause`
/// between them; returns the most bytes it held at once (the buffer's high-water mark).
pub(super) fn write_events(
    w: &mut impl Write,
    events: &mut Events,
    mut pause: impl FnMut() -> io::Result<()>,
) -> io::Result<usize> {
    let mut out = Vec::new();
    let mut held = 0;
    let mut first = true;
    while !events.done() {
        if !first {
            pause()?;
        }
        first = false;
        out.clear();
        events.write_next(&mut out);
        let size = format!("{:x}\r\n", out.len());
        out.splice(..0, size.into_bytes());
        out.extend_from_slice(b"\r\n");
        held = held.max(out.capacity());
        // One write per event: with TCP_NODELAY it leaves at once, as one chunk.
        w.write_all(&out)?;
        w.flush()?;
    }
    Ok(held)
}

fn head(status: u16, id: &str, deployment: Option<&str>, close: bool) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\nx-request-id: {id}\r\n", reason(status));
    if let Some(deployment) = deployment {
        head.push_str(&format!("azureml-model-deployment: {deployment}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head
}

fn json_response(status: u16, body: &Value, id: &str, deployment: Option<&str>, close: bool) -> Vec<u8> {
    let body = body.to_string();
    let mut response = head(status, id, deployment, close);
    response.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    response.push_str(&body);
    response.into_bytes()
}

/// `1s`, `0.3s`: how the limits read in messages.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// How the body is framed (RFC 9112, section 6), refusing what could be read two ways.
fn framing(req: &Request) -> Result<Framing, ReadError> {
    let bad = |message: String| ReadError::Reject(400, message);
    let codings: Vec<&str> = req
        .values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let lengths: Vec<&str> = req.values("content-length").collect();
    if !codings.is_empty() {
        if !lengths.is_empty() {
            return Err(bad(
                "a request may not have both Transfer-Encoding and Content-Length".into(),
            ));
        }
        return match codings.as_slice() {
            [coding] if coding.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            _ => Err(ReadError::Reject(
                501,
                format!(
                    "unsupported Transfer-Encoding {:?}; send the body with Content-Length or Transfer-Encoding: chunked",
                    codings.join(", ")
                ),
            )),
        };
    }
    let v = match lengths.as_slice() {
        [] => return Ok(Framing::Length(0)),
        [first, rest @ ..] if rest.iter().all(|v| v == first) => *first,
        _ => return Err(bad("conflicting Content-Length headers".into())),
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("invalid Content-Length {v:?}")));
    }
    match v.parse::<usize>() {
        Ok(len) if len <= MAX_BODY => Ok(Framing::Length(len)),
        // Too many digits for usize is too large as well.
        _ => Err(ReadError::Reject(
            413,
            format!("request body of {v} bytes exceeds the limit of {MAX_BODY} bytes (8 MiB)"),
        )),
    }
}

/// The size on a chunk-size line, ignoring extensions; `usize::MAX` stands for too large.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let size = line.split(|&b| b == b';').next()?;
    let size = std::str::from_utf8(size).ok()?.trim_matches([' ', '\t']);
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(usize::from_str_radix(size, 16).unwrap_or(usize::MAX))
}

/// Makes room for `more` bytes, doubling (so appends stay linear) but never past the limit.
fn grow(body: &mut Vec<u8>, more: usize) {
    let need = body.len() + more;
    if need > body.capacity() {
        let target = need.max(body.capacity() * 2).min(MAX_BODY.max(need));
        body.reserve_exact(target - body.len());
    }
}

/// The length of the head including its blank line, looking for it from about `from` on
/// (where an earlier call stopped); bare-LF line ends are tolerated.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(2);
    let rest = buf.get(start..)?;
    rest.iter().enumerate().find_map(|(i, &b)| {
        let after = rest.get(i + 1..)?;
        if b != b'\n' {
            None
        } else if after.starts_with(b"\n") {
            Some(start + i + 2)
        } else if after.starts_with(b"\r\n") {
            Some(start + i + 3)
        } else {
            None
        }
    })
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
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}
