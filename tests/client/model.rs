//! The `model` setting: the body's `"model"` on serverless gateways that serve many models from
//! one URL; `model_kwargs` and per-call parameters win over it; refused on dedicated endpoints;
//! saved and loaded in JSON and YAML (`--model` in the CLI: tests/cli/model.rs).

use crate::support::TempDir;
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatMessage, Error, LoadOptions,
    Registry,
};
use httpmock::prelude::*;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/openai/v1/chat/completions";

fn reply() -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]})
}

fn chat_builder(server: &MockServer) -> azureml_endpoint::AzureMlChatOnlineEndpointBuilder {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .model("gpt-4o-mini")
}

#[test]
fn the_body_carries_the_model_for_chat_completions_and_streams() -> TestResult {
    let server = MockServer::start();
    let chat_mock = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .json_body(json!({"messages": [{"role": "user", "content": "Hi"}], "model": "gpt-4o-mini"}));
        then.status(200).json_body(reply());
    });
    let stream_mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).json_body(json!({
            "messages": [{"role": "user", "content": "Hi"}], "model": "gpt-4o-mini", "stream": true
        }));
        then.status(200)
            .header("content-type", "text/event-stream")
            .body("data: {\"choices\":[{\"delta\":{\"content\":\"Hi!\"}}]}\n\ndata: [DONE]\n\n");
    });
    let completions_mock = server.mock(|when, then| {
        when.method(POST)
            .path("/openai/v1/completions")
            .json_body(json!({"prompt": "Once", "model": "gpt-35-turbo-instruct"}));
        then.status(200)
            .json_body(json!({"choices": [{"text": " upon", "finish_reason": "stop"}]}));
    });
    let chat = chat_builder(&server).build()?;
    assert_eq!(chat.config().model.as_deref(), Some("gpt-4o-mini"));
    let messages = [ChatMessage::user("Hi")];
    assert_eq!(chat.invoke(&messages)?.message.text(), "Hello");
    let streamed: Result<String, Error> = chat.stream(&messages)?.map(|c| c.map(|c| c.text)).collect();
    assert_eq!(streamed?, "Hi!");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/openai/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .model("gpt-35-turbo-instruct")
        .build()?;
    assert_eq!(llm.invoke("Once")?.text, " upon");
    chat_mock.assert();
    stream_mock.assert();
    completions_mock.assert();
    Ok(())
}

#[test]
fn model_kwargs_and_call_parameters_win_over_the_setting() -> TestResult {
    let server = MockServer::start();
    let from_kwargs = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .json_body(json!({"messages": [{"role": "user", "content": "Hi"}], "model": "from-kwargs"}));
        then.status(200).json_body(reply());
    });
    let from_call = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .json_body(json!({"messages": [{"role": "user", "content": "Hi"}], "model": "from-call"}));
        then.status(200).json_body(reply());
    });
    let messages = [ChatMessage::user("Hi")];
    let mut kwargs = serde_json::Map::new();
    kwargs.insert("model".into(), "from-kwargs".into());
    let chat = chat_builder(&server).model_kwargs(kwargs).build()?;
    chat.invoke(&messages)?;
    chat_builder(&server)
        .build()?
        .invoke_with(&messages, &CallOptions::new().param("model", "from-call"))?;
    from_kwargs.assert();
    from_call.assert();
    Ok(())
}

#[test]
fn dedicated_and_empty_are_refused_at_build() {
    let dedicated = AzureMlOnlineEndpoint::builder()
        .endpoint_url("https://e.eastus2.inference.ml.azure.com/score")
        .api_key("k")
        .model("gpt2")
        .build();
    assert_eq!(
        dedicated.map(|_| ()).map_err(|e| e.to_string()),
        Err(
            "invalid `model` (argument): `model` applies to serverless endpoints; a dedicated \
             endpoint serves the model its deployment runs: remove `model`, or pin a deployment with \
             `deployment_name`"
                .to_owned()
        )
    );
    let empty = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("https://m.eastus2.models.ai.azure.com/v1/chat/completions")
        .api_type(ApiType::Serverless)
        .api_key("k")
        .model(" ")
        .build();
    assert_eq!(
        empty.map(|_| ()).map_err(|e| e.to_string()),
        Err(
            "invalid `model` (argument): the model name is empty; give a name or leave \
             `model` unset"
                .to_owned()
        )
    );
}

#[test]
fn saved_and_loaded_in_json_and_yaml() -> TestResult {
    let dir = TempDir::new("chat-model");
    let server = MockServer::start();
    let chat = chat_builder(&server).build()?;
    for ext in ["json", "yaml"] {
        let path = dir.path(&format!("chat.{ext}"));
        chat.save(&path)?;
        let text = std::fs::read_to_string(&path)?;
        let line = if ext == "json" {
            "\"model\": \"gpt-4o-mini\""
        } else {
            "model: gpt-4o-mini"
        };
        assert!(text.contains(line), "{text}");
        let options = LoadOptions::new().api_key("k");
        let loaded = Registry::new().load_with(&path, &options)?.into_chat()?;
        assert_eq!(loaded.config(), chat.config(), "{ext}");
    }
    // A client without a model saves no `model` key, so files stay as Python writes them.
    let plain = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key("k")
        .build()?;
    assert_eq!(plain.to_config_map().get("model"), None);
    Ok(())
}
