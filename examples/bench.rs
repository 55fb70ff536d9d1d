//! Client overhead and batch concurrency, against the embedded local endpoint (keep-alive).
//!
//! `cargo run --release --example bench` prints:
//! - requests/s of `invoke` vs a raw `ureq` POST of the same bytes through ureq's default Agent
//!   (default settings), and the overhead (goal ≤ 5%);
//! - `generate` of 200 prompts at `max_concurrency` 1 vs 8 against a model that takes 10 ms
//!   (goal ≥ 6x).

use std::time::{Duration, Instant};

use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{
    formatter::Gpt2ContentFormatter, AzureMlOnlineEndpoint, CallOptions, ContentFormatter,
};

const KEY: &str = "bench-key";
const REQUESTS: usize = 3000;
const ROUNDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = LocalEndpoint::start()?;
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.dedicated_url())
        .api_key(KEY)
        .formatter(Gpt2ContentFormatter)
        .model_kwarg("max_new_tokens", 20)
        .build()?;
    let prompt = "Write one sentence about the sea.";

    // The raw baseline sends the very bytes the client sends, with the same headers, through
    // ureq's default Agent (default settings: no timeouts), reused so both keep connections alive.
    let body =
        Gpt2ContentFormatter.format_request(prompt, &llm.config().model_kwargs, llm.config().api_type)?;
    let raw = ureq::Agent::new_with_defaults();
    let raw_post = || -> Result<(), Box<dyn std::error::Error>> {
        let mut response = raw
            .post(server.dedicated_url())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("Authorization", format!("Bearer {KEY}"))
            .send(&body[..])?;
        let bytes = response.body_mut().read_to_vec()?;
        assert_eq!(response.status(), 200, "{}", String::from_utf8_lossy(&bytes));
        Ok(())
    };
    let invoke = || -> Result<(), Box<dyn std::error::Error>> {
        let completion = llm.invoke(prompt)?;
        assert_eq!(completion.text, prompt);
        Ok(())
    };

    for _ in 0..200 {
        raw_post()?;
        invoke()?;
    }
    // Alternate rounds so drift on a shared machine hits both alike; keep each one's best.
    let (mut best_raw, mut best_invoke) = (0f64, 0f64);
    for _ in 0..ROUNDS {
        best_raw = best_raw.max(rate(REQUESTS, &raw_post)?);
        best_invoke = best_invoke.max(rate(REQUESTS, &invoke)?);
    }
    println!("invoke:       {best_invoke:>8.0} req/s  (best of {ROUNDS} rounds of {REQUESTS})");
    println!("raw ureq:     {best_raw:>8.0} req/s");
    println!(
        "overhead:     {:>8.1} %  (goal <= 5 %)",
        (best_raw / best_invoke - 1.0) * 100.0
    );

    let prompts: Vec<String> = (0..200).map(|i| format!("prompt number {i}")).collect();
    let slow = CallOptions::new().param("echo_delay_ms", 10);
    let mut times = Vec::new();
    for concurrency in [1, 8] {
        let start = Instant::now();
        let results = llm.generate(&prompts, &slow.clone().max_concurrency(concurrency));
        let elapsed = start.elapsed();
        for (prompt, result) in prompts.iter().zip(&results) {
            assert_eq!(&result.as_ref().map_err(|e| e.to_string())?.text, prompt);
        }
        println!(
            "generate 200 x 10 ms, max_concurrency {concurrency}: {:>7.3} s  ({:.0} prompts/s)",
            elapsed.as_secs_f64(),
            200.0 / elapsed.as_secs_f64()
        );
        times.push(elapsed);
    }
    if let [one, eight] = times.as_slice() {
        println!("speed-up 8 vs 1: {:.1}x  (goal >= 6x)", ratio(*one, *eight));
    }
    Ok(())
}

fn rate(
    n: usize,
    f: &dyn Fn() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
