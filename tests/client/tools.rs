//! Tools made easy: definitions and tool_choice on the wire, a full round trip with typed
//! arguments, and streamed tool-call pieces folded into whole calls.

use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, CallOptions, ChatMessage, Error, Tool, ToolCall, ToolCalls,
    ToolChoice,
};
use httpmock::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PATH: &str = "/v1/chat/completions";

fn client(server: &MockServer) -> Result<AzureMlChatOnlineEndpoint, Error> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(PATH))
        .api_type(ApiType::Serverless)
        .api_key("sk-tools")
        .build()
}

fn weather_tool() -> Tool {
    Tool::function(
        "get_weather",
        "Current weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

fn weather_wire() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }})
}

#[derive(Debug, PartialEq, Deserialize)]
struct WeatherArgs {
    city: String,
}

#[test]
fn tool_choice_values_on_the_wire() {
    for (choice, wire) in [
        (ToolChoice::Auto, json!("auto")),
        (ToolChoice::None, json!("none")),
        (ToolChoice::Required, json!("required")),
        (
            ToolChoice::Function("get_weather".into()),
            json!({"type": "function", "function": {"name": "get_weather"}}),
        ),
    ] {
        let options = CallOptions::new().tool_choice(choice);
        assert_eq!(options.params()["tool_choice"], wire);
    }
}

#[test]
fn a_full_tool_round_trip() -> TestResult {
    let server = MockServer::start();
    let question = json!({"role": "user", "content": "Weather in Paris?"});
    let call = json!({"id": "call_7", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
    let first = server.mock(|when, then| {
        when.method(POST).path(PATH).json_body(json!({
            "messages": [question],
            "tools": [weather_wire()],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
        }));
        then.status(200).json_body(json!({"choices": [{
            "message": {"role": "assistant", "content": null, "tool_calls": [call]},
            "finish_reason": "tool_calls"
        }]}));
    });
    let second = server.mock(|when, then| {
        when.method(POST).path(PATH).json_body(json!({
            "messages": [
                question,
                {"role": "assistant", "content": null, "tool_calls": [call]},
                {"role": "tool", "content": "{\"temp_c\":21}", "tool_call_id": "call_7"}
            ],
            "tools": [weather_wire()]
        }));
        then.status(200).json_body(json!({"choices": [{
            "message": {"role": "assistant", "content": "21 °C in Paris."}, "finish_reason": "stop"
        }]}));
    });
    let client = client(&server)?;
    let mut conversation = vec![ChatMessage::user("Weather in Paris?")];
    let options = CallOptions::new().tools([weather_tool()]);
    let reply = client.invoke_with(
        &conversation,
        &options
            .clone()
            .tool_choice(ToolChoice::Function("get_weather".into())),
    )?;
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    let calls = reply.message.tool_calls.clone();
    conversation.push(reply.message);
    for call in &calls {
        let args: WeatherArgs = call.arguments()?;
        assert_eq!(args, WeatherArgs { city: "Paris".into() });
        conversation.push(ChatMessage::tool(&call.id, r#"{"temp_c":21}"#));
    }
    let answer = client.invoke_with(&conversation, &options)?;
    assert_eq!(answer.message.text(), "21 °C in Paris.");
    first.assert();
    second.assert();
    Ok(())
}

#[test]
fn arguments_that_are_not_the_json_name_the_function() {
    let call = ToolCall::function("call_1", "get_weather", r#"{"town": "Paris"}"#);
    assert_eq!(
        call.arguments::<WeatherArgs>().unwrap_err().to_string(),
        "cannot read the arguments of tool call `get_weather` as the expected JSON: missing field \
         `city` at line 1 column 17; it starts: \"{\\\"town\\\": \\\"Paris\\\"}\""
    );
}

/// An SSE event with one tool-call piece per `(index, id, name, arguments)`.
fn delta_event(pieces: &[(usize, Option<&str>, Option<&str>, &str)]) -> String {
    let calls: Vec<Value> = pieces
        .iter()
        .map(|(index, id, name, arguments)| {
            let mut function = json!({ "arguments": arguments });
            if let Some(name) = name {
                function["name"] = json!(name);
            }
            let mut call = json!({"index": index, "function": function});
            if let Some(id) = id {
                call["id"] = json!(id);
                call["type"] = json!("function");
            }
            call
        })
        .collect();
    let chunk = json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

fn stream_body(events: &[String]) -> String {
    let finish = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]});
    format!("{}data: {finish}\n\ndata: [DONE]\n\n", events.concat())
}

fn streamed_calls(body: String) -> Result<Vec<ToolCall>, Box<dyn std::error::Error>> {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST)
            .path(PATH)
            .json_body_includes(r#"{"stream": true}"#);
        then.status(200)
            .header("content-type", "text/event-stream")
            .body(body);
    });
    let mut calls = ToolCalls::new();
    let options = CallOptions::new().tools([weather_tool()]);
    for chunk in client(&server)?.stream_with(&[ChatMessage::user("Weather?")], &options)? {
        calls.push(&chunk?);
    }
    Ok(calls.finish()?)
}

#[test]
fn deltas_split_across_many_events_fold_into_whole_calls() -> TestResult {
    let paris = r#"{"city": "Paris"}"#;
    let oslo = r#"{"city": "Oslo, Norway \"N\""}"#;
    let mut events = vec![
        delta_event(&[(0, Some("call_a"), Some("get_weather"), "")]),
        // The second call starts before the first is done; its name repeated later is kept once.
        delta_event(&[(1, Some("call_b"), Some("get_weather"), "")]),
    ];
    let (mut a, mut b) = (paris.chars(), oslo.chars());
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            break;
        }
        let mut pieces = Vec::new();
        if let Some(x) = x {
            pieces.push((0, None, None, x.to_string()));
        }
        if let Some(y) = y {
            pieces.push((1, None, Some("get_weather"), y.to_string()));
        }
        let pieces: Vec<_> = pieces
            .iter()
            .map(|(i, id, n, s)| (*i, *id, *n, s.as_str()))
            .collect();
        events.push(delta_event(&pieces));
    }
    assert!(events.len() > 30, "{} events", events.len());
    let calls = streamed_calls(stream_body(&events))?;
    assert_eq!(
        calls,
        [
            ToolCall::function("call_a", "get_weather", paris),
            ToolCall::function("call_b", "get_weather", oslo),
        ]
    );
    assert_eq!(calls[1].arguments::<WeatherArgs>()?.city, "Oslo, Norway \"N\"");
    Ok(())
}

#[test]
fn a_streamed_call_without_a_name_is_an_error_naming_its_index() -> TestResult {
    let events = [
        delta_event(&[(0, Some("call_a"), Some("get_weather"), "{}")]),
        delta_event(&[(3, Some("call_b"), None, "{}")]),
    ];
    let error = streamed_calls(stream_body(&events)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "stream failed: the tool call at index 3 has no function name in any of its pieces"
    );
    Ok(())
}
