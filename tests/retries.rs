//! Retries, server-requested waits, and timeouts, against a scripted local server.

mod common;

use std::time::{Duration, Instant};

use azureml_endpoint::{
    AzureMlOnlineEndpoint, CallOptions, Error, Gpt2ContentFormatter, Result, TransportErrorKind,
};
use common::{Reply, ScriptServer, KEY};

const OK: &str = r#"[{"0": "done"}]"#;

fn client(server: &ScriptServer, retries: u32) -> Result<AzureMlOnlineEndpoint> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .formatter(Gpt2ContentFormatter)
        .max_retries(retries)
        .build()
}

#[test]
fn retry_after_seconds_is_honoured() -> Result<()> {
    let server = ScriptServer::start(vec![
        Reply::new(429, "slow down").header("retry-after", "1"),
        Reply::new(200, OK),
    ]);
    let start = Instant::now();
    assert_eq!(client(&server, 3)?.invoke("x")?.text, "done");
    let waited = start.elapsed();
    assert_eq!(server.hits(), 2);
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    Ok(())
}

#[test]
fn retry_after_ms_headers_are_honoured() -> Result<()> {
    for header in ["retry-after-ms", "x-ms-retry-after-ms"] {
        let server = ScriptServer::start(vec![
            Reply::new(429, "")
                .header(header, "50")
                .header("retry-after", "30"),
            Reply::new(200, OK),
        ]);
        let start = Instant::now();
        assert_eq!(client(&server, 3)?.invoke("x")?.text, "done");
        // Milliseconds win over the 30 s of retry-after.
        assert!(start.elapsed() < Duration::from_secs(10), "{header}");
        assert_eq!(server.hits(), 2);
    }
    Ok(())
}

#[test]
fn server_errors_are_retried_with_backoff() -> Result<()> {
    let server = ScriptServer::start(vec![Reply::new(503, "busy"), Reply::new(200, OK)]);
    assert_eq!(client(&server, 3)?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    // The same body went out both times.
    let bodies = server.bodies.lock().unwrap();
    assert_eq!(bodies[0], bodies[1]);
    Ok(())
}

#[test]
fn client_errors_are_not_retried() -> Result<()> {
    let server = ScriptServer::start(vec![
        Reply::new(400, r#"{"error": {"message": "bad"}}"#),
        Reply::new(200, OK),
    ]);
    let err = client(&server, 3)?.invoke("x").unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[test]
fn final_error_counts_attempts() -> Result<()> {
    let script = (0..3)
        .map(|_| {
            Reply::new(429, "")
                .header("retry-after-ms", "1")
                .header("x-request-id", "r-last")
        })
        .collect();
    let server = ScriptServer::start(script);
    let err = client(&server, 2)?.invoke("x").unwrap_err();
    let Error::Http(http) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((http.status, http.attempts), (429, 3));
    assert_eq!(http.request_id.as_deref(), Some("r-last"));
    assert!(
        err.to_string().ends_with("; request id r-last; after 3 attempts"),
        "{err}"
    );
    assert_eq!(server.hits(), 3);
    Ok(())
}

#[test]
fn a_wait_over_sixty_seconds_is_not_taken() -> Result<()> {
    let server = ScriptServer::start(vec![
        Reply::new(429, "").header("retry-after", "120"),
        Reply::new(200, OK),
    ]);
    let start = Instant::now();
    let err = client(&server, 3)?.invoke("x").unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    let Error::Http(http) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(http.retry_after, Some(Duration::from_secs(120)));
    assert!(
        err.to_string()
            .contains("server asked to retry after 120 s, longer than the 60 s we wait"),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[test]
fn refused_connections_are_retried_then_reported() -> Result<()> {
    // Bind and drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(format!("http://127.0.0.1:{port}/score"))
        .api_key(KEY)
        .max_retries(1)
        .build()?;
    let err = llm.invoke("x").unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (t.kind, t.attempts, t.host.as_str()),
        (TransportErrorKind::Connect, 2, "127.0.0.1")
    );
    assert!(
        err.to_string().starts_with("cannot connect to 127.0.0.1: "),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_slow_server_times_out_within_about_the_timeout() -> Result<()> {
    let server = ScriptServer::start(vec![Reply::new(200, OK).delay(Duration::from_secs(5))]);
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .timeout(Duration::from_millis(500))
        .build()?;
    let start = Instant::now();
    let err = llm.invoke("x").unwrap_err();
    let elapsed = start.elapsed();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(t.kind, TransportErrorKind::Timeout);
    assert!(
        t.may_have_run,
        "a read timeout after sending is not retried: the model may have run"
    );
    assert_eq!(server.hits(), 1);
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        err.to_string()
            .contains("no complete response within 0.5 s; the model may have run"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_per_call_timeout_overrides_the_client_timeout() -> Result<()> {
    let server = ScriptServer::start(vec![Reply::new(200, OK).delay(Duration::from_secs(5))]);
    let llm = client(&server, 0)?;
    let start = Instant::now();
    let err = llm
        .invoke_with("x", &CallOptions::new().timeout(Duration::from_millis(300)))
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::Timeout),
        "{err:?}"
    );
    // The timeout is an HTTP setting, never a body parameter.
    let body = String::from_utf8(server.bodies.lock().unwrap()[0].clone()).unwrap();
    assert_eq!(body, r#"{"inputs":{"input_string":["x"]},"parameters":{}}"#);
    Ok(())
}

#[test]
fn redirects_to_another_host_are_not_followed() -> Result<()> {
    let elsewhere = ScriptServer::start(vec![Reply::new(200, OK)]);
    let server = ScriptServer::start(vec![Reply::new(307, "").header(
        "location",
        &elsewhere.url("/score").replace("127.0.0.1", "localhost"),
    )]);
    let err = client(&server, 0)?.invoke("x").unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(t.kind, TransportErrorKind::Redirect);
    assert!(
        t.detail
            .contains("to another host (localhost); the key is not sent there"),
        "{}",
        t.detail
    );
    assert_eq!(elsewhere.hits(), 0);
    Ok(())
}

#[test]
fn same_host_redirects_are_followed() -> Result<()> {
    let server = ScriptServer::start(vec![
        Reply::new(308, "").header("location", "/v2/score"),
        Reply::new(200, OK),
    ]);
    assert_eq!(client(&server, 0)?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    Ok(())
}
