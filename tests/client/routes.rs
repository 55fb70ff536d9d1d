//! Azure OpenAI-style routes work as serverless URLs, the
//! query (`api-version`) kept: `…/openai/deployments/<name>/chat/completions?api-version=…`, the
//! unified `…/openai/v1/chat/completions`, and their completions equivalents.

use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, ChatMessage};
use httpmock::prelude::*;
use serde_json::json;

use crate::support::KEY;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const VERSION: &str = "2024-10-21";

#[test]
fn chat_on_deployment_and_unified_routes() -> TestResult {
    for (path, query) in [
        ("/openai/deployments/gpt-4o-mini/chat/completions", Some(VERSION)),
        ("/openai/v1/chat/completions", None),
    ] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            let when = when
                .method(POST)
                .path(path)
                .header("api-key", KEY)
                .header("authorization", format!("Bearer {KEY}"))
                .json_body(json!({"messages": [{"role": "user", "content": "Hi"}]}));
            match query {
                Some(version) => when.query_param("api-version", version),
                None => when.query_param_missing("api-version"),
            };
            then.status(200)
                .json_body(json!({"choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]}));
        });
        let url = match query {
            Some(version) => format!("{}?api-version={version}", server.url(path)),
            None => server.url(path),
        };
        let chat = AzureMlChatOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .build()?;
        assert_eq!(
            chat.invoke(&[ChatMessage::user("Hi")])?.message.text(),
            "Hello",
            "{path}"
        );
        mock.assert();
    }
    Ok(())
}

#[test]
fn completions_on_deployment_and_unified_routes() -> TestResult {
    for (path, query) in [
        (
            "/openai/deployments/gpt-35-turbo-instruct/completions",
            Some(VERSION),
        ),
        ("/openai/v1/completions", None),
    ] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            let when = when
                .method(POST)
                .path(path)
                .header("api-key", KEY)
                .json_body(json!({"prompt": "Once"}));
            match query {
                Some(version) => when.query_param("api-version", version),
                None => when.query_param_missing("api-version"),
            };
            then.status(200)
                .json_body(json!({"choices": [{"text": " upon", "finish_reason": "length"}]}));
        });
        let url = match query {
            Some(version) => format!("{}?api-version={version}", server.url(path)),
            None => server.url(path),
        };
        let llm = AzureMlOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .build()?;
        assert_eq!(llm.invoke("Once")?.text, " upon", "{path}");
        mock.assert();
    }
    Ok(())
}

#[test]
fn streaming_on_the_deployment_route_keeps_the_api_version() -> TestResult {
    let path = "/openai/deployments/gpt-4o-mini/chat/completions";
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(path)
            .query_param("api-version", VERSION)
            .json_body(json!({"messages": [{"role": "user", "content": "Hi"}], "stream": true}));
        then.status(200).header("content-type", "text/event-stream").body(concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n"
        ));
    });
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(format!("{}?api-version={VERSION}", server.url(path)))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    let mut text = String::new();
    for chunk in chat.stream(&[ChatMessage::user("Hi")])? {
        text.push_str(&chunk?.text);
    }
    assert_eq!(text, "Hello");
    mock.assert();
    Ok(())
}

/// Gateways serving many models on one URL pick one by the body's `"model"`: it is a model
/// parameter like any other (`model_kwargs`, saved and loaded with them; `--param model=…` in
/// the CLI), so no separate setting is needed.
#[test]
fn the_model_for_a_many_model_gateway_goes_in_the_body() -> TestResult {
    let path = "/openai/v1/chat/completions";
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(path).json_body(json!({
            "messages": [{"role": "user", "content": "Hi"}],
            "model": "Phi-4",
            "temperature": 0.2
        }));
        then.status(200)
            .json_body(json!({"choices": [{"message": {"role": "assistant", "content": "Hello"}}]}));
    });
    let kwargs = json!({"model": "Phi-4", "temperature": 0.2});
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(path))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model_kwargs(kwargs.as_object().cloned().unwrap_or_default())
        .build()?;
    assert_eq!(chat.invoke(&[ChatMessage::user("Hi")])?.message.text(), "Hello");
    mock.assert();
    Ok(())
}
