//! `--model` on `chat`, `config new` and `config show` (the setting itself: tests/client/model.rs).

use std::process::Command;

use httpmock::prelude::*;
use serde_json::{json, Value};

use crate::support::cli::BIN;
use crate::support::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/openai/v1/chat/completions";

fn reply() -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]})
}

#[test]
fn cli_model_flag_on_chat_and_config_new_and_show() -> TestResult {
    let dir = TempDir::new("cli-model");
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .json_body(json!({"messages": [{"role": "user", "content": "Hi"}], "model": "phi-4"}));
        then.status(200).json_body(reply());
    });
    let url = server.url(CHAT_PATH);
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .env("AZUREML_ENDPOINT_API_KEY", "sk-cli-model")
            .output()
    };
    let out = run(&["chat", "--url", &url, "--model", "phi-4", "Hi"])?;
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");

    let path = dir.path("chat.json");
    let path = path.to_str().ok_or("path")?;
    let out = run(&["config", "new", "-o", path, "--url", &url, "--model", "phi-4"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["config", "show", "--json", path])?;
    let shown: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(shown["model"], "phi-4");
    assert_eq!(shown["sources"]["model"], format!("file `{path}`"));
    let out = run(&["chat", "--config", path, "Hi"])?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");
    mock.assert_calls(2);
    Ok(())
}
