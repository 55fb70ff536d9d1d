//! The key never appears in any Debug, Display or error text; the client is a thread-safe handle.

use std::time::Duration;

use crate::support::fault::{response, Act, FaultServer};
use crate::support::{free_port, gpt2, KEY};
use azureml_endpoint::{
    formatter::Gpt2ContentFormatter, ApiKey, ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint,
    ChatMessage, Error, Result,
};
use httpmock::MockServer;

/// Neither the key, nor any piece of it 8 characters or longer, nor its distinctive middle.
fn assert_clean(what: &str, text: &str) {
    for len in 8..=KEY.len() {
        let piece = &KEY[..len];
        assert!(!text.contains(piece), "{what} leaks {piece:?}: {text}");
    }
    assert!(!text.contains("SECRET"), "{what} leaks part of the key: {text}");
}

fn assert_error_clean(error: &Error) {
    assert_clean("Display", &error.to_string());
    assert_clean("Debug", &format!("{error:?}"));
    assert_clean("Debug (pretty)", &format!("{error:#?}"));
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        assert_clean("source", &e.to_string());
        source = e.source();
    }
}

#[test]
fn api_key_debug_is_redacted() {
    assert_eq!(format!("{:?}", ApiKey::new(KEY)), "ApiKey(***)");
}

#[test]
fn builders_clients_and_configs_never_show_the_key() -> Result<()> {
    let builder = AzureMlOnlineEndpoint::builder()
        .endpoint_url("https://e.inference.ml.azure.com/score")
        .api_key(KEY)
        .deployment_name("blue")
        .extra_header("x-trace", "1");
    assert_clean("builder", &format!("{builder:?} {builder:#?}"));
    let llm = builder.formatter(Gpt2ContentFormatter).build()?;
    assert_clean("client", &format!("{llm:?} {llm:#?}"));
    assert_clean("config", &format!("{:?}", llm.config()));
    assert_clean("sources", &format!("{:?}", llm.sources()));

    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("https://m.models.ai.azure.com/v1/chat/completions")
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    assert_clean("chat client", &format!("{chat:?} {chat:#?}"));
    Ok(())
}

#[test]
fn errors_never_show_the_key() -> Result<()> {
    let mut errors = Vec::new();
    // Config errors, including a key with a control character.
    let base = || AzureMlOnlineEndpoint::builder().api_key(KEY);
    errors.push(base().build().unwrap_err());
    errors.push(
        base()
            .endpoint_url("http://example.com/score")
            .build()
            .unwrap_err(),
    );
    errors.push(
        base()
            .endpoint_url("https://e.inference.ml.azure.com/v1/completions")
            .build()
            .unwrap_err(),
    );
    errors.push(
        AzureMlOnlineEndpoint::builder()
            .endpoint_url("https://e.inference.ml.azure.com/score")
            .api_key(format!("{KEY}\n"))
            .build()
            .unwrap_err(),
    );

    // A gateway that echoes the request headers back in its error and in a success body.
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path("/401/score");
        then.status(401)
            .body(format!("invalid header Authorization: Bearer {KEY}"));
    });
    server.mock(|when, then| {
        when.path("/200/score");
        then.status(200).body(format!(r#"{{"echo": "api-key {KEY}"}}"#));
    });
    // Escaped as JSON encoders may, in an error body and in a request id.
    let escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
    server.mock(|when, then| {
        when.path("/403/score");
        then.status(403)
            .header("x-request-id", format!("id {KEY}"))
            .body(format!(r#"{{"error": "key {escaped} rejected"}}"#));
    });
    // A stream whose error event and whose request id echo the key.
    server.mock(|when, then| {
        when.path("/v1/chat/completions");
        then.status(200)
            .header("content-type", "text/event-stream")
            .header("x-request-id", KEY)
            .body(format!("data: {{\"error\": \"Bearer {escaped}\"}}\n\n"));
    });
    let streaming = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/chat/completions"))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?;
    let stream = streaming.stream(&[ChatMessage::user("x")])?;
    assert_clean("stream", &format!("{stream:?}"));
    assert_eq!(stream.request_id(), Some("***"));
    errors.extend(stream.filter_map(std::result::Result::err));
    for path in ["/401/score", "/200/score", "/403/score"] {
        let llm = base()
            .endpoint_url(server.url(path))
            .formatter(Gpt2ContentFormatter)
            .build()?;
        errors.push(llm.invoke("x").unwrap_err());
    }
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url("/200/score"))
        .api_key(KEY)
        .build()?;
    errors.push(chat.invoke(&[ChatMessage::user("x")]).unwrap_err());
    errors.push(chat.invoke(&[]).unwrap_err());

    // Transport errors: refused, timeout.
    let port = free_port();
    let refused = base()
        .endpoint_url(format!("http://127.0.0.1:{port}/score"))
        .max_retries(0)
        .build()?;
    errors.push(refused.invoke("x").unwrap_err());
    let slow = FaultServer::start(vec![[
        vec![Act::Wait(Duration::from_secs(3))],
        response(200, &[], "[]"),
    ]
    .concat()]);
    let timeout = base()
        .endpoint_url(slow.url("/score"))
        .timeout(Duration::from_millis(200))
        .build()?;
    errors.push(timeout.invoke("x").unwrap_err());

    assert_eq!(errors.len(), 12);
    for error in &errors {
        assert_error_clean(error);
    }
    Ok(())
}

#[test]
fn clients_are_clone_send_sync_and_static() {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<AzureMlOnlineEndpoint>();
    assert_handle::<AzureMlChatOnlineEndpoint>();
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<Error>();
    assert!(
        std::mem::size_of::<Error>() <= 24,
        "{}",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn one_client_serves_eight_threads() -> Result<()> {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path("/score");
        then.status(200).json_body(serde_json::json!([{"0": "ok"}]));
    });
    let llm = base_for(&server)?;
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let llm = llm.clone();
            scope.spawn(move || {
                for _ in 0..10 {
                    assert_eq!(llm.invoke("x").unwrap().text, "ok");
                }
            });
        }
    });
    mock.assert_calls(80);
    Ok(())
}

fn base_for(server: &MockServer) -> Result<AzureMlOnlineEndpoint> {
    gpt2(server.url("/score")).build()
}
