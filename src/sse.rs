//! Server-Sent Events framing (HTML Living Standard, "event stream interpretation"): lines,
//! fields and events over a response body, nothing about what the events mean.
//!
//! The reader holds at most one event (capped at [`MAX_EVENT_BYTES`]) plus a fixed read buffer,
//! so memory stays flat however long the stream runs, and each event is handed out as soon as
//! its blank line arrives.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

/// One event (its lines, comments included) larger than this is an error.
pub(crate) const MAX_EVENT_BYTES: usize = 1024 * 1024;
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Why the reader could not give the next event.
pub(crate) enum ReadFailure {
    TooLarge,
    Timeout,
    Io(std::io::Error),
}

/// One dispatched event: its joined `data:` lines and whether it was `event: error`.
pub(crate) struct Event<'a> {
    pub data: &'a [u8],
    pub is_error: bool,
}

/// Splits a byte stream into SSE events (HTML Living Standard, "event stream interpretation").
pub(crate) struct SseReader {
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
    pub timeout: Duration,
    /// When that wait began: at the start, then at each yielded chunk (events that carry
    /// nothing do not restart it).
    waiting_since: Instant,
}

impl SseReader {
    pub fn new(body: Box<dyn Read + Send>, timeout: Duration) -> Self {
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
        }
    }

    /// A chunk is being yielded: the wait for the next one starts now.
    pub fn restart_deadline(&mut self) {
        self.waiting_since = Instant::now();
    }

    /// The next event, or `None` at the end of the body. A last event without its blank line
    /// is incomplete and, as the SSE spec says, dropped, except a bare `[DONE]`.
    pub fn next_event(&mut self) -> std::result::Result<Option<Event<'_>>, ReadFailure> {
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
}
