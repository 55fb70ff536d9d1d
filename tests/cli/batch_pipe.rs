//! `batch --input - --output -`: a streaming filter from stdin to stdout, in input order.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::cli::{outcome, run_with, steady, BIN};
use crate::support::keepalive::{KeepAliveServer, Reply};
use crate::support::KEY;
use serde_json::{json, Value};

/// Echoes a gpt2 prompt `pN` back after a delay that varies with N, so answers finish out of
/// order.
fn echo_server() -> KeepAliveServer {
    KeepAliveServer::start_reading(|_, body| {
        let request: Value = serde_json::from_slice(body).unwrap();
        let prompt = request["inputs"]["input_string"][0].as_str().unwrap().to_owned();
        let n: u64 = prompt.trim_start_matches('p').parse().unwrap_or(0);
        Reply::new(200, json!([{ "0": prompt }]).to_string()).delay(Duration::from_millis((n * 7 % 5) * 15))
    })
}

#[test]
fn results_come_out_in_input_order_under_concurrency() {
    let server = echo_server();
    let url = server.url("/score");
    let mut input = String::new();
    for i in 0..40 {
        input.push_str(&format!("{{\"prompt\": \"p{i}\"}}\n"));
        if i == 10 {
            input.push_str("\nnot json\n");
        }
    }
    let args = [
        "batch",
        "--url",
        &url,
        "--formatter",
        "gpt2",
        "--input",
        "-",
        "--output",
        "-",
        "--concurrency",
        "8",
    ];
    let (code, out, err) = outcome(&run_with(&args, input.as_bytes(), &[]));
    assert_eq!(
        (code, steady(&err).as_str()),
        (
            Some(1),
            "batch: 41 lines done, 1 failed; 0 tokens, 0 waits for 429; …\n"
        )
    );
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=11).chain([13]).chain(14..=42).collect();
    assert_eq!(lines, expected);
    assert_eq!(
        records[11]["error"].as_str().unwrap().split(':').next(),
        Some("not JSON")
    );
    let texts: Vec<&str> = records.iter().filter_map(|r| r["text"].as_str()).collect();
    let prompts: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    assert_eq!(texts, prompts);
    assert_eq!(server.requests(), 40);
}

#[test]
fn each_result_is_written_before_the_input_ends() {
    let server = echo_server();
    let url = server.url("/score");
    let mut child = Command::new(BIN)
        .args([
            "batch",
            "--url",
            &url,
            "--formatter",
            "gpt2",
            "--input",
            "-",
            "--output",
            "-",
        ])
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let wait = Duration::from_secs(20);
    writeln!(stdin, "{{\"prompt\": \"p1\"}}").unwrap();
    let first: Value = serde_json::from_str(
        &rx.recv_timeout(wait)
            .expect("the first result, with stdin still open"),
    )
    .unwrap();
    assert_eq!(
        (first["line"].clone(), first["text"].clone()),
        (json!(1), json!("p1"))
    );
    writeln!(stdin, "{{\"prompt\": \"p2\"}}").unwrap();
    let second: Value = serde_json::from_str(&rx.recv_timeout(wait).unwrap()).unwrap();
    assert_eq!(
        (second["line"].clone(), second["text"].clone()),
        (json!(2), json!("p2"))
    );
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(rx.recv_timeout(wait).is_err(), "nothing after the last result");
}

#[test]
fn resume_needs_an_output_file() {
    let args = [
        "batch",
        "--url",
        "http://127.0.0.1:9/score",
        "--input",
        "-",
        "--output",
        "-",
        "--resume",
    ];
    let (code, out, err) = outcome(&run_with(&args, b"", &[]));
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert_eq!(
        err,
        "error: --resume needs an --output file to resume from, not -\nhint: see `azureml-endpoint --help`\n"
    );
}

#[test]
fn each_record_carries_the_rate_limits_the_endpoint_sent() {
    let server = KeepAliveServer::start(|n| {
        let reply = Reply::new(200, r#"[{"0": "done"}]"#);
        match n {
            0 => reply
                .header("x-ratelimit-remaining-requests", "-1")
                .header("x-ratelimit-remaining-tokens", "900")
                .header("x-ratelimit-reset-tokens", "1m30s")
                .header("x-ratelimit-reset-requests", "soon"),
            _ => reply,
        }
    });
    let url = server.url("/score");
    let args = [
        "batch",
        "--url",
        &url,
        "--formatter",
        "gpt2",
        "--input",
        "-",
        "--output",
        "-",
    ];
    let (code, out, _) = outcome(&run_with(
        &args,
        b"{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n",
        &[],
    ));
    assert_eq!(code, Some(0));
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        records[0]["rate_limits"],
        json!({"remaining_requests": -1, "remaining_tokens": 900, "reset_tokens_s": 90.0})
    );
    assert_eq!(records[1].get("rate_limits"), None);
}
