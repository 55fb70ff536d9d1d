//! Worst-case wall time of one call against a server that trickles its response head and then
//! its body, for timeouts T = 1, 2 and 5 s (goal: at most 1.1 T; docs/reliability.md, Timeouts).
//!
//! `cargo run --release --example deadline`
//!
//! The server here is std-only: it reads the request, then writes the head a byte at a time over
//! `head` and the body a byte at a time over `body`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use azureml_endpoint::{formatter::Gpt2ContentFormatter, AzureMlOnlineEndpoint};

const BODY: &str = r#"[{"0": "a model's answer, sent one byte at a time"}]"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("T      head      body      wall time    wall / T   outcome");
    for secs in [1u64, 2, 5] {
        let t = Duration::from_secs(secs);
        let mut worst = Duration::ZERO;
        // Fractions of T over which the head, then the body, trickle in.
        for (head, body) in [(0.9, 0.9), (0.5, 2.0), (0.99, 0.5), (0.2, 3.0)] {
            let (head, body) = (t.mul_f64(head), t.mul_f64(body));
            let (elapsed, outcome) = one_call(t, head, body)?;
            worst = worst.max(elapsed);
            println!(
                "{secs} s  {:>6.2} s  {:>6.2} s  {:>8.3} s   {:>6.3}     {outcome}",
                head.as_secs_f64(),
                body.as_secs_f64(),
                elapsed.as_secs_f64(),
                elapsed.as_secs_f64() / t.as_secs_f64()
            );
        }
        println!(
            "T = {secs} s: worst {:.3} s = {:.3} T (goal <= 1.1 T)",
            worst.as_secs_f64(),
            worst.as_secs_f64() / t.as_secs_f64()
        );
    }
    Ok(())
}

fn one_call(
    t: Duration,
    head: Duration,
    body: Duration,
) -> Result<(Duration, String), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/score", listener.local_addr()?.port());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            serve(stream, head, body, &done_rx);
        }
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_key("deadline-key")
        .formatter(Gpt2ContentFormatter)
        .timeout(t)
        .build()?;
    let start = Instant::now();
    let result = llm.invoke("x");
    let elapsed = start.elapsed();
    let _ = done_tx.send(());
    let _ = server.join();
    let outcome = match result {
        Ok(completion) => format!("answered ({} chars)", completion.text.len()),
        Err(e) => format!("error: {e}"),
    };
    Ok((elapsed, outcome))
}

/// Reads one request, then trickles the response until done or told to stop.
fn serve(stream: TcpStream, head: Duration, body: Duration, done: &mpsc::Receiver<()>) {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut request = vec![0; length];
    if reader.read_exact(&mut request).is_err() {
        return;
    }
    let mut stream = reader.into_inner();
    let response_head = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    for (bytes, over) in [(response_head.as_bytes(), head), (BODY.as_bytes(), body)] {
        let gap = over / u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        for byte in bytes {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            // The client has finished (or given up): stop writing.
            if done.recv_timeout(gap).is_ok() {
                return;
            }
        }
    }
}
