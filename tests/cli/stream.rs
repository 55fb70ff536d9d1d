//! `--stream` with and without `--json`: written as it arrives, memory flat on a 200 MiB answer,
//! one valid JSON object, and a stream cut short is never passed off as whole.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use crate::support::cli::{run_with, stderr, stdout, BIN};
use crate::support::KEY;
use serde_json::{json, Value};

/// 12,800 pieces of 16 KiB: 200 MiB of answer.
const PIECES: usize = 12_800;
/// A buffered implementation holds the whole answer (200 MiB, three times that with --json).
const RSS_BOUND_KB: u64 = 64 * 1024;

/// 16 KiB of text with characters JSON must escape and some that are several bytes long.
fn piece() -> String {
    let unit = "quote \" backslash \\ tab \t é 🦀 ";
    unit.repeat(16 * 1024 / unit.len() + 1)[..]
        .chars()
        .take(16 * 1024 - 40)
        .collect()
}

/// Serves one chat stream on 127.0.0.1: `body` writes the events after the response head.
fn sse_server(body: impl FnOnce(&mut TcpStream) + Send + 'static) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut request = vec![0; length];
        reader.read_exact(&mut request).unwrap();
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: big-1\r\nconnection: close\r\n\r\n")
            .unwrap();
        body(&mut conn);
    });
    (url, handle)
}

fn event(delta: Value, finish_reason: Value) -> String {
    let chunk = json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]});
    format!("data: {chunk}\n\n")
}

/// The child's peak resident set so far, in KiB.
fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Streams 200 MiB through `chat --stream` (plus `extra` flags); returns the output and the
/// child's peak RSS, read once the whole text has been written and before the stream ends.
fn big_stream(extra: &[&str]) -> (Vec<u8>, u64, Option<i32>) {
    let (go_on, wait) = mpsc::channel::<()>();
    let piece = piece();
    let sent = piece.clone();
    let (url, server) = sse_server(move |conn| {
        conn.write_all(event(json!({"role": "assistant", "content": ""}), Value::Null).as_bytes())
            .unwrap();
        let one = event(json!({"content": sent}), Value::Null);
        for _ in 0..PIECES {
            conn.write_all(one.as_bytes()).unwrap();
        }
        wait.recv().unwrap();
        conn.write_all(event(json!({}), json!("stop")).as_bytes())
            .unwrap();
        conn.write_all(b"data: [DONE]\n\n").unwrap();
    });
    let mut child = Command::new(BIN)
        .args(["chat", "--url", &url, "--stream"])
        .args(extra)
        .arg("go")
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut output = Vec::new();
    let mut buf = vec![0; 1 << 16];
    let whole = piece.len() * PIECES;
    let mut peak = None;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buf[..n]);
        // Every byte of the text is out (escaping only adds bytes): read the peak, then let the
        // server finish the stream.
        if peak.is_none() && output.len() >= whole {
            peak = Some(vm_hwm_kb(child.id()));
            go_on.send(()).unwrap();
        }
    }
    let status = child.wait().unwrap();
    server.join().unwrap();
    (output, peak.expect("the whole text arrived"), status.code())
}

#[test]
fn a_200_mib_stream_is_printed_with_flat_memory() {
    let piece = piece();
    let (output, peak_kb, code) = big_stream(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(output.len(), piece.len() * PIECES + 1, "the text and one newline");
    assert!(output.ends_with(format!("{piece}\n").as_bytes()));
    assert!(peak_kb < RSS_BOUND_KB, "peak RSS {peak_kb} KiB");
}

#[test]
fn a_200_mib_stream_as_json_is_one_valid_object_with_flat_memory() {
    let piece = piece();
    let (output, peak_kb, code) = big_stream(&["--json"]);
    assert_eq!(code, Some(0));
    assert!(peak_kb < RSS_BOUND_KB, "peak RSS {peak_kb} KiB");
    assert_eq!(output.last(), Some(&b'\n'));
    let value: Value = serde_json::from_slice(&output).unwrap();
    let content = value["message"]["content"].as_str().unwrap();
    assert_eq!(content.len(), piece.len() * PIECES);
    assert!(content.starts_with(&piece) && content.ends_with(&piece));
    let mut rest = value.clone();
    rest["message"]["content"] = json!("…");
    assert_eq!(
        rest,
        json!({"message": {"role": "assistant", "content": "…"}, "finish_reason": "stop", "usage": null, "request_id": "big-1"})
    );
}

/// Two pieces, then the connection closes: no finish reason, no `[DONE]`.
fn cut_short(extra: &[&str]) -> std::process::Output {
    let (url, server) = sse_server(|conn| {
        for text in ["first ", "second"] {
            conn.write_all(event(json!({"content": text}), Value::Null).as_bytes())
                .unwrap();
        }
    });
    let args = [&["chat", "--url", url.as_str(), "--stream"], extra, &["go"]].concat();
    let out = run_with(&args, b"", &[]);
    server.join().unwrap();
    out
}

#[test]
fn a_stream_cut_short_keeps_what_was_printed_and_fails() {
    let out = cut_short(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "first second\n");
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with("hint: the answer is incomplete; retry the call\n"),
        "{}",
        stderr(&out)
    );

    let out = cut_short(&["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "{\"message\":{\"role\":\"assistant\",\"content\":\"first second\n",
        "the object is left open"
    );
    assert!(
        serde_json::from_slice::<Value>(&out.stdout).is_err(),
        "a cut-short answer must not parse as a whole one"
    );
}

#[test]
fn streamed_tool_calls_are_joined_and_printed() {
    let server = || {
        sse_server(|conn| {
            let first = json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":"}}]});
            let second = json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]});
            conn.write_all(event(first, Value::Null).as_bytes()).unwrap();
            conn.write_all(event(second, Value::Null).as_bytes()).unwrap();
            conn.write_all(event(json!({}), json!("tool_calls")).as_bytes())
                .unwrap();
            conn.write_all(b"data: [DONE]\n\n").unwrap();
        })
    };
    let (url, handle) = server();
    let out = run_with(&["chat", "--url", &url, "--stream", "Weather?"], b"", &[]);
    handle.join().unwrap();
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (
            Some(0),
            // No blank line first: the reply only calls a tool (as without --stream).
            "tool call call_1 get_weather {\"city\":\"Paris\"}\n".to_owned()
        ),
        "{}",
        stderr(&out)
    );
    let (url, handle) = server();
    let out = run_with(
        &["chat", "--url", &url, "--stream", "--json", "Weather?"],
        b"",
        &[],
    );
    handle.join().unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        value,
        json!({"message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            "finish_reason": "tool_calls", "usage": null, "request_id": "big-1"})
    );
}
