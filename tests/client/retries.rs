//! Retries, server-requested waits, and timeouts, against a scripted local server. The waits
//! between attempts are recorded, not slept (`Builder::sleeper`): each test asserts the exact
//! waits the client asked for.

use std::time::{Duration, Instant};

use azureml_endpoint::{error::TransportErrorKind, AzureMlOnlineEndpoint, CallOptions, Error, Result};

use crate::support::fault::{head, response, Act, FaultServer};
use crate::support::{free_port, gpt2, Waits, FIRST_BACKOFF, KEY};

const OK: &str = r#"[{"0": "done"}]"#;
const NO_WAIT: [Duration; 0] = [];

/// A client with `retries` retries whose waits go to `waits`.
fn client(server: &FaultServer, retries: u32, waits: &Waits) -> Result<AzureMlOnlineEndpoint> {
    gpt2(server.url("/score"))
        .max_retries(retries)
        .sleeper(waits.sleeper())
        .build()
}

#[test]
fn retry_after_seconds_is_honoured() -> Result<()> {
    let server = FaultServer::start(vec![
        response(429, &[("retry-after", "1")], "slow down"),
        response(200, &[], OK),
    ]);
    let waits = Waits::default();
    assert_eq!(client(&server, 3, &waits)?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    assert_eq!(waits.asked(), [Duration::from_secs(1)]);
    Ok(())
}

#[test]
fn retry_after_ms_headers_are_honoured() -> Result<()> {
    for header in ["retry-after-ms", "x-ms-retry-after-ms"] {
        let server = FaultServer::start(vec![
            response(429, &[(header, "50"), ("retry-after", "30")], ""),
            response(200, &[], OK),
        ]);
        let waits = Waits::default();
        assert_eq!(client(&server, 3, &waits)?.invoke("x")?.text, "done");
        // Milliseconds win over the 30 s of retry-after.
        assert_eq!(waits.asked(), [Duration::from_millis(50)], "{header}");
        assert_eq!(server.hits(), 2);
    }
    Ok(())
}

#[test]
fn server_errors_are_retried_with_backoff() -> Result<()> {
    let server = FaultServer::start(vec![response(503, &[], "busy"), response(200, &[], OK)]);
    let waits = Waits::default();
    assert_eq!(client(&server, 3, &waits)?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    let [wait] = waits.asked()[..] else {
        panic!("one wait: {:?}", waits.asked())
    };
    assert!(FIRST_BACKOFF.contains(&wait), "{wait:?}");
    // The same body went out both times.
    let requests = server.requests();
    assert_eq!(requests[0].body, requests[1].body);
    Ok(())
}

#[test]
fn client_errors_are_not_retried() -> Result<()> {
    let server = FaultServer::start(vec![
        response(400, &[], r#"{"error": {"message": "bad"}}"#),
        response(200, &[], OK),
    ]);
    let waits = Waits::default();
    let err = client(&server, 3, &waits)?.invoke("x").unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(server.hits(), 1);
    assert_eq!(waits.asked(), NO_WAIT);
    Ok(())
}

#[test]
fn final_error_counts_attempts() -> Result<()> {
    let script = (0..3)
        .map(|_| response(429, &[("retry-after-ms", "1"), ("x-request-id", "r-last")], ""))
        .collect();
    let server = FaultServer::start(script);
    let waits = Waits::default();
    let err = client(&server, 2, &waits)?.invoke("x").unwrap_err();
    let Error::Http(http) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((http.status, http.attempts), (429, 3));
    assert_eq!(waits.asked(), [Duration::from_millis(1); 2]);
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
    let server = FaultServer::start(vec![
        response(429, &[("retry-after", "120")], ""),
        response(200, &[], OK),
    ]);
    let waits = Waits::default();
    let err = client(&server, 3, &waits)?.invoke("x").unwrap_err();
    assert_eq!(waits.asked(), NO_WAIT);
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
    let port = free_port();
    let waits = Waits::default();
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(format!("http://127.0.0.1:{port}/score"))
        .api_key(KEY)
        .max_retries(1)
        .sleeper(waits.sleeper())
        .build()?;
    let err = llm.invoke("x").unwrap_err();
    let [wait] = waits.asked()[..] else {
        panic!("one backoff: {:?}", waits.asked())
    };
    assert!(FIRST_BACKOFF.contains(&wait), "{wait:?}");
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

// real deadline: a 0.5 s timeout, ended between 0.45 s and 3 s.
#[test]
fn a_slow_server_times_out_within_about_the_timeout() -> Result<()> {
    let server = FaultServer::start(vec![[
        vec![Act::Wait(Duration::from_secs(5))],
        response(200, &[], OK),
    ]
    .concat()]);
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

// real deadline: a 0.3 s per-call timeout wins over the client's 50 s, ended within 3 s.
#[test]
fn a_per_call_timeout_overrides_the_client_timeout() -> Result<()> {
    let server = FaultServer::start(vec![[
        vec![Act::Wait(Duration::from_secs(5))],
        response(200, &[], OK),
    ]
    .concat()]);
    let llm = client(&server, 0, &Waits::default())?;
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
    let body = String::from_utf8(server.requests()[0].body.clone()).unwrap();
    assert_eq!(body, r#"{"inputs":{"input_string":["x"]},"parameters":{}}"#);
    Ok(())
}

#[test]
fn redirects_to_another_host_are_not_followed() -> Result<()> {
    let elsewhere = FaultServer::start(vec![response(200, &[], OK)]);
    let server = FaultServer::start(vec![response(
        307,
        &[(
            "location",
            elsewhere.url("/score").replace("127.0.0.1", "localhost").as_str(),
        )],
        "",
    )]);
    let err = client(&server, 0, &Waits::default())?.invoke("x").unwrap_err();
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
    let server = FaultServer::start(vec![
        response(308, &[("location", "/v2/score")], ""),
        response(200, &[], OK),
    ]);
    assert_eq!(client(&server, 0, &Waits::default())?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    Ok(())
}

#[test]
fn absurd_waits_are_the_too_long_case_never_a_panic() -> Result<()> {
    let cases = [
        ("retry-after-ms", "1e30"),
        ("x-ms-retry-after-ms", "1e30"),
        ("retry-after-ms", "inf"),
        ("x-ms-retry-after-ms", "1e308"),
        ("retry-after", "99999999999999999999999999"),
        ("retry-after", "Fri, 01 Jan 99999 00:00:00 GMT"),
        ("retry-after", "Mon, 01 Jan 2024 99999999:00:00 GMT"),
        ("retry-after", "Mon, 01 Jan 99999999999999999 00:00:00 GMT"),
    ];
    for (name, value) in cases {
        let server = FaultServer::start(vec![
            response(429, &[(name, value)], "slow down"),
            response(200, &[], OK),
        ]);
        let waits = Waits::default();
        let err = client(&server, 3, &waits)?.invoke("x").unwrap_err();
        // Nothing is waited for.
        assert_eq!(waits.asked(), NO_WAIT, "{name}: {value}");
        let Error::Http(http) = &err else {
            panic!("{name}: {value}: {err:?}")
        };
        assert_eq!((http.status, http.attempts), (429, 1), "{name}: {value}");
        let hint = http.retry_after.expect("the hint is kept");
        assert!(hint > Duration::from_secs(60), "{name}: {value}: {hint:?}");
        assert!(
            err.to_string().contains(&format!(
                "; server asked to retry after {} s, longer than the 60 s we wait",
                hint.as_secs()
            )),
            "{err}"
        );
        assert_eq!(server.hits(), 1, "{name}: {value}");
    }
    Ok(())
}

#[test]
fn saturated_waits_say_so_exactly() -> Result<()> {
    let server = FaultServer::start(vec![response(503, &[("retry-after-ms", "1e30")], "")]);
    let waits = Waits::default();
    let err = client(&server, 1, &waits)?.invoke("x").unwrap_err();
    let Error::Http(http) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(http.retry_after, Some(Duration::MAX));
    assert_eq!(waits.asked(), NO_WAIT);
    Ok(())
}

#[test]
fn unreadable_waits_are_ignored_for_backoff() -> Result<()> {
    for (name, value) in [
        ("retry-after-ms", "-1"),
        ("x-ms-retry-after-ms", "NaN"),
        ("retry-after", "-5"),
        ("retry-after", "soon"),
        ("retry-after", "Mon, 01 Foo 2024 00:00:00 GMT"),
    ] {
        let server = FaultServer::start(vec![response(429, &[(name, value)], ""), response(200, &[], OK)]);
        let waits = Waits::default();
        assert_eq!(
            client(&server, 3, &waits)?.invoke("x")?.text,
            "done",
            "{name}: {value}"
        );
        // The first backoff is 0.4 to 0.8 s.
        let [wait] = waits.asked()[..] else {
            panic!("{name}: {value}: one wait: {:?}", waits.asked())
        };
        assert!(FIRST_BACKOFF.contains(&wait), "{name}: {value}: {wait:?}");
        assert_eq!(server.hits(), 2);
    }
    Ok(())
}

#[test]
fn past_and_zero_waits_retry_at_once() -> Result<()> {
    for (name, value, asked) in [
        ("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT", Duration::ZERO),
        ("retry-after", "0", Duration::ZERO),
        ("retry-after-ms", "0.5", Duration::from_micros(500)),
    ] {
        let server = FaultServer::start(vec![response(503, &[(name, value)], ""), response(200, &[], OK)]);
        let waits = Waits::default();
        assert_eq!(client(&server, 3, &waits)?.invoke("x")?.text, "done");
        // No backoff: the server's own wait, however short, is the one taken.
        assert_eq!(waits.asked(), [asked], "{name}: {value}");
    }
    Ok(())
}

fn limited(server: &FaultServer, limit: u64) -> Result<AzureMlOnlineEndpoint> {
    gpt2(server.url("/score")).max_response_bytes(limit).build()
}

#[test]
fn a_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not() -> Result<()> {
    let limit = OK.len() as u64;
    let over = format!("{OK} ");
    // With a content-length, and ended by closing the connection.
    let exact = [response(200, &[], OK), vec![Act::send(head(200, &[]) + OK)]];
    for script in exact {
        let server = FaultServer::start(vec![script]);
        assert_eq!(limited(&server, limit)?.invoke("x")?.text, "done");
    }
    let over = [response(200, &[], &over), vec![Act::send(head(200, &[]) + &over)]];
    for script in over {
        let server = FaultServer::start(vec![script]);
        let err = limited(&server, limit)?.invoke("x").unwrap_err();
        let Error::Transport(t) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (t.kind, t.attempts, t.may_have_run),
            (TransportErrorKind::TooLarge, 1, true)
        );
        assert_eq!(
            t.detail,
            format!("body is over the {limit}-byte limit (max_response_bytes); not truncated")
        );
        assert_eq!(server.hits(), 1, "the model answered: not retried");
    }
    Ok(())
}

#[test]
fn a_cut_body_after_two_503s_counts_three_attempts_and_says_the_model_ran() -> Result<()> {
    let cut = vec![Act::send(head(200, &[("content-length", "100")]) + &OK[..6])];
    let busy = || response(503, &[("retry-after-ms", "1")], "busy");
    let server = FaultServer::start(vec![busy(), busy(), cut]);
    let waits = Waits::default();
    let err = client(&server, 3, &waits)?.invoke("x").unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (t.kind, t.attempts, t.may_have_run),
        (TransportErrorKind::Reset, 3, true),
        "{err}"
    );
    assert_eq!(server.hits(), 3, "a body cut after the head is not retried");
    assert_eq!(waits.asked(), [Duration::from_millis(1); 2]);
    assert!(
        err.to_string()
            .ends_with("; after 3 attempts; the model may have run (not retried)"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_reset_body_says_the_model_ran() -> Result<()> {
    let script = vec![
        Act::send(head(200, &[("content-length", "100")]) + &OK[..6]),
        Act::Wait(Duration::from_millis(100)),
        Act::Reset,
    ];
    let server = FaultServer::start(vec![script]);
    let waits = Waits::default();
    let err = client(&server, 3, &waits)?.invoke("x").unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (t.kind, t.attempts, t.may_have_run),
        (TransportErrorKind::Reset, 1, true),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(waits.asked(), NO_WAIT);
    Ok(())
}

#[test]
fn a_reset_before_any_response_is_retried() -> Result<()> {
    let server = FaultServer::start(vec![vec![Act::Reset], response(200, &[], OK)]);
    let waits = Waits::default();
    assert_eq!(client(&server, 3, &waits)?.invoke("x")?.text, "done");
    assert_eq!(server.hits(), 2);
    let [wait] = waits.asked()[..] else {
        panic!("one backoff: {:?}", waits.asked())
    };
    assert!(FIRST_BACKOFF.contains(&wait), "{wait:?}");
    Ok(())
}

#[test]
fn a_declared_length_over_the_limit_is_refused_before_reading() -> Result<()> {
    let script = vec![
        Act::send(head(200, &[("content-length", "99999999999999999")])),
        Act::Hold,
    ];
    let server = FaultServer::start(vec![script]);
    let start = Instant::now();
    let err = limited(&server, 1024)?.invoke("x").unwrap_err();
    // real deadline: the default 50 s timeout is never reached (nothing is read); 10 s bound.
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((t.kind, t.may_have_run), (TransportErrorKind::TooLarge, true));
    Ok(())
}
