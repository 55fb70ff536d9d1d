//! `complete`, `chat` and `embed`: one call, printed as text or JSON.

use std::io::{self, BufWriter, IsTerminal, Read, Write};

use azureml_endpoint::{ChatCompletion, ChatMessage, Completion, ContentPart, Usage};
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::Args;
use crate::client::{call_options, chat_client, completion_client, embeddings_client};
use crate::command::Command;
use crate::failure::Failure;
use crate::stream_json::{print, print_tool_calls};

pub fn complete(args: &Args) -> Result<u8, Failure> {
    let llm = completion_client(args)?;
    let prompt = text_argument(args, Command::Complete)?;
    let options = call_options(args);
    if args.stream {
        return print(llm.stream_with(&prompt, &options)?, args, false);
    }
    let completion = llm.invoke_with(&prompt, &options)?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", completion_json(&completion))?;
    } else {
        print_reasoning(&mut out, args, completion.reasoning.as_deref())?;
        writeln!(out, "{}", completion.text)?;
    }
    Ok(finish_status(completion.finish_reason.as_deref()))
}

pub fn chat(args: &Args) -> Result<u8, Failure> {
    let client = chat_client(args)?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    if let Some(path) = &args.messages {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read --messages {}: {e}", path.display())))?;
        let conversation: Vec<ChatMessage> = serde_json::from_str(&text).map_err(|e| {
            Failure::usage(format!(
                "--messages {}: not a JSON array of messages: {e}",
                path.display()
            ))
        })?;
        messages.extend(conversation);
    }
    // With --messages, MESSAGE is optional: the file may end with the user's turn.
    if !(args.messages.is_some() && args.positional.is_empty()) {
        let images: Vec<ContentPart> = args.images.iter().map(|i| image(i)).collect::<Result<_, _>>()?;
        messages.push(ChatMessage::user(text_argument(args, Command::Chat)?).with_parts(images));
    } else if !args.images.is_empty() {
        return Err(Failure::usage(
            "--image attaches to MESSAGE: give MESSAGE too, or put the image in the --messages file"
                .to_owned(),
        ));
    }
    let options = call_options(args);
    if args.stream {
        return print(client.stream_with(&messages, &options)?, args, true);
    }
    let reply = client.invoke_with(&messages, &options)?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", chat_json(&reply))?;
    } else {
        print_reasoning(&mut out, args, reply.reasoning.as_deref())?;
        let message = &reply.message;
        // A reply whose content is a list prints its text parts, in order; a reply that only
        // calls tools (content null or "") prints its calls, not a blank line first.
        let parts = message.parts.iter().filter_map(ContentPart::as_text);
        let text: String = std::iter::once(message.text()).chain(parts).collect();
        if !text.is_empty() || message.tool_calls.is_empty() {
            writeln!(out, "{text}")?;
        }
        print_tool_calls(&mut out, &reply.message.tool_calls)?;
    }
    Ok(finish_status(reply.finish_reason.as_deref()))
}

/// With `--show-reasoning`, a reasoning model's thinking before the answer, in the `<think>`
/// block such models write.
fn print_reasoning(out: &mut impl Write, args: &Args, reasoning: Option<&str>) -> io::Result<()> {
    match reasoning {
        Some(reasoning) if args.show_reasoning => write!(out, "<think>\n{reasoning}\n</think>\n\n"),
        _ => Ok(()),
    }
}

/// The exit status for an answer that stopped for `finish_reason`: a reply the content filter
/// cut is printed as far as it came, then flagged on stderr and by status 1, never passed off as
/// whole.
pub fn finish_status(finish_reason: Option<&str>) -> u8 {
    if finish_reason != Some("content_filter") {
        return 0;
    }
    eprintln!(
        "warning: the answer was cut by the content filter (finish_reason content_filter); it is incomplete"
    );
    1
}

/// What `embed --json` prints. Vectors are written as the `f32`s they are (`0.123`, not the
/// `0.12300000339746475` a detour through `f64` would print).
#[derive(Serialize)]
struct EmbedJson<'a> {
    embeddings: &'a [Vec<f32>],
    usage: Option<Usage>,
    model: Option<&'a str>,
}

/// Each TEXT (or each stdin line) is one input; one JSON array per input, in input order.
pub fn embed(args: &Args) -> Result<u8, Failure> {
    let client = embeddings_client(args)?;
    let inputs = embed_inputs(args)?;
    let embeddings = client.embed_with(&inputs, &call_options(args))?;
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let record = EmbedJson {
            embeddings: &embeddings.vectors,
            usage: embeddings.usage,
            model: embeddings.model.as_deref(),
        };
        writeln!(out, "{}", to_json(&record)?)?;
    } else {
        for vector in &embeddings.vectors {
            writeln!(out, "{}", to_json(vector)?)?;
        }
    }
    out.flush()?;
    Ok(0)
}

/// The inputs of `embed`: the TEXT arguments, or stdin's lines for `-` or none (each line one
/// input, its line break dropped).
fn embed_inputs(args: &Args) -> Result<Vec<String>, Failure> {
    let from_stdin = match args.positional.as_slice() {
        [] if io::stdin().is_terminal() => {
            return Err(Failure::new(
                2,
                "no TEXT: give each as an argument, or pipe them on stdin, one per line".into(),
                "azureml-endpoint embed [FLAGS] -- 'TEXT' ..., or '-' to type them (end with Ctrl-D)".into(),
            ))
        }
        [] => true,
        [dash] => dash == "-",
        _ => false,
    };
    if !from_stdin {
        return args
            .positional
            .iter()
            .map(|text| {
                text.clone()
                    .into_string()
                    .map_err(|_| Failure::usage("a TEXT argument is not valid UTF-8"))
            })
            .collect();
    }
    let text = read_stdin("TEXT")?;
    Ok(text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line).to_owned())
        .collect())
}

/// JSON text for what the CLI prints (serde_json fails only on maps with non-string keys, which
/// these have none of).
fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map_err(|e| Failure::new(1, format!("cannot encode the answer: {e}"), "report this".into()))
}

/// `--image`: a URL when it looks like one, else a file.
fn image(value: &str) -> Result<ContentPart, Failure> {
    let scheme = value
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let part = match scheme.as_deref() {
        Some("https" | "http" | "data") => ContentPart::image_url(value),
        _ => ContentPart::image_file(value),
    };
    Ok(part?)
}

/// The prompt: the argument, or stdin for `-` or none (one trailing newline dropped).
///
/// With no argument on a terminal, nothing would say stdin is being read: that is an error.
/// An empty prompt from stdin (Ctrl-D at once, an empty file) is an error too.
fn text_argument(args: &Args, command: Command) -> Result<String, Failure> {
    let what = if command == Command::Chat {
        "MESSAGE"
    } else {
        "PROMPT"
    };
    match args.positional.as_slice() {
        [] if io::stdin().is_terminal() => Err(Failure::new(
            2,
            format!("no {what}: give it as an argument, or pipe it on stdin"),
            format!(
                "azureml-endpoint {} [FLAGS] -- '{what}', or '-' to type it (end with Ctrl-D)",
                command.name()
            ),
        )),
        [] => read_stdin(what),
        [dash] if dash == "-" => read_stdin(what),
        [text] => text
            .clone()
            .into_string()
            .map_err(|_| Failure::usage(format!("the {what} argument is not valid UTF-8"))),
        [_, extra, ..] => Err(Failure::new(
            2,
            format!("one {what} only, but `{}` follows it", extra.to_string_lossy()),
            "quote the whole text: 'like this', or pass it on stdin".into(),
        )),
    }
}

fn read_stdin(what: &str) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::usage(format!(
            "the {what} on stdin is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let text = match text.strip_suffix('\n') {
        Some(t) => t.strip_suffix('\r').unwrap_or(t).to_owned(),
        None => text,
    };
    if text.is_empty() {
        return Err(Failure::usage(format!("the {what} read from stdin is empty")));
    }
    Ok(text)
}

pub fn completion_json(c: &Completion) -> Value {
    let record = json!({"text": c.text, "finish_reason": c.finish_reason, "usage": c.usage, "request_id": c.request_id});
    with_reasoning(with_rate_limits(record, &c.rate_limits), c.reasoning.as_deref())
}

pub fn chat_json(c: &ChatCompletion) -> Value {
    let record = json!({"message": c.message, "finish_reason": c.finish_reason, "usage": c.usage, "request_id": c.request_id});
    with_reasoning(with_rate_limits(record, &c.rate_limits), c.reasoning.as_deref())
}

/// Adds `reasoning` when the model sent some: records of other models keep their shape.
fn with_reasoning(mut record: Value, reasoning: Option<&str>) -> Value {
    if let (Some(reasoning), Some(object)) = (reasoning, record.as_object_mut()) {
        object.insert("reasoning".into(), reasoning.into());
    }
    record
}

/// Adds `rate_limits` (the `x-ratelimit-*` headers the endpoint sent, resets in seconds) when
/// there are any, so a batch can be watched against its quota.
fn with_rate_limits(mut record: Value, limits: &azureml_endpoint::RateLimits) -> Value {
    let mut found = serde_json::Map::new();
    let counts = [
        ("remaining_requests", limits.remaining_requests),
        ("remaining_tokens", limits.remaining_tokens),
    ];
    for (name, value) in counts {
        if let Some(value) = value {
            found.insert(name.into(), value.into());
        }
    }
    let resets = [
        ("reset_requests_s", limits.reset_requests),
        ("reset_tokens_s", limits.reset_tokens),
    ];
    for (name, value) in resets {
        if let Some(value) = value {
            found.insert(name.into(), value.as_secs_f64().into());
        }
    }
    if let (false, Some(object)) = (found.is_empty(), record.as_object_mut()) {
        object.insert("rate_limits".into(), Value::Object(found));
    }
    record
}
