//! A server that echoes the key back (a gateway logging request headers into its answers) never
//! gets it into an error or a stream (the CLI's output: tests/cli/scrubbing.rs): in plain, `\u`-escaped or base64 form, in
//! bodies, header values and streamed events, and whole even where the text is cut.

use crate::support::fault::{response, sse_head, Act, FaultServer};
use crate::support::{assert_clean, escaped, gpt2, KEY};
use azureml_endpoint::{
    error::StreamErrorKind, ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, ChatMessage, Error,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHAT_PATH: &str = "/v1/chat/completions";
const COMPLETIONS_PATH: &str = "/v1/completions";

fn assert_error_clean(error: &Error) {
    assert_clean("Display", &error.to_string());
    assert_clean("Debug", &format!("{error:?}"));
    assert_clean("Debug (pretty)", &format!("{error:#?}"));
}

/// Padded base64, standard or URL-safe.
fn base64(bytes: &[u8], url_safe: bool) -> String {
    let mut alphabet = *b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if url_safe {
        alphabet[62] = b'-';
        alphabet[63] = b'_';
    }
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| group.get(i).copied().unwrap_or(0));
        let bits = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        for i in 0..4 {
            out.push(if i <= group.len() {
                char::from(alphabet[((bits >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

fn dedicated(server: &FaultServer) -> Result<AzureMlOnlineEndpoint, Error> {
    gpt2(server.url("/score")).max_retries(0).build()
}

fn serverless_chat(server: &FaultServer) -> Result<AzureMlChatOnlineEndpoint, Error> {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(server.url(CHAT_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .max_retries(0)
        .build()
}

fn serverless_completions(server: &FaultServer) -> Result<AzureMlOnlineEndpoint, Error> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url(COMPLETIONS_PATH))
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .max_retries(0)
        .build()
}

/// The errors of a dedicated `invoke` and a serverless chat `invoke`, each answered by `script`.
fn both(script: Vec<Act>) -> Result<[Error; 2], Box<dyn std::error::Error>> {
    let server = FaultServer::start(vec![script.clone(), script]);
    let first = dedicated(&server)?
        .invoke("hi")
        .err()
        .ok_or("dedicated call succeeded")?;
    let second = serverless_chat(&server)?
        .invoke(&[ChatMessage::user("hi")])
        .err()
        .ok_or("chat call succeeded")?;
    assert_eq!(server.hits(), 2);
    for error in [&first, &second] {
        assert_error_clean(error);
    }
    Ok([first, second])
}

/// The message of an HTTP error with `status`, or a failure naming what came instead.
fn http_message(error: &Error, status: u16) -> Result<String, String> {
    match error {
        Error::Http(e) if e.status == status => Ok(e.message.clone().unwrap_or_default()),
        other => Err(format!("expected HTTP {status}, got {other:?}")),
    }
}

#[test]
fn http_error_bodies_echoing_the_key_in_any_form_are_scrubbed() -> TestResult {
    let bearer_b64 = base64(format!("Bearer {KEY}").as_bytes(), false);
    let cases = [
        (
            format!(r#"{{"error": {{"message": "bad header Authorization: Bearer {KEY}"}}}}"#),
            "bad header Authorization: Bearer ***".to_owned(),
        ),
        (
            format!(r#"{{"error": "bad api-key {}"}}"#, escaped(KEY)),
            "bad api-key ***".to_owned(),
        ),
        (
            // Unparsable JSON: the raw body, where the key is still escaped.
            format!(r#"{{"error": "bad api-key {}", "#, escaped(KEY)),
            // Trimmed, as every raw message is.
            r#"{"error": "bad api-key ***","#.to_owned(),
        ),
        (
            format!(r#"{{"message": "auth {bearer_b64}"}}"#),
            // `QmVhcmVyI` encodes "Bearer " alone; padding carries no key bits.
            format!("auth {}***=", &bearer_b64[..9]),
        ),
        (
            format!(
                r#"{{"detail": "{}"}}"#,
                base64(format!("u:{KEY}!").as_bytes(), true)
            ),
            // `dT` is "u:" alone, `IQ==` the trailing "!".
            format!("{}***IQ==", &base64(b"u:", true)[..2]),
        ),
        (
            format!(
                "Authorization: Basic {}",
                base64(format!("user:{KEY}").as_bytes(), false)
            ),
            format!("Authorization: Basic {}***", &base64(b"user:", false)[..6]),
        ),
    ];
    for (body, expected) in cases {
        for error in both(response(401, &[], &body))? {
            assert_eq!(http_message(&error, 401)?, expected, "{body}");
        }
    }
    Ok(())
}

#[test]
fn a_key_straddling_the_2_kib_message_cut_goes_whole() -> TestResult {
    let pad = "x".repeat(2040);
    let raw = format!("{pad}{KEY}{}", "y".repeat(100));
    let json = format!(r#"{{"message": "{pad}{}{}"}}"#, escaped(KEY), "y".repeat(100));
    for body in [raw, json] {
        for error in both(response(400, &[], &body))? {
            assert_eq!(http_message(&error, 400)?, format!("{pad}***yyyyy…"));
        }
    }
    // Escaped in a raw body: 6 bytes a character would take the cut past the key's start.
    let raw_escaped = format!("{}{}", "x".repeat(2044), escaped(KEY));
    for error in both(response(400, &[], raw_escaped))? {
        assert_eq!(http_message(&error, 400)?, format!("{}***", "x".repeat(2044)));
    }
    Ok(())
}

#[test]
fn a_key_straddling_the_200_char_excerpt_cut_goes_whole() -> TestResult {
    // A 200 of the wrong shape: the key starts at character 195 of the excerpt.
    let pad = "x".repeat(185);
    for key in [KEY.to_owned(), escaped(KEY)] {
        let body = format!(r#"{{"echo": "{pad}{key}"}}"#);
        for error in both(response(200, &[], body))? {
            match error {
                Error::Response(e) => assert_eq!(e.excerpt, format!(r#"{{"echo": "{pad}***"}}"#)),
                other => panic!("expected a response error, got {other:?}"),
            }
        }
    }
    Ok(())
}

#[test]
fn header_values_echoing_the_key_are_scrubbed() -> TestResult {
    let echo = format!("Authorization: Bearer {KEY}");
    let headers = [
        ("x-request-id", format!("req-{KEY}")),
        ("ms-azureml-model-error-statuscode", format!("500 {KEY}")),
        ("ms-azureml-model-error-reason", echo),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    for error in both(response(424, &headers, "model crashed"))? {
        assert_eq!(error.request_id(), Some("req-***"));
        match &error {
            Error::Http(e) => {
                assert_eq!(e.model_status.as_deref(), Some("500 ***"));
                assert_eq!(e.model_reason.as_deref(), Some("Authorization: Bearer ***"));
                assert_eq!(e.message.as_deref(), Some("model crashed"));
            }
            other => panic!("expected an HTTP error, got {other:?}"),
        }
    }
    // The other request-id headers, on an error and on a success.
    let apim = format!("apim-{}", base64(KEY.as_bytes(), false));
    let apim_headers = [("apim-request-id", apim.as_str())];
    for error in both(response(404, &apim_headers, ""))? {
        // The padding carries no key bits.
        assert_eq!(error.request_id(), Some("apim-***=="));
    }
    let ms = format!("ms-{}", escaped(KEY));
    let ok = response(200, &[("x-ms-request-id", &ms)], r#"[{"0": "fine"}]"#);
    let server = FaultServer::start(vec![ok]);
    let completion = dedicated(&server)?.invoke("hi")?;
    assert_eq!(
        (completion.text.as_str(), completion.request_id.as_deref()),
        ("fine", Some("ms-***"))
    );
    Ok(())
}

#[test]
fn a_redirect_to_a_host_named_after_the_key_is_scrubbed() -> TestResult {
    // A key is a valid host label, so a hostile Location can carry it into the redirect error.
    let location = format!("https://{KEY}.evil.example/score");
    let server = FaultServer::start(vec![response(307, &[("location", &location)], "")]);
    let error = dedicated(&server)?
        .invoke("hi")
        .err()
        .ok_or("the call succeeded")?;
    match &error {
        Error::Transport(e) => assert_eq!(
            e.detail,
            "HTTP 307 to another host (***.evil.example); the key is not sent there: configure the final URL"
        ),
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert_error_clean(&error);
    Ok(())
}

#[test]
fn a_huge_error_body_still_gives_its_first_bytes() -> TestResult {
    let size = 10 * 1024 * 1024;
    let raw = format!("Internal error: {}", "x".repeat(size));
    let expected_raw = format!("Internal error: {}…", "x".repeat(2048 - 16));
    // Valid JSON, but too big to read whole: its start, raw.
    let json = format!(
        r#"{{"error": {{"message": "m"}}, "pad": "{}"}}"#,
        "x".repeat(size)
    );
    let start = r#"{"error": {"message": "m"}, "pad": ""#;
    let expected_json = format!("{start}{}…", "x".repeat(2048 - start.len()));
    for (body, expected) in [(raw, expected_raw), (json, expected_json)] {
        for error in both(response(500, &[], body))? {
            assert_eq!(http_message(&error, 500)?, expected);
        }
    }
    Ok(())
}

#[test]
fn http_error_messages_follow_the_wire_order() -> TestResult {
    let cases = [
        (
            r#"{"detail": "d", "message": "m", "error": {"message": "em"}}"#,
            "em",
        ),
        (r#"{"detail": "d", "error": "e"}"#, "e"),
        (r#"{"detail": "d", "message": "m", "error": "e"}"#, "e: m"),
        (r#"{"detail": "d", "message": "m", "error": {"code": "E1"}}"#, "m"),
        (r#"{"detail": "d", "error": null}"#, "d"),
    ];
    for (body, expected) in cases {
        for error in both(response(400, &[], body))? {
            assert_eq!(http_message(&error, 400)?, expected, "{body}");
        }
    }
    Ok(())
}

/// A stream item: the chunk's text, or the error's kind and message.
type Item = Result<String, (StreamErrorKind, String)>;

/// Every item of a chat stream and of a completions stream answered by one good chunk and then
/// `events`.
fn stream_both(events: &str) -> Result<[Vec<Item>; 2], Box<dyn std::error::Error>> {
    let chat_chunk = "data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}]}\n\n";
    let text_chunk = "data: {\"choices\": [{\"text\": \"a\"}]}\n\n";
    let server = FaultServer::start(vec![
        vec![sse_head(), Act::send(format!("{chat_chunk}{events}"))],
        vec![sse_head(), Act::send(format!("{text_chunk}{events}"))],
    ]);
    let chat = serverless_chat(&server)?.stream(&[ChatMessage::user("hi")])?;
    let completions = serverless_completions(&server)?.stream("hi")?;
    let mut all: [Vec<Item>; 2] = Default::default();
    for (stream, items) in [chat, completions].into_iter().zip(&mut all) {
        for item in stream {
            items.push(item.map(|c| c.text).map_err(|e| {
                assert_error_clean(&e);
                match e {
                    Error::Stream(s) => (s.kind, format!("stream failed: {}", s.message)),
                    other => panic!("expected a stream error, got {other:?}"),
                }
            }));
        }
    }
    Ok(all)
}

#[test]
fn stream_error_events_echoing_the_key_are_scrubbed() -> TestResult {
    let service = StreamErrorKind::ServiceError;
    let cases = [
        (
            format!("data: {{\"error\": {{\"code\": \"{KEY}\", \"message\": \"Bearer {KEY}\"}}}}\n\n"),
            "stream failed: the service sent an error event (code ***): Bearer ***".to_owned(),
        ),
        (
            format!("event: error\ndata: {{\"message\": \"{}\"}}\n\n", escaped(KEY)),
            "stream failed: the service sent an error event: ***".to_owned(),
        ),
        (
            format!("event: error\ndata: api-key {}\n\n", escaped(KEY)),
            "stream failed: the service sent an error event: api-key ***".to_owned(),
        ),
        (
            format!(
                "data: {{\"error\": \"{}\"}}\n\n",
                base64(format!("Bearer {KEY}").as_bytes(), true)
            ),
            format!(
                "stream failed: the service sent an error event: {}***=",
                &base64(b"Bearer ", true)[..9]
            ),
        ),
        (
            format!(
                "data: {{\"error\": {{\"message\": \"{}{KEY}\"}}}}\n\n",
                "x".repeat(2040)
            ),
            format!(
                "stream failed: the service sent an error event: {}***",
                "x".repeat(2040)
            ),
        ),
    ];
    for (events, expected) in cases {
        for items in stream_both(&events)? {
            assert_eq!(items, vec![Ok("a".to_owned()), Err((service, expected.clone()))]);
        }
    }
    Ok(())
}

#[test]
fn bad_events_echoing_the_key_are_scrubbed_then_cut() -> TestResult {
    let bad = StreamErrorKind::BadEvent;
    // Not JSON, and the wrong shape with the key straddling the 200-character excerpt.
    let not_json = format!("data: Bearer {}\n\n", escaped(KEY));
    let shape = format!("data: {{\"choices\": \"{}{KEY}\"}}\n\n", "x".repeat(183));
    let cases = [
        (
            not_json,
            r#"stream failed: an event is not JSON (expected value at line 1 column 1): "Bearer ***""#
                .to_owned(),
        ),
        (
            shape,
            format!(
                "stream failed: an event is not a completion chunk (expected choices[0].delta or \
                 choices[0].text, and usage): \"{{\\\"choices\\\": \\\"{}***\\\"…\"",
                "x".repeat(183)
            ),
        ),
    ];
    for (events, expected) in cases {
        for items in stream_both(&events)? {
            assert_eq!(items, vec![Ok("a".to_owned()), Err((bad, expected.clone()))]);
        }
    }
    Ok(())
}
