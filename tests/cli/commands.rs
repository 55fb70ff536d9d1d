//! The `azureml-endpoint` binary, run for real against the local endpoint and httpmock.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

use crate::support::cli::BIN;
use crate::support::KEY;
use crate::support::{free_port, TempDir};
use azureml_endpoint::local::LocalEndpoint;
use httpmock::MockServer;
use serde_json::{json, Value};

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(KEY), "the key leaked into the output: {all}");
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn complete_prints_the_text_from_an_argument_or_stdin() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.completions_url();
    let base = ["complete", "--url", &url, "--api-type", "serverless"];
    let out = run(&[&base[..], &["Once upon a \"time\"\n中文 🦀"]].concat(), None);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "Once upon a \"time\"\n中文 🦀\n"),
        "{}",
        stderr(&out)
    );
    let out = run(&[&base[..], &["-"]].concat(), Some("from stdin\n"));
    assert_eq!(stdout(&out), "from stdin\n");
    let out = run(&base, Some("no dash either\n"));
    assert_eq!(stdout(&out), "no dash either\n");

    let dedicated = local.dedicated_url();
    let out = run(
        &[
            "complete",
            "--url",
            &dedicated,
            "--formatter",
            "gpt2",
            "--param",
            "max_new_tokens=5",
            "hi",
        ],
        None,
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "hi\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_output_parses_back() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.completions_url();
    let out = run(
        &[
            "complete",
            "--url",
            &url,
            "--api-type",
            "serverless",
            "--json",
            "one two",
        ],
        None,
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["text"], "one two");
    assert_eq!(value["finish_reason"], "stop");
    assert_eq!(
        value["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4})
    );
    assert_eq!(value["request_id"], "local-1");

    let chat_url = local.chat_url();
    let out = run(
        &[
            "chat",
            "--url",
            &chat_url,
            "--api-type",
            "serverless",
            "--system",
            "Be brief.",
            "--json",
            "Hi there",
        ],
        None,
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        value["message"],
        json!({"role": "assistant", "content": "Hi there"})
    );
}

#[test]
fn chat_sends_the_system_and_message_file() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/v1/chat/completions").json_body(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "yes"},
            {"role": "user", "content": "now"}
        ], "temperature": 0.5, "stop": ["END"]}));
        then.status(200)
            .json_body(json!({"choices": [{"message": {"role": "assistant", "content": "ok!"}}]}));
    });
    let dir = TempDir::new("cli-chat");
    let file = dir.join("messages.json");
    std::fs::write(
        &file,
        r#"[{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "yes"}]"#,
    )
    .unwrap();
    let url = server.url("/v1/chat/completions");
    let out = run(
        &[
            "chat",
            "--url",
            &url,
            "--api-type",
            "serverless",
            "--system",
            "Be brief.",
            "--messages",
            file.to_str().unwrap(),
            "--param",
            "temperature=0.5",
            "--stop",
            "END",
            "now",
        ],
        None,
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "ok!\n"),
        "{}",
        stderr(&out)
    );
    mock.assert();
}

#[test]
fn stream_prints_the_answer() {
    let local = LocalEndpoint::start().unwrap();
    let url = local.chat_url();
    let out = run(
        &[
            "chat",
            "--url",
            &url,
            "--api-type",
            "serverless",
            "--stream",
            "streamed words here",
        ],
        None,
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "streamed words here\n"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            "chat",
            "--url",
            &url,
            "--api-type",
            "serverless",
            "--stream",
            "--json",
            "a b",
        ],
        None,
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            value["message"]["content"].as_str(),
            value["finish_reason"].as_str()
        ),
        (Some("a b"), Some("stop"))
    );
}

#[test]
fn exit_codes() {
    // 2: usage and config errors.
    let out = run(&["complete", "hi"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: invalid `endpoint_url`"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("\nhint: "), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let out = run(&["complete", "--bogus", "hi"], None);
    assert_eq!(
        (out.status.code(), stderr(&out).lines().next()),
        (Some(2), Some("error: unknown flag --bogus"))
    );
    let out = run(&["complete", "--api-key", KEY, "hi"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--api-key is not accepted"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            "complete",
            "--url",
            "https://e.inference.ml.azure.com/score",
            "--formatter",
            "nope",
            "hi",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: unknown formatter `nope`; completion formatters: gpt2, oss, hf, dolly, custom_openai, llama, catalog, promptflow\n\
         hint: see the formatter table in the README\n"
    );
    let out = run(&["frobnicate"], None);
    assert_eq!(
        (out.status.code(), stderr(&out).lines().next()),
        (Some(2), Some("error: unknown command `frobnicate`"))
    );

    // 1: the endpoint failed.
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path("/score");
        then.status(401)
            .header("x-request-id", "r-401")
            .body(format!("bad key {KEY}"));
    });
    let url = server.url("/score");
    let out = run(&["complete", "--url", &url, "--formatter", "gpt2", "hi"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: endpoint answered HTTP 401") && err.contains("request id r-401"),
        "{err}"
    );
    assert!(err.contains("hint: check the key"), "{err}");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/score");
    let out = run(&["complete", "--url", &url, "--timeout", "1", "hi"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // The key from another variable with --api-key-env.
    let local = LocalEndpoint::start().unwrap();
    let url = local.dedicated_url();
    let out = run(
        &[
            "complete",
            "--url",
            &url,
            "--formatter",
            "gpt2",
            "--api-key-env",
            "MISSING_VAR",
            "hi",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("env var MISSING_VAR is not set"));
}

#[test]
fn help_on_every_command() {
    for command in [
        &[][..],
        &["complete"],
        &["chat"],
        &["batch"],
        &["config"],
        &["local"],
    ] {
        let out = run(&[command, &["--help"]].concat(), None);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            stdout(&out).to_lowercase().contains("example"),
            "{command:?}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn batch_keeps_order_reports_failures_and_resumes() {
    let local = LocalEndpoint::start().unwrap();
    let dir = TempDir::new("cli-batch");
    let input = dir.join("in.jsonl");
    let output = dir.join("out.jsonl");
    let lines: Vec<String> = (0..20)
        .map(|i| {
            if i == 7 {
                "not json".to_owned()
            } else {
                json!({"prompt": format!("prompt {i}")}).to_string()
            }
        })
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let url = local.dedicated_url();
    let args = [
        "batch",
        "--url",
        &url,
        "--formatter",
        "gpt2",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--concurrency",
        "4",
    ];
    let out = run(&args, None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed line makes the exit status 1"
    );
    assert!(
        stderr(&out).contains("20/20 lines done, 1 failed"),
        "{}",
        stderr(&out)
    );
    let written: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written.len(), 20);
    for (i, record) in written.iter().enumerate() {
        assert_eq!(record["line"], i + 1);
        if i == 7 {
            assert!(
                record["error"].as_str().unwrap().starts_with("not JSON"),
                "{record}"
            );
        } else {
            assert_eq!(record["text"], format!("prompt {i}"));
        }
    }

    // An interrupted run: 5 whole lines and a torn sixth. Resume does only the rest.
    let text = std::fs::read_to_string(&output).unwrap();
    let kept: Vec<&str> = text.lines().take(5).collect();
    std::fs::write(&output, format!("{}\n{{\"line\": 6, \"te", kept.join("\n"))).unwrap();
    let hits_before = requests(&local);
    let out = run(&[&args[..], &["--resume"]].concat(), None);
    assert!(
        stderr(&out).contains("20/20 lines done, 1 failed (5 resumed)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        requests(&local) - hits_before,
        15,
        "lines 6..20 less the bad one (14), plus the counting request"
    );
    let resumed = std::fs::read_to_string(&output).unwrap();
    let without_ids = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("request_id");
                v
            })
            .collect()
    };
    assert_eq!(
        resumed.lines().take(5).collect::<Vec<_>>(),
        kept,
        "kept lines are untouched"
    );
    assert_eq!(without_ids(&resumed), without_ids(&text));

    // Chat lines.
    let chat_input = dir.join("chat.jsonl");
    std::fs::write(
        &chat_input,
        format!("{}\n", json!({"messages": [{"role": "user", "content": "hey"}]})),
    )
    .unwrap();
    let chat_url = local.chat_url();
    let out = run(
        &[
            "batch",
            "--url",
            &chat_url,
            "--api-type",
            "serverless",
            "--input",
            chat_input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let record: Value = serde_json::from_str(std::fs::read_to_string(&output).unwrap().trim()).unwrap();
    assert_eq!(record["message"]["content"], "hey");
}

/// How many requests the local endpoint has answered: its next request id counts them.
fn requests(local: &LocalEndpoint) -> usize {
    let out = run(
        &[
            "complete",
            "--url",
            &local.dedicated_url(),
            "--formatter",
            "gpt2",
            "--json",
            "count",
        ],
        None,
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    value["request_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("local-")
        .parse()
        .unwrap()
}

#[test]
fn config_new_then_show_then_use() {
    let local = LocalEndpoint::start().unwrap();
    let dir = TempDir::new("cli-config");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let path = dir.join("sub/azureml.yaml");
    let url = local.dedicated_url();
    let out = run(
        &[
            "config",
            "new",
            "-o",
            path.to_str().unwrap(),
            "--url",
            &url,
            "--formatter",
            "gpt2",
            "--deployment",
            "blue",
            "--param",
            "max_new_tokens=20",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(
        saved.contains("_type: azureml_endpoint") && saved.contains("max_new_tokens: 20"),
        "{saved}"
    );
    assert!(!saved.contains("placeholder") && !saved.contains(KEY));

    let out = run(&["config", "show", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = format!("(file `{}`)", path.display());
    let expected: String = [
        ("_type", "azureml_endpoint"),
        ("endpoint_url", url.as_str()),
        ("endpoint_api_type", "dedicated"),
        ("deployment_name", "blue"),
        ("timeout", "50"),
        ("max_retries", "3"),
        ("formatter", r#"{"_type":"gpt2"}"#),
        ("model_kwargs", r#"{"max_new_tokens":20}"#),
        ("extra_headers", "{}"),
    ]
    .iter()
    .map(|(key, value)| format!("{key:<18} {value}  {file}\n"))
    .collect();
    assert_eq!(
        stdout(&out),
        format!("{expected}auth               key  (default)\nendpoint_api_key   set (env var AZUREML_ENDPOINT_API_KEY)\n"),
        "every setting the file holds is labelled with the file"
    );
    let out = run(&["config", "show", "--json", path.to_str().unwrap()], None);
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        value["sources"]["_type"],
        json!(format!("file `{}`", path.display()))
    );
    assert_eq!(value["sources"]["max_retries"], value["sources"]["_type"]);
    assert_eq!(
        (&value["endpoint_api_key"], &value["sources"]["endpoint_api_key"]),
        (&json!("set"), &json!("env var AZUREML_ENDPOINT_API_KEY"))
    );

    let out = run(
        &["complete", "--config", path.to_str().unwrap(), "from the file"],
        None,
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "from the file\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn local_serves_until_killed() {
    let mut child = Command::new(BIN)
        .args(["local", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("local echo endpoint on http://127.0.0.1:"),
        "{first}"
    );
    let dedicated = lines.next().unwrap().unwrap();
    let url = dedicated.split_whitespace().last().unwrap().to_owned();
    let out = run(
        &["complete", "--url", &url, "--formatter", "dolly", "served"],
        None,
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(stdout(&out), "served\n", "{}", stderr(&out));
}
