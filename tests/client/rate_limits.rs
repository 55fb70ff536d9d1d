//! `x-ratelimit-*` headers on every result, and one shared pause per client after a 429.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azureml_endpoint::{AzureMlOnlineEndpoint, Error, RateLimits, Result};

use crate::support::keepalive::{KeepAliveServer, Reply};
use crate::support::{gpt2, KEY};

const OK: &str = r#"[{"0": "done"}]"#;

fn client(server: &KeepAliveServer, retries: u32) -> Result<AzureMlOnlineEndpoint> {
    gpt2(server.url("/score")).max_retries(retries).build()
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
    // Worker A's first request is refused with an 800 ms wait. Worker B calls while A waits it
    // out: B never met the limit, yet waits out the same pause before its first request,
    // instead of finding the limit with a 429 of its own.
    let server = KeepAliveServer::start(|n| match n {
        0 => Reply::new(429, "").header("retry-after-ms", "800"),
        _ => Reply::new(200, OK),
    });
    let asked: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (a_waits, a_is_waiting) = mpsc::channel();
    let (release_a, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let log = asked.clone();
    // Records each wait; A's (the first) lasts until the test releases it.
    let sleeper = move |wait: Duration| {
        let first = {
            let mut log = log.lock().unwrap();
            log.push(wait);
            log.len() == 1
        };
        if first {
            a_waits.send(()).unwrap();
            let _ = released.lock().unwrap().recv_timeout(Duration::from_secs(30));
        }
    };
    let llm = gpt2(server.url("/score"))
        .max_retries(3)
        .sleeper(sleeper)
        .build()?;
    let ms = Duration::from_millis;
    std::thread::scope(|scope| {
        let a = scope.spawn(|| llm.invoke("a"));
        a_is_waiting
            .recv_timeout(Duration::from_secs(30))
            .expect("A's 429 wait goes through the sleeper");
        let b = llm.invoke("b");
        // A's refused request and B's: A's retry is still waiting.
        let during = (server.requests(), asked.lock().unwrap().clone());
        release_a.send(()).unwrap();
        assert_eq!(a.join().unwrap()?.text, "done");
        assert_eq!(b?.text, "done");
        assert_eq!(during, (2, vec![ms(800), ms(800)]));
        // A's retry needed no wait of its own; nobody else met the limit.
        assert_eq!(*asked.lock().unwrap(), [ms(800), ms(800)]);
        assert_eq!(server.requests(), 3);
        Ok(())
    })
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
