//! The embedded local endpoint under hostile load: its bounds in figures (Linux only).
//!
//! `cargo run --release --example local_load` starts a `LocalEndpoint` in this process, then
//! prints, from `/proc/self/status`:
//! 1. peak RSS (`VmHWM`) before and after one 8 MiB POST streamed with
//!    `Transfer-Encoding: chunked` in 64 KiB chunks (the body is a short JSON prompt padded with
//!    spaces, so the echoed answer is small and what shows is the request's cost);
//! 2. the most threads (`Threads:`) seen while 10,000 connections are opened and held, how
//!    many of them were answered 503, and peak RSS after them.
//!
//! Holding 10,000 sockets needs `ulimit -n` above 10,100.

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use azureml_endpoint::local::{LocalEndpoint, DEFAULT_MAX_CONNECTIONS};

const CONNECTIONS: usize = 10_000;
const BODY: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let local = LocalEndpoint::start()?;
    println!(
        "baseline: Threads {}, VmHWM {}",
        status("Threads")?,
        status("VmHWM")?
    );

    let started = Instant::now();
    let answer = chunked_post(&local)?;
    println!(
        "8 MiB chunked POST: answered {:?} in {:.0?}; VmHWM {} (VmRSS now {})",
        answer,
        started.elapsed(),
        status("VmHWM")?,
        status("VmRSS")?,
    );

    let peak_threads = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak_threads), Arc::clone(&done));
        thread::spawn(move || {
            while !done.load(SeqCst) {
                if let Some(n) = status("Threads").ok().and_then(|t| t.parse().ok()) {
                    peak.fetch_max(n, SeqCst);
                }
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let mut held = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let conn = TcpStream::connect(local.addr())
            .map_err(|e| format!("connection {i}: {e} (is `ulimit -n` above {CONNECTIONS}?)"))?;
        held.push(conn);
    }
    let opened = started.elapsed();
    // Give the server time to answer every refused connection.
    thread::sleep(Duration::from_secs(1));
    let (mut refused, mut open, mut idle_closed) = (0, 0, 0);
    for conn in &mut held {
        conn.set_nonblocking(true)?;
        let mut answer = [0; 512];
        match conn.read(&mut answer) {
            Ok(n) if answer.get(..n).is_some_and(|a| a.starts_with(b"HTTP/1.1 503 ")) => refused += 1,
            // On a loaded machine opening can outlast the 30 s idle timeout of the first ones.
            Ok(0) => idle_closed += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => open += 1,
            other => return Err(format!("unexpected answer {other:?}").into()),
        }
    }
    done.store(true, SeqCst);
    sampler.join().map_err(|_| "sampler panicked")?;
    println!(
        "{CONNECTIONS} connections opened and held in {opened:.1?}: {open} open and served \
         (cap {DEFAULT_MAX_CONNECTIONS}), {refused} answered 503 and closed, {idle_closed} closed \
         when idle; peak Threads {} (main, sampler, accept loop, connection threads); \
         VmHWM {}, VmRSS now {}",
        peak_threads.load(SeqCst),
        status("VmHWM")?,
        status("VmRSS")?,
    );
    drop(held);
    local.shutdown();
    Ok(())
}

/// Streams an 8 MiB body from one reused 64 KiB buffer, so the client adds no 8 MiB of its own.
fn chunked_post(local: &LocalEndpoint) -> Result<String, Box<dyn Error>> {
    let mut conn = TcpStream::connect(local.addr())?;
    conn.write_all(
        b"POST /v1/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )?;
    let prompt = br#"{"prompt": "fits"}"#;
    let mut chunk = vec![b' '; CHUNK];
    chunk
        .get_mut(..prompt.len())
        .ok_or("chunk shorter than the prompt")?
        .copy_from_slice(prompt);
    for i in 0..BODY / CHUNK {
        if i == 1 {
            chunk.fill(b' ');
        }
        conn.write_all(format!("{CHUNK:x}\r\n").as_bytes())?;
        conn.write_all(&chunk)?;
        conn.write_all(b"\r\n")?;
    }
    conn.write_all(b"0\r\n\r\n")?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let text = answer.contains(r#""text":"fits""#);
    Ok(format!("{status}, text \"fits\": {text}"))
}

/// A field of `/proc/self/status`, such as `Threads` or `VmHWM` (`"12345 kB"`).
fn status(field: &str) -> Result<String, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    Ok(value.trim().to_owned())
}
