//! One deadline per attempt (docs/reliability.md, Timeouts), against the fault server: however a
//! server spreads its response over time, a call ends within the timeout. Bounds are 2x the
//! timeout they check (the machine is shared).

use std::time::{Duration, Instant};

use crate::support::fault::{head, Act, FaultServer};
use crate::support::{gpt2, KEY};
use azureml_endpoint::{error::TransportErrorKind, ApiType, AzureMlOnlineEndpoint, Error, Result};

const OK: &str = r#"[{"0": "done"}]"#;

fn client(server: &FaultServer, timeout: Duration) -> Result<AzureMlOnlineEndpoint> {
    gpt2(server.url("/score")).timeout(timeout).build()
}

fn ok_head() -> String {
    head(200, &[("content-length", &OK.len().to_string())])
}

/// Runs one call against `script` with timeout `t`; checks it timed out, said the model may have
/// run, and ended between 0.9 t and 2 t. Returns the elapsed time.
fn times_out(t: Duration, script: Vec<Act>) -> Result<Duration> {
    let server = FaultServer::start(vec![script]);
    let llm = client(&server, t)?;
    let start = Instant::now();
    let err = llm.invoke("x").expect_err("the call must time out");
    let elapsed = start.elapsed();
    let Error::Transport(e) = &err else {
        panic!("not a transport error: {err:?}")
    };
    assert_eq!(e.kind, TransportErrorKind::Timeout, "{err}");
    assert!(e.may_have_run, "{err}");
    assert_eq!(e.attempts, 1, "a timeout after sending is not retried: {err}");
    assert_eq!(
        err.to_string(),
        format!(
            "request timed out at 127.0.0.1: no complete response within {:.1} s; the model may have run (not retried)",
            t.as_secs_f64()
        )
    );
    assert!(elapsed >= t.mul_f64(0.9), "ended early: {elapsed:?} for {t:?}");
    assert!(elapsed <= t * 2, "took {elapsed:?} for {t:?}");
    assert_eq!(server.hits(), 1);
    Ok(elapsed)
}

fn for_each_timeout(script: impl Fn(Duration) -> Vec<Act>) -> Result<()> {
    for secs in [1, 2] {
        let t = Duration::from_secs(secs);
        times_out(t, script(t))?;
    }
    Ok(())
}

// real deadline: 1 s and 2 s timeouts, each call ended within 0.9x to 2x (times_out).
#[test]
fn a_head_then_a_body_each_trickled_over_most_of_the_timeout_end_at_the_timeout() -> Result<()> {
    for_each_timeout(|t| {
        vec![
            Act::trickle(ok_head(), t.mul_f64(0.9)),
            Act::trickle(OK, t.mul_f64(0.9)),
        ]
    })
}

// real deadline: 1 s and 2 s timeouts, each call ended within 0.9x to 2x (times_out).
#[test]
fn a_silent_server_times_out() -> Result<()> {
    for_each_timeout(|_| vec![Act::Hold])
}

// real deadline: 1 s and 2 s timeouts, each call ended within 0.9x to 2x (times_out).
#[test]
fn a_stalled_head_times_out() -> Result<()> {
    for_each_timeout(|_| vec![Act::send("HTTP/1.1 200 OK\r\ncontent-"), Act::Hold])
}

// real deadline: 1 s and 2 s timeouts, each call ended within 0.9x to 2x (times_out).
#[test]
fn a_stalled_body_times_out() -> Result<()> {
    for_each_timeout(|_| vec![Act::send(ok_head()), Act::send(&OK[..5]), Act::Hold])
}

// real deadline: 1 s and 2 s timeouts, each call ended within 0.9x to 2x (times_out).
#[test]
fn a_head_trickled_past_the_timeout_times_out() -> Result<()> {
    for_each_timeout(|t| vec![Act::trickle(ok_head(), t * 3)])
}

// real deadline: a 2 s timeout; the answer takes 0.6 s of it.
#[test]
fn a_response_inside_the_timeout_is_whole() -> Result<()> {
    let t = Duration::from_secs(2);
    let server = FaultServer::start(vec![vec![
        Act::trickle(ok_head(), t.mul_f64(0.3)),
        Act::trickle(OK, t.mul_f64(0.3)),
    ]]);
    assert_eq!(client(&server, t)?.invoke("x")?.text, "done");
    Ok(())
}

// real deadline: a 1 s timeout for the head, ended within 0.9 s to 2 s.
#[test]
fn a_stream_waits_for_its_head_at_most_the_timeout() -> Result<()> {
    let t = Duration::from_secs(1);
    let server = FaultServer::start(vec![vec![Act::Hold]]);
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .timeout(t)
        .build()?;
    let start = Instant::now();
    let err = llm.stream("x").expect_err("no head: an error");
    let elapsed = start.elapsed();
    assert!(
        matches!(&err, Error::Transport(e) if e.kind == TransportErrorKind::Timeout && e.may_have_run),
        "{err:?}"
    );
    assert!(elapsed >= t.mul_f64(0.9) && elapsed <= t * 2, "{elapsed:?}");
    Ok(())
}

// real deadline: a 1 s timeout per read; the stream takes 3 s.
#[test]
fn a_stream_may_last_longer_than_the_timeout() -> Result<()> {
    // Each event comes within the timeout; the whole stream takes 3x it.
    let t = Duration::from_secs(1);
    let event = |text: &str| {
        format!(r#"data: {{"choices": [{{"index": 0, "text": "{text}", "finish_reason": null}}]}}"#) + "\n\n"
    };
    let mut script = vec![Act::send(head(200, &[("content-type", "text/event-stream")]))];
    for word in ["a", "b", "c", "d", "e", "f"] {
        script.push(Act::Wait(t / 2));
        script.push(Act::send(event(word)));
    }
    script.push(Act::send("data: [DONE]\n\n"));
    let server = FaultServer::start(vec![script]);
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .timeout(t)
        .build()?;
    let start = Instant::now();
    let text: String = llm
        .stream("x")?
        .map(|chunk| chunk.map(|c| c.text))
        .collect::<Result<_>>()?;
    assert_eq!(text, "abcdef");
    assert!(start.elapsed() >= t * 2, "{:?}", start.elapsed());
    Ok(())
}

// real deadline: a 1 s timeout, ended within 2 s.
#[test]
fn a_connection_that_never_opens_is_a_connect_timeout_within_the_timeout() -> Result<()> {
    // A listener whose accept queue is full drops new SYNs: connecting hangs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let mut queued = Vec::new();
    for _ in 0..1024 {
        // Generous: on a loaded machine a short timeout would stop before the queue is full.
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break, // the queue is full
        }
    }
    let t = Duration::from_secs(1);
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(format!("http://{address}/score"))
        .api_key(KEY)
        .timeout(t)
        .connect_timeout(Duration::from_secs(10))
        .max_retries(0)
        .build()?;
    let start = Instant::now();
    let err = llm.invoke("x").expect_err("nothing accepts");
    let elapsed = start.elapsed();
    let Error::Transport(e) = &err else {
        panic!("{err:?}")
    };
    // Usually the SYN is dropped and nothing is sent: a connect timeout. On a loaded machine the
    // kernel may still complete the handshake into the full queue; the request is then written to
    // a socket nobody reads, and "may have run" is the honest answer. Either way: within 2 T.
    assert!(
        matches!(
            (e.kind, e.may_have_run),
            (TransportErrorKind::ConnectTimeout, false) | (TransportErrorKind::Timeout, true)
        ),
        "{err}"
    );
    assert!(elapsed <= t * 2, "{elapsed:?}");
    drop(listener);
    Ok(())
}
