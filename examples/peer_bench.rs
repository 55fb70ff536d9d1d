//! Requests per second of `generate` on 1 thread and on 8, against the real Azure ML scoring
//! server started by `scripts/peer-tests.sh --bench [REQUESTS] [DELAY_MS]`.
//!
//! REQUESTS (default 400) prompts per run; DELAY_MS (default 0) is how long the echo model
//! sleeps in `run()`, to stand in for model time. Each run's every answer is checked.

use std::error::Error;
use std::time::Instant;

use azureml_endpoint::{formatter::Gpt2ContentFormatter, AzureMlOnlineEndpoint, CallOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("AZUREML_PEER_URL")
        .map_err(|_| "AZUREML_PEER_URL is not set: run scripts/peer-tests.sh --bench")?;
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let delay_ms: u64 = args.next().map_or(Ok(0), |a| a.parse())?;
    let server = std::env::var("PEER_SERVER").unwrap_or_else(|_| "unknown server settings".into());

    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_key("peer-bench-key")
        .formatter(Gpt2ContentFormatter)
        .max_retries(0)
        .build()?;
    let prompts: Vec<String> = (0..requests).map(|i| format!("prompt {i}")).collect();

    println!("azmlinfsrv: {server}; {requests} requests per run, run() sleeps {delay_ms} ms");
    // Warm up: each worker's first requests are slower.
    run(&llm, prompts.get(..16).unwrap_or(&prompts), 8, delay_ms)?;
    let mut single = 0.0;
    for threads in [1, 8] {
        let rate = run(&llm, &prompts, threads, delay_ms)?;
        if threads == 1 {
            single = rate;
        }
        println!(
            "generate, max_concurrency {threads}: {rate:8.1} requests/s ({:.2}x one thread)",
            rate / single
        );
    }
    Ok(())
}

/// Requests per second of one `generate` over `prompts`, after checking every answer.
fn run(
    llm: &AzureMlOnlineEndpoint,
    prompts: &[String],
    threads: usize,
    delay_ms: u64,
) -> Result<f64, Box<dyn Error>> {
    let options = CallOptions::new()
        .param("delay_ms", delay_ms)
        .max_concurrency(threads);
    let start = Instant::now();
    let results = llm.generate(prompts, &options);
    let seconds = start.elapsed().as_secs_f64();
    for (prompt, result) in prompts.iter().zip(results) {
        let text = result?.text;
        if &text != prompt {
            return Err(format!("asked {prompt:?}, got {text:?}").into());
        }
    }
    Ok(prompts.len() as f64 / seconds)
}
