//! Embeddings throughput (issue 21): 10,000 inputs in requests of 96 (`batch_size`'s default)
//! against a server on 127.0.0.1, 8 requests at once.
//!
//! `cargo run --release --example embed_bench` prints inputs/s of
//! - `embed_with` at `max_concurrency` 8, and
//! - a raw loop doing the same requests: ureq with its default settings (one `Agent`, its pool of
//!   3 idle connections per host), 8 threads taking the next request as they free up, the same
//!   body bytes and headers, each reply parsed into vectors put in `index` order,
//!
//! against the embedded local endpoint (8-number vectors it makes per request) and against a
//! server of canned replies (1024-number vectors, a Cohere v3-sized reply, made once: the
//! client's own cost shows). 15 alternating rounds of each; the median and best round are shown
//! (one round is short: on a shared machine the median is the steadier figure).

#[path = "../tests/support/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::CallOptions;
use common::keepalive::{KeepAliveServer, Reply as Canned};
use serde::Deserialize;
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const KEY: &str = "bench-key";
const INPUTS: usize = 10_000;
const BATCH: usize = 96;
const CONCURRENCY: usize = 8;
const ROUNDS: usize = 15;

#[derive(Deserialize)]
struct Reply {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

fn main() -> Result<()> {
    let local = LocalEndpoint::start()?;
    let canned = canned_server(1024);
    let texts: Vec<String> = (0..INPUTS)
        .map(|i| {
            format!(
                "document {i}: a paragraph about topic {} to embed for search",
                i % 37
            )
        })
        .collect();
    let raw = ureq::Agent::new_with_defaults();
    println!(
        "{INPUTS} inputs, {BATCH} per request ({} requests), {CONCURRENCY} at once, {ROUNDS} rounds",
        INPUTS.div_ceil(BATCH)
    );
    let targets = [
        (
            "local endpoint, 8 numbers per vector",
            local.embeddings_url(),
            Some(8),
        ),
        (
            "canned replies, 1024 numbers per vector",
            canned.url("/v1/embeddings"),
            None,
        ),
    ];
    for (label, url, dimensions) in targets {
        let embedder = AzureMlEmbeddingsEndpoint::builder()
            .endpoint_url(url.clone())
            .api_key(KEY)
            .batch_size(u32::try_from(BATCH)?)
            .build()?;
        let mut options = CallOptions::new().max_concurrency(CONCURRENCY);
        if let Some(dimensions) = dimensions {
            options = options.param("dimensions", dimensions);
        }
        // The very bytes the client sends, one body per request.
        let bodies: Vec<Vec<u8>> = texts
            .chunks(BATCH)
            .map(|chunk| {
                let mut body = json!({"input": chunk});
                if let (Some(dimensions), Some(object)) = (dimensions, body.as_object_mut()) {
                    object.insert("dimensions".into(), dimensions.into());
                }
                serde_json::to_vec(&body)
            })
            .collect::<std::result::Result<_, _>>()?;
        let client = || -> Result<Vec<Vec<f32>>> { Ok(embedder.embed_with(&texts, &options)?.vectors) };
        let by_hand = || raw_loop(&raw, &url, &bodies);
        // Warm up both, and check they got the same vectors.
        assert!(client()? == by_hand()?, "the client and the raw loop disagree");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            ours.push(inputs_per_second(&client)?);
            theirs.push(inputs_per_second(&by_hand)?);
        }
        let ((client_median, client_best), (raw_median, raw_best)) = (summary(ours), summary(theirs));
        println!("{label}:");
        println!(
            "  client   median {client_median:>7.0} inputs/s, best {client_best:>7.0}  ({:+.1} % vs raw, median)",
            (client_median / raw_median - 1.0) * 100.0
        );
        println!("  raw ureq median {raw_median:>7.0} inputs/s, best {raw_best:>7.0}");
    }
    Ok(())
}

/// A server answering each request with `dimensions`-number vectors for its inputs, the reply
/// bytes made once per request size.
fn canned_server(dimensions: usize) -> KeepAliveServer {
    let reply = move |count: usize| -> Vec<u8> {
        let data: Vec<Value> = (0..count)
            .map(|i| {
                let vector: Vec<f64> = (0..dimensions)
                    .map(|j| ((i * 31 + j * 7) % 2001) as f64 / 1000.0 - 1.0)
                    .collect();
                json!({"object": "embedding", "index": i, "embedding": vector})
            })
            .collect();
        let body = json!({"object": "list", "data": data, "model": "canned",
            "usage": {"prompt_tokens": count, "total_tokens": count}});
        serde_json::to_vec(&body).unwrap_or_default()
    };
    let (full, last) = (reply(BATCH), reply(INPUTS % BATCH));
    KeepAliveServer::start_reading(move |_, body| {
        let count = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|b| b.get("input").and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0);
        let bytes = match count {
            BATCH => full.clone(),
            n if n == INPUTS % BATCH => last.clone(),
            n => reply(n),
        };
        Canned::new(200, bytes).header("content-type", "application/json")
    })
}

/// The raw loop: `CONCURRENCY` threads on one default `ureq::Agent`, each taking the next body.
fn raw_loop(agent: &ureq::Agent, url: &str, bodies: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<Vec<f32>>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(index) else { break };
                        let mut response = agent
                            .post(url)
                            .header("Content-Type", "application/json")
                            .header("Accept", "application/json")
                            .header("Authorization", format!("Bearer {KEY}"))
                            .header("api-key", KEY)
                            .send(&body[..])?;
                        let reply: Reply = serde_json::from_slice(&response.body_mut().read_to_vec()?)?;
                        let mut vectors = reply.data;
                        vectors.sort_unstable_by_key(|item| item.index);
                        let vectors = vectors.into_iter().map(|item| item.embedding).collect();
                        done.lock().map_err(|_| "poisoned")?.push((index, vectors));
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| "a worker panicked")??;
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    let mut done = done.into_inner().map_err(|_| "poisoned")?;
    done.sort_unstable_by_key(|(index, _)| *index);
    Ok(done.into_iter().flat_map(|(_, vectors)| vectors).collect())
}

/// The median and the best of `rates`.
fn summary(mut rates: Vec<f64>) -> (f64, f64) {
    rates.sort_unstable_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
    (median, rates.last().copied().unwrap_or(0.0))
}

fn inputs_per_second(run: &dyn Fn() -> Result<Vec<Vec<f32>>>) -> Result<f64> {
    let start = Instant::now();
    let vectors = run()?;
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), INPUTS);
    Ok(INPUTS as f64 / elapsed)
}
