//! `x-ratelimit-*` headers on every result, and one shared pause per client after a 429.

use crate::support as common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azureml_endpoint::{AzureMlOnlineEndpoint, CallOptions, Error, RateLimits, Result};
use common::keepalive::{KeepAliveServer, Reply};
use common::KEY;

const OK: &str = r#"[{"0": "done"}]"#;

fn client(server: &KeepAliveServer, retries: u32) -> Result<AzureMlOnlineEndpoint> {
    common::gpt2_client(server.url("/score"), retries)
}

#[test]
fn a_completion_carries_the_rate_limit_headers() -> Result<()> {
    let server = KeepAliveServer::start(|_| {
        Reply::new(200, OK)
            .header("x-ratelimit-remaining-requests", "-1")
            .header("x-ratelimit-remaining-tokens", "1200")
            .header("x-ratelimit-reset-requests", "garbage")
            .header("x-ratelimit-reset-tokens", "1m30s")
    });
    let completion = client(&server, 0)?.invoke("x")?;
    let expected = (Some(-1), Some(1200), None, Some(Duration::from_secs(90)));
    let got = completion.rate_limits;
    assert_eq!(
        (
            got.remaining_requests,
            got.remaining_tokens,
            got.reset_requests,
            got.reset_tokens
        ),
        expected
    );
    Ok(())
}

#[test]
fn an_http_error_carries_them_too_and_a_response_without_them_has_none() -> Result<()> {
    let server = KeepAliveServer::start(|n| match n {
        0 => Reply::new(429, "slow down")
            .header("x-ratelimit-remaining-requests", "0")
            .header("x-ratelimit-reset-requests", "2"),
        _ => Reply::new(200, OK),
    });
    let llm = client(&server, 0)?;
    let Err(Error::Http(e)) = llm.invoke("x") else {
        panic!("expected the 429");
    };
    assert_eq!(e.status, 429);
    assert_eq!(e.rate_limits.remaining_requests, Some(0));
    assert_eq!(e.rate_limits.reset_requests, Some(Duration::from_secs(2)));
    assert_eq!(e.rate_limits.remaining_tokens, None);
    assert_eq!(llm.invoke("x")?.rate_limits, RateLimits::default());
    Ok(())
}

#[test]
fn a_429_pauses_every_worker_of_the_client() -> Result<()> {
    // The first request is refused for 800 ms; the others take 200 ms. Without a shared pause,
    // the 3 workers whose requests were in flight send their next ones at ~200 ms.
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = arrivals.clone();
    let server = KeepAliveServer::start(move |n| {
        log.lock().unwrap().push(Instant::now());
        match n {
            0 => Reply::new(429, "").header("retry-after-ms", "800"),
            _ => Reply::new(200, OK).delay(Duration::from_millis(200)),
        }
    });
    let llm = client(&server, 3)?;
    let prompts = ["x"; 8];
    for result in llm.generate(&prompts, &CallOptions::new().max_concurrency(4)) {
        assert_eq!(result?.text, "done");
    }
    let arrivals = arrivals.lock().unwrap();
    // 8 requests and the one retry: nobody else met the limit.
    assert_eq!(arrivals.len(), 9);
    let refused = arrivals[0];
    let during: Vec<_> = arrivals[4..]
        .iter()
        .map(|at| at.duration_since(refused))
        .filter(|after| *after < Duration::from_millis(800))
        .collect();
    assert!(during.is_empty(), "requests sent during the pause, at {during:?}");
    Ok(())
}

#[test]
fn a_stream_carries_them() -> Result<()> {
    let server = KeepAliveServer::start(|_| Reply::new(200, OK).header("x-ratelimit-remaining-tokens", "-5"));
    // A dedicated endpoint answers whole: the stream is its one chunk.
    let stream = client(&server, 0)?.stream("x")?;
    assert_eq!(stream.rate_limits().remaining_tokens, Some(-5));
    assert_eq!(stream.rate_limits().remaining_requests, None);
    Ok(())
}

#[test]
fn a_serverless_event_stream_carries_them() -> Result<()> {
    let events = "data: {\"choices\": [{\"text\": \"hi\"}]}\n\ndata: [DONE]\n\n";
    let server = KeepAliveServer::start(move |_| {
        Reply::new(200, events)
            .header("content-type", "text/event-stream")
            .header("x-ratelimit-remaining-requests", "7")
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(azureml_endpoint::ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    let stream = llm.stream("x")?;
    assert_eq!(stream.rate_limits().remaining_requests, Some(7));
    let text: String = stream.map(|chunk| chunk.map(|c| c.text)).collect::<Result<_>>()?;
    assert_eq!(text, "hi");
    Ok(())
}
