//! Per-call headers (`CallOptions::header`) and the typed `extra-parameters` option: sent on that
//! call only, for every call kind of both clients, overriding an `extra_headers` entry of the
//! same name, and refused by the reserved-header rule before anything is sent.

use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatMessage, Error,
    ExtraParameters,
};
use httpmock::prelude::*;

use crate::support::fault::{response, FaultServer};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";
const COMPLETIONS_PATH: &str = "/v1/completions";

fn chat(server: &MockServer) -> Result<AzureMlChatOnlineEndpoint, Error> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .extra_header("X-Team", "search")
        .build()
}

fn llm(server: &MockServer) -> Result<AzureMlOnlineEndpoint, Error> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url(COMPLETIONS_PATH))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .build()
}

const CHAT_REPLY: &str =
    r#"{"choices":[{"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]}"#;

#[test]
fn per_call_header_is_sent_on_that_call_only() -> TestResult {
    let server = MockServer::start();
    let with = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .header("x-trace", "abc")
            .header("x-team", "search");
        then.status(200).body(CHAT_REPLY);
    });
    let without = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .header_missing("x-trace")
            .header("x-team", "search");
        then.status(200).body(CHAT_REPLY);
    });
    let chat = chat(&server)?;
    let options = CallOptions::new().header("X-Trace", "abc");
    let messages = [ChatMessage::user("Hi")];
    assert_eq!(chat.invoke_with(&messages, &options)?.message.text(), "Hello");
    with.assert_calls(1);
    assert_eq!(chat.invoke(&messages)?.message.text(), "Hello");
    without.assert_calls(1);
    with.assert_calls(1);
    Ok(())
}

#[test]
fn per_call_header_replaces_an_extra_header_of_the_same_name() -> TestResult {
    // The raw request head: a second `x-team` line would be merged away by httpmock.
    let server = FaultServer::start(vec![
        response(200, &[("content-type", "application/json")], CHAT_REPLY),
        response(200, &[("content-type", "application/json")], CHAT_REPLY),
    ]);
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .extra_header("X-Team", "search")
        .build()?;
    let messages = [ChatMessage::user("Hi")];
    chat.invoke_with(&messages, &CallOptions::new().header("x-TEAM", "ads"))?;
    chat.invoke(&messages)?;
    let teams: Vec<Vec<String>> = server
        .requests()
        .iter()
        .map(|request| {
            request
                .head
                .lines()
                .filter_map(|line| line.split_once(": "))
                .filter(|(name, _)| name.eq_ignore_ascii_case("x-team"))
                .map(|(_, value)| value.to_owned())
                .collect()
        })
        .collect();
    assert_eq!(teams, [vec!["ads"], vec!["search"]]);
    Ok(())
}

#[test]
fn extra_parameters_values() -> TestResult {
    for (policy, value) in [
        (ExtraParameters::PassThrough, "pass-through"),
        (ExtraParameters::Drop, "drop"),
        (ExtraParameters::Error, "error"),
    ] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path(COMPLETIONS_PATH)
                .header("extra-parameters", value)
                .json_body(json!({"prompt": "Once", "top_k": 5}));
            then.status(200)
                .json_body(json!({"choices": [{"text": " upon", "finish_reason": "stop"}]}));
        });
        let options = CallOptions::new().param("top_k", 5).extra_parameters(policy);
        assert_eq!(llm(&server)?.invoke_with("Once", &options)?.text, " upon");
        mock.assert();
    }
    Ok(())
}

#[test]
fn generate_sends_the_headers_on_every_request() -> TestResult {
    let server = MockServer::start();
    let chat_mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).header("x-trace", "t");
        then.status(200).body(CHAT_REPLY);
    });
    let llm_mock = server.mock(|when, then| {
        when.method(POST).path(COMPLETIONS_PATH).header("x-trace", "t");
        then.status(200)
            .json_body(json!({"choices": [{"text": "ok", "finish_reason": "stop"}]}));
    });
    let options = CallOptions::new().header("x-trace", "t").max_concurrency(2);
    let conversations = [vec![ChatMessage::user("a")], vec![ChatMessage::user("b")]];
    for reply in chat(&server)?.generate(&conversations, &options) {
        assert_eq!(reply?.message.text(), "Hello");
    }
    for reply in llm(&server)?.generate(&["a", "b", "c"], &options) {
        assert_eq!(reply?.text, "ok");
    }
    chat_mock.assert_calls(2);
    llm_mock.assert_calls(3);
    Ok(())
}

#[test]
fn streaming_carries_them_too() -> TestResult {
    let server = MockServer::start();
    let chat_mock = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .header("accept", "text/event-stream")
            .header("extra-parameters", "drop")
            .header("x-trace", "s");
        then.status(200)
            .header("content-type", "text/event-stream")
            .body("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n");
    });
    let llm_mock = server.mock(|when, then| {
        when.method(POST)
            .path(COMPLETIONS_PATH)
            .header("accept", "text/event-stream")
            .header("extra-parameters", "drop")
            .header("x-trace", "s");
        then.status(200)
            .header("content-type", "text/event-stream")
            .body("data: {\"choices\":[{\"text\":\"up\"}]}\n\ndata: {\"choices\":[{\"text\":\"on\"}]}\n\ndata: [DONE]\n\n");
    });
    let options = CallOptions::new()
        .extra_parameters(ExtraParameters::Drop)
        .header("x-trace", "s");
    let text = |stream: azureml_endpoint::CompletionStream| -> Result<String, Error> {
        stream.map(|chunk| chunk.map(|c| c.text)).collect()
    };
    assert_eq!(
        text(chat(&server)?.stream_with(&[ChatMessage::user("Hi")], &options)?)?,
        "Hello"
    );
    assert_eq!(text(llm(&server)?.stream_with("Once", &options)?)?, "upon");
    chat_mock.assert();
    llm_mock.assert();
    Ok(())
}

#[test]
fn reserved_and_invalid_headers_are_refused_before_sending() -> TestResult {
    let server = MockServer::start();
    let any = server.mock(|when, then| {
        when.any_request();
        then.status(200).body(CHAT_REPLY);
    });
    let chat = chat(&server)?;
    let llm = llm(&server)?;
    let mut cases: Vec<(&str, &str, String)> = ["Authorization", "api-key"]
        .into_iter()
        .map(|name| {
            (
                name,
                "v",
                format!(
                    "invalid input: `CallOptions::header`: `{name}` is set from the API key; do \
                     not pass it as a per-call header"
                ),
            )
        })
        .collect();
    for name in [
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Content-Type",
        "ACCEPT",
    ] {
        cases.push((
            name,
            "v",
            format!(
                "invalid input: `CallOptions::header`: `{name}` is set by the client on every \
                 request; remove it from the per-call headers"
            ),
        ));
    }
    cases.push((
        "x bad",
        "v",
        "invalid input: `CallOptions::header`: \"x bad\" is not a valid header name".to_owned(),
    ));
    cases.push((
        "x-ok",
        "a\r\nInjected: 1",
        "invalid input: `CallOptions::header`: the value of `x-ok` contains a control character \
         (CR, LF, NUL, …), which cannot go in an HTTP header"
            .to_owned(),
    ));
    for (name, value, expected) in cases {
        let options = CallOptions::new().header(name, value);
        let messages = [ChatMessage::user("Hi")];
        let errors = [
            chat.invoke_with(&messages, &options).err(),
            chat.stream_with(&messages, &options).err(),
            chat.generate(&[&messages[..]], &options)
                .pop()
                .and_then(Result::err),
            llm.invoke_with("Once", &options).err(),
            llm.stream_with("Once", &options).err(),
        ];
        for error in errors {
            let error = error.ok_or(format!("{name} was accepted"))?;
            assert!(matches!(error, Error::Input(_)), "{error:?}");
            assert_eq!(error.to_string(), expected);
        }
    }
    any.assert_calls(0);
    Ok(())
}
