//! A server that echoes the key back never gets it into the CLI's output, plain or streamed
//! (the library side: tests/client/scrubbing.rs).

use std::process::Command;

use crate::support::cli::BIN;
use crate::support::fault::{response, sse_head, Act, FaultServer};
use crate::support::{assert_clean, escaped, KEY};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";

/// Runs the CLI with the key in its environment; (exit code, stdout, stderr), checked clean.
fn cli(args: &[&str]) -> Result<(Option<i32>, String, String), Box<dyn std::error::Error>> {
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .output()?;
    let (stdout, stderr) = (
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    );
    assert_clean("stdout", &stdout);
    assert_clean("stderr", &stderr);
    Ok((output.status.code(), stdout, stderr))
}

#[test]
fn the_cli_never_prints_an_echoed_key() -> TestResult {
    let body = format!(
        r#"{{"error": {{"message": "{}Bearer {}"}}}}"#,
        "x".repeat(2040),
        escaped(KEY)
    );
    let id = format!("req-{KEY}");
    let stream_events = format!(
        "data: {{\"choices\": [{{\"delta\": {{\"content\": \"a\"}}}}]}}\n\n\
         data: {{\"error\": {{\"message\": \"Bearer {KEY}\"}}}}\n\n"
    );
    let server = FaultServer::start(vec![
        response(401, &[("x-request-id", &id)], body),
        vec![sse_head(), Act::send(stream_events)],
    ]);
    let url = server.url(CHAT_PATH);
    let base = ["chat", "--url", &url, "--api-type", "serverless"];

    let (code, stdout, stderr) = cli(&[&base[..], &["hi"]].concat())?;
    assert_ne!(code, Some(0));
    assert_eq!(stdout, "");
    // Scrubbed, then cut: the 2 KiB cut falls inside the `***`, not inside the key.
    assert!(
        stderr.contains(&format!("{}Bearer *…", "x".repeat(100))),
        "{stderr}"
    );
    assert!(stderr.contains("request id req-***"), "{stderr}");

    let (code, stdout, stderr) = cli(&[&base[..], &["--stream", "hi"]].concat())?;
    assert_ne!(code, Some(0));
    assert!(stdout.starts_with('a'), "{stdout}");
    assert!(
        stderr.contains("the service sent an error event: Bearer ***"),
        "{stderr}"
    );
    assert_eq!(server.hits(), 2);
    Ok(())
}
