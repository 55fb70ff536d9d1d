//! The embedded local endpoint, driven by a raw HTTP/1.1 client over `TcpStream`.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use azureml_endpoint::local::LocalEndpoint;
use serde_json::{json, Value};

type TestResult<T = ()> = Result<T, Box<dyn Error>>;
type Headers = Vec<(String, String)>;

const KEY: (&str, &str) = ("Authorization", "Bearer test-key");
const SPECIAL: &str = "quote \" backslash \\ newline \n tab \t nul \u{0} 中文 😀 end";

/// One client connection; responses are read back one at a time.
struct Client {
    reader: BufReader<TcpStream>,
}

struct Response {
    status: u16,
    headers: Headers,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.body)
    }
}

impl Client {
    fn open(local: &LocalEndpoint) -> std::io::Result<Client> {
        let stream = TcpStream::connect(local.addr())?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<()> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.raw(request.as_bytes())
    }

    fn post(&mut self, path: &str, body: &Value) -> std::io::Result<()> {
        self.send("POST", path, &[KEY], &body.to_string())
    }

    fn line(&mut self) -> TestResult<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let line = line
            .strip_suffix("\r\n")
            .ok_or(format!("unterminated line {line:?}"))?;
        Ok(line.to_owned())
    }

    /// The status line and headers.
    fn head(&mut self) -> TestResult<(u16, Headers)> {
        let status_line = self.line()?;
        let status = status_line.split(' ').nth(1).ok_or("no status")?.parse()?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok((status, headers));
            }
            let (name, value) = line.split_once(": ").ok_or("bad header")?;
            headers.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The next chunk of a chunked body; `None` for the final zero-length chunk.
    fn chunk(&mut self) -> TestResult<Option<String>> {
        let len = usize::from_str_radix(&self.line()?, 16)?;
        let mut data = vec![0; len + 2];
        self.reader.read_exact(&mut data)?;
        assert_eq!(data.split_off(len), b"\r\n");
        Ok(Some(String::from_utf8(data)?).filter(|_| len > 0))
    }

    fn response(&mut self) -> TestResult<Response> {
        let (status, headers) = self.head()?;
        let mut response = Response {
            status,
            headers,
            body: String::new(),
        };
        if let Some(len) = response.header("content-length") {
            let mut body = vec![0; len.parse()?];
            self.reader.read_exact(&mut body)?;
            response.body = String::from_utf8(body)?;
        } else if response.header("transfer-encoding") == Some("chunked") {
            while let Some(chunk) = self.chunk()? {
                response.body.push_str(&chunk);
            }
        }
        Ok(response)
    }

    /// True when the server has closed the connection.
    fn closed(&mut self) -> std::io::Result<bool> {
        Ok(self.reader.read(&mut [0; 1])? == 0)
    }
}

/// One POST with a key on a fresh connection.
fn post(local: &LocalEndpoint, path: &str, body: &Value) -> TestResult<Response> {
    let mut client = Client::open(local)?;
    client.post(path, body)?;
    client.response()
}

fn assert_answer(path: &str, body: Value, expected: &str) -> TestResult {
    let local = LocalEndpoint::start()?;
    let response = post(&local, path, &body)?;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, expected),
        "{body}"
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("x-request-id"), Some("local-1"));
    Ok(())
}

#[test]
fn urls_debug_send_sync() -> TestResult {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LocalEndpoint>();
    let local = LocalEndpoint::start()?;
    let port = local.addr().port();
    assert_eq!(local.addr().to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(local.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(local.dedicated_url(), format!("http://127.0.0.1:{port}/score"));
    assert_eq!(
        local.completions_url(),
        format!("http://127.0.0.1:{port}/v1/completions")
    );
    assert_eq!(
        local.chat_url(),
        format!("http://127.0.0.1:{port}/v1/chat/completions")
    );
    assert_eq!(
        format!("{local:?}"),
        format!("LocalEndpoint {{ addr: 127.0.0.1:{port}, .. }}")
    );
    Ok(())
}

#[test]
fn health() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    client.send("GET", "/", &[], "")?;
    let response = client.response()?;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    assert_eq!(response.header("x-request-id"), Some("local-1"));
    Ok(())
}

#[test]
fn dedicated_gpt2() -> TestResult {
    let body = json!({"inputs": {"input_string": ["Hi there"]}, "parameters": {"max_new_tokens": 5}});
    assert_answer("/score", body, r#"[{"0":"Hi there"}]"#)
}

#[test]
fn dedicated_hf() -> TestResult {
    let body = json!({"inputs": ["Hi there"], "parameters": {}});
    assert_answer("/score", body, r#"[{"generated_text":"Hi there"}]"#)
}

#[test]
fn dedicated_dolly() -> TestResult {
    let body = json!({"input_data": {"input_string": ["Hi there"]}, "parameters": {"top_p": 0.9}});
    assert_answer("/team-a/score", body, r#"["Hi there"]"#)
}

#[test]
fn dedicated_custom_openai() -> TestResult {
    let body = json!({"input_data": {"input_string": ["Hi there"], "parameters": {"top_p": 0.9}}});
    assert_answer("/score", body, r#"[{"0":"Hi there"}]"#)
}

#[test]
fn dedicated_chat() -> TestResult {
    let messages =
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi  there "}]);
    let body = json!({"input_data": {"input_string": messages, "parameters": {}}});
    assert_answer("/score", body, r#"{"output":" Hi  there "}"#)
}

#[test]
fn dedicated_chat_null_content_is_empty() -> TestResult {
    let body = json!({"input_data": {"input_string": [{"role": "user", "content": null}], "parameters": {}}});
    assert_answer("/score", body, r#"{"output":""}"#)
}

#[test]
fn dedicated_answers_one_item_per_prompt() -> TestResult {
    let body = json!({"input_data": {"input_string": ["one", "two"]}, "parameters": {}});
    assert_answer("/score", body, r#"["one","two"]"#)?;
    let body = json!({"inputs": {"input_string": ["one", "two"]}, "parameters": {}});
    assert_answer("/score", body, r#"[{"0":"one"},{"0":"two"}]"#)
}

#[test]
fn serverless_completion() -> TestResult {
    let body = json!({"prompt": "hello big  world", "max_tokens": 5});
    let expected = r#"{"id":"local-1","object":"text_completion","model":"echo","choices":[{"index":0,"text":"hello big  world","finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}"#;
    assert_answer("/v1/completions?api-version=2024-05-01-preview", body, expected)
}

#[test]
fn serverless_chat() -> TestResult {
    let body = json!({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "Hi there"}], "temperature": 0});
    let expected = r#"{"id":"local-1","object":"chat.completion","model":"echo","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}"#;
    assert_answer("/models/chat/completions", body, expected)
}

#[test]
fn deployment_header_is_echoed() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let headers = [KEY, ("azureml-model-deployment", "blue")];
    client.send(
        "POST",
        "/score",
        &headers,
        r#"{"inputs": ["x"], "parameters": {}}"#,
    )?;
    assert_eq!(
        client.response()?.header("azureml-model-deployment"),
        Some("blue")
    );
    client.post("/score", &json!({"inputs": ["x"], "parameters": {}}))?;
    assert_eq!(client.response()?.header("azureml-model-deployment"), None);
    Ok(())
}

#[test]
fn chat_stream_events_in_order() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let body = json!({"messages": [{"role": "user", "content": "hello  world\n"}], "stream": true,
                      "stream_options": {"include_usage": true}});
    client.post("/v1/chat/completions", &body)?;
    let (status, headers) = client.head()?;
    assert_eq!(status, 200);
    assert!(headers.contains(&("Content-Type".into(), "text/event-stream".into())));
    assert!(headers.contains(&("Transfer-Encoding".into(), "chunked".into())));
    let start = r#"data: {"id":"local-1","object":"chat.completion.chunk","model":"echo","choices":"#;
    let expected = [
        format!("{start}[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"hello  \"}},\"finish_reason\":null}}]}}\n\n"),
        format!("{start}[{{\"index\":0,\"delta\":{{\"content\":\"world\\n\"}},\"finish_reason\":null}}]}}\n\n"),
        format!("{start}[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"),
        format!("{start}[],\"usage\":{{\"prompt_tokens\":2,\"completion_tokens\":2,\"total_tokens\":4}}}}\n\n"),
        "data: [DONE]\n\n".to_owned(),
    ];
    for event in expected {
        assert_eq!(client.chunk()?, Some(event));
    }
    assert_eq!(client.chunk()?, None);
    // The connection stays usable after the stream.
    client.send("GET", "/", &[], "")?;
    assert_eq!(client.response()?.status, 200);
    Ok(())
}

#[test]
fn completion_stream_keeps_every_character() -> TestResult {
    let local = LocalEndpoint::start()?;
    let body = json!({"prompt": "  lead\ttab ", "stream": true});
    let response = post(&local, "/v1/completions", &body)?;
    let start =
        r#"data: {"id":"local-1","object":"text_completion","model":"echo","choices":[{"index":0,"text":"#;
    let expected = [r#""  ""#, r#""lead\t""#, r#""tab ""#]
        .map(|piece| format!("{start}{piece},\"finish_reason\":null}}]}}\n\n"))
        .concat()
        + &format!("{start}\"\",\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n");
    assert_eq!(response.body, expected);
    Ok(())
}

#[test]
fn empty_stream_has_no_content_events() -> TestResult {
    let local = LocalEndpoint::start()?;
    let body = json!({"messages": [{"role": "user", "content": ""}], "stream": true});
    let response = post(&local, "/v1/chat/completions", &body)?;
    let expected = "data: {\"id\":\"local-1\",\"object\":\"chat.completion.chunk\",\"model\":\"echo\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    assert_eq!(response.body, expected);
    Ok(())
}

#[test]
fn stream_events_arrive_as_they_are_written() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let body = json!({"messages": [{"role": "user", "content": "hi"}], "stream": true, "echo_delay_ms": 600});
    client.post("/v1/chat/completions", &body)?;
    client.head()?;
    let first = client.chunk()?.ok_or("no first event")?;
    let first_at = Instant::now();
    assert!(first.contains(r#""content":"hi""#), "{first}");
    let second = client.chunk()?.ok_or("no second event")?;
    let gap = first_at.elapsed();
    assert!(second.contains(r#""finish_reason":"stop""#), "{second}");
    assert!(
        gap >= Duration::from_millis(400),
        "second event only {gap:?} after the first"
    );
    Ok(())
}

#[test]
fn delay_applies_before_a_json_answer() -> TestResult {
    let local = LocalEndpoint::start()?;
    let started = Instant::now();
    let body = json!({"input_data": {"input_string": ["x"], "parameters": {"echo_delay_ms": 300}}});
    let response = post(&local, "/score", &body)?;
    assert_eq!(response.body, r#"[{"0":"x"}]"#);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[test]
fn special_characters_are_echoed_exactly() -> TestResult {
    let local = LocalEndpoint::start()?;
    let dedicated = post(
        &local,
        "/score",
        &json!({"inputs": {"input_string": [SPECIAL]}, "parameters": {}}),
    )?;
    assert_eq!(dedicated.json()?, json!([{"0": SPECIAL}]));
    assert!(
        dedicated.body.contains(r"nul \u0000 中文 😀"),
        "{}",
        dedicated.body
    );
    let completion = post(&local, "/v1/completions", &json!({"prompt": SPECIAL}))?;
    assert_eq!(
        completion.json()?.pointer("/choices/0/text"),
        Some(&json!(SPECIAL))
    );
    let messages = json!([{"role": "user", "content": SPECIAL}]);
    let chat = post(&local, "/v1/chat/completions", &json!({"messages": messages}))?;
    assert_eq!(
        chat.json()?.pointer("/choices/0/message/content"),
        Some(&json!(SPECIAL))
    );
    let stream = post(
        &local,
        "/v1/chat/completions",
        &json!({"messages": messages, "stream": true}),
    )?;
    let mut text = String::new();
    for data in stream.body.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
        if data != "[DONE]" {
            let event: Value = serde_json::from_str(data)?;
            text.push_str(
                event
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
    }
    assert_eq!(text, SPECIAL);
    Ok(())
}

#[test]
fn keep_alive_and_pipelining() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let body = r#"{"prompt": "one"}"#;
    let request = format!(
        "POST /v1/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.raw(format!("{request}{request}").as_bytes())?;
    for id in ["local-1", "local-2"] {
        let response = client.response()?;
        assert_eq!(response.header("x-request-id"), Some(id));
        assert_eq!(response.json()?.pointer("/choices/0/text"), Some(&json!("one")));
    }
    client.send("GET", "/", &[("Connection", "close")], "")?;
    let response = client.response()?;
    assert_eq!(
        (response.status, response.header("connection")),
        (200, Some("close"))
    );
    assert!(client.closed()?);
    Ok(())
}

#[test]
fn missing_or_empty_key_is_401() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let body = r#"{"prompt": "x"}"#;
    for headers in [
        &[][..],
        &[("Authorization", "Bearer ")],
        &[("Authorization", "Basic abc")],
    ] {
        client.send("POST", "/v1/completions", headers, body)?;
        let response = client.response()?;
        assert_eq!(response.status, 401);
        assert_eq!(
            response.json()?,
            json!({"error": {"message": "missing or empty Authorization: Bearer header"}})
        );
        assert!(response.header("x-request-id").is_some());
    }
    client.send(
        "POST",
        "/v1/completions",
        &[("authorization", "bearer any-key")],
        body,
    )?;
    assert_eq!(client.response()?.status, 200);
    Ok(())
}

#[test]
fn unknown_body_shape_is_400() -> TestResult {
    let local = LocalEndpoint::start()?;
    let response = post(&local, "/v1/chat/completions", &json!({"prompt": "x"}))?;
    assert_eq!(response.status, 400);
    let message = r#"request body has no known shape; accepted /chat/completions body: {"messages": M, ...}; M a non-empty list of {"role", "content"} messages"#;
    assert_eq!(response.json()?, json!({"error": {"message": message}}));
    for body in [
        json!({"inputs": "x"}),
        json!({"input_data": {"input_string": []}}),
        json!([1]),
    ] {
        let response = post(&local, "/score", &body)?;
        assert_eq!(response.status, 400, "{body}");
        let message = response
            .json()?
            .pointer("/error/message")
            .cloned()
            .ok_or("no message")?;
        assert!(
            message.as_str().is_some_and(
                |m| m.starts_with("request body has no known shape; accepted /score bodies: gpt2 ")
            )
        );
    }
    Ok(())
}

#[test]
fn body_that_is_not_json_is_400_and_keeps_the_connection() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    client.send("POST", "/v1/completions", &[KEY], "prompt=x")?;
    let response = client.response()?;
    assert_eq!(response.status, 400);
    let message = response
        .json()?
        .pointer("/error/message")
        .cloned()
        .ok_or("no message")?;
    assert_eq!(
        message,
        json!(
            r#"request body is not JSON (expected value at line 1 column 1); accepted /completions body: {"prompt": P, ...}; P a string"#
        )
    );
    client.send("GET", "/", &[], "")?;
    assert_eq!(client.response()?.status, 200);
    Ok(())
}

#[test]
fn unknown_path_is_404() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    client.send("GET", "/score", &[], "")?;
    let response = client.response()?;
    assert_eq!(response.status, 404);
    let message = "no route for GET /score; the local endpoint answers GET / and POST to paths ending in /score, /completions, /chat/completions, /embeddings or /embed";
    assert_eq!(response.json()?, json!({"error": {"message": message}}));
    client.post("/v1/images/generations?x=1", &json!({"prompt": "x"}))?;
    assert_eq!(client.response()?.status, 404);
    Ok(())
}

#[test]
fn body_limit_is_8_mib() -> TestResult {
    let local = LocalEndpoint::start()?;
    let limit = 8 * 1024 * 1024;
    let mut body = String::from(r#"{"prompt": "fits"}"#);
    body.push_str(&" ".repeat(limit - body.len()));
    let mut client = Client::open(&local)?;
    client.send("POST", "/v1/completions", &[KEY], &body)?;
    let response = client.response()?;
    assert_eq!(response.json()?.pointer("/choices/0/text"), Some(&json!("fits")));

    let mut client = Client::open(&local)?;
    client.raw(
        format!(
            "POST /v1/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: {}\r\n\r\n",
            limit + 1
        )
        .as_bytes(),
    )?;
    let response = client.response()?;
    assert_eq!(response.status, 413);
    let message = "request body of 8388609 bytes exceeds the limit of 8388608 bytes (8 MiB)";
    assert_eq!(response.json()?, json!({"error": {"message": message}}));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed()?);
    Ok(())
}

#[test]
fn chunked_request_body_is_decoded() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    client.raw(b"POST /score HTTP/1.1\r\nAuthorization: Bearer k\r\nTransfer-Encoding: chunked\r\n\r\n")?;
    // Pieces arrive separately, cut inside size lines and data; a size in upper-case hex with
    // an extension; a trailer.
    for piece in [
        &b"A;name=value\r\n{\"inputs\":\r\nF\r"[..],
        b"\n [\"Hi\"], \"param\r\nb\r\nete",
        b"rs\": {}}\r\n0\r\nX-Trailer: t\r\n\r\n",
    ] {
        client.raw(piece)?;
        std::thread::sleep(Duration::from_millis(20));
    }
    let response = client.response()?;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, r#"[{"generated_text":"Hi"}]"#)
    );
    client.send("GET", "/", &[], "")?;
    assert_eq!(client.response()?.status, 200);
    Ok(())
}

#[test]
fn ambiguous_or_unknown_framing_is_refused() -> TestResult {
    let local = LocalEndpoint::start()?;
    let cases: [(&[u8], u16, &str); 5] = [
        (
            b"Transfer-Encoding: gzip, chunked\r\n\r\n{}",
            501,
            r#"unsupported Transfer-Encoding "gzip, chunked"; send the body with Content-Length or Transfer-Encoding: chunked"#,
        ),
        (
            b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
            400,
            "a request may not have both Transfer-Encoding and Content-Length",
        ),
        (
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
            "conflicting Content-Length headers",
        ),
        (
            b"Content-Length: +2\r\n\r\n{}",
            400,
            r#"invalid Content-Length "+2""#,
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            "malformed chunked request body",
        ),
    ];
    // A chunk-size line may carry extensions, but not without end.
    let long_extension = [&b"Transfer-Encoding: chunked\r\n\r\n1;"[..], &[b'x'; 2000]].concat();
    let long_extension = (&long_extension[..], 400, "malformed chunked request body");
    // What follows the Authorization header.
    for (rest, status, message) in cases.into_iter().chain([long_extension]) {
        let mut client = Client::open(&local)?;
        let mut request = b"POST /score HTTP/1.1\r\nAuthorization: Bearer k\r\n".to_vec();
        request.extend_from_slice(rest);
        client.raw(&request)?;
        let response = client.response()?;
        assert_eq!(response.status, status, "{message}");
        assert_eq!(response.json()?, json!({"error": {"message": message}}));
        assert!(client.closed()?, "{message}");
    }
    Ok(())
}

#[test]
fn garbage_does_not_kill_the_server() -> TestResult {
    let local = LocalEndpoint::start()?;
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"\xff\xfe\x00 / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
    ] {
        let mut client = Client::open(&local)?;
        client.raw(garbage)?;
        let response = client.response()?;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.json()?,
            json!({"error": {"message": "malformed request line or header"}})
        );
        assert!(client.closed()?);
    }
    // Half a request, then gone.
    Client::open(&local)?.raw(b"POST /score HTTP/1.1\r\nContent-Le")?;
    let mut client = Client::open(&local)?;
    client.raw(&[b'x'; 70 * 1024])?;
    assert_eq!(client.response()?.status, 431);
    let mut client = Client::open(&local)?;
    client.send("GET", "/", &[], "")?;
    assert_eq!(client.response()?.body, r#"{"status":"ok"}"#);
    Ok(())
}

#[test]
fn shutdown_releases_the_port_and_ends_connections() -> TestResult {
    let local = LocalEndpoint::start()?;
    let addr = local.addr();
    let mut idle = Client::open(&local)?;
    idle.send("GET", "/", &[], "")?;
    assert_eq!(idle.response()?.status, 200);
    // On another thread, so a shutdown that hangs fails the test instead of stalling it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        local.shutdown();
        done.send(())
    });
    finished.recv_timeout(Duration::from_secs(3))?;
    assert!(idle.closed()?);
    drop(TcpListener::bind(addr)?);

    let again = LocalEndpoint::start_on(addr.port())?;
    assert_eq!(again.addr(), addr);
    drop(again);
    drop(TcpListener::bind(addr)?);
    Ok(())
}

/// Asserts a JSON error answer that closes the connection.
fn assert_rejected(client: &mut Client, status: u16, message: &str) -> TestResult {
    let response = client.response()?;
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.json()?, json!({"error": {"message": message}}));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed()?);
    Ok(())
}

#[test]
fn connections_beyond_the_cap_get_503_and_are_closed() -> TestResult {
    let local = LocalEndpoint::builder().max_connections(4).start()?;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut client = Client::open(&local)?;
        client.send("GET", "/", &[], "")?;
        assert_eq!(client.response()?.status, 200);
        held.push(client);
    }
    let message = "the local endpoint already has its maximum of 4 open connections; retry when one closes";
    for _ in 0..3 {
        let mut extra = Client::open(&local)?;
        assert_rejected(&mut extra, 503, message)?;
    }
    // The held connections still work.
    held[0].send("GET", "/", &[], "")?;
    assert_eq!(held[0].response()?.status, 200);
    drop(held);
    // Their threads end once they see the close; a new connection is then served.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let mut client = Client::open(&local)?;
        client.send("GET", "/", &[], "")?;
        let response = client.response()?;
        if response.status == 200 {
            return Ok(());
        }
        assert_eq!(response.status, 503);
        assert!(
            Instant::now() < until,
            "still refused 5 s after the others closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// real deadline: a 0.5 s head deadline, cut within 0.5 s to 1 s.
#[test]
fn a_trickled_head_is_cut_off_at_the_head_deadline() -> TestResult {
    let timeout = Duration::from_millis(500);
    let local = LocalEndpoint::builder().head_timeout(timeout).start()?;
    // A slowloris header, and blank lines before any request line: both are a slow head.
    for (start, trickle) in [(&b"GET / HTTP/1.1\r\nX-Slow: "[..], &b"a"[..]), (b"", b"\r\n")] {
        let mut client = Client::open(&local)?;
        let mut writer = client.reader.get_ref().try_clone()?;
        let started = Instant::now();
        writer.write_all(start)?;
        let trickler = std::thread::spawn(move || {
            // Stops when the server has closed, or after a bound the test fails long before.
            while started.elapsed() < Duration::from_secs(5) && writer.write_all(trickle).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        assert_rejected(&mut client, 408, "request head not complete within 0.5s")?;
        let elapsed = started.elapsed();
        assert!(elapsed >= timeout && elapsed < 2 * timeout, "{elapsed:?}");
        drop(client);
        trickler.join().map_err(|_| "trickler panicked")?;
    }
    Ok(())
}

// real deadline: a 0.5 s idle timeout, closed within 0.25 s to 1 s.
#[test]
fn an_idle_keep_alive_connection_is_closed() -> TestResult {
    let timeout = Duration::from_millis(500);
    let local = LocalEndpoint::builder().idle_timeout(timeout).start()?;
    let mut client = Client::open(&local)?;
    client.send("GET", "/", &[], "")?;
    assert_eq!(client.response()?.status, 200);
    let answered = Instant::now();
    // Closed without an answer: the next read sees the end.
    assert!(client.closed()?);
    let elapsed = answered.elapsed();
    assert!(elapsed >= timeout / 2 && elapsed < 2 * timeout, "{elapsed:?}");
    // A connection that never sends a byte is closed the same way.
    let mut silent = Client::open(&local)?;
    assert!(silent.closed()?);
    Ok(())
}

#[test]
fn a_stalled_body_gets_408() -> TestResult {
    let local = LocalEndpoint::builder()
        .idle_timeout(Duration::from_millis(300))
        .start()?;
    let mut client = Client::open(&local)?;
    client.raw(b"POST /score HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: 100\r\n\r\n{\"in")?;
    assert_rejected(&mut client, 408, "request body stalled: no bytes for 0.3s")
}

#[test]
fn a_crlf_flood_gets_431_and_close() -> TestResult {
    let local = LocalEndpoint::start()?;
    let mut client = Client::open(&local)?;
    let started = Instant::now();
    client.raw(&b"\r\n".repeat(40 * 1024))?;
    let message = "request head exceeds 64 KiB (request line, headers and any blank lines before them)";
    assert_rejected(&mut client, 431, message)?;
    // Answered as soon as the bytes are in, not at the 10 s head deadline.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[test]
fn an_oversized_chunked_body_gets_413() -> TestResult {
    let local = LocalEndpoint::start()?;
    let head =
        "POST /v1/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nTransfer-Encoding: chunked\r\n\r\n";
    let message = "chunked request body exceeds the limit of 8388608 bytes (8 MiB)";
    // A chunk declared too large is refused before its data, however many digits it has.
    for size in ["800001", "ffffffffffffffffffffffff"] {
        let mut client = Client::open(&local)?;
        client.raw(format!("{head}{size}\r\n").as_bytes())?;
        assert_rejected(&mut client, 413, message)?;
    }
    // Exactly 8 MiB in 1 MiB chunks fits; one more byte does not.
    let mib = 1024 * 1024;
    let mut body = br#"{"prompt": "fits"}"#.to_vec();
    body.resize(8 * mib, b' ');
    let mut client = Client::open(&local)?;
    client.raw(head.as_bytes())?;
    for chunk in body.chunks(mib) {
        client.raw(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        client.raw(chunk)?;
        client.raw(b"\r\n")?;
    }
    client.raw(b"0\r\n\r\n")?;
    let response = client.response()?;
    assert_eq!(response.json()?.pointer("/choices/0/text"), Some(&json!("fits")));
    client.raw(head.as_bytes())?;
    for chunk in body.chunks(mib) {
        client.raw(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        client.raw(chunk)?;
        client.raw(b"\r\n")?;
    }
    client.raw(b"1\r\n ")?;
    assert_rejected(&mut client, 413, message)
}
