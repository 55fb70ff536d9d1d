//! The echo model: routes a parsed request to the answer of the endpoint shape it imitates.

use std::time::Duration;

use serde_json::{json, Value};

use super::events::Events;
use super::http::{Payload, Reply, Request};

const MAX_DELAY_MS: f64 = 60_000.0;
const UNAUTHORIZED: &str = "missing or empty Authorization: Bearer header";
const ROUTES: &str = "the local endpoint answers GET / and POST to paths ending in /score, \
                      /completions or /chat/completions";
const SCORE_SHAPES: &str = r#"accepted /score bodies: gpt2 {"inputs": {"input_string": [P]}, "parameters": K}, hf {"inputs": [P], "parameters": K}, dolly {"input_data": {"input_string": [P]}, "parameters": K}, custom_openai {"input_data": {"input_string": [P], "parameters": K}}, chat {"input_data": {"input_string": M, "parameters": K}}; P a prompt string, M a non-empty list of {"role", "content"} messages"#;
const COMPLETIONS_SHAPE: &str = r#"accepted /completions body: {"prompt": P, ...}; P a string"#;
const CHAT_SHAPE: &str = r#"accepted /chat/completions body: {"messages": M, ...}; M a non-empty list of {"role", "content"} messages"#;

fn authorized(req: &Request) -> bool {
    req.header("authorization")
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
}

#[derive(Clone, Copy)]
enum Route {
    Score,
    Completions,
    Chat,
}

pub(super) fn answer(req: &Request, id: &str) -> Reply {
    let path = req.target.split('?').next().unwrap_or_default();
    let not_found = || Reply::error(404, &format!("no route for {} {path}; {ROUTES}", req.method));
    match req.method.as_str() {
        "GET" if path == "/" => return Reply::json(200, json!({"status": "ok"})),
        "POST" if !authorized(req) => return Reply::error(401, UNAUTHORIZED),
        "POST" => {}
        _ => return not_found(),
    }
    let (route, accepted) = if path.ends_with("/score") {
        (Route::Score, SCORE_SHAPES)
    } else if path.ends_with("/chat/completions") {
        (Route::Chat, CHAT_SHAPE)
    } else if path.ends_with("/completions") {
        (Route::Completions, COMPLETIONS_SHAPE)
    } else {
        return not_found();
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(e) => return Reply::error(400, &format!("request body is not JSON ({e}); {accepted}")),
    };
    let payload = match route {
        Route::Score => score(&body).map(Payload::Json),
        Route::Completions => body
            .get("prompt")
            .and_then(Value::as_str)
            .map(|p| serverless(false, p, &body, id)),
        Route::Chat => body
            .get("messages")
            .and_then(last_content)
            .map(|t| serverless(true, t, &body, id)),
    };
    match payload {
        Some(payload) => Reply {
            status: 200,
            payload,
            delay: delay(&body),
        },
        None => Reply::error(400, &format!("request body has no known shape; {accepted}")),
    }
}

/// The dedicated formatters' answers, told apart by the body's shape.
fn score(body: &Value) -> Option<Value> {
    let each = |prompts: Vec<&str>, item: fn(&str) -> Value| prompts.into_iter().map(item).collect();
    if let Some(inputs) = body.get("inputs") {
        if let Some(prompts) = inputs.get("input_string").and_then(prompt_list) {
            return Some(each(prompts, |p| json!({"0": p})));
        }
        return prompt_list(inputs).map(|prompts| each(prompts, |p| json!({"generated_text": p})));
    }
    let data = body.get("input_data")?;
    let input = data.get("input_string")?;
    if let Some(text) = last_content(input) {
        return Some(json!({"output": text}));
    }
    let prompts = prompt_list(input)?;
    // dolly and custom_openai differ only in where `parameters` sits.
    Some(match data.get("parameters") {
        Some(_) => each(prompts, |p| json!({"0": p})),
        None => each(prompts, |p| json!(p)),
    })
}

/// A non-empty list of strings.
fn prompt_list(value: &Value) -> Option<Vec<&str>> {
    value
        .as_array()
        .filter(|l| !l.is_empty())?
        .iter()
        .map(Value::as_str)
        .collect()
}

/// The last message's content, from a non-empty list of message objects.
fn last_content(messages: &Value) -> Option<&str> {
    let list = messages.as_array().filter(|l| l.iter().all(Value::is_object))?;
    match list.last()?.get("content") {
        None | Some(Value::Null) => Some(""),
        Some(content) => content.as_str(),
    }
}

fn delay(body: &Value) -> Duration {
    let ms = [
        "/echo_delay_ms",
        "/parameters/echo_delay_ms",
        "/input_data/parameters/echo_delay_ms",
    ]
    .iter()
    .find_map(|p| body.pointer(p))
    .and_then(Value::as_f64)
    .unwrap_or(0.0);
    // A saturating cast: negative becomes 0.
    Duration::from_millis(ms.min(MAX_DELAY_MS) as u64)
}

fn serverless(chat: bool, text: &str, body: &Value, id: &str) -> Payload {
    let n = text.split_whitespace().count();
    let usage = json!({"prompt_tokens": n, "completion_tokens": n, "total_tokens": 2 * n});
    if body.get("stream") == Some(&Value::Bool(true)) {
        let with_usage = body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
        return Payload::Events(Events::new(id, chat, text, with_usage.then_some(usage)));
    }
    let (object, field, content) = match chat {
        true => (
            "chat.completion",
            "message",
            json!({"role": "assistant", "content": text}),
        ),
        false => ("text_completion", "text", json!(text)),
    };
    let choice = json!({"index": 0, field: content, "finish_reason": "stop", "logprobs": null});
    Payload::Json(json!({"id": id, "object": object, "model": "echo", "choices": [choice], "usage": usage}))
}
