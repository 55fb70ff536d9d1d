//! Responses of the wrong shape give the response error, never a panic or a wrong answer.

mod common;

use azureml_endpoint::{
    ApiType, AzureMlOnlineEndpoint, CustomOpenAiContentFormatter, DollyContentFormatter, Error,
    Gpt2ContentFormatter, HfContentFormatter, Result,
};
use common::KEY;
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
        "unexpected response for formatter `gpt2` on a dedicated endpoint: expected a string at /0/0, got \"{\\\"unexpected\\\": \\\"yyy"
    ), "{message}");
    assert!(
        message.contains("…\" (is this the right formatter"),
        "excerpt is cut: {message}"
    );
    assert!(message.len() < 400, "{}", message.len());
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
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .formatter(Gpt2ContentFormatter)
        .max_response_bytes(1024)
        .build()?;
    match llm.invoke("x") {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, azureml_endpoint::TransportErrorKind::TooLarge);
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
