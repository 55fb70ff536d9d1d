//! Conformance against the real Azure ML scoring server: Microsoft's `azmlinfsrv` 1.5.1 running
//! the echo model `tests/peer/score.py`, which answers each dedicated request shape with the text
//! it received and fails on demand (see `tests/peer/README.md`).
//!
//! `scripts/peer-tests.sh` starts the server, sets `AZUREML_PEER_URL` and runs these tests;
//! plain `cargo test` lists them as ignored. Run by hand, a test without `AZUREML_PEER_URL` fails.

use std::time::{Duration, Instant};

use crate::support::TempDir;
use crate::support::{KEY, SPECIAL};
use azureml_endpoint::formatter::{completion_formatter, parse_json, text_at};
use azureml_endpoint::{
    error::TransportErrorKind, formatter::CustomOpenAiChatContentFormatter,
    formatter::MistralChatContentFormatter, ApiType, AzureMlChatOnlineEndpoint,
    AzureMlChatOnlineEndpointBuilder, AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder, CallOptions,
    ChatCompletion, ChatContentFormatter, ChatMessage, Completion, ContentFormatter, Error, Result, Role,
};
use serde_json::{json, Map, Value};

/// SPECIAL plus characters JSON encoders treat specially: CR, ESC, DEL, U+2028, BOM, a
/// character outside the BMP that is not an emoji, and a combining sequence.
const HOSTILE: &str = "Quote \" backslash \\ newline \n tab \t nul \u{0} 中文 emoji 🦀 end \
                       cr \r esc \u{1b} del \u{7f} ls \u{2028} bom \u{feff} clef 𝄞 e\u{301} </script>";

const DEDICATED_COMPLETION_TAGS: [&str; 4] = ["gpt2", "hf", "dolly", "custom_openai"];

fn peer_url() -> String {
    match std::env::var("AZUREML_PEER_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "AZUREML_PEER_URL is not set: these tests need the real Azure ML scoring server \
             (azmlinfsrv with tests/peer/score.py); run scripts/peer-tests.sh, which starts it and sets the URL"
        ),
    }
}

fn completion(tag: &str) -> AzureMlOnlineEndpointBuilder {
    let formatter = completion_formatter(tag).unwrap_or_else(|| panic!("no built-in formatter `{tag}`"));
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(peer_url())
        .api_key(KEY)
        .formatter_arc(formatter)
}

fn chat(formatter: impl ChatContentFormatter + 'static) -> AzureMlChatOnlineEndpointBuilder {
    AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(peer_url())
        .api_key(KEY)
        .formatter(formatter)
}

/// Sends what `custom_openai_chat` sends and returns the whole response body as the reply, to
/// read the echo model's extras (`deployment`, `headers`, `parameters`).
#[derive(Debug)]
struct WholeBody;

impl ChatContentFormatter for WholeBody {
    fn tag(&self) -> &str {
        "whole_body"
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_messages(
        &self,
        messages: &[ChatMessage],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        CustomOpenAiChatContentFormatter.format_messages(messages, params, api_type)
    }

    fn format_response(&self, body: &[u8], _: ApiType) -> Result<ChatCompletion> {
        Ok(ChatCompletion::new(ChatMessage::assistant(
            String::from_utf8_lossy(body),
        )))
    }
}

/// The body a model of another family expects: the wrong formatter for the echo model.
#[derive(Debug)]
struct PromptOnly;

impl ContentFormatter for PromptOnly {
    fn tag(&self) -> &str {
        "prompt_only"
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, _: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        Ok(json!({ "prompt": prompt }).to_string().into_bytes())
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        let json = parse_json(self.tag(), api_type, body)?;
        text_at(self.tag(), api_type, body, &json, &["[0].0"]).map(Completion::new)
    }
}

/// The whole-body reply of `WholeBody`, parsed.
fn echoed(reply: &ChatCompletion) -> Value {
    serde_json::from_str(reply.message.text()).unwrap_or_else(|e| panic!("{e}: {:?}", reply.message.text()))
}

/// azmlinfsrv makes a fresh UUID for requests that bring no id of their own.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn http_error(result: Result<impl std::fmt::Debug>) -> Box<azureml_endpoint::error::HttpError> {
    match result {
        Err(Error::Http(http)) => http,
        other => panic!("expected Error::Http, got {other:?}"),
    }
}

fn assert_completion_echo(tag: &str) -> Result<()> {
    let llm = completion(tag).model_kwarg("max_new_tokens", 8).build()?;
    let completion = llm.invoke_with(HOSTILE, &CallOptions::new().param("temperature", 0.5))?;
    assert_eq!(completion.text, HOSTILE, "{tag}");
    assert_eq!(
        (&completion.finish_reason, &completion.logprobs, &completion.usage),
        (&None, &None, &None),
        "{tag}"
    );
    let id = completion.request_id.as_deref().unwrap_or_default();
    assert!(is_uuid(id), "{tag}: request id {id:?}");
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn gpt2_end_to_end() -> Result<()> {
    assert_completion_echo("gpt2")
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn hf_end_to_end() -> Result<()> {
    assert_completion_echo("hf")
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn dolly_end_to_end() -> Result<()> {
    assert_completion_echo("dolly")
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn custom_openai_end_to_end() -> Result<()> {
    assert_completion_echo("custom_openai")
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn custom_openai_chat_end_to_end() -> Result<()> {
    let client = chat(CustomOpenAiChatContentFormatter)
        .model_kwarg("temperature", 0.2)
        .build()?;
    let conversation = [
        ChatMessage::system("Answer briefly."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Hello."),
        ChatMessage::user(HOSTILE),
    ];
    let reply = client.invoke(&conversation)?;
    assert_eq!(reply.message, ChatMessage::assistant(HOSTILE));
    assert_eq!(reply.message.role, Role::Assistant);
    assert!(
        is_uuid(reply.request_id.as_deref().unwrap_or_default()),
        "{reply:?}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn mistral_chat_merges_the_system_message_on_dedicated() -> Result<()> {
    let client = chat(MistralChatContentFormatter).build()?;
    let merged = client.invoke(&[ChatMessage::system("Be terse."), ChatMessage::user(HOSTILE)])?;
    assert_eq!(merged.message.text(), format!("Be terse.\n\n{HOSTILE}"));
    let alone = client.invoke(&[ChatMessage::system("Only a system message.")])?;
    assert_eq!(alone.message.text(), "Only a system message.");
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn special_characters_arrive_intact_both_ways() -> Result<()> {
    // The server sends \u escapes and surrogate pairs by default, raw UTF-8 with "utf8": true.
    for utf8 in [false, true] {
        let options = CallOptions::new().param("utf8", utf8);
        for tag in DEDICATED_COMPLETION_TAGS {
            let text = completion(tag).build()?.invoke_with(HOSTILE, &options)?.text;
            assert_eq!(text, HOSTILE, "{tag}, utf8 {utf8}");
        }
        let reply = chat(CustomOpenAiChatContentFormatter)
            .build()?
            .invoke_with(&[ChatMessage::user(SPECIAL)], &options)?;
        assert_eq!(reply.message.text(), SPECIAL, "chat, utf8 {utf8}");
    }
    // Parameter keys and values are encoded once, keep their order, and reach the model as sent.
    let reply = chat(WholeBody)
        .model_kwarg(HOSTILE, HOSTILE)
        .model_kwarg("want_parameters", true)
        .build()?
        .invoke_with(&[ChatMessage::user("p")], &CallOptions::new().param("z", SPECIAL))?;
    let echoed = echoed(&reply);
    let parameters = echoed["parameters"]
        .as_object()
        .unwrap_or_else(|| panic!("{echoed}"));
    assert_eq!(
        parameters.iter().collect::<Vec<_>>(),
        [
            (&HOSTILE.to_owned(), &json!(HOSTILE)),
            (&"want_parameters".to_owned(), &json!(true)),
            (&"z".to_owned(), &json!(SPECIAL)),
        ]
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn deployment_name_is_sent_as_the_azureml_model_deployment_header() -> Result<()> {
    let ask = |builder: AzureMlChatOnlineEndpointBuilder| -> Result<Value> {
        let reply = builder
            .model_kwarg("want_deployment", true)
            .build()?
            .invoke(&[ChatMessage::user("which deployment?")])?;
        Ok(echoed(&reply))
    };
    assert_eq!(
        ask(chat(WholeBody).deployment_name("blue-v2"))?,
        json!({"output": "which deployment?", "deployment": "blue-v2"})
    );
    assert_eq!(
        ask(chat(WholeBody))?,
        json!({"output": "which deployment?", "deployment": null}),
        "no deployment name: no header, the endpoint's traffic split decides"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn request_headers_arrive_as_the_server_reads_them() -> Result<()> {
    let names = [
        "Authorization",
        "api-key",
        "Content-Type",
        "Accept",
        "User-Agent",
        "extra-parameters",
    ];
    let reply = chat(WholeBody)
        .extra_header("extra-parameters", "pass-through")
        .model_kwarg("want_headers", json!(names))
        .build()?
        .invoke(&[ChatMessage::user("headers?")])?;
    assert_eq!(
        echoed(&reply)["headers"],
        json!({
            "Authorization": format!("Bearer {KEY}"),
            "api-key": null,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": concat!("azureml-endpoint-rs/", env!("CARGO_PKG_VERSION")),
            "extra-parameters": "pass-through",
        }),
        "dedicated endpoints get the key as a bearer token only"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn a_raising_run_is_http_500_with_the_service_message_and_our_request_id() -> Result<()> {
    let llm = completion("gpt2")
        .max_retries(1)
        .extra_header("x-request-id", "peer-raise-1")
        .build()?;
    let err = llm
        .invoke_with("p", &CallOptions::new().param("fail", "raise"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "endpoint answered HTTP 500 (server error): An unexpected error occurred in scoring script. \
         Check the logs for more info.; request id peer-raise-1; after 2 attempts"
    );
    let http = http_error(Err::<(), _>(err));
    assert_eq!(
        (
            http.status,
            http.message.as_deref(),
            http.request_id.as_deref(),
            http.attempts
        ),
        (
            500,
            Some("An unexpected error occurred in scoring script. Check the logs for more info."),
            Some("peer-raise-1"),
            2
        ),
        "500 is retried once, then reported"
    );
    assert_eq!(
        (http.model_status, http.model_reason, http.retry_after),
        (None, None, None)
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn server_generated_request_ids_are_reported_on_success_and_failure() -> Result<()> {
    let llm = completion("gpt2").max_retries(0).build()?;
    let first = llm.invoke("p")?.request_id.unwrap_or_default();
    let second = llm.invoke("p")?.request_id.unwrap_or_default();
    assert!(
        is_uuid(&first) && is_uuid(&second) && first != second,
        "{first:?} {second:?}"
    );
    let http = http_error(llm.invoke_with("p", &CallOptions::new().param("fail", "raise")));
    let failed = http.request_id.as_deref().unwrap_or_default();
    assert!(
        is_uuid(failed) && failed != first && failed != second,
        "{failed:?}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn status_424_carries_the_model_container_status_and_is_not_retried() -> Result<()> {
    let llm = completion("custom_openai")
        .max_retries(3)
        .extra_header("x-request-id", "peer-424")
        .build()?;
    let options = CallOptions::new().param("status", 424).param(
        "status_headers",
        json!({"ms-azureml-model-error-statuscode": "503", "ms-azureml-model-error-reason": "model not ready"}),
    );
    let err = llm.invoke_with("p", &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "endpoint answered HTTP 424 (the model container failed): status on purpose; \
         model container status 503, reason model not ready; request id peer-424"
    );
    let http = http_error(Err::<(), _>(err));
    assert_eq!(
        (
            http.status,
            http.model_status.as_deref(),
            http.model_reason.as_deref(),
            http.attempts
        ),
        (424, Some("503"), Some("model not ready"), 1)
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn status_429_with_retry_after_is_retried_after_the_wait_then_reported() -> Result<()> {
    let llm = completion("hf")
        .max_retries(2)
        .extra_header("x-request-id", "peer-429")
        .build()?;
    let options = CallOptions::new()
        .param("status", 429)
        .param("status_headers", json!({"retry-after": "1"}));
    let start = Instant::now();
    let err = llm.invoke_with("p", &options).unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(
        err.to_string(),
        "endpoint answered HTTP 429 (throttled: lower the request rate or raise the quota): \
         status on purpose; request id peer-429; after 3 attempts"
    );
    assert_eq!((err.status(), err.request_id()), (Some(429), Some("peer-429")));
    // Two waits of the 1 s the server asked for, not the 0.8 s backoff.
    assert!(
        elapsed >= Duration::from_millis(1950) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn a_request_the_model_rejects_is_http_400_and_not_retried() -> Result<()> {
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(peer_url())
        .api_key(KEY)
        .formatter(PromptOnly)
        .max_retries(3)
        .build()?;
    let start = Instant::now();
    let http = http_error(llm.invoke("p"));
    assert_eq!(
        (http.status, http.message.as_deref(), http.attempts),
        (
            400,
            Some("echo model: unrecognised request shape: unexpected top-level keys ['prompt']"),
            1
        )
    );
    // Three retries would wait at least 2.8 s of backoff (0.4 + 0.8 + 1.6).
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn a_slow_run_hits_the_client_timeout() -> Result<()> {
    let llm = completion("dolly")
        .timeout(Duration::from_millis(500))
        .max_retries(3)
        .build()?;
    let start = Instant::now();
    let err = llm
        .invoke_with("p", &CallOptions::new().param("delay_ms", 2000))
        .unwrap_err();
    let elapsed = start.elapsed();
    let Error::Transport(t) = &err else {
        panic!("expected Error::Transport, got {err:?}")
    };
    assert_eq!(
        (t.kind, t.attempts, t.may_have_run, t.host.as_str()),
        (TransportErrorKind::Timeout, 1, true, "127.0.0.1"),
        "the body reached the model, so a read timeout is not retried"
    );
    assert_eq!(
        err.to_string(),
        "request timed out at 127.0.0.1: no complete response within 0.5 s; the model may have run (not retried)"
    );
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn a_per_call_timeout_overrides_the_client_timeout() -> Result<()> {
    let llm = completion("gpt2").build()?;
    let start = Instant::now();
    let err = llm
        .invoke_with(
            "p",
            &CallOptions::new()
                .param("delay_ms", 2000)
                .timeout(Duration::from_millis(300)),
        )
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::Timeout),
        "{err:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1300),
        "{elapsed:?}"
    );
    // A call slower than the server's answer but within the timeout succeeds.
    let slow = CallOptions::new()
        .param("delay_ms", 300)
        .timeout(Duration::from_secs(5));
    assert_eq!(llm.invoke_with("p", &slow)?.text, "p");
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn generate_on_8_threads_returns_every_result_in_order() -> Result<()> {
    let prompts: Vec<String> = (0..48).map(|i| format!("prompt {i} {SPECIAL}")).collect();
    let options = CallOptions::new().param("delay_ms", 20).max_concurrency(8);
    for tag in ["gpt2", "custom_openai"] {
        let results = completion(tag).build()?.generate(&prompts, &options);
        let texts = results
            .into_iter()
            .map(|r| r.map(|c| c.text))
            .collect::<Result<Vec<_>>>()?;
        assert_eq!(texts, prompts, "{tag}");
    }
    let conversations: Vec<[ChatMessage; 1]> = prompts.iter().map(|p| [ChatMessage::user(p)]).collect();
    let replies = chat(CustomOpenAiChatContentFormatter)
        .build()?
        .generate(&conversations, &options);
    let texts = replies
        .into_iter()
        .map(|r| r.map(|c| c.message.content.unwrap_or_default()))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(texts, prompts, "chat");
    Ok(())
}

/// Runs the real binary with the key in its environment; the key must never reach its output.
fn cli(args: &[&str]) -> std::process::Output {
    cli_with_stdin(args, "")
}

/// As [`cli`], with `stdin` as standard input (argv cannot carry a NUL).
fn cli_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(crate::support::cli::BIN)
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run azureml-endpoint");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait for azureml-endpoint");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(KEY), "the key leaked into the CLI output: {all}");
    output
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn cli_complete_and_chat_with_saved_configs() -> Result<()> {
    let dir = TempDir::new("peer-configs");
    let url = peer_url();
    for tag in DEDICATED_COMPLETION_TAGS {
        let config = dir.join(format!("{tag}.yaml"));
        let config = config.to_str().expect("utf-8 path");
        let out = cli(&[
            "config",
            "new",
            "-o",
            config,
            "--url",
            &url,
            "--formatter",
            tag,
            "--deployment",
            "blue",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = cli_with_stdin(&["complete", "--config", config, "--json", "-"], SPECIAL);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Value = serde_json::from_slice(&out.stdout).expect("--json output");
        assert_eq!(value["text"], SPECIAL, "{tag}");
        assert!(
            is_uuid(value["request_id"].as_str().unwrap_or_default()),
            "{value}"
        );
    }
    let chat_config = dir.join("chat.json");
    let chat_config = chat_config.to_str().expect("utf-8 path");
    let out = cli(&[
        "config",
        "new",
        "-o",
        chat_config,
        "--url",
        &url,
        "--formatter",
        "mistral_chat",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "chat",
        "--config",
        chat_config,
        "--system",
        "Be terse.",
        "hello 🦀",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Be terse.\n\nhello 🦀\n");

    // A failing run(): exit 1, the service's message and request id on stderr, nothing on stdout.
    let gpt2 = dir.join("gpt2.yaml");
    let out = cli(&[
        "complete",
        "--config",
        gpt2.to_str().unwrap_or_default(),
        "--param",
        "fail=raise",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: endpoint answered HTTP 500"),
        "{stderr}"
    );
    assert!(
        stderr.contains("An unexpected error occurred in scoring script") && stderr.contains("request id "),
        "{stderr}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the real Azure ML scoring server: run scripts/peer-tests.sh"]
fn cli_batch_with_a_saved_config() -> Result<()> {
    let dir = TempDir::new("peer-batch");
    let url = peer_url();
    let config = dir.join("azureml.json");
    let config = config.to_str().expect("utf-8 path");
    let out = cli(&[
        "config",
        "new",
        "-o",
        config,
        "--url",
        &url,
        "--formatter",
        "dolly",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let input = dir.join("in.jsonl");
    let output = dir.join("out.jsonl");
    let lines: Vec<String> = (0..24)
        .map(|i| json!({"prompt": format!("{i}: {SPECIAL}")}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").map_err(|e| Error::Input(e.to_string().into()))?;
    let out = cli(&[
        "batch",
        "--config",
        config,
        "--input",
        input.to_str().unwrap_or_default(),
        "--output",
        output.to_str().unwrap_or_default(),
        "--concurrency",
        "8",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&output).map_err(|e| Error::Input(e.to_string().into()))?;
    let records: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 24);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["line"], i + 1);
        assert_eq!(record["text"], format!("{i}: {SPECIAL}").as_str());
    }
    Ok(())
}
