//! Responses of the wrong shape give the response error, never a panic or a wrong answer.

use crate::support::{gpt2, KEY};
use azureml_endpoint::formatter::{chat_formatter, completion_formatter};
use azureml_endpoint::{
    formatter::CustomOpenAiContentFormatter, formatter::DollyContentFormatter,
    formatter::Gpt2ContentFormatter, formatter::HfContentFormatter, ApiType, AzureMlOnlineEndpoint, Error,
    Result,
};
use httpmock::MockServer;

fn call(formatter: &str, api_type: ApiType, body: &[u8]) -> Result<String> {
    let server = MockServer::start();
    let path = if api_type == ApiType::Serverless {
        "/v1/completions"
    } else {
        "/score"
    };
    let mock = server.mock(|when, then| {
        when.path(path);
        then.status(200).body(body);
    });
    let builder = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url(path))
        .api_type(api_type)
        .api_key(KEY);
    let builder = match formatter {
        "gpt2" => builder.formatter(Gpt2ContentFormatter),
        "hf" => builder.formatter(HfContentFormatter),
        "dolly" => builder.formatter(DollyContentFormatter),
        _ => builder.formatter(CustomOpenAiContentFormatter),
    };
    let result = builder.build()?.invoke("x").map(|c| c.text);
    mock.assert();
    result
}

#[test]
fn wrong_shapes_are_response_errors() {
    let bodies: &[&[u8]] = &[
        b"",
        b"not json",
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        br#""a bare string""#,
        b"42",
        b"null",
        b"[]",
        b"{}",
        br#"[{"0": 42}]"#,
        br#"[{"0": null}]"#,
        br#"[{"0": {"nested": "x"}}]"#,
        br#"[{"1": "wrong key"}]"#,
        br#"{"choices": []}"#,
        br#"{"choices": [{"text": 7}]}"#,
        br#"{"choices": "x"}"#,
        b"[\xff\xfe]",
        br#"[{"0": "unterminated"#,
    ];
    let formatters = [
        ("gpt2", ApiType::Dedicated),
        ("hf", ApiType::Dedicated),
        ("dolly", ApiType::Dedicated),
        ("custom_openai", ApiType::Dedicated),
        ("custom_openai", ApiType::Serverless),
    ];
    for (formatter, api_type) in formatters {
        for body in bodies {
            match call(formatter, api_type, body) {
                Err(Error::Response(e)) => {
                    assert_eq!((e.formatter.as_str(), e.api_type), (formatter, api_type));
                    let message = Error::Response(e).to_string();
                    assert!(
                        message.contains("is this the right formatter for this model?"),
                        "{message}"
                    );
                }
                other => panic!(
                    "{formatter}/{api_type} with {:?}: expected a response error, got {other:?}",
                    String::from_utf8_lossy(body)
                ),
            }
        }
    }
}

#[test]
fn response_error_names_formatter_api_type_expectation_and_excerpt() {
    let long = format!(r#"{{"unexpected": "{}"}}"#, "y".repeat(500));
    let err = call("gpt2", ApiType::Dedicated, long.as_bytes()).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with(
        &format!("unexpected response for formatter `gpt2` on a dedicated endpoint: expected {CATALOG}, got \"{{\\\"unexpected\\\": \\\"yyy")
    ), "{message}");
    assert!(
        message.contains("…\" (is this the right formatter"),
        "excerpt is cut: {message}"
    );
    // The excerpt is cut, so the message is bounded whatever the body.
    assert!(message.len() < 600, "{}", message.len());
}

#[test]
fn serverless_usage_of_the_wrong_type_is_an_error() {
    let body = br#"{"choices": [{"text": "ok"}], "usage": {"prompt_tokens": "many"}}"#;
    let err = call("custom_openai", ApiType::Serverless, body).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected usage with integer token counts"),
        "{err}"
    );
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        call("gpt2", ApiType::Dedicated, body.as_bytes()),
        Err(Error::Response(_))
    ));
}

#[test]
fn oversized_response_is_an_error_not_a_truncated_answer() -> Result<()> {
    let server = MockServer::start();
    let big = format!(r#"[{{"0": "{}"}}]"#, "z".repeat(4096));
    server.mock(|when, then| {
        when.path("/score");
        then.status(200).body(big);
    });
    let llm = gpt2(server.url("/score")).max_response_bytes(1024).build()?;
    match llm.invoke("x") {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, azureml_endpoint::error::TransportErrorKind::TooLarge);
            assert!(e.detail.contains("over the 1024-byte limit"), "{}", e.detail);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    Ok(())
}

#[test]
fn http_errors_carry_status_message_request_id_and_model_status() -> Result<()> {
    let server = MockServer::start();
    let cases = [
        (
            401,
            r#"{"error": {"message": "bad key"}}"#,
            "x-request-id",
            "key or token rejected",
            "bad key",
        ),
        (
            404,
            r#"{"message": "no such deployment"}"#,
            "x-ms-request-id",
            "wrong URL, or no deployment takes traffic",
            "no such deployment",
        ),
        (
            400,
            r#"{"detail": "bad input"}"#,
            "apim-request-id",
            "endpoint answered HTTP 400: bad input",
            "bad input",
        ),
        (
            424,
            "upstream said no",
            "x-request-id",
            "the model container failed",
            "upstream said no",
        ),
    ];
    for (status, body, id_header, hint, service_message) in cases {
        let path = format!("/{status}/score");
        let mock = server.mock(|when, then| {
            when.path(path.as_str());
            then.status(status)
                .header(id_header, "rid-9")
                .header("ms-azureml-model-error-statuscode", "500")
                .header("ms-azureml-model-error-reason", "model crashed")
                .body(body);
        });
        let llm = AzureMlOnlineEndpoint::builder()
            .endpoint_url(server.url(&path))
            .api_key(KEY)
            .build()?;
        let err = llm.invoke("x").unwrap_err();
        mock.assert();
        let Error::Http(http) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(http.status, status);
        assert_eq!(http.message.as_deref(), Some(service_message));
        assert_eq!(http.request_id.as_deref(), Some("rid-9"));
        assert_eq!(http.attempts, 1);
        assert_eq!(http.model_status.as_deref(), Some("500"));
        let text = err.to_string();
        assert!(text.contains(hint) && text.contains("request id rid-9"), "{text}");
        if status == 424 {
            assert!(
                text.contains("model container status 500, reason model crashed"),
                "{text}"
            );
        }
    }
    Ok(())
}

/// The response error for a body, as `format_response` of the built-in formatter `tag` gives it.
fn shape_error(tag: &str, api_type: ApiType, body: &str) -> String {
    let result = match completion_formatter(tag) {
        Some(f) => f.format_response(body.as_bytes(), api_type).map(|c| c.text),
        None => chat_formatter(tag)
            .unwrap_or_else(|| panic!("no formatter {tag}"))
            .format_response(body.as_bytes(), api_type)
            .map(|c| c.message.text().to_owned()),
    };
    match result {
        Err(e @ Error::Response(_)) => e.to_string(),
        other => panic!("{tag}/{api_type} {body}: expected a response error, got {other:?}"),
    }
}

fn wrong_shape(tag: &str, api_type: ApiType, expected: &str, body: &str) -> String {
    format!(
        "unexpected response for formatter `{tag}` on a {api_type} endpoint: expected {expected}, \
         got {body:?} (is this the right formatter for this model?)"
    )
}

/// What every built-in completion formatter reads on a dedicated endpoint: each reply shape the
/// model catalog documents.
const CATALOG: &str = r#"[string] or [{"0": string}] or {"output": string} or {"output": [string]} or [{"generated_text": string}] or [{"0": {"generated_text": string}}]"#;

#[test]
fn an_object_is_never_read_as_a_list_nor_a_list_as_an_object() {
    let dedicated = ApiType::Dedicated;
    let serverless = ApiType::Serverless;
    let gpt2 = CATALOG;
    let hf = CATALOG;
    let openai = r#"{"choices": [{"text": string}]}"#;
    let chat = "choices[0].message with a role and string or null content";
    let cases = [
        ("gpt2", dedicated, gpt2, r#"{"0": {"0": "x"}}"#),
        ("gpt2", dedicated, gpt2, r#"{"0": "x"}"#),
        ("gpt2", dedicated, gpt2, r#"[["x"]]"#),
        ("hf", dedicated, hf, r#"{"0": {"0": {"generated_text": "x"}}}"#),
        ("hf", dedicated, hf, r#"{"0": {"generated_text": "x"}}"#),
        ("hf", dedicated, hf, r#"[[{"generated_text": "x"}]]"#),
        ("dolly", dedicated, CATALOG, r#"{"0": "x"}"#),
        ("catalog", dedicated, CATALOG, r#"{"0": "x"}"#),
        ("catalog", dedicated, CATALOG, r#"{"output": {"0": "x"}}"#),
        ("custom_openai", dedicated, gpt2, r#"{"0": {"0": "x"}}"#),
        ("custom_openai", dedicated, gpt2, r#"{"0": "x"}"#),
        ("custom_openai", dedicated, gpt2, r#"[["x"]]"#),
        (
            "custom_openai",
            serverless,
            openai,
            r#"{"choices": {"0": {"text": "x"}}}"#,
        ),
        (
            "custom_openai",
            serverless,
            openai,
            r#"[{"choices": [{"text": "x"}]}]"#,
        ),
        (
            "custom_openai_chat",
            serverless,
            chat,
            r#"{"choices": {"0": {"message": {"role": "assistant", "content": "x"}}}}"#,
        ),
        (
            "mistral_chat",
            serverless,
            chat,
            r#"{"choices": {"0": {"message": {"role": "assistant", "content": "x"}}}}"#,
        ),
        (
            "custom_openai_chat",
            dedicated,
            r#"{"output": string}"#,
            r#"[{"output": "x"}]"#,
        ),
        (
            "mistral_chat",
            dedicated,
            r#"{"output": string}"#,
            r#"{"0": {"output": "x"}}"#,
        ),
    ];
    for (tag, api_type, expected, body) in cases {
        assert_eq!(
            shape_error(tag, api_type, body),
            wrong_shape(tag, api_type, expected, body)
        );
    }
}

#[test]
fn only_a_json_string_is_text() {
    let dedicated = ApiType::Dedicated;
    let gpt2 = CATALOG;
    let cases = [
        ("gpt2", gpt2, r#"[{"0": 42}]"#),
        ("gpt2", gpt2, r#"[{"0": null}]"#),
        ("gpt2", gpt2, r#"[{"0": {"text": "x"}}]"#),
        ("gpt2", gpt2, r#"[{"0": ["x"]}]"#),
        ("dolly", CATALOG, "[1.5]"),
        ("dolly", CATALOG, "[null]"),
        ("dolly", CATALOG, "[true]"),
        ("catalog", CATALOG, r#"{"output": [7]}"#),
        ("custom_openai", gpt2, r#"[{"0": false}]"#),
        ("hf", CATALOG, r#"[{"generated_text": 7}]"#),
        (
            "custom_openai_chat",
            r#"{"output": string}"#,
            r#"{"output": null}"#,
        ),
        (
            "custom_openai_chat",
            r#"{"output": string}"#,
            r#"{"output": {"text": "x"}}"#,
        ),
    ];
    for (tag, expected, body) in cases {
        assert_eq!(
            shape_error(tag, dedicated, body),
            wrong_shape(tag, dedicated, expected, body)
        );
    }
    let chat = "choices[0].message with a role and string or null content";
    for body in [
        r#"{"choices": [{"message": {"role": "assistant", "content": 5}}]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": {"text": "x"}}}]}"#,
        r#"{"choices": [{"message": {"role": null, "content": "x"}}]}"#,
    ] {
        assert_eq!(
            shape_error("custom_openai_chat", ApiType::Serverless, body),
            wrong_shape("custom_openai_chat", ApiType::Serverless, chat, body)
        );
    }
    let openai = r#"{"choices": [{"text": string}]}"#;
    let body = r#"{"choices": [{"text": null}]}"#;
    assert_eq!(
        shape_error("custom_openai", ApiType::Serverless, body),
        wrong_shape("custom_openai", ApiType::Serverless, openai, body)
    );
}

#[test]
fn every_shape_in_the_table_still_parses() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let cases = [
        ("gpt2", ApiType::Dedicated, r#"[{"0": " x "}]"#),
        ("hf", ApiType::Dedicated, r#"[{"0": {"generated_text": " x "}}]"#),
        ("hf", ApiType::Dedicated, r#"[{"generated_text": " x "}]"#),
        ("dolly", ApiType::Dedicated, r#"[" x ", "ignored"]"#),
        ("custom_openai", ApiType::Dedicated, r#"[{"0": " x "}]"#),
        (
            "custom_openai",
            ApiType::Serverless,
            r#"{"choices": [{"text": " x "}]}"#,
        ),
    ];
    for (tag, api_type, body) in cases {
        let formatter = completion_formatter(tag).ok_or("no formatter")?;
        assert_eq!(
            formatter.format_response(body.as_bytes(), api_type)?.text,
            " x ",
            "{tag}"
        );
    }
    // Every catalog reply shape, whichever completion formatter asked.
    let replies = [
        r#"[" x "]"#,
        r#"[{"0": " x ", "1": "second prompt"}]"#,
        r#"{"output": " x "}"#,
        r#"{"output": [" x "]}"#,
        r#"[{"generated_text": " x "}]"#,
        r#"[{"0": {"generated_text": " x "}}]"#,
    ];
    for tag in ["gpt2", "hf", "dolly", "custom_openai", "catalog"] {
        let formatter = completion_formatter(tag).ok_or("no formatter")?;
        for body in replies {
            let text = formatter
                .format_response(body.as_bytes(), ApiType::Dedicated)?
                .text;
            assert_eq!(text, " x ", "{tag}: {body}");
        }
    }
    let chat = [
        (ApiType::Dedicated, r#"{"output": " x "}"#),
        (
            ApiType::Serverless,
            r#"{"choices": [{"message": {"role": "assistant", "content": " x "}}]}"#,
        ),
    ];
    for tag in ["custom_openai_chat", "mistral_chat"] {
        for (api_type, body) in chat {
            let formatter = chat_formatter(tag).ok_or("no formatter")?;
            let reply = formatter.format_response(body.as_bytes(), api_type)?;
            assert_eq!(reply.message.text(), " x ", "{tag}/{api_type}");
        }
    }
    Ok(())
}
