//! The conformance corpus: what real Azure endpoints and the model catalog send, transcribed
//! from public sources into `fixtures/recorded/` (one case per file, its source cited), replayed
//! through the real client against a server on 127.0.0.1, each checked for exactly the result
//! its source says. See `fixtures/recorded/README.md`.

use crate::support as common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use azureml_endpoint::formatter::{chat_formatter, completion_formatter, PromptFlowContentFormatter};
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatContentFormatter,
    ChatMessage, CompletionStream, ContentFormatter, Error, ToolCall, ToolCalls, Usage,
};
use common::fault::{response, sse, Act, End, FaultServer, Step};
use common::KEY;
use serde_json::{json, Map, Value};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorded")
}

/// Every case, by file name, in name order.
fn cases() -> TestResult<Vec<(String, Value)>> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(corpus_dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            cases.push((name, serde_json::from_slice(&std::fs::read(&path)?)?));
        }
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(cases)
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn object(case: &Value, key: &str) -> Map<String, Value> {
    case.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// What the server sends: a JSON or text body, or events.
fn script(reply: &Value) -> TestResult<Vec<Act>> {
    if let Some(events) = reply.get("events").and_then(Value::as_array) {
        let steps = events
            .iter()
            .map(|event| match event {
                Value::String(raw) => Step::Write(format!("data: {raw}\n\n")),
                json => Step::Write(format!("data: {json}\n\n")),
            })
            .collect();
        return Ok(sse(steps, End::Chunked));
    }
    let status = reply.get("status").and_then(Value::as_u64).ok_or("no status")? as u16;
    let headers: Vec<(String, String)> = reply
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h.get(0)?.as_str()?.to_owned(), h.get(1)?.as_str()?.to_owned())))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let body = match (reply.get("body"), reply.get("body_text").and_then(Value::as_str)) {
        (Some(json), _) => serde_json::to_vec(json)?,
        (None, Some(text)) => text.as_bytes().to_vec(),
        (None, None) => return Err("a response needs body, body_text or events".into()),
    };
    Ok(response(status, &headers, body))
}

fn api_type(case: &Value) -> ApiType {
    if text(case, "api_type") == "serverless" {
        ApiType::Serverless
    } else {
        ApiType::Dedicated
    }
}

fn path(case: &Value) -> &'static str {
    match (api_type(case), text(case, "client")) {
        (ApiType::Dedicated, _) => "/score",
        (_, "chat") => "/v1/chat/completions",
        _ => "/v1/completions",
    }
}

fn flow(case: &Value) -> TestResult<Option<PromptFlowContentFormatter>> {
    match case.get("formatter_settings").and_then(Value::as_object) {
        Some(settings) => Ok(Some(PromptFlowContentFormatter::from_settings(settings)?)),
        None => Ok(None),
    }
}

fn usage(usage: Option<Usage>) -> Value {
    usage.map_or(Value::Null, |u| {
        json!([u.prompt_tokens, u.completion_tokens, u.total_tokens])
    })
}

fn calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| json!([c.id, c.function.name, c.function.arguments]))
        .collect()
}

/// The result as the corpus writes it: the answer's parts, or the error's.
fn outcome(result: Result<Value, Error>) -> Value {
    match result {
        Ok(value) => value,
        Err(Error::Http(e)) => json!({"error": {
            "status": e.status, "message": e.message, "content_filter": e.content_filter,
            "model_status": e.model_status, "model_reason": e.model_reason, "display": e.to_string()}}),
        Err(other) => json!({"other error": other.to_string()}),
    }
}

/// A stream's chunks folded into one answer.
fn fold(stream: CompletionStream) -> Result<Value, Error> {
    let (mut text, mut reasoning, mut finish_reason, mut last_usage) =
        (String::new(), None::<String>, None, None);
    let mut tool_calls = ToolCalls::new();
    for chunk in stream {
        let chunk = chunk?;
        text.push_str(&chunk.text);
        if let Some(piece) = &chunk.reasoning {
            reasoning.get_or_insert_with(String::new).push_str(piece);
        }
        tool_calls.push(&chunk);
        finish_reason = chunk.finish_reason.or(finish_reason);
        last_usage = chunk.usage.or(last_usage);
    }
    let tool_calls = tool_calls.finish()?;
    Ok(
        json!({"text": text, "reasoning": reasoning, "finish_reason": finish_reason,
              "usage": usage(last_usage), "tool_calls": calls(&tool_calls)}),
    )
}

/// Runs one case: its response served on 127.0.0.1, the client's call, what came back and
/// what was sent.
fn replay(case: &Value) -> TestResult<(Value, Option<Value>)> {
    let server = FaultServer::start(vec![script(&case["response"])?]);
    let url = server.url(path(case));
    let tag = text(case, "formatter");
    let stream = case.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let options = CallOptions::new();
    let result = if text(case, "client") == "chat" {
        let formatter: Arc<dyn ChatContentFormatter> = match flow(case)? {
            Some(flow) => Arc::new(flow),
            None => chat_formatter(tag).ok_or("unknown chat formatter")?,
        };
        let client = AzureMlChatOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_type(api_type(case))
            .api_key(KEY)
            .max_retries(0)
            .formatter_arc(formatter)
            .model_kwargs(object(case, "params"))
            .build()?;
        let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone())?;
        if stream {
            client.stream_with(&messages, &options).and_then(fold)
        } else {
            client.invoke_with(&messages, &options).map(|reply| {
                json!({"text": reply.message.text(), "reasoning": reply.reasoning,
                       "finish_reason": reply.finish_reason, "usage": usage(reply.usage),
                       "tool_calls": calls(&reply.message.tool_calls)})
            })
        }
    } else {
        let formatter: Arc<dyn ContentFormatter> = match flow(case)? {
            Some(flow) => Arc::new(flow),
            None => completion_formatter(tag).ok_or("unknown completion formatter")?,
        };
        let client = AzureMlOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_type(api_type(case))
            .api_key(KEY)
            .max_retries(0)
            .formatter_arc(formatter)
            .model_kwargs(object(case, "params"))
            .build()?;
        let prompt = text(case, "prompt");
        if stream {
            client.stream_with(prompt, &options).and_then(fold)
        } else {
            client.invoke_with(prompt, &options).map(|c| {
                json!({"text": c.text, "reasoning": c.reasoning, "finish_reason": c.finish_reason,
                       "usage": usage(c.usage), "tool_calls": []})
            })
        }
    };
    let sent = server
        .requests()
        .first()
        .and_then(|r| serde_json::from_slice(&r.body).ok());
    Ok((outcome(result), sent))
}

#[test]
fn every_recorded_case_parses_as_its_source_says() -> TestResult {
    let cases = cases()?;
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let (got, sent) = match replay(case) {
            Ok(outcome) => outcome,
            Err(e) => {
                failures.push(format!("{name}: cannot replay: {e}"));
                continue;
            }
        };
        if got != case["expected"] {
            failures.push(format!(
                "{name}:\n  expected {}\n  got      {got}",
                case["expected"]
            ));
        }
        if let Some(request) = case.get("request") {
            if sent.as_ref() != Some(request) {
                failures.push(format!(
                    "{name}: request\n  expected {request}\n  sent     {sent:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn the_corpus_covers_what_azure_sends() -> TestResult {
    let cases = cases()?;
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let all =
        |key: &str| -> BTreeSet<String> { cases.iter().map(|(_, c)| text(c, key).to_owned()).collect() };
    let formatters: BTreeSet<&str> = [
        "gpt2",
        "hf",
        "dolly",
        "custom_openai",
        "catalog",
        "custom_openai_chat",
        "mistral_chat",
        "promptflow",
    ]
    .into();
    assert!(
        formatters.iter().all(|f| all("formatter").contains(*f)),
        "{:?}",
        all("formatter")
    );
    assert_eq!(
        all("api_type"),
        ["dedicated".to_owned(), "serverless".to_owned()].into()
    );
    assert_eq!(all("client"), ["chat".to_owned(), "completion".to_owned()].into());
    let statuses: BTreeSet<u64> = cases
        .iter()
        .filter_map(|(_, c)| c["expected"]["error"]["status"].as_u64())
        .collect();
    for status in [400, 401, 404, 408, 424, 429] {
        assert!(statuses.contains(&status), "no {status} case");
    }
    let has = |pred: &dyn Fn(&Value) -> bool| cases.iter().any(|(_, c)| pred(c));
    assert!(has(&|c| c["stream"] == true && c["api_type"] == "serverless"));
    assert!(has(&|c| c["stream"] == true && c["api_type"] == "dedicated"));
    assert!(has(&|c| !c["expected"]["tool_calls"]
        .as_array()
        .is_none_or(Vec::is_empty)));
    assert!(has(
        &|c| c["expected"]["reasoning"].is_string() && c["stream"] == true
    ));
    assert!(has(
        &|c| c["expected"]["reasoning"].is_string() && c["stream"] == false
    ));
    assert!(has(&|c| c["expected"]["finish_reason"] == "content_filter"));
    assert!(has(&|c| !c["expected"]["error"]["content_filter"].is_null()));
    assert!(has(&|c| !c["expected"]["error"]["model_status"].is_null()));
    for (name, case) in &cases {
        let source = &case["source"];
        let cited =
            source["url"].is_string() || (source["repository"].is_string() && source["path"].is_string());
        assert!(cited, "{name} cites no source");
        assert!(
            case["says"].is_string(),
            "{name} does not say what the source says"
        );
    }
    Ok(())
}
