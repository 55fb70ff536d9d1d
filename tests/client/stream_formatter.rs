//! A user's own formatter streams its own event shape: the stream reads each event through the
//! formatter's `parse_stream_event`, not through a built-in OpenAI parser.

use crate::support::fault::{sse_head, Act, FaultServer};
use crate::support::KEY;
use azureml_endpoint::{
    error::StreamErrorKind, ApiType, AzureMlOnlineEndpoint, Completion, ContentFormatter, Error, Result,
    StreamChunk,
};
use serde_json::{json, Map, Value};

/// A model that takes `{"text": …}` and streams `{"token": …}` events, the last with
/// `"done": true`; not the OpenAI shape.
#[derive(Debug)]
struct Tokens;

impl ContentFormatter for Tokens {
    fn tag(&self) -> &str {
        "tokens"
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Serverless]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(&json!({"text": prompt, "parameters": params})).unwrap_or_default())
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        let json = azureml_endpoint::formatter::parse_json(self.tag(), api_type, body)?;
        azureml_endpoint::formatter::text_at(self.tag(), api_type, body, &json, &["answer"])
            .map(Completion::new)
    }

    fn parse_stream_event(&self, data: &[u8], _: ApiType) -> Option<StreamChunk> {
        let event: Value = serde_json::from_slice(data).ok()?;
        let mut chunk = StreamChunk::new(event.get("token")?.as_str()?);
        if event.get("done") == Some(&Value::Bool(true)) {
            chunk.finish_reason = Some("stop".to_owned());
        }
        Some(chunk)
    }
}

fn client(server: &FaultServer) -> AzureMlOnlineEndpoint {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .formatter(Tokens)
        .build()
        .expect("a valid client")
}

#[test]
fn a_custom_formatter_streams_its_own_event_shape() {
    let server = FaultServer::start(vec![vec![
        sse_head(),
        Act::send("data: {\"token\": \"Hel\"}\n\n"),
        Act::send(": keep-alive\n\ndata: {\"token\": \"lo\"}\n\n"),
        Act::send("data: {\"token\": \"!\", \"done\": true}\n\n"),
    ]]);
    let chunks: Vec<StreamChunk> = client(&server)
        .stream("Say hello")
        .expect("the stream starts")
        .collect::<Result<_>>()
        .expect("every chunk arrives");
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Hel", "lo", "!"]);
    let reasons: Vec<Option<&str>> = chunks.iter().map(|c| c.finish_reason.as_deref()).collect();
    assert_eq!(reasons, [None, None, Some("stop")]);
    let sent: Value = serde_json::from_slice(&server.requests()[0].body).expect("a JSON request");
    assert_eq!(sent, json!({"text": "Say hello", "parameters": {"stream": true}}));
}

#[test]
fn an_event_the_custom_formatter_rejects_is_a_bad_event() {
    // The OpenAI shape is not this model's: its formatter says so, and the stream stops there.
    let server = FaultServer::start(vec![vec![
        sse_head(),
        Act::send("data: {\"token\": \"a\"}\n\n"),
        Act::send("data: {\"choices\": [{\"text\": \"b\"}]}\n\n"),
    ]]);
    let mut stream = client(&server).stream("x").expect("the stream starts");
    assert_eq!(
        stream.next().map(|c| c.map(|c| c.text).ok()),
        Some(Some("a".to_owned()))
    );
    match stream.next() {
        Some(Err(Error::Stream(e))) => {
            assert_eq!(e.kind, StreamErrorKind::BadEvent);
            // The error names the formatter's shape, not the OpenAI one it does not read.
            assert_eq!(
                e.to_string(),
                r#"stream failed: an event is not a chunk formatter `tokens` reads: "{\"choices\": [{\"text\": \"b\"}]}""#
            );
        }
        other => panic!("expected a bad event, got {other:?}"),
    }
    assert!(stream.next().is_none());
}
