//! Streaming, both clients: SSE parsing, incremental delivery, errors mid-stream, request shape.

use std::time::{Duration, Instant};

use crate::support::fault::{chat_delta, completion_text, event, sse, End, FaultServer, Step, DONE};
use azureml_endpoint::{
    error::StreamErrorKind, formatter::MistralChatContentFormatter, ApiType, AzureMlChatOnlineEndpoint,
    AzureMlOnlineEndpoint, CallOptions, ChatMessage, CompletionStream, Error, Role, StreamChunk, Usage,
};
use httpmock::prelude::*;
use serde_json::json;

use crate::support::KEY;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";
const COMPLETIONS_PATH: &str = "/v1/completions";

fn chat(url: String) -> Result<AzureMlChatOnlineEndpoint, Error> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
}

fn completions(url: String) -> Result<AzureMlOnlineEndpoint, Error> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(url)
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()
}

/// A mock answering `path` with `body` as an event stream.
fn sse_mock<'a>(server: &'a MockServer, path: &str, body: &str) -> httpmock::Mock<'a> {
    server.mock(|when, then| {
        when.method(POST).path(path);
        then.status(200)
            .header("content-type", "text/event-stream")
            .header("x-request-id", "req-42")
            .body(body);
    })
}

/// Every item as its text, or the error's message.
fn texts(stream: CompletionStream) -> Vec<Result<String, String>> {
    stream
        .map(|item| item.map(|c| c.text).map_err(|e| e.to_string()))
        .collect()
}

fn stream_kind(error: &Error) -> Option<StreamErrorKind> {
    match error {
        Error::Stream(e) => Some(e.kind),
        _ => None,
    }
}

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::user(text)]
}

#[test]
fn chat_chunks_arrive_in_order_with_role_and_finish_reason() -> TestResult {
    let server = MockServer::start();
    let body = [
        event(&json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})),
        chat_delta("Hel"),
        chat_delta("lo, \"wörld\" 🦀\n"),
        event(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let stream = chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?;
    assert_eq!(stream.request_id(), Some("req-42"));
    let chunks: Vec<StreamChunk> = stream.collect::<Result<_, _>>()?;
    mock.assert();

    let got: Vec<(&str, Option<&Role>, Option<&str>)> = chunks
        .iter()
        .map(|c| (c.text.as_str(), c.role.as_ref(), c.finish_reason.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("", Some(&Role::Assistant), None),
            ("Hel", None, None),
            ("lo, \"wörld\" 🦀\n", None, None),
            ("", None, Some("stop")),
        ]
    );
    Ok(())
}

#[test]
fn completion_chunks_arrive_in_order() -> TestResult {
    let server = MockServer::start();
    let body = [
        completion_text("Once"),
        completion_text(" upon"),
        event(&json!({"choices": [{"index": 0, "text": " a time", "finish_reason": "length", "logprobs": {"tokens": [" a", " time"]}}]})),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, COMPLETIONS_PATH, &body);
    let chunks: Vec<StreamChunk> = completions(server.url(COMPLETIONS_PATH))?
        .stream("Tell me a story")?
        .collect::<Result<_, _>>()?;
    mock.assert();

    let got: Vec<(&str, Option<&str>)> = chunks
        .iter()
        .map(|c| (c.text.as_str(), c.finish_reason.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![("Once", None), (" upon", None), (" a time", Some("length"))]
    );
    assert_eq!(
        chunks.last().and_then(|c| c.logprobs.clone()),
        Some(json!({"tokens": [" a", " time"]}))
    );
    assert!(chunks.iter().all(|c| c.role.is_none() && c.tool_calls.is_empty()));
    Ok(())
}

#[test]
fn chat_request_has_stream_true_after_merged_params_and_sse_headers() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {KEY}"))
            .header("api-key", KEY)
            .header("azureml-model-deployment", "blue")
            // Exact bytes: configured keys first, per-call keys win in place, then `stream`.
            .body(
                r#"{"messages":[{"role":"user","content":"Hi"}],"temperature":0.2,"max_tokens":9,"stop":["\n"],"stream":true}"#,
            );
        then.status(200).body([chat_delta("ok"), DONE.to_owned()].concat());
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .deployment_name("blue")
        .model_kwarg("temperature", 0.2)
        .model_kwarg("max_tokens", 5)
        .build()?;
    let options = CallOptions::new().param("max_tokens", 9).stop(["\n"]);
    assert_eq!(
        texts(client.stream_with(&user("Hi"), &options)?),
        vec![Ok("ok".to_owned())]
    );
    mock.assert();
    Ok(())
}

#[test]
fn completion_request_has_prompt_params_and_stream_true() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(COMPLETIONS_PATH)
            .header("accept", "text/event-stream")
            .body(r#"{"prompt":"Say \"hi\"\n","max_tokens":3,"stream":true}"#);
        then.status(200)
            .body([completion_text("hi"), DONE.to_owned()].concat());
    });
    let client = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url(COMPLETIONS_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model_kwarg("max_tokens", 3)
        .build()?;
    assert_eq!(texts(client.stream("Say \"hi\"\n")?), vec![Ok("hi".to_owned())]);
    mock.assert();
    Ok(())
}

#[test]
fn a_configured_stream_false_is_overridden() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path(CHAT_PATH)
            .body(r#"{"messages":[{"role":"user","content":"Hi"}],"stream":true,"n":1}"#);
        then.status(200)
            .body([chat_delta("ok"), DONE.to_owned()].concat());
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .model_kwarg("stream", false)
        .model_kwarg("n", 1)
        .build()?;
    assert_eq!(texts(client.stream(&user("Hi"))?), vec![Ok("ok".to_owned())]);
    mock.assert();
    Ok(())
}

#[test]
fn mistral_stream_merges_the_system_message() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH).json_body(json!({
            "messages": [{"role": "user", "content": "Be brief.\n\nHi"}],
            "temperature": 0.5,
            "stream": true
        }));
        then.status(200)
            .body([chat_delta("Yo"), DONE.to_owned()].concat());
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .formatter(MistralChatContentFormatter)
        .model_kwarg("temperature", 0.5)
        .build()?;
    let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Hi")];
    assert_eq!(texts(client.stream(&messages)?), vec![Ok("Yo".to_owned())]);
    mock.assert();
    Ok(())
}

#[test]
fn comments_crlf_event_id_and_retry_lines_are_tolerated() -> TestResult {
    let server = MockServer::start();
    let body = ": keep-alive\r\n\r\n\
                event: message\r\nid: 7\r\nretry: 3000\r\n\
                data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}]}\r\n\r\n\
                : another comment\n\
                data: {\"choices\": [{\"delta\": {\"content\": \"b\"}}]}\n\n\
                data: {\"choices\": [{\"delta\": \r\n\
                data: {\"content\": \"c\"}}]}\r\n\r\n\
                data: [DONE]\r\n\r\n";
    let mock = sse_mock(&server, CHAT_PATH, body);
    assert_eq!(
        texts(chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?),
        vec![Ok("a".to_owned()), Ok("b".to_owned()), Ok("c".to_owned())]
    );
    mock.assert();
    Ok(())
}

const TRUNCATED_AFTER_2: &str = "stream failed: the stream ended before `data: [DONE]` and without a \
                                 finish reason, after 2 chunks; the answer is incomplete";

#[test]
fn body_ending_before_done_gives_the_chunks_then_truncated() -> TestResult {
    let server = MockServer::start();
    let body = [
        chat_delta("The answer"),
        chat_delta(" is"),
        "data: {\"choices\": [{\"del".to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let client = chat(server.url(CHAT_PATH))?;
    let mut stream = client.stream(&user("Hi"))?;
    assert_eq!(
        stream.next().transpose()?.map(|c| c.text),
        Some("The answer".to_owned())
    );
    assert_eq!(stream.next().transpose()?.map(|c| c.text), Some(" is".to_owned()));
    let error = stream.next().and_then(Result::err).ok_or("expected an error")?;
    assert_eq!(stream_kind(&error), Some(StreamErrorKind::Truncated));
    assert_eq!(error.to_string(), TRUNCATED_AFTER_2);
    assert!(stream.next().is_none(), "nothing after the error");
    assert!(stream.next().is_none());
    // A stream that yielded data is never retried.
    mock.assert_calls(1);
    Ok(())
}

#[test]
fn connection_cut_mid_stream_gives_the_chunks_then_truncated() -> TestResult {
    let cases = [
        // The chunked body's terminator never comes: the connection breaks.
        (
            End::ChunkedCut,
            format!("{TRUNCATED_AFTER_2} (connection: Peer disconnected)"),
        ),
        // A close-delimited body just ends.
        (End::Close, TRUNCATED_AFTER_2.to_owned()),
    ];
    for (end, message) in cases {
        let server = FaultServer::start(vec![sse(
            vec![
                Step::Write(chat_delta("The answer")),
                Step::Write(chat_delta(" is")),
                Step::Write("data: {\"choices\": [{\"del".to_owned()),
            ],
            end,
        )]);
        assert_eq!(
            texts(chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?),
            vec![Ok("The answer".to_owned()), Ok(" is".to_owned()), Err(message)],
            "{end:?}"
        );
        assert_eq!(server.hits(), 1);
    }
    Ok(())
}

#[test]
fn finish_reason_without_done_ends_cleanly() -> TestResult {
    let server = FaultServer::start(vec![sse(
        vec![
            Step::Write(chat_delta("Done")),
            Step::Write(event(
                &json!({"choices": [{"delta": {}, "finish_reason": "stop"}]}),
            )),
        ],
        End::ChunkedCut,
    )]);
    let chunks: Vec<StreamChunk> = chat(server.url(CHAT_PATH))?
        .stream(&user("Hi"))?
        .collect::<Result<_, _>>()?;
    let got: Vec<(&str, Option<&str>)> = chunks
        .iter()
        .map(|c| (c.text.as_str(), c.finish_reason.as_deref()))
        .collect();
    assert_eq!(got, vec![("Done", None), ("", Some("stop"))]);
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[test]
fn error_event_gives_service_error_after_the_chunks() -> TestResult {
    let server = MockServer::start();
    let body = [
        chat_delta("Partial"),
        event(&json!({"error": {"code": "too_many_requests", "message": "The model is overloaded"}})),
        chat_delta("never seen"),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let items = texts(chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?);
    assert_eq!(
        items,
        vec![
            Ok("Partial".to_owned()),
            Err(
                "stream failed: the service sent an error event (code too_many_requests): \
                 The model is overloaded"
                    .to_owned()
            )
        ]
    );
    mock.assert();
    Ok(())
}

#[test]
fn error_event_kind_is_service_error() -> TestResult {
    let server = MockServer::start();
    let mock = sse_mock(&server, CHAT_PATH, &event(&json!({"error": "content filtered"})));
    let error = chat(server.url(CHAT_PATH))?
        .stream(&user("Hi"))?
        .find_map(Result::err)
        .ok_or("expected an error")?;
    assert_eq!(stream_kind(&error), Some(StreamErrorKind::ServiceError));
    assert_eq!(
        error.to_string(),
        "stream failed: the service sent an error event: content filtered"
    );
    mock.assert();
    Ok(())
}

#[test]
fn unparsable_event_gives_bad_event() -> TestResult {
    let server = MockServer::start();
    let body = [
        chat_delta("a"),
        "data: {not json}\n\n".to_owned(),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let mut stream = chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?;
    assert_eq!(stream.next().transpose()?.map(|c| c.text), Some("a".to_owned()));
    let error = stream.next().and_then(Result::err).ok_or("expected an error")?;
    assert_eq!(stream_kind(&error), Some(StreamErrorKind::BadEvent));
    assert_eq!(
        error.to_string(),
        "stream failed: an event is not JSON (key must be a string at line 1 column 2): \"{not json}\""
    );
    assert!(stream.next().is_none());
    mock.assert();
    Ok(())
}

#[test]
fn wrong_shape_event_gives_bad_event() -> TestResult {
    let server = MockServer::start();
    let mock = sse_mock(
        &server,
        CHAT_PATH,
        &event(&json!({"choices": [{"delta": {"content": 42}}]})),
    );
    let error = chat(server.url(CHAT_PATH))?
        .stream(&user("Hi"))?
        .find_map(Result::err)
        .ok_or("expected an error")?;
    assert_eq!(stream_kind(&error), Some(StreamErrorKind::BadEvent));
    assert_eq!(
        error.to_string(),
        "stream failed: an event is not a completion chunk (expected choices[0].delta or \
         choices[0].text, and usage): \"{\\\"choices\\\":[{\\\"delta\\\":{\\\"content\\\":42}}]}\""
    );
    mock.assert();
    Ok(())
}

#[test]
fn oversized_event_gives_event_too_large() -> TestResult {
    let server = MockServer::start();
    let huge = "x".repeat(1024 * 1024 + 1);
    let body = [chat_delta("ok"), chat_delta(&huge), DONE.to_owned()].concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let items = texts(chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?);
    assert_eq!(
        items,
        vec![
            Ok("ok".to_owned()),
            Err("stream failed: an event is over the 1048576-byte limit, after 1 chunk".to_owned())
        ]
    );
    mock.assert();
    Ok(())
}

#[test]
fn the_event_limit_is_exactly_one_mebibyte() -> TestResult {
    // The event's bytes besides its text and the blank line that ends it.
    let overhead = chat_delta("").len() - 2;
    for (size, accepted) in [(1024 * 1024, true), (1024 * 1024 + 1, false)] {
        let server = MockServer::start();
        let text = "y".repeat(size - overhead);
        let mock = sse_mock(&server, CHAT_PATH, &[chat_delta(&text), DONE.to_owned()].concat());
        let items = texts(chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?);
        let expected = if accepted {
            Ok(text)
        } else {
            Err("stream failed: an event is over the 1048576-byte limit, after 0 chunks".to_owned())
        };
        assert_eq!(items, vec![expected], "event of {size} bytes");
        mock.assert();
    }
    Ok(())
}

#[test]
fn first_chunk_is_yielded_before_the_server_pause_ends() -> TestResult {
    let server = FaultServer::start(vec![sse(
        vec![
            Step::Write(chat_delta("first")),
            Step::Pause(Duration::from_millis(1500)),
            Step::Write(chat_delta("second")),
            Step::Write(DONE.to_owned()),
        ],
        End::Chunked,
    )]);
    let mut stream = chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?;
    let first = stream.next().transpose()?.map(|c| c.text);
    let first_at = Instant::now();
    let second = stream.next().transpose()?.map(|c| c.text);
    let resumed_at = server.resumed.recv()?;
    assert_eq!(first.as_deref(), Some("first"));
    assert_eq!(second.as_deref(), Some("second"));
    assert!(stream.next().is_none());
    // Causal, not a speed check: the first chunk was in hand before the server wrote the second.
    assert!(
        first_at < resumed_at,
        "first chunk came {:?} after the pause ended",
        first_at - resumed_at
    );
    assert_eq!(server.hits(), 1);
    Ok(())
}

// real deadline: a 1 s timeout against a 2.5 s stall, ended before the stall.
#[test]
fn a_stall_longer_than_the_timeout_is_a_timeout_error() -> TestResult {
    let client_timeout = AzureMlChatOnlineEndpoint::builder().timeout(Duration::from_secs(1));
    let per_call = AzureMlChatOnlineEndpoint::builder().timeout(Duration::from_secs(50));
    for (builder, options) in [
        (client_timeout, CallOptions::new()),
        (per_call, CallOptions::new().timeout(Duration::from_secs(1))),
    ] {
        let server = FaultServer::start(vec![sse(
            vec![
                Step::Write(chat_delta("first")),
                Step::Pause(Duration::from_millis(2500)),
                Step::Write(DONE.to_owned()),
            ],
            End::Chunked,
        )]);
        let client = builder
            .endpoint_url(server.url(CHAT_PATH))
            .api_type(ApiType::Serverless)
            .api_key(KEY)
            .build()?;
        let mut stream = client.stream_with(&user("Hi"), &options)?;
        assert_eq!(
            stream.next().transpose()?.map(|c| c.text),
            Some("first".to_owned())
        );
        let error = stream.next().and_then(Result::err).ok_or("expected an error")?;
        let failed_at = Instant::now();
        assert_eq!(stream_kind(&error), Some(StreamErrorKind::Timeout));
        assert_eq!(
            error.to_string(),
            "stream failed: no chunk within 1.0 s, after 1 chunk; the answer is incomplete"
        );
        assert!(stream.next().is_none());
        // The error came from our deadline, not from the server giving up.
        assert!(failed_at < server.resumed.recv()?);
    }
    Ok(())
}

// real deadline: a 1 s timeout, ended within 1 s to 2.5 s.
#[test]
fn events_carrying_nothing_do_not_restart_the_deadline() -> TestResult {
    // After two chunks, one event that carries nothing every 0.5 s, for far longer than T = 1 s.
    let mut steps = vec![Step::Write(chat_delta("a")), Step::Write(chat_delta("b"))];
    let nothing = [
        event(&json!({"choices": []})),
        "data:\n\n".to_owned(),
        ": keep-alive\n\n".to_owned(),
        event(&json!({"choices": [{"index": 0, "delta": {}}]})),
    ];
    for empty in nothing.iter().cycle().take(20) {
        steps.push(Step::Pause(Duration::from_millis(500)));
        steps.push(Step::Write(empty.clone()));
    }
    let server = FaultServer::start(vec![sse(steps, End::Chunked)]);
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .timeout(Duration::from_secs(1))
        .build()?;
    let mut stream = client.stream(&user("Hi"))?;
    let mut texts = Vec::new();
    for _ in 0..2 {
        texts.push(stream.next().transpose()?.map(|c| c.text));
    }
    let last_chunk = Instant::now();
    let error = stream.next().and_then(Result::err).ok_or("expected an error")?;
    let waited = last_chunk.elapsed();
    assert_eq!(texts, [Some("a".to_owned()), Some("b".to_owned())]);
    assert_eq!(
        error.to_string(),
        "stream failed: no chunk within 1.0 s, after 2 chunks; the answer is incomplete"
    );
    assert_eq!(stream_kind(&error), Some(StreamErrorKind::Timeout));
    // Within 2 T plus one event's gap, though the empty events never stopped coming.
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    assert!(stream.next().is_none());
    Ok(())
}

#[test]
fn final_usage_chunk_is_exposed() -> TestResult {
    let server = MockServer::start();
    let body = [
        chat_delta("Hi"),
        event(&json!({"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": null})),
        event(&json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}})),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let chunks: Vec<StreamChunk> = chat(server.url(CHAT_PATH))?
        .stream(&user("Hi"))?
        .collect::<Result<_, _>>()?;
    mock.assert();
    let usage: Vec<Option<Usage>> = chunks.iter().map(|c| c.usage).collect();
    assert_eq!(usage, vec![None, None, Some(Usage::new(9, 2, 11))]);
    assert_eq!(chunks.last().map(|c| c.text.as_str()), Some(""));
    Ok(())
}

/// A tool call delta's index, id, kind, name and arguments.
type Delta<'a> = (usize, Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);

#[test]
fn tool_call_deltas_are_exposed() -> TestResult {
    let server = MockServer::start();
    let body = [
        event(&json!({"choices": [{"delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ]}}]})),
        event(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]})),
        event(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}}]})),
        event(&json!({"choices": [{"delta": {"tool_calls": [
            {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
        ]}}]})),
        event(&json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})),
        DONE.to_owned(),
    ]
    .concat();
    let mock = sse_mock(&server, CHAT_PATH, &body);
    let chunks: Vec<StreamChunk> = chat(server.url(CHAT_PATH))?
        .stream(&user("Weather in Paris, and the time?"))?
        .collect::<Result<_, _>>()?;
    mock.assert();

    let deltas: Vec<Delta> = chunks
        .iter()
        .flat_map(|c| &c.tool_calls)
        .map(|d| {
            (
                d.index,
                d.id.as_deref(),
                d.kind.as_deref(),
                d.name.as_deref(),
                d.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        deltas,
        vec![
            (0, Some("call_1"), Some("function"), Some("get_weather"), ""),
            (0, None, None, None, "{\"city\":"),
            (0, None, None, None, "\"Paris\"}"),
            (1, Some("call_2"), Some("function"), Some("get_time"), "{}"),
        ]
    );
    let arguments: String = deltas.iter().filter(|d| d.0 == 0).map(|d| d.4).collect();
    assert_eq!(arguments, r#"{"city":"Paris"}"#);
    assert_eq!(chunks.first().and_then(|c| c.role.clone()), Some(Role::Assistant));
    assert_eq!(
        chunks.last().and_then(|c| c.finish_reason.clone()).as_deref(),
        Some("tool_calls")
    );
    Ok(())
}

#[test]
fn dedicated_chat_stream_is_one_chunk_from_a_normal_call() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/score")
            .header("accept", "application/json")
            .json_body(json!({"input_data": {
                "input_string": [{"role": "user", "content": "Hi"}],
                "parameters": {"temperature": 0.1}
            }}));
        then.status(200)
            .header("x-request-id", "req-dedicated")
            .json_body(json!({"output": "The whole answer.\n"}));
    });
    let client = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_type(ApiType::Dedicated)
        .api_key(KEY)
        .model_kwarg("temperature", 0.1)
        .build()?;
    let mut stream = client.stream(&user("Hi"))?;
    assert_eq!(stream.request_id(), Some("req-dedicated"));
    let chunk = stream.next().transpose()?.ok_or("expected a chunk")?;
    assert_eq!(chunk.text, "The whole answer.\n");
    assert_eq!(chunk.role, Some(Role::Assistant));
    assert!(stream.next().is_none());
    mock.assert();
    Ok(())
}

#[test]
fn dedicated_completion_stream_is_one_chunk_from_a_normal_call() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/score")
            .header("accept", "application/json")
            .json_body(json!({"input_data": {"input_string": ["Hi"], "parameters": {}}}));
        then.status(200).json_body(json!([{"0": " there"}]));
    });
    let client = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(KEY)
        .build()?;
    assert_eq!(texts(client.stream("Hi")?), vec![Ok(" there".to_owned())]);
    mock.assert();
    Ok(())
}

#[test]
fn http_error_before_the_stream_comes_from_stream_itself() -> TestResult {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST).path(CHAT_PATH);
        then.status(401)
            .header("x-request-id", "req-401")
            .json_body(json!({"error": {"message": "Invalid key"}}));
    });
    let error = chat(server.url(CHAT_PATH))?
        .stream(&user("Hi"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.status(), Some(401));
    assert_eq!(
        error.to_string(),
        "endpoint answered HTTP 401 (key or token rejected: check AZUREML_ENDPOINT_API_KEY): \
         Invalid key; request id req-401"
    );
    mock.assert();
    Ok(())
}

#[test]
fn empty_conversation_is_an_input_error_before_any_request() -> TestResult {
    let server = MockServer::start();
    let mock = sse_mock(&server, CHAT_PATH, DONE);
    let error = chat(server.url(CHAT_PATH))?
        .stream(&[])
        .err()
        .ok_or("expected an error")?;
    assert_eq!(
        error.to_string(),
        "invalid input: the conversation is empty: pass at least one message"
    );
    mock.assert_calls(0);
    Ok(())
}

#[test]
fn the_key_never_appears_in_stream_debug_or_errors() -> TestResult {
    let server = MockServer::start();
    let ok = sse_mock(&server, CHAT_PATH, &[chat_delta("a"), DONE.to_owned()].concat());
    let client = chat(server.url(CHAT_PATH))?;
    let mut outputs = vec![format!("{client:?}")];

    let mut stream = client.stream(&user("Hi"))?;
    assert_eq!(
        format!("{stream:?}"),
        r#"CompletionStream { request_id: Some("req-42"), chunks: 0, state: "streaming" }"#
    );
    outputs.push(format!("{stream:?}"));
    for item in stream.by_ref() {
        outputs.push(format!("{item:?}"));
    }
    assert_eq!(
        format!("{stream:?}"),
        r#"CompletionStream { request_id: Some("req-42"), chunks: 1, state: "done" }"#
    );
    ok.assert();

    let bodies = [
        chat_delta("cut"),
        event(&json!({"error": {"message": "boom"}})),
        "data: nope\n\n".to_owned(),
        chat_delta(&"z".repeat(1024 * 1024 + 1)),
    ];
    for body in bodies {
        let server = MockServer::start();
        let mock = sse_mock(&server, CHAT_PATH, &body);
        let stream = chat(server.url(CHAT_PATH))?.stream(&user("Hi"))?;
        let errors: Vec<Error> = stream.filter_map(Result::err).collect();
        assert_eq!(errors.len(), 1, "{body:.60}");
        for error in errors {
            outputs.push(format!("{error:?}"));
            outputs.push(error.to_string());
        }
        mock.assert();
    }

    for output in &outputs {
        assert!(!output.contains(KEY), "key leaked in {output}");
        assert!(!output.contains("SECRET"), "key leaked in {output}");
    }
    Ok(())
}
