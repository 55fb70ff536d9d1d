//! Measures streaming against a local std-only SSE server on 127.0.0.1.
//!
//! ```text
//! cargo build --release --example stream_bench
//! /usr/bin/time -v target/release/examples/stream_bench big 100   # ~100 MB stream: bytes, events, time; read peak RSS
//! /usr/bin/time -v target/release/examples/stream_bench empty     # a tiny stream: the RSS baseline
//! target/release/examples/stream_bench latency 2000               # server write -> iterator yield, median/p99
//!
//! # The CLI's memory on a 1 GB stream: serve it, then read the CLI's peak RSS.
//! target/release/examples/stream_bench serve 1000 18765 &
//! /usr/bin/time -v target/release/azureml-endpoint chat --url http://127.0.0.1:18765/v1/chat/completions \
//!     --stream go > /dev/null                                      # add --json for the JSON form
//! ```
//!
//! The server runs in the same process, writing from one fixed 64 KiB batch, so the difference
//! in peak RSS between `big` and `empty` is what the client holds while streaming.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, ChatMessage};

type BenchResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// The clock both sides read, so a timestamp in an event can be compared where it is yielded.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn main() -> BenchResult {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("big");
    let number = |default: u64| -> BenchResult<u64> {
        Ok(args.get(1).map(|n| n.parse()).transpose()?.unwrap_or(default))
    };
    epoch();
    match mode {
        "big" => throughput(number(100)? * 1_000_000),
        "empty" => throughput(0),
        "latency" => latency(number(2000)?),
        "serve" => {
            let port = args.get(2).map(|p| p.parse()).transpose()?.unwrap_or(18765);
            serve_forever(number(1000)? * 1_000_000, port)
        }
        other => Err(format!(
            "unknown mode {other:?}: use big [MB], empty, latency [events] or serve [MB] [port]"
        )
        .into()),
    }
}

/// One chat chunk event carrying `content`.
fn event(content: &str) -> String {
    format!(
        "data: {{\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n"
    )
}

const FINISH: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// Writes about `total` bytes of events (1 KiB of text each) and the end of the stream.
fn write_stream(socket: &mut TcpStream, total: u64) -> BenchResult<u64> {
    let one = event(&"x".repeat(1024));
    let per_batch = (64 * 1024 / one.len()).max(1);
    let batch = one.repeat(per_batch);
    let batches = total.div_ceil(batch.len() as u64);
    let mut written = 0u64;
    for _ in 0..batches {
        written += write_chunk(socket, &batch)? as u64;
    }
    written += write_chunk(socket, FINISH)? as u64;
    end_chunks(socket)?;
    Ok(written)
}

/// Streams about `total` bytes of events and reports what came through.
fn throughput(total: u64) -> BenchResult {
    let server = serve(move |socket| write_stream(socket, total))?;

    let started = Instant::now();
    let mut events = 0u64;
    let mut text_bytes = 0u64;
    for chunk in server.client.stream(&[ChatMessage::user("go")])? {
        let chunk = chunk?;
        events += 1;
        text_bytes += chunk.text.len() as u64;
    }
    let elapsed = started.elapsed();
    let body_bytes = server.join()?;
    println!(
        "body {body_bytes} bytes ({:.1} MB), {events} chunks, {text_bytes} text bytes, {:.3} s, {:.0} MB/s",
        body_bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        body_bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// Sends `count` events 1 ms apart, each carrying the instant it was written, and reports how
/// long each took to come out of the iterator.
fn latency(count: u64) -> BenchResult {
    let server = serve(move |socket| {
        let mut written = 0u64;
        for _ in 0..count {
            std::thread::sleep(Duration::from_millis(1));
            let sent = epoch().elapsed().as_nanos();
            written += write_chunk(socket, &event(&sent.to_string()))? as u64;
        }
        written += write_chunk(socket, FINISH)? as u64;
        end_chunks(socket)?;
        Ok(written)
    })?;

    let mut micros = Vec::with_capacity(usize::try_from(count)?);
    for chunk in server.client.stream(&[ChatMessage::user("go")])? {
        let chunk = chunk?;
        let now = epoch().elapsed().as_nanos();
        if let Ok(sent) = chunk.text.parse::<u128>() {
            micros.push(now.saturating_sub(sent) as f64 / 1000.0);
        }
    }
    server.join()?;
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let index = ((micros.len() as f64 - 1.0) * q).round() as usize;
        micros.get(index).copied().unwrap_or(f64::NAN)
    };
    println!(
        "{} events: write -> yield median {:.0} us, p99 {:.0} us, max {:.0} us",
        micros.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Answers every request on `port` with a stream of about `total` bytes, until killed.
fn serve_forever(total: u64, port: u16) -> BenchResult {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    eprintln!("serving {total} bytes per request on http://127.0.0.1:{port}/v1/chat/completions");
    for socket in listener.incoming() {
        let mut socket = socket?;
        std::thread::spawn(move || -> BenchResult<u64> {
            read_request(&socket)?;
            socket.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )?;
            write_stream(&mut socket, total)
        });
    }
    Ok(())
}

struct Server {
    client: AzureMlChatOnlineEndpoint,
    handle: JoinHandle<BenchResult<u64>>,
}

impl Server {
    /// Bytes of body the server wrote.
    fn join(self) -> BenchResult<u64> {
        self.handle.join().map_err(|_| "server thread panicked")?
    }
}

/// Answers one request with a chunked `text/event-stream` body written by `body`.
fn serve(body: impl FnOnce(&mut TcpStream) -> BenchResult<u64> + Send + 'static) -> BenchResult<Server> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/v1/chat/completions", listener.local_addr()?);
    let handle = std::thread::spawn(move || -> BenchResult<u64> {
        let (mut socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        read_request(&socket)?;
        socket.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        )?;
        body(&mut socket)
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(ApiType::Serverless)
        .api_key("bench-key")
        .build()?;
    Ok(Server { client, handle })
}

fn read_request(socket: &TcpStream) -> BenchResult {
    let mut reader = BufReader::new(socket);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    reader.read_exact(&mut vec![0; length])?;
    Ok(())
}

fn write_chunk(socket: &mut TcpStream, data: &str) -> BenchResult<usize> {
    write!(socket, "{:x}\r\n{data}\r\n", data.len())?;
    Ok(data.len())
}

fn end_chunks(socket: &mut TcpStream) -> BenchResult {
    socket.write_all(b"0\r\n\r\n")?;
    Ok(())
}
