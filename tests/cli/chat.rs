//! The `chat` command beyond plain text: `--image` files and URLs, `--messages` files with parts.

use std::process::{Command, Output};

use crate::support::cli::BIN;
use crate::support::TempDir;
use httpmock::prelude::*;
use serde_json::json;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const PNG_URL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==";

fn chat(server: &MockServer, args: &[&str]) -> Output {
    let url = server.url("/v1/chat/completions");
    Command::new(BIN)
        .args(["chat", "--url", &url])
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", "sk-cli-parts")
        .output()
        .unwrap()
}

fn reply() -> serde_json::Value {
    json!({"choices": [{"message": {"role": "assistant", "content": "A cat."}, "finish_reason": "stop"}]})
}

#[test]
fn images_from_files_and_urls_follow_the_message_text() {
    let dir = TempDir::new("cli-image");
    let png = dir.write("cat.png", PNG);
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/v1/chat/completions")
            .json_body(json!({"messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": PNG_URL}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}}
                ]}
            ]}));
        then.status(200).json_body(reply());
    });
    let png = png.to_str().unwrap();
    let output = chat(
        &server,
        &[
            "--image",
            png,
            "--image",
            "https://example.com/dog.jpg",
            "What is this?",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "A cat.\n");
    mock.assert();
}

#[test]
fn a_messages_file_with_parts_is_sent_as_written() {
    let dir = TempDir::new("cli-parts");
    let conversation = json!([
        {"role": "user", "content": [
            {"type": "text", "text": "Compare:"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
        ]}
    ]);
    let file = dir.write("conversation.json", conversation.to_string());
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/v1/chat/completions")
            .json_body(json!({ "messages": conversation }));
        then.status(200).json_body(reply());
    });
    let output = chat(&server, &["--messages", file.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "A cat.\n");
    mock.assert();
}

#[test]
fn bad_images_are_usage_errors_and_send_nothing() {
    let dir = TempDir::new("cli-bad-image");
    let text = dir.write("notes.png", "not an image");
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.any_request();
        then.status(200).json_body(reply());
    });
    let cases = [
        (
            vec!["--image", text.to_str().unwrap(), "Hi"],
            "is not a PNG, JPEG, GIF or WebP image".to_owned(),
        ),
        (
            vec!["--image", "http://example.com/a.png", "Hi"],
            "image URL \"http://example.com/a.png\" is not https:// or data:".to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let output = chat(&server, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&expected), "{stderr}");
    }
    let messages = dir.write("m.json", r#"[{"role": "user", "content": "Hi"}]"#);
    let output = chat(
        &server,
        &[
            "--messages",
            messages.to_str().unwrap(),
            "--image",
            "https://example.com/a.png",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--image attaches to MESSAGE: give MESSAGE too, or put the image in the --messages file"
        ),
        "{stderr}"
    );
    mock.assert_calls(0);
}

#[test]
fn a_reply_whose_content_is_a_list_prints_its_text_parts() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions");
        then.status(200).json_body(json!({"choices": [{"message": {"role": "assistant", "content": [
            {"type": "text", "text": "A "}, {"type": "refusal", "refusal": "no"}, {"type": "text", "text": "cat."}
        ]}}]}));
    });
    let output = chat(&server, &["Hi"]);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "A cat.\n");
}

#[test]
fn param_model_picks_the_model_on_a_many_model_gateway() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions").json_body(json!({
            "messages": [{"role": "user", "content": "Hi"}],
            "model": "Mistral-large-2411"
        }));
        then.status(200).json_body(reply());
    });
    let output = chat(&server, &["--param", "model=Mistral-large-2411", "Hi"]);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "A cat.\n");
    mock.assert();
}
