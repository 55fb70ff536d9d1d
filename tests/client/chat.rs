//! The chat client: request bodies and headers per formatter and api type, parsed replies, tool
//! round trips, Mistral's system merge, bad input, wrong-shape responses and URL rules.

use std::sync::Arc;

use azureml_endpoint::formatter::chat_formatter;
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, CallOptions, ChatContentFormatter, ChatMessage, Error, Role,
    ToolCall, Usage,
};
use httpmock::prelude::*;
use serde_json::{json, Value};

use crate::support::KEY;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";
/// Every character class that naive escaping gets wrong.
const SPECIAL: &str = "quote \" backslash \\ slash / newline \n tab \t cr \r nul \u{0} bell \u{7} \
                       中文 emoji 🦀👩‍💻 line sep \u{2028} end";

/// The built-in formatters, each with the api types it is tested on.
const CASES: [(&str, ApiType); 4] = [
    ("custom_openai_chat", ApiType::Serverless),
    ("custom_openai_chat", ApiType::Dedicated),
    ("mistral_chat", ApiType::Serverless),
    ("mistral_chat", ApiType::Dedicated),
];

fn formatter(tag: &str) -> Result<Arc<dyn ChatContentFormatter>, String> {
    chat_formatter(tag).ok_or_else(|| format!("no formatter {tag}"))
}

fn path_for(api_type: ApiType) -> &'static str {
    match api_type {
        ApiType::Serverless => CHAT_PATH,
        _ => "/score",
    }
}

fn client(
    server: &MockServer,
    tag: &str,
    api_type: ApiType,
) -> Result<AzureMlChatOnlineEndpoint, Box<dyn std::error::Error>> {
    Ok(AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(path_for(api_type)))
        .api_type(api_type)
        .api_key(KEY)
        .formatter_arc(formatter(tag)?)
        .build()?)
}

/// A successful reply body carrying `text`, in the api type's shape.
fn reply_body(api_type: ApiType, text: &str) -> Value {
    match api_type {
        ApiType::Serverless => {
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
        }
        _ => json!({"output": text}),
    }
}

/// The request body for `messages` and `params` in the api type's shape.
fn request_body(api_type: ApiType, messages: Value, params: Value) -> Value {
    match api_type {
        ApiType::Serverless => {
            let mut body = json!({"messages": messages});
            if let (Some(body), Some(params)) = (body.as_object_mut(), params.as_object()) {
                body.extend(params.clone());
            }
            body
        }
        _ => json!({"input_data": {"input_string": messages, "parameters": params}}),
    }
}

/// A conversation with every role: system, user, an assistant tool call with null content, the
/// tool's answer, an assistant reply and a last user turn.
fn every_role(user_text: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are terse."),
        ChatMessage::user(user_text),
        ChatMessage::assistant_tool_calls(vec![ToolCall::function(
            "call_1",
            "get_weather",
            r#"{"city":"Paris"}"#,
        )]),
        ChatMessage::tool("call_1", r#"{"temp_c":21}"#),
        ChatMessage::assistant("It is 21 °C."),
        ChatMessage::user("Thanks"),
    ]
}

/// `every_role` as it must reach the model; Mistral folds the system message into the first user
/// message.
fn every_role_wire(tag: &str, user_text: &str) -> Value {
    let tail = json!([
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]},
        {"role": "tool", "content": "{\"temp_c\":21}", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It is 21 °C."},
        {"role": "user", "content": "Thanks"}
    ]);
    let head = if tag == "mistral_chat" {
        json!([{"role": "user", "content": format!("You are terse.\n\n{user_text}")}])
    } else {
        json!([
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": user_text}
        ])
    };
    let mut all = head.as_array().cloned().unwrap_or_default();
    all.extend(tail.as_array().cloned().unwrap_or_default());
    Value::Array(all)
}

fn tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}])
}

#[test]
fn request_bodies_for_every_formatter_and_api_type() -> TestResult {
    for (tag, api_type) in CASES {
        let server = MockServer::start();
        let params = json!({"temperature": 0.3, "tools": tools(), "tool_choice": "auto"});
        let expected = request_body(api_type, every_role_wire(tag, SPECIAL), params);
        let mock = server.mock(|when, then| {
            when.method(POST).path(path_for(api_type)).json_body(expected);
            then.status(200).json_body(reply_body(api_type, SPECIAL));
        });
        let client = AzureMlChatOnlineEndpoint::builder()
            .endpoint_url(server.url(path_for(api_type)))
            .api_type(api_type)
            .api_key(KEY)
            .formatter_arc(formatter(tag)?)
            .model_kwarg("temperature", 0.3)
            .build()?;
        let options = CallOptions::new()
            .param("tools", tools())
            .param("tool_choice", "auto");
        let reply = client.invoke_with(&every_role(SPECIAL), &options)?;
        mock.assert();
        assert_eq!(
            reply.message.content.as_deref(),
            Some(SPECIAL),
            "{tag} {api_type}"
        );
        assert_eq!(reply.message.role, Role::Assistant, "{tag} {api_type}");
        // The call's parameters did not stick to the client.
        assert_eq!(
            Value::Object(client.config().model_kwargs.clone()),
            json!({"temperature": 0.3})
        );
    }
    Ok(())
}

#[test]
fn special_characters_reach_the_model_encoded_once() -> TestResult {
    for (tag, api_type) in CASES {
        let server = MockServer::start();
        let messages = json!([{"role": "user", "content": SPECIAL}]);
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path(path_for(api_type))
                .json_body(request_body(api_type, messages, json!({})))
                // Encoded once by the serializer: one backslash before the quote, none doubled.
                .body_includes(r#"quote \" backslash \\ slash"#)
                .body_includes(r#"newline \n tab \t cr \r nul \u0000"#);
            then.status(200).json_body(reply_body(api_type, SPECIAL));
        });
        let reply = client(&server, tag, api_type)?.invoke(&[ChatMessage::user(SPECIAL)])?;
        mock.assert();
        assert_eq!(reply.message.text(), SPECIAL, "{tag} {api_type}");
    }
    Ok(())
}

#[test]
fn headers_by_api_type_and_deployment() -> TestResult {
    for api_type in [ApiType::Serverless, ApiType::Dedicated] {
        for deployment in [Some("green"), None] {
            let server = MockServer::start();
            let mock = server.mock(|when, then| {
                let when = when
                    .method(POST)
                    .path(path_for(api_type))
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .header(
                        "user-agent",
                        concat!("azureml-endpoint-rs/", env!("CARGO_PKG_VERSION")),
                    );
                let when = match api_type {
                    ApiType::Serverless => when.header("api-key", KEY),
                    _ => when.header_missing("api-key"),
                };
                match deployment {
                    Some(name) => when.header("azureml-model-deployment", name),
                    None => when.header_missing("azureml-model-deployment"),
                };
                then.status(200).json_body(reply_body(api_type, "ok"));
            });
            let mut builder = AzureMlChatOnlineEndpoint::builder()
                .endpoint_url(server.url(path_for(api_type)))
                .api_type(api_type)
                .api_key(KEY);
            if let Some(name) = deployment {
                builder = builder.deployment_name(name);
            }
            let reply = builder.build()?.invoke(&[ChatMessage::user("Hi")])?;
            assert_eq!(reply.message.text(), "ok");
            mock.assert();
        }
    }
    Ok(())
}

#[test]
fn reply_keeps_a_non_assistant_role_finish_reason_logprobs_usage_and_request_id() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH);
        then.status(200)
            .header("x-ms-request-id", "req-chat-7")
            .json_body(json!({
                "id": "cmpl-1",
                "choices": [{
                    "index": 0,
                    "message": {"role": "critic", "content": "  Looks fine.\n"},
                    "finish_reason": "length",
                    "logprobs": {"content": [{"token": "Looks", "logprob": -0.1}]}
                }],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
            }));
    });
    let reply =
        client(&server, "custom_openai_chat", ApiType::Serverless)?.invoke(&[ChatMessage::user("Review")])?;
    mock.assert();
    assert_eq!(reply.message.role, Role::Other("critic".to_owned()));
    assert_eq!(
        reply.message.content.as_deref(),
        Some("  Looks fine.\n"),
        "not trimmed"
    );
    assert_eq!(reply.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        reply.logprobs,
        Some(json!({"content": [{"token": "Looks", "logprob": -0.1}]}))
    );
    assert_eq!(reply.usage, Some(Usage::new(12, 3, 15)));
    assert_eq!(reply.request_id.as_deref(), Some("req-chat-7"));
    Ok(())
}

#[test]
fn tool_calls_with_null_content_are_returned() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH);
        then.status(200).json_body(json!({
            "choices": [{
                "message": {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"rust\"}"}},
                    {"id": "call_10", "type": "function", "function": {"name": "clock", "arguments": "{}"}}
                ]},
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}
        }));
    });
    let reply =
        client(&server, "mistral_chat", ApiType::Serverless)?.invoke(&[ChatMessage::user("Look it up")])?;
    mock.assert();
    assert_eq!(reply.message.content, None);
    assert_eq!(reply.message.text(), "");
    assert_eq!(
        reply.message.tool_calls,
        vec![
            ToolCall::function("call_9", "lookup", r#"{"q":"rust"}"#),
            ToolCall::function("call_10", "clock", "{}"),
        ]
    );
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(reply.usage, Some(Usage::new(20, 8, 28)));
    Ok(())
}

#[test]
fn tool_follow_up_round_trip() -> TestResult {
    let server = MockServer::start();
    let question = json!({"role": "user", "content": "Weather in Paris?"});
    let call = json!({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
    let first = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .json_body(json!({"messages": [question], "tools": tools()}));
        then.status(200).json_body(json!({"choices": [{
            "message": {"role": "assistant", "content": null, "tool_calls": [call]},
            "finish_reason": "tool_calls"
        }]}));
    });
    let second = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).json_body(json!({
            "messages": [
                question,
                {"role": "assistant", "content": null, "tool_calls": [call]},
                {"role": "tool", "content": "{\"temp_c\":21}", "tool_call_id": "call_1"}
            ],
            "tools": tools()
        }));
        then.status(200).json_body(json!({"choices": [{
            "message": {"role": "assistant", "content": "It is 21 °C in Paris."},
            "finish_reason": "stop"
        }]}));
    });

    let client = client(&server, "custom_openai_chat", ApiType::Serverless)?;
    let options = CallOptions::new().param("tools", tools());
    let mut conversation = vec![ChatMessage::user("Weather in Paris?")];
    let reply = client.invoke_with(&conversation, &options)?;
    let asked = reply.message.tool_calls.first().ok_or("expected a tool call")?;
    assert_eq!(asked.function.name, "get_weather");
    let answer = ChatMessage::tool(asked.id.clone(), r#"{"temp_c":21}"#);
    conversation.push(reply.message);
    conversation.push(answer);
    let reply = client.invoke_with(&conversation, &options)?;

    first.assert();
    second.assert();
    assert_eq!(reply.message.text(), "It is 21 °C in Paris.");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    Ok(())
}

#[test]
fn mistral_joins_a_leading_system_message_with_a_blank_line() -> TestResult {
    for api_type in [ApiType::Serverless, ApiType::Dedicated] {
        let server = MockServer::start();
        let messages = json!([
            {"role": "user", "content": "Be brief.\n\nHi"},
            {"role": "assistant", "content": "Yo"},
            {"role": "user", "content": "More"}
        ]);
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path(path_for(api_type))
                .json_body(request_body(api_type, messages, json!({})));
            then.status(200).json_body(reply_body(api_type, "Sure."));
        });
        let conversation = [
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Yo"),
            ChatMessage::user("More"),
        ];
        let reply = client(&server, "mistral_chat", api_type)?.invoke(&conversation)?;
        mock.assert();
        assert_eq!(reply.message.text(), "Sure.", "{api_type}");
    }
    Ok(())
}

#[test]
fn mistral_sends_a_system_only_conversation_as_user() -> TestResult {
    for api_type in [ApiType::Serverless, ApiType::Dedicated] {
        let server = MockServer::start();
        let messages = json!([{"role": "user", "content": "Say hello."}]);
        let mock = server.mock(|when, then| {
            when.method(POST)
                .path(path_for(api_type))
                .json_body(request_body(api_type, messages, json!({})));
            then.status(200).json_body(reply_body(api_type, "Hello."));
        });
        let reply =
            client(&server, "mistral_chat", api_type)?.invoke(&[ChatMessage::system("Say hello.")])?;
        mock.assert();
        assert_eq!(reply.message.text(), "Hello.", "{api_type}");
    }
    Ok(())
}

#[test]
fn custom_openai_chat_keeps_the_system_message() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).json_body(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"}
        ]}));
        then.status(200).json_body(reply_body(ApiType::Serverless, "Yo"));
    });
    let reply = client(&server, "custom_openai_chat", ApiType::Serverless)?
        .invoke(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")])?;
    mock.assert();
    assert_eq!(reply.message.text(), "Yo");
    Ok(())
}

#[test]
fn empty_conversation_is_an_input_error_and_sends_nothing() -> TestResult {
    for (tag, api_type) in CASES {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.any_request();
            then.status(200).json_body(reply_body(api_type, "unused"));
        });
        let error = client(&server, tag, api_type)?
            .invoke(&[])
            .err()
            .ok_or("expected an error")?;
        assert!(matches!(error, Error::Input(_)), "{tag} {api_type}: {error:?}");
        assert_eq!(
            error.to_string(),
            "invalid input: the conversation is empty: pass at least one message"
        );
        mock.assert_calls(0);
    }
    Ok(())
}

#[test]
fn wrong_shape_responses_are_response_errors() -> TestResult {
    let serverless = [
        "{}",
        "[]",
        "null",
        "not json",
        "",
        r#"{"output": "a dedicated answer"}"#,
        r#"{"choices": []}"#,
        r#"{"choices": [{"text": "a completion"}]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": 42}}]}"#,
        r#"{"choices": [{"message": {"content": "no role"}}]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": null}}]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": 3}]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": "x"}}], "usage": {"total_tokens": "many"}}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": 1}]}}]}"#,
    ];
    let dedicated = [
        "{}",
        "[]",
        "not json",
        r#"{"output": 5}"#,
        r#"{"output": null}"#,
        r#"{"output": ["a"]}"#,
        r#"{"choices": [{"message": {"role": "assistant", "content": "serverless"}}]}"#,
    ];
    let cases = serverless
        .iter()
        .map(|body| (ApiType::Serverless, *body))
        .chain(dedicated.iter().map(|body| (ApiType::Dedicated, *body)));
    for (api_type, body) in cases {
        for tag in ["custom_openai_chat", "mistral_chat"] {
            let server = MockServer::start();
            let mock = server.mock(|when, then| {
                when.method(POST).path(path_for(api_type));
                then.status(200).body(body);
            });
            let error = client(&server, tag, api_type)?
                .invoke(&[ChatMessage::user("Hi")])
                .err()
                .ok_or_else(|| format!("{tag} {api_type} accepted {body}"))?;
            mock.assert();
            match &error {
                Error::Response(e) => {
                    assert_eq!(e.formatter, tag);
                    assert_eq!(e.api_type, api_type);
                    assert!(
                        error
                            .to_string()
                            .ends_with("(is this the right formatter for this model?)"),
                        "{error}"
                    );
                }
                other => return Err(format!("{tag} {api_type} {body}: {other:?}").into()),
            }
        }
    }
    Ok(())
}

#[test]
fn wrong_shape_error_names_formatter_api_type_expectation_and_body() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH);
        then.status(200).body(r#"{"output": "a dedicated answer"}"#);
    });
    let error = client(&server, "custom_openai_chat", ApiType::Serverless)?
        .invoke(&[ChatMessage::user("Hi")])
        .err()
        .ok_or("expected an error")?;
    mock.assert();
    assert_eq!(
        error.to_string(),
        "unexpected response for formatter `custom_openai_chat` on a serverless endpoint: expected \
         choices[0].message with a role and string or null content, got \"{\\\"output\\\": \\\"a \
         dedicated answer\\\"}\" (is this the right formatter for this model?)"
    );

    let server = MockServer::start();
    let long = format!(r#"{{"output": 5, "pad": "{}"}}"#, "é".repeat(400));
    let mock = server.mock(|when, then| {
        when.method(POST).path("/score");
        then.status(200).body(&long);
    });
    let error = client(&server, "mistral_chat", ApiType::Dedicated)?
        .invoke(&[ChatMessage::user("Hi")])
        .err()
        .ok_or("expected an error")?;
    mock.assert();
    match error {
        Error::Response(e) => {
            let expected: String = long.chars().take(200).collect::<String>() + "…";
            assert_eq!(e.excerpt, expected);
        }
        other => return Err(format!("{other:?}").into()),
    }
    Ok(())
}

fn build_error(url: &str, api_type: ApiType) -> Result<String, Box<dyn std::error::Error>> {
    let error = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(api_type)
        .api_key(KEY)
        .build()
        .err()
        .ok_or_else(|| format!("{url} was accepted for {api_type}"))?;
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    Ok(error.to_string())
}

#[test]
fn serverless_chat_urls_must_end_with_chat_completions() -> TestResult {
    const HOST: &str = "https://my-model.eastus2.models.ai.azure.com";
    assert_eq!(
        build_error(&format!("{HOST}/v1/completions"), ApiType::Serverless)?,
        format!(
            "invalid `endpoint_url` (argument): \"{HOST}/v1/completions\": for api type `serverless` \
             the chat client needs a path ending with /chat/completions \
             (https://<name>.<region>.models.ai.azure.com/v1/chat/completions); this is a completions \
             URL: use AzureMlOnlineEndpoint"
        )
    );
    assert_eq!(
        build_error(&format!("{HOST}/score"), ApiType::Serverless)?,
        format!(
            "invalid `endpoint_url` (argument): \"{HOST}/score\": for api type `serverless` the chat \
             client needs a path ending with /chat/completions \
             (https://<name>.<region>.models.ai.azure.com/v1/chat/completions); this path fits api \
             type `dedicated`"
        )
    );
    assert_eq!(
        build_error(&format!("{HOST}/v1/chat/completions"), ApiType::Dedicated)?,
        format!(
            "invalid `endpoint_url` (argument): \"{HOST}/v1/chat/completions\": for api type \
             `dedicated` the path must end with /score \
             (https://<name>.<region>.inference.ml.azure.com/score); this path fits api type \
             `serverless`"
        )
    );
    for path in [
        "/v1/chat/completions",
        "/chat/completions",
        "/models/chat/completions",
        "/v1/chat/completions/",
        "/v1/chat/completions?api-version=2024-05-01-preview",
    ] {
        AzureMlChatOnlineEndpoint::builder()
            .endpoint_url(format!("{HOST}{path}"))
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .build()
            .map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

#[test]
fn the_query_string_is_kept_and_a_trailing_slash_dropped() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/models/chat/completions")
            .query_param("api-version", "2024-05-01-preview");
        then.status(200).json_body(reply_body(ApiType::Serverless, "ok"));
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/models/chat/completions/?api-version=2024-05-01-preview"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    assert_eq!(client.invoke(&[ChatMessage::user("Hi")])?.message.text(), "ok");
    mock.assert();
    Ok(())
}

#[test]
fn batches_keep_order_and_each_outcome() -> TestResult {
    let server = MockServer::start();
    let good = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).body_includes("\"good");
        then.status(200)
            .json_body(reply_body(ApiType::Serverless, "fine"));
    });
    let bad = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).body_includes("\"bad");
        then.status(400).json_body(json!({"error": {"message": "nope"}}));
    });
    let client = client(&server, "custom_openai_chat", ApiType::Serverless)?;
    let conversations = vec![
        vec![ChatMessage::user("good 1")],
        vec![ChatMessage::user("bad")],
        vec![ChatMessage::user("good 2")],
    ];
    let results = client.generate(&conversations, &CallOptions::new().max_concurrency(2));
    let summary: Vec<Result<String, Option<u16>>> = results
        .into_iter()
        .map(|r| r.map(|c| c.message.text().to_owned()).map_err(|e| e.status()))
        .collect();
    assert_eq!(
        summary,
        vec![Ok("fine".to_owned()), Err(Some(400)), Ok("fine".to_owned())]
    );
    good.assert_calls(2);
    bad.assert_calls(1);
    Ok(())
}

#[test]
fn the_key_never_appears_in_chat_debug_or_errors() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH);
        then.status(200).body("{}");
    });
    let client = client(&server, "custom_openai_chat", ApiType::Serverless)?;
    let error = client
        .invoke(&[ChatMessage::user("Hi")])
        .err()
        .ok_or("expected an error")?;
    mock.assert();
    let config_error = build_error(
        "https://my-model.eastus2.models.ai.azure.com/v1/completions",
        ApiType::Serverless,
    )?;
    for shown in [
        format!("{client:?}"),
        format!("{error:?}"),
        error.to_string(),
        config_error,
    ] {
        assert!(!shown.contains(KEY), "key leaked in {shown}");
    }
    Ok(())
}
