//! Batch throughput figures (issue 14), against test servers of the project's own on 127.0.0.1.
//!
//! `cargo run --release --example tput_bench` prints:
//! - `generate` over TLS of 200 prompts against a model taking 10 ms, 1 vs 8 threads (goal >= 7x);
//! - new connections opened per 10,000 batch requests at concurrency 8 (goal: 8), in one call
//!   and in calls of 32, and with ureq's default pool of 3 idle connections for comparison;
//! - 429s against a server admitting 50 requests/s: 8 threads of one client (one shared
//!   backoff) vs 8 clients of one thread each (each backing off on its own).

#[path = "../tests/support/mod.rs"]
mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use azureml_endpoint::{formatter::Gpt2ContentFormatter, AzureMlOnlineEndpoint, CallOptions};
use common::keepalive::KeepAliveServer;
use common::keepalive::Reply;
use common::tls::{https_url, TestCa};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const OK: &str = r#"[{"0": "done"}]"#;

fn builder(url: String) -> azureml_endpoint::AzureMlOnlineEndpointBuilder {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_key("bench-key")
        .formatter(Gpt2ContentFormatter)
}

fn run(llm: &AzureMlOnlineEndpoint, requests: usize, threads: usize) -> Result<Duration> {
    let prompts = vec!["x"; requests];
    let start = Instant::now();
    for result in llm.generate(&prompts, &CallOptions::new().max_concurrency(threads)) {
        assert_eq!(result?.text, "done");
    }
    Ok(start.elapsed())
}

fn main() -> Result<()> {
    // 1. TLS, 10 ms per request.
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK).delay(Duration::from_millis(10)));
    let llm = builder(https_url(&server, "/score"))
        .add_root_certificates_pem(ca.ca_pem.clone())
        .build()?;
    let one = run(&llm, 200, 1)?;
    let eight = run(&llm, 200, 8)?;
    println!(
        "TLS generate 200 x 10 ms: 1 thread {:.3} s, 8 threads {:.3} s: {:.1}x  (goal >= 7x); {} TLS connections",
        one.as_secs_f64(),
        eight.as_secs_f64(),
        one.as_secs_f64() / eight.as_secs_f64(),
        server.accepted()
    );

    // 2. Connections per 10,000 requests, 8 threads, answered at once: one `generate`, and 313
    // calls of 32 (how the CLI's batch ran before it streamed: all 8 connections idle between
    // calls, where a pool of 3 closes 5).
    for (label, idle) in [("pool 32 (default)", None), ("pool 3 (ureq's default)", Some(3))] {
        for chunk in [10_000, 32] {
            let server = KeepAliveServer::start(|_| Reply::new(200, OK));
            let mut b = builder(server.url("/score"));
            if let Some(idle) = idle {
                b = b.max_idle_connections(idle);
            }
            let llm = b.build()?;
            let mut took = Duration::ZERO;
            let mut left = 10_000;
            while left > 0 {
                let n = chunk.min(left);
                took += run(&llm, n, 8)?;
                left -= n;
            }
            println!(
                "10,000 requests at concurrency 8 in calls of {chunk}, {label}: {} connections opened  (goal = 8), {:.0} req/s",
                server.accepted(),
                10_000.0 / took.as_secs_f64()
            );
        }
    }

    // 3. 429s against a server admitting 50 requests per second.
    for shared in [true, false] {
        let server = admitting(50);
        let make = || builder(server.url("/score")).max_retries(20).build();
        let start = Instant::now();
        if shared {
            run(&make()?, 200, 8)?;
        } else {
            let clients = (0..8)
                .map(|_| make())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            std::thread::scope(|scope| {
                let runs: Vec<_> = clients
                    .iter()
                    .map(|llm| scope.spawn(move || run(llm, 25, 1).is_ok()))
                    .collect();
                runs.into_iter().all(|r| r.join().unwrap_or(false))
            })
            .then_some(())
            .ok_or("a request failed")?;
        }
        let requests = server.requests();
        println!(
            "200 requests, 8 threads, server admits 50/s, {}: {} 429s ({} requests sent), {:.2} s",
            if shared {
                "1 client (shared backoff)"
            } else {
                "8 clients (own backoff)"
            },
            requests - 200,
            requests,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Admits `per_second` requests in each 1-second window; the rest get a 429 with the time to the
/// next window in `retry-after-ms`.
fn admitting(per_second: usize) -> KeepAliveServer {
    let window = Arc::new(Mutex::new((Instant::now(), 0usize)));
    KeepAliveServer::start(move |_| {
        let mut w = window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(w.0) >= Duration::from_secs(1) {
            *w = (now, 0);
        }
        if w.1 < per_second {
            w.1 += 1;
            return Reply::new(200, OK);
        }
        let left = Duration::from_secs(1).saturating_sub(now.duration_since(w.0));
        Reply::new(429, "").header("retry-after-ms", &left.as_millis().max(1).to_string())
    })
}
