//! Conformance against a real OpenAI-compatible server: the LiteLLM proxy 1.106.2 serving the
//! mock models of `tests/peer/litellm.yaml` (fixed replies, a tool call, and models that fail
//! with 429 and 500); any key but tests/support's KEY is answered 401 (`tests/peer/litellm_auth.py`).
//!
//! `scripts/peer-tests.sh` starts the proxy, sets `AZUREML_PEER_OPENAI_URL` (scheme, host and
//! port) and runs these tests; plain `cargo test` lists them as ignored. Run by hand, a test
//! without `AZUREML_PEER_OPENAI_URL` fails.

use crate::support::TempDir;
use crate::support::KEY;
use azureml_endpoint::{
    error::HttpError, ApiType, AzureMlChatOnlineEndpoint, AzureMlChatOnlineEndpointBuilder,
    AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder, CallOptions, ChatMessage, ContentPart, Error,
    ResponseFormat, Result, Role, StreamChunk, ToolCall, Usage,
};
use serde_json::json;

/// `peer-chat`'s `mock_response` in tests/peer/litellm.yaml.
const CHAT_REPLY: &str = "Hello from LiteLLM: quote \" backslash \\ 中文 🦀";
/// `peer-completion`'s `mock_response`.
const COMPLETION_TEXT: &str = "Once upon a time";
/// The `api-version` Azure OpenAI clients send; LiteLLM's Azure routes accept and ignore it.
const API_VERSION: &str = "2024-10-21";
/// LiteLLM's mock usage for a whole (not streamed) answer, whatever the prompt.
fn mock_usage() -> Usage {
    Usage::new(10, 20, 30)
}

fn base_url() -> String {
    match std::env::var("AZUREML_PEER_OPENAI_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "AZUREML_PEER_OPENAI_URL is not set: these tests need the LiteLLM proxy with \
             tests/peer/litellm.yaml; run scripts/peer-tests.sh, which starts it and sets the URL"
        ),
    }
}

/// A serverless chat client on `path` of the proxy; `model` goes in the body (OpenAI routes).
fn chat_at(path: &str, model: Option<&str>) -> AzureMlChatOnlineEndpointBuilder {
    let builder = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(format!("{}{path}", base_url()))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .max_retries(1);
    match model {
        Some(model) => builder.model_kwarg("model", model),
        None => builder,
    }
}

fn chat(model: &str) -> AzureMlChatOnlineEndpointBuilder {
    chat_at("/v1/chat/completions", Some(model))
}

fn completions_at(path: &str, model: Option<&str>) -> AzureMlOnlineEndpointBuilder {
    let builder = AzureMlOnlineEndpoint::builder()
        .endpoint_url(format!("{}{path}", base_url()))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .max_retries(1);
    match model {
        Some(model) => builder.model_kwarg("model", model),
        None => builder,
    }
}

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::system("Answer briefly."), ChatMessage::user(text)]
}

fn http_error<T: std::fmt::Debug>(result: Result<T>) -> Box<HttpError> {
    match result {
        Err(Error::Http(http)) => http,
        other => panic!("expected Error::Http, got {other:?}"),
    }
}

fn collect(stream: impl Iterator<Item = Result<StreamChunk>>) -> Vec<StreamChunk> {
    stream
        .collect::<Result<_>>()
        .unwrap_or_else(|e| panic!("stream failed: {e}"))
}

fn joined(chunks: &[StreamChunk]) -> String {
    chunks.iter().map(|c| c.text.as_str()).collect()
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn chat_on_the_openai_routes_returns_the_reply_with_usage() -> Result<()> {
    for path in ["/v1/chat/completions", "/chat/completions"] {
        let reply = chat_at(path, Some("peer-chat")).build()?.invoke(&user("Hi"))?;
        assert_eq!(reply.message, ChatMessage::assistant(CHAT_REPLY), "{path}");
        assert_eq!(reply.finish_reason.as_deref(), Some("stop"), "{path}");
        assert_eq!(reply.usage, Some(mock_usage()), "{path}");
        assert_eq!(reply.logprobs, None, "{path}");
        // LiteLLM names its requests `x-litellm-call-id`, none of the ids Azure sends.
        assert_eq!(reply.request_id, None, "{path}");
    }
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn chat_on_the_azure_openai_deployment_route() -> Result<()> {
    let path = format!("/openai/deployments/peer-chat/chat/completions?api-version={API_VERSION}");
    let reply = chat_at(&path, None).build()?.invoke(&user("Hi"))?;
    assert_eq!(reply.message, ChatMessage::assistant(CHAT_REPLY));
    assert_eq!(reply.usage, Some(mock_usage()));
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn completions_on_the_openai_and_azure_routes() -> Result<()> {
    let azure = format!("/openai/deployments/peer-completion/completions?api-version={API_VERSION}");
    for (path, model) in [
        ("/v1/completions", Some("peer-completion")),
        (azure.as_str(), None),
    ] {
        let llm = completions_at(path, model).model_kwarg("max_tokens", 5).build()?;
        let completion = llm.invoke("Tell me a story")?;
        assert_eq!(completion.text, COMPLETION_TEXT, "{path}");
        assert_eq!(completion.finish_reason.as_deref(), Some("stop"), "{path}");
        assert_eq!(completion.usage, Some(mock_usage()), "{path}");
        // LiteLLM sends `"logprobs": null`: nothing, not a JSON null passed on.
        assert_eq!(completion.logprobs, None, "{path}");
    }
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn chat_stream_yields_the_reply_then_usage() -> Result<()> {
    let client = chat("peer-chat").build()?;
    let options = CallOptions::new().param("stream_options", json!({"include_usage": true}));
    let chunks = collect(client.stream_with(&user("Hi"), &options)?);
    assert_eq!(joined(&chunks), CHAT_REPLY);
    // LiteLLM's mock streams three characters an event.
    assert_eq!(
        chunks.first().map(|c| (c.text.as_str(), &c.role)),
        Some(("Hel", &Some(Role::Assistant)))
    );
    assert!(chunks.len() > 10, "one chunk per event, got {}", chunks.len());
    let finishes: Vec<_> = chunks.iter().filter_map(|c| c.finish_reason.as_deref()).collect();
    assert_eq!(finishes, ["stop"]);
    // Usage comes last, in a chunk of its own after the finish reason (choices[0].delta is {}),
    // counted by LiteLLM's bundled tokenizer (so not the mock usage of a whole answer).
    let last = chunks
        .last()
        .map(|c| (c.text.as_str(), c.finish_reason.as_deref(), c.usage));
    assert_eq!(last, Some(("", None, Some(Usage::new(15, 16, 31)))));
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn completion_stream_tolerates_events_without_text() -> Result<()> {
    let llm = completions_at("/v1/completions", Some("peer-completion")).build()?;
    let options = CallOptions::new().param("stream_options", json!({"include_usage": true}));
    let chunks = collect(llm.stream_with("Tell me a story", &options)?);
    assert_eq!(joined(&chunks), COMPLETION_TEXT);
    // The finish and usage events carry `choices: [{"index": 0, …}]` with no `text` key.
    let tail: Vec<_> = chunks
        .iter()
        .rev()
        .take(2)
        .map(|c| (c.text.as_str(), c.finish_reason.as_deref(), c.usage))
        .collect();
    assert_eq!(
        tail,
        [("", None, Some(Usage::new(11, 4, 15))), ("", Some("stop"), None)]
    );
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn tool_call_reply_and_the_tool_round_trip() -> Result<()> {
    let tools = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    }]);
    let options = CallOptions::new().param("tools", tools);
    let question = user("Weather in Paris?");
    let reply = chat("peer-tools").build()?.invoke_with(&question, &options)?;
    let call = ToolCall::function("call_peer_1", "get_weather", r#"{"city": "Paris"}"#);
    assert_eq!(reply.message.tool_calls, std::slice::from_ref(&call));
    // Unlike OpenAI and Azure (`null`, `tool_calls`), LiteLLM's mock sends `""` and `stop`.
    assert_eq!(reply.message.content.as_deref(), Some(""));
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));

    // The assistant's call and the tool's answer go back in LiteLLM's accepted shape.
    let mut conversation = question;
    conversation.push(ChatMessage::assistant_tool_calls(vec![call]));
    conversation.push(ChatMessage::tool("call_peer_1", r#"{"celsius": 21}"#));
    let answer = chat("peer-chat").build()?.invoke_with(&conversation, &options)?;
    assert_eq!(answer.message, ChatMessage::assistant(CHAT_REPLY));
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn wrong_key_is_401_not_retried() -> Result<()> {
    let wrong = "sk-wrong-key-7c1d";
    let result = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(format!("{}/v1/chat/completions", base_url()))
        .api_type(ApiType::Serverless)
        .api_key(wrong)
        .model_kwarg("model", "peer-chat")
        .build()?
        .invoke(&user("Hi"));
    let err = http_error(result);
    assert_eq!(
        (err.status, err.message.as_deref(), err.attempts),
        (401, Some("Authentication Error: invalid API key"), 1)
    );
    assert_eq!(
        err.to_string(),
        "endpoint answered HTTP 401 (key or token rejected: check AZUREML_ENDPOINT_API_KEY): \
         Authentication Error: invalid API key"
    );
    assert!(!format!("{err:?}").contains(wrong));
    Ok(())
}

/// LiteLLM's message for a mock error of `model`, as its proxy words it.
fn litellm_failure(error: &str, model: &str) -> String {
    format!(
        "{error}\n\nLiteLLM: model group '{model}' failed with the error above. No fallback was attempted."
    )
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn rate_limit_429_is_retried_then_surfaced() -> Result<()> {
    let err = http_error(chat("peer-429").build()?.invoke(&user("Hi")));
    let message = litellm_failure(
        "litellm.RateLimitError: this is a mock rate limit error",
        "peer-429",
    );
    assert_eq!(
        (err.status, err.message.as_deref(), err.attempts, err.retry_after),
        (429, Some(message.as_str()), 2, None)
    );
    // Streaming fails the same way before the first chunk.
    let err = http_error(chat("peer-429").build()?.stream(&user("Hi")).map(|_| ()));
    assert_eq!((err.status, err.attempts), (429, 2));
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn server_error_500_is_retried_then_surfaced() -> Result<()> {
    let err = http_error(chat("peer-500").build()?.invoke(&user("Hi")));
    let message = litellm_failure(
        "litellm.InternalServerError: this is a mock internal server error",
        "peer-500",
    );
    assert_eq!(
        (err.status, err.message.as_deref(), err.attempts),
        (500, Some(message.as_str()), 2)
    );
    assert_eq!(
        err.to_string(),
        format!("endpoint answered HTTP 500 (server error): {message}; after 2 attempts")
    );
    Ok(())
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn status_529_without_a_reason_phrase_is_surfaced_not_retried() -> Result<()> {
    let message = litellm_failure(
        "litellm.APIError: APIError: OpenAIException - litellm.MockException: This is a mock error raised mid-stream",
        "peer-529",
    );
    let err = http_error(chat("peer-529").build()?.invoke(&user("Hi")));
    assert_eq!(
        (err.status, err.message.as_deref(), err.attempts),
        (529, Some(message.as_str()), 1)
    );
    assert_eq!(
        err.to_string(),
        format!("endpoint answered HTTP 529 (server error): {message}")
    );
    // A stream gets it before its first chunk, without the proxy's suffix.
    let err = http_error(chat("peer-529").build()?.stream(&user("Hi")).map(|_| ()));
    assert_eq!(
        (err.status, err.message.as_deref(), err.attempts),
        (
            529,
            Some(
                "litellm.APIError: APIError: OpenAIException - litellm.MockException: \
                 This is a mock error raised mid-stream"
            ),
            1
        )
    );
    Ok(())
}

/// A 1x1 PNG, the smallest image LiteLLM's token counter reads the size of.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0x50, 0x0f, 0x00, 0x04,
    0x85, 0x01, 0x80, 0x84, 0xa9, 0x8c, 0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];
/// `PNG_1X1` in base64.
const PNG_1X1_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// The prompt tokens LiteLLM counts for `messages` (streamed answers are counted by its tokenizer).
fn prompt_tokens(client: &AzureMlChatOnlineEndpoint, messages: &[ChatMessage]) -> Result<u64> {
    let options = CallOptions::new().param("stream_options", json!({"include_usage": true}));
    let chunks = collect(client.stream_with(messages, &options)?);
    assert_eq!(joined(&chunks), CHAT_REPLY);
    Ok(chunks
        .iter()
        .find_map(|c| c.usage)
        .unwrap_or_else(|| panic!("no usage in {chunks:?}"))
        .prompt_tokens)
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn image_parts_are_read_as_images() -> Result<()> {
    let dir = TempDir::new("peer-serverless");
    let path = dir.write("pixel.png", PNG_1X1);
    let from_file = ContentPart::image_file(&path);
    drop(dir);

    let client = chat("peer-chat").build()?;
    let question = "What is in this picture?";
    let text_only = prompt_tokens(&client, &[ChatMessage::user(question)])?;
    // OpenAI's image pricing, which LiteLLM applies to the decoded image: 85 tokens at low
    // detail (LiteLLM's default), 85 + 170 per 512px tile at high detail.
    let with = |part: ContentPart| prompt_tokens(&client, &[ChatMessage::user(question).with_part(part)]);
    assert_eq!(with(from_file?)? - text_only, 85);
    let data_url = ContentPart::image_url(format!("data:image/png;base64,{PNG_1X1_BASE64}"))?;
    assert_eq!(with(data_url.clone().with_detail("high"))? - text_only, 255);
    assert_eq!(with(data_url.clone().with_detail("low"))? - text_only, 85);

    // A whole answer accepts the parts too.
    let reply = client.invoke(&[ChatMessage::user(question).with_part(data_url)])?;
    assert_eq!(reply.message, ChatMessage::assistant(CHAT_REPLY));
    Ok(())
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Weather {
    city: String,
    celsius: f64,
}

#[test]
#[ignore = "needs the LiteLLM proxy: run scripts/peer-tests.sh"]
fn response_format_is_accepted_and_the_reply_read_as_json() -> Result<()> {
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
        "required": ["city", "celsius"],
        "additionalProperties": false
    });
    let formats = [
        ResponseFormat::json_object(),
        ResponseFormat::json_schema("weather", schema).strict(true),
    ];
    let question = user("The weather in Paris, as JSON.");
    for format in formats {
        let options = CallOptions::new().response_format(format.clone());
        let reply = chat("peer-json").build()?.invoke_with(&question, &options)?;
        let weather: Weather = reply.json()?;
        assert_eq!(
            weather,
            Weather {
                city: "Paris".to_owned(),
                celsius: 21.5
            },
            "{format:?}"
        );
    }
    // A reply that is not JSON is a typed error naming what failed, not a panic or a default.
    let options = CallOptions::new().response_format(ResponseFormat::json_object());
    let reply = chat("peer-chat").build()?.invoke_with(&question, &options)?;
    match reply.json::<Weather>() {
        Err(Error::ReplyJson(e)) => assert_eq!(
            (e.what.as_str(), e.reason.as_str(), e.excerpt.as_str()),
            ("the reply", "expected value at line 1 column 1", CHAT_REPLY)
        ),
        other => panic!("expected Error::ReplyJson, got {other:?}"),
    }
    Ok(())
}
