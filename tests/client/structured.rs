//! Structured output: `response_format` on the wire, and replies read into a user's type.

use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, CallOptions, ChatCompletion, ChatMessage, Completion, Error,
    ResponseFormat,
};
use httpmock::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, PartialEq, Deserialize)]
struct Place {
    city: String,
    population: u64,
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
           "required": ["city", "population"], "additionalProperties": false})
}

/// One call with `format`, the body checked exactly; returns the parsed reply `content`.
fn call(format: ResponseFormat, wire: Value, content: &str) -> Result<ChatCompletion, Error> {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path("/v1/chat/completions").json_body(json!({
            "messages": [{"role": "user", "content": "Biggest city in France, as JSON?"}],
            "temperature": 0,
            "response_format": wire
        }));
        then.status(200)
            .json_body(json!({"choices": [{"message": {"role": "assistant", "content": content}}]}));
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/chat/completions"))
        .api_type(ApiType::Serverless)
        .api_key("sk-structured")
        .build()?;
    let options = CallOptions::new().param("temperature", 0).response_format(format);
    let reply = client.invoke_with(&[ChatMessage::user("Biggest city in France, as JSON?")], &options)?;
    mock.assert();
    Ok(reply)
}

#[test]
fn json_schema_is_sent_and_the_reply_read_into_a_type() -> TestResult {
    let reply = call(
        ResponseFormat::json_schema("place", schema()).strict(true),
        json!({"type": "json_schema", "json_schema": {"name": "place", "schema": schema(), "strict": true}}),
        r#"{"city": "Paris", "population": 2102650}"#,
    )?;
    assert_eq!(
        reply.json::<Place>()?,
        Place {
            city: "Paris".into(),
            population: 2102650
        }
    );
    let reply = call(
        ResponseFormat::json_schema("place", schema()),
        json!({"type": "json_schema", "json_schema": {"name": "place", "schema": schema()}}),
        "```json\n{\"city\": \"Paris\", \"population\": 1}\n```",
    )?;
    assert_eq!(
        reply.json::<Place>()?.population,
        1,
        "a fenced reply is read inside the fence"
    );
    Ok(())
}

#[test]
fn json_object_is_sent_and_read_as_any_json() -> TestResult {
    let reply = call(
        ResponseFormat::json_object(),
        json!({"type": "json_object"}),
        r#"{"city": "Paris"}"#,
    )?;
    assert_eq!(reply.json::<Value>()?, json!({"city": "Paris"}));
    Ok(())
}

#[test]
fn a_reply_that_is_not_the_json_shows_why_and_how_it_begins() -> TestResult {
    let reply = call(
        ResponseFormat::json_object(),
        json!({"type": "json_object"}),
        "Sure! Here is the JSON: {\"city\": \"Paris\"}",
    )?;
    let error = reply.json::<Place>().unwrap_err();
    assert!(matches!(error, Error::ReplyJson(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot read the reply as the expected JSON: expected value at line 1 column 1; it starts: \
         \"Sure! Here is the JSON: {\\\"city\\\": \\\"Paris\\\"}\""
    );
    let reply = ChatCompletion::new(ChatMessage::assistant(r#"{"city": 5, "population": 1}"#));
    assert_eq!(
        reply.json::<Place>().unwrap_err().to_string(),
        "cannot read the reply as the expected JSON: invalid type: integer `5`, expected a string at line 1 \
         column 10; it starts: \"{\\\"city\\\": 5, \\\"population\\\": 1}\""
    );
    let long = Completion::new(format!("{{\"city\": \"{}", "x".repeat(300)));
    assert_eq!(
        long.json::<Place>().unwrap_err().to_string(),
        format!(
            "cannot read the reply as the expected JSON: EOF while parsing a string at line 1 column 310; \
             it starts: \"{{\\\"city\\\": \\\"{}…\"",
            "x".repeat(190)
        )
    );
    Ok(())
}
