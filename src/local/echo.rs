//! The echo model: routes a parsed request to the answer of the endpoint shape it imitates.

use std::time::Duration;

use serde_json::{json, Value};

use super::events::Events;
use super::http::{Payload, Reply, Request};

const MAX_DELAY_MS: f64 = 60_000.0;
const UNAUTHORIZED: &str = "missing or empty Authorization: Bearer header";
const ROUTES: &str = "the local endpoint answers GET / and POST to paths ending in /score, \
                      /completions, /chat/completions, /embeddings or /embed";
const SCORE_SHAPES: &str = r#"accepted /score bodies: gpt2 {"inputs": {"input_string": [P]}, "parameters": K}, hf {"inputs": [P], "parameters": K}, dolly {"input_data": {"input_string": [P]}, "parameters": K}, custom_openai {"input_data": {"input_string": [P], "parameters": K}}, chat {"input_data": {"input_string": M, "parameters": K}}, clip_text_embeddings {"input_data": {"columns": ["image", "text"], "data": [["", T]]}}; P a prompt string, M a non-empty list of {"role", "content"} messages, T a text"#;
const COMPLETIONS_SHAPE: &str = r#"accepted /completions body: {"prompt": P, ...}; P a string"#;
const CHAT_SHAPE: &str = r#"accepted /chat/completions body: {"messages": M, ...}; M a non-empty list of {"role", "content"} messages"#;
const EMBEDDINGS_SHAPE: &str =
    r#"accepted /embeddings body: {"input": T, ...}; T a string or a non-empty list of strings"#;
const EMBED_SHAPE: &str = r#"accepted /embed body: {"texts": T, ...}; T a non-empty list of strings"#;
/// The length of an echo vector unless `dimensions` asks for another.
const DIMENSIONS: u64 = 8;
const MAX_DIMENSIONS: u64 = 4096;

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
    Embeddings,
    Embed,
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
    } else if path.ends_with("/embeddings") {
        (Route::Embeddings, EMBEDDINGS_SHAPE)
    } else if path.ends_with("/embed") {
        (Route::Embed, EMBED_SHAPE)
    } else {
        return not_found();
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(e) => return Reply::error(400, &format!("request body is not JSON ({e}); {accepted}")),
    };
    let payload = match route {
        Route::Embeddings | Route::Embed => match embeddings(route, &body, id) {
            Ok(answer) => answer.map(Payload::Json),
            Err(unsupported) => return Reply::error(422, &unsupported),
        },
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
    if let Some(rows) = data.get("data").filter(|_| data.get("columns").is_some()) {
        let texts = rows
            .as_array()
            .filter(|l| !l.is_empty())?
            .iter()
            .map(|row| row.get(1).and_then(Value::as_str))
            .collect::<Option<Vec<_>>>()?;
        return Some(
            texts
                .into_iter()
                .map(|t| json!({"text_features": vector(t, DIMENSIONS)}))
                .collect(),
        );
    }
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

/// The serverless embeddings answers: OpenAI's for `/embeddings`, Cohere's for `/embed`; `None`
/// for a body of neither shape, the message of a 422 (as Azure's) for an unsupported parameter
/// value.
fn embeddings(route: Route, body: &Value, id: &str) -> Result<Option<Value>, String> {
    let key = if let Route::Embed = route {
        "texts"
    } else {
        "input"
    };
    let texts = match (route, body.get(key)) {
        (Route::Embeddings, Some(Value::String(one))) => vec![one.as_str()],
        (_, Some(list)) => match prompt_list(list) {
            Some(texts) => texts,
            None => return Ok(None),
        },
        (_, None) => return Ok(None),
    };
    let dimensions = match body.get("dimensions") {
        None => DIMENSIONS,
        Some(n) => match n.as_u64().filter(|n| (1..=MAX_DIMENSIONS).contains(n)) {
            Some(n) => n,
            None => {
                return Err(format!(
                    "`dimensions` must be an integer from 1 to {MAX_DIMENSIONS}, got {n}"
                ))
            }
        },
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(format!(
                "`encoding_format` {other:?} is not supported; use \"float\" or \"base64\""
            ))
        }
    };
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let vectors = texts.iter().map(|t| vector(t, dimensions));
    if let Route::Embed = route {
        let vectors: Vec<Value> = vectors.collect();
        let embeddings = match body.get("embedding_types") {
            Some(_) => json!({"float": vectors}),
            None => json!(vectors),
        };
        return Ok(Some(json!({"id": id, "embeddings": embeddings, "texts": texts,
            "meta": {"billed_units": {"input_tokens": tokens}}})));
    }
    let data: Vec<Value> = vectors
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                json!(little_endian_base64(&v))
            } else {
                v
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(Some(json!({"object": "list", "data": data, "model": "echo",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})))
}

/// A text's echo vector: `dimensions` numbers in [-1, 1] with 3 decimals, from an FNV-1a hash of
/// the text (the same text always gives the same vector).
fn vector(text: &str, dimensions: u64) -> Value {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (0..dimensions)
        .map(|_| {
            // splitmix64: a well-spread number per dimension from the one hash.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
            json!(((unit * 2.0 - 1.0) * 1000.0).round() / 1000.0)
        })
        .collect()
}

/// A vector as `encoding_format: "base64"` sends it: little-endian f32s.
fn little_endian_base64(vector: &Value) -> String {
    let bytes: Vec<u8> = vector
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .flat_map(|x| (x as f32).to_le_bytes())
        .collect();
    crate::base64::encode(&bytes)
}
