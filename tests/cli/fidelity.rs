//! What the CLI prints for reasoning models and content filters: the answer alone unless
//! `--show-reasoning`, `reasoning` in `--json`, and a filtered answer never passed off as whole.

use std::process::{Command, Output};

use httpmock::prelude::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_azureml-endpoint");

fn chat(server: &MockServer, args: &[&str]) -> Output {
    let url = server.url("/v1/chat/completions");
    Command::new(BIN)
        .args(["chat", "--url", &url])
        .args(args)
        .arg("Why is the sky blue?")
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", "sk-cli-fidelity")
        .output()
        .unwrap()
}

fn reply(content: &str, finish_reason: &str) -> serde_json::Value {
    json!({"choices": [{"message": {"role": "assistant", "content": content, "tool_calls": null},
                        "finish_reason": finish_reason}]})
}

/// `(exit status, stdout, stderr)`.
fn run(server: &MockServer, args: &[&str]) -> (Option<i32>, String, String) {
    let out = chat(server, args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn whole(body: serde_json::Value) -> MockServer {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions");
        then.status(200).json_body(body);
    });
    server
}

fn streamed(events: &[serde_json::Value]) -> MockServer {
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions");
        then.status(200)
            .header("content-type", "text/event-stream")
            .body(body);
    });
    server
}

fn delta(content: &str, finish_reason: Option<&str>) -> serde_json::Value {
    json!({"choices": [{"delta": {"content": content}, "finish_reason": finish_reason}]})
}

#[test]
fn reasoning_is_shown_only_when_asked_and_always_in_json() {
    let server = whole(reply("<think>sky</think>Blue.", "stop"));
    assert_eq!(run(&server, &[]), (Some(0), "Blue.\n".into(), String::new()));
    assert_eq!(
        run(&server, &["--show-reasoning"]),
        (Some(0), "<think>\nsky\n</think>\n\nBlue.\n".into(), String::new())
    );
    let (code, stdout, _) = run(&server, &["--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap(),
        json!({"message": {"role": "assistant", "content": "Blue."}, "finish_reason": "stop",
               "usage": null, "request_id": null, "reasoning": "sky"})
    );
    let plain = whole(reply("Blue.", "stop"));
    let (_, stdout, _) = run(&plain, &["--json"]);
    assert!(!stdout.contains("reasoning"), "{stdout}");
}

#[test]
fn streamed_reasoning_across_chunks() {
    let events = [
        delta("<thi", None),
        delta("nk>sky</th", None),
        delta("ink>Blue.", Some("stop")),
    ];
    let server = streamed(&events);
    assert_eq!(
        run(&server, &["--stream"]),
        (Some(0), "Blue.\n".into(), String::new())
    );
    assert_eq!(
        run(&server, &["--stream", "--show-reasoning"]),
        (Some(0), "<think>\nsky\n</think>\n\nBlue.\n".into(), String::new())
    );
    assert_eq!(
        run(&server, &["--stream", "--json"]),
        (
            Some(0),
            "{\"message\":{\"role\":\"assistant\",\"content\":\"Blue.\"},\"finish_reason\":\"stop\",\
             \"usage\":null,\"request_id\":null,\"reasoning\":\"sky\"}\n"
                .into(),
            String::new()
        )
    );
}

const CUT: &str =
    "warning: the answer was cut by the content filter (finish_reason content_filter); it is incomplete\n";

#[test]
fn an_answer_the_filter_cut_is_flagged_and_fails() {
    let server = whole(reply("Hey Jude,", "content_filter"));
    assert_eq!(run(&server, &[]), (Some(1), "Hey Jude,\n".into(), CUT.into()));
    let server = streamed(&[
        delta("Hey", None),
        delta(" Jude,", None),
        delta("", Some("content_filter")),
    ]);
    assert_eq!(
        run(&server, &["--stream"]),
        (Some(1), "Hey Jude,\n".into(), CUT.into())
    );
}

#[test]
fn a_prompt_the_filter_blocked_names_the_categories() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions");
        then.status(400).json_body(json!({"error": {"message": "filtered", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                "hate": {"filtered": false, "severity": "safe"}, "violence": {"filtered": true, "severity": "high"}}}}}));
    });
    assert_eq!(
        run(&server, &[]),
        (
            Some(1),
            String::new(),
            "error: endpoint answered HTTP 400 (blocked by the content filter: violence): filtered\n\
             hint: Azure's content filter refused the prompt: rephrase it, or review the deployment's content filter\n"
                .into()
        )
    );
}
