//! `azureml-endpoint`: call Azure ML online endpoints from shells, cron and batch jobs.
//!
//! Argument parsing and output only; every behaviour lives in the library. Arguments are parsed
//! by hand (std only): the grammar is small and a parser crate would be the binary's largest
//! dependency.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use azureml_endpoint::formatter::{chat_formatter, completion_formatter, CHAT_TAGS, COMPLETION_TAGS};
use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, Builder, CallOptions, ChatCompletion,
    ChatMessage, Completion, Error, LoadOptions, LoadedClient, Registry, Source, StreamChunk,
    ENV_ENDPOINT_API_KEY,
};
use serde_json::{json, Map, Value};

const HELP: &str = "\
azureml-endpoint: call models on Azure Machine Learning online endpoints

USAGE:
    azureml-endpoint <COMMAND> [FLAGS]

COMMANDS:
    complete [PROMPT|-]      one completion; no PROMPT or '-' reads it from stdin
    chat [MESSAGE|-]         one chat turn (--system TEXT, --messages FILE.json)
    batch                    one request per JSONL line (--input, --output, --concurrency, --resume)
    config new -o FILE       write a config file from the flags (validated; never the key)
    config show FILE         load a config and show each setting and where it came from
    local [--port N]         serve the embedded local echo endpoint until interrupted

ENDPOINT FLAGS:
    --config FILE            a saved config (azureml.json / .yaml), e.g. from LangChain's save()
    --url URL                the scoring URL (or AZUREML_ENDPOINT_URL)
    --api-type TYPE          dedicated (default) or serverless (or AZUREML_ENDPOINT_API_TYPE)
    --formatter TAG          gpt2, hf, dolly, custom_openai (default), custom_openai_chat, mistral_chat, ...
    --deployment NAME        pin a deployment (or AZUREML_DEPLOYMENT_NAME)
    --timeout SECS           per-request deadline (or AZUREML_TIMEOUT; default 50)
    --api-key-env NAME       read the key from env var NAME instead of AZUREML_ENDPOINT_API_KEY
CALL FLAGS:
    --param KEY=VALUE        model parameter; VALUE is JSON, else a string (repeatable)
    --stop TEXT              stop sequence (repeatable)
    --stream                 print the answer as it arrives (serverless)
    --json                   print one JSON object: text or message, finish reason, usage, request id

The key is read only from the environment, never from a flag.
Exit status: 0 success, 1 the endpoint or network failed, 2 usage or config error.

EXAMPLES:
    export AZUREML_ENDPOINT_API_KEY=...
    azureml-endpoint complete --url https://my-ep.eastus2.inference.ml.azure.com/score --formatter gpt2 'Hello'
    echo 'Why is the sky blue?' | azureml-endpoint chat --config chat.yaml --stream
    azureml-endpoint batch --config azureml.json --input in.jsonl --output out.jsonl --concurrency 8
";

const COMPLETE_HELP: &str = "\
azureml-endpoint complete [PROMPT|-] [FLAGS]
One completion. No PROMPT or '-' reads the prompt from stdin (one trailing newline dropped).
Example:
    azureml-endpoint complete --url http://127.0.0.1:8765/v1/completions --api-type serverless --param max_tokens=20 'Once upon'
";

const CHAT_HELP: &str = "\
azureml-endpoint chat [MESSAGE|-] [--system TEXT] [--messages FILE.json] [FLAGS]
One chat turn. MESSAGE (or stdin) is sent as a user message after --system and the --messages
conversation (a JSON array of {\"role\", \"content\"} objects).
Example:
    azureml-endpoint chat --url http://127.0.0.1:8765/v1/chat/completions --api-type serverless --system 'Be brief.' 'Hi'
";

const BATCH_HELP: &str = "\
azureml-endpoint batch --input FILE.jsonl --output FILE.jsonl [--concurrency N] [--resume] [FLAGS]
One request per input line: {\"prompt\": \"...\"} or {\"messages\": [...]}. Results go to the output in
input order, one JSON line each ({\"line\": n, \"text\"|\"message\": ..., ...} or {\"line\": n, \"error\": ...});
progress goes to stderr. --resume keeps the lines already in the output and does the rest.
Exit status 1 when any line failed (the others are still written).
Example:
    azureml-endpoint batch --config azureml.json --input prompts.jsonl --output answers.jsonl --concurrency 8
";

const CONFIG_HELP: &str = "\
azureml-endpoint config new -o FILE [--chat] [ENDPOINT FLAGS] [--param KEY=VALUE]...
azureml-endpoint config show FILE [--json]
'new' validates the flags and writes JSON or YAML by FILE's extension (--param values become
model_kwargs; --chat writes a chat endpoint, implied by a /chat/completions URL or a chat formatter).
'show' prints the resolved settings and where each came from; the key only as set or unset.
Example:
    azureml-endpoint config new -o azureml.json --url https://my-ep.eastus2.inference.ml.azure.com/score --formatter gpt2
";

const LOCAL_HELP: &str = "\
azureml-endpoint local [--port N]
Serves the embedded echo endpoint on 127.0.0.1 (dedicated and serverless shapes, streaming) until
interrupted, and prints its URLs. Any key is accepted.
Example:
    azureml-endpoint local --port 8765
";

/// Why the program stops early: the exit code and what to print.
struct Failure {
    code: u8,
    message: String,
    hint: Option<String>,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
            hint: Some("see `azureml-endpoint --help`".into()),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let (code, hint) = match &error {
            Error::Config(_) | Error::Input(_) | Error::Io(_) => (2, "fix the setting or file named above"),
            Error::Http(e) if e.status == 401 || e.status == 403 => {
                (1, "check the key in AZUREML_ENDPOINT_API_KEY (or --api-key-env)")
            }
            Error::Http(e) if e.status == 404 => (1, "check the URL and that a deployment takes traffic"),
            Error::Response(_) => (
                1,
                "check --formatter: it must match the model's request/response shape",
            ),
            Error::Stream(_) => (1, "the answer is incomplete; retry the call"),
            Error::Http(_) | Error::Transport(_) => (1, "retry later, or raise --timeout"),
            _ => (2, "fix the setting or file named above"),
        };
        Failure {
            code,
            message: chain(&error),
            hint: Some(hint.into()),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure {
            code: 1,
            message: format!("I/O error: {error}"),
            hint: None,
        }
    }
}

/// The error and its sources on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            if let Some(hint) = failure.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(failure.code)
        }
    }
}

#[derive(Default)]
struct Args {
    command: Vec<String>,
    config: Option<PathBuf>,
    url: Option<String>,
    api_type: Option<ApiType>,
    formatter: Option<String>,
    deployment: Option<String>,
    timeout: Option<Duration>,
    api_key_env: Option<String>,
    params: Map<String, Value>,
    stop: Vec<String>,
    stream: bool,
    json: bool,
    system: Option<String>,
    messages: Option<PathBuf>,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    concurrency: usize,
    resume: bool,
    chat: bool,
    port: u16,
    help: bool,
}

fn parse(raw: Vec<String>) -> Result<Args, Failure> {
    let mut args = Args {
        concurrency: 1,
        ..Args::default()
    };
    let mut iter = raw.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| iter.next())
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => args.help = true,
            "--config" => args.config = Some(value("--config")?.into()),
            "--url" => args.url = Some(value("--url")?),
            "--api-type" => {
                args.api_type = Some(value("--api-type")?.parse().map_err(Failure::usage)?);
            }
            "--formatter" => args.formatter = Some(value("--formatter")?),
            "--deployment" => args.deployment = Some(value("--deployment")?),
            "--timeout" => {
                let text = value("--timeout")?;
                let secs: f64 = text.parse().map_err(|_| Failure::usage(format!("--timeout {text:?} is not a number of seconds")))?;
                let timeout = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| Failure::usage(format!("--timeout must be a number of seconds > 0, got {text}")))?;
                args.timeout = Some(timeout);
            }
            "--api-key-env" => args.api_key_env = Some(value("--api-key-env")?),
            "--param" => {
                let pair = value("--param")?;
                let (key, text) = pair
                    .split_once('=')
                    .ok_or_else(|| Failure::usage(format!("--param {pair:?} is not KEY=VALUE")))?;
                let parsed = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
                args.params.insert(key.to_owned(), parsed);
            }
            "--stop" => args.stop.push(value("--stop")?),
            "--stream" => args.stream = true,
            "--json" => args.json = true,
            "--system" => args.system = Some(value("--system")?),
            "--messages" => args.messages = Some(value("--messages")?.into()),
            "--input" => args.input = Some(value("--input")?.into()),
            "--output" | "-o" => args.output = Some(value("--output")?.into()),
            "--concurrency" => {
                let text = value("--concurrency")?;
                args.concurrency = text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Failure::usage(format!("--concurrency must be a whole number > 0, got {text:?}")))?;
            }
            "--resume" => args.resume = true,
            "--chat" => args.chat = true,
            "--port" => {
                let text = value("--port")?;
                args.port = text.parse().map_err(|_| Failure::usage(format!("--port {text:?} is not a port number")))?;
            }
            "--api-key" | "--key" | "--token" => {
                return Err(Failure {
                    code: 2,
                    message: format!("{flag} is not accepted: a key on the command line lands in shell history and process lists"),
                    hint: Some(format!("export {ENV_ENDPOINT_API_KEY}=..., or name another variable with --api-key-env NAME")),
                })
            }
            "-" => args.command.push(arg),
            other if other.starts_with('-') => return Err(Failure::usage(format!("unknown flag {other}"))),
            _ => args.command.push(arg),
        }
    }
    Ok(args)
}

fn run(raw: Vec<String>) -> Result<u8, Failure> {
    let args = parse(raw)?;
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    let help = |text: &str| {
        print!("{text}");
        Ok(0)
    };
    match words.as_slice() {
        [] => help(HELP),
        ["help", ..] => help(HELP),
        ["complete", ..] if args.help => help(COMPLETE_HELP),
        ["chat", ..] if args.help => help(CHAT_HELP),
        ["batch", ..] if args.help => help(BATCH_HELP),
        ["config", ..] if args.help => help(CONFIG_HELP),
        ["local", ..] if args.help => help(LOCAL_HELP),
        _ if args.help => help(HELP),
        ["complete", rest @ ..] => complete(&args, rest),
        ["chat", rest @ ..] => chat(&args, rest),
        ["batch"] => batch(&args),
        ["config", "new"] => config_new(&args),
        ["config", "show", file] => config_show(&args, file),
        ["local"] => local(&args),
        [command @ ("batch" | "config" | "local"), ..] => Err(Failure::usage(format!(
            "unexpected arguments in `{}`: see `azureml-endpoint {command} --help`",
            words.join(" ")
        ))),
        [command, ..] => Err(Failure::usage(format!("unknown command `{command}`"))),
    }
}

/// The prompt from the argument, or stdin for `-` or none (one trailing newline dropped).
fn text_argument(rest: &[&str], what: &str) -> Result<String, Failure> {
    match rest {
        [] | ["-"] => {
            let mut text = String::new();
            io::stdin().read_to_string(&mut text)?;
            let trimmed = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t));
            Ok(trimmed.map(str::to_owned).unwrap_or(text))
        }
        [text] => Ok((*text).to_owned()),
        _ => Err(Failure::usage(format!(
            "give one {what} (quote it), or '-' to read stdin"
        ))),
    }
}

fn call_options(args: &Args) -> CallOptions {
    let mut options = CallOptions::new()
        .params_from(args.params.clone())
        .stop(args.stop.clone());
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    options.max_concurrency(args.concurrency)
}

/// Explicit flags for a config-file load: they win over the file.
fn load_options(args: &Args) -> Result<LoadOptions, Failure> {
    let mut options = LoadOptions::new();
    if let Some(url) = &args.url {
        options = options.endpoint_url(url.clone());
    }
    if let Some(api_type) = args.api_type {
        options = options.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        options = options.deployment_name(name.clone());
    }
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    if let Some(key) = key_from_named_env(args)? {
        options = options.api_key(key);
    }
    if args.formatter.is_some() {
        return Err(Failure::usage(
            "--formatter cannot be combined with --config: set `formatter` in the file",
        ));
    }
    Ok(options)
}

/// The key from `--api-key-env NAME`, when given.
fn key_from_named_env(args: &Args) -> Result<Option<String>, Failure> {
    match &args.api_key_env {
        None => Ok(None),
        Some(name) => std::env::var(name).map(Some).map_err(|_| Failure {
            code: 2,
            message: format!("--api-key-env {name}: env var {name} is not set"),
            hint: Some(format!("export {name}=...")),
        }),
    }
}

/// A builder from env vars with the flags over them.
fn builder<F: ?Sized>(args: &Args, base: Builder<F>) -> Result<Builder<F>, Failure> {
    let mut builder = base;
    if let Some(key) = key_from_named_env(args)? {
        builder = builder.api_key(key);
    }
    if let Some(url) = &args.url {
        builder = builder.endpoint_url(url.clone());
    }
    if let Some(api_type) = args.api_type {
        builder = builder.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        builder = builder.deployment_name(name.clone());
    }
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    Ok(builder.with_env())
}

fn unknown_formatter(tag: &str, known: &[&str]) -> Failure {
    Failure::usage(format!("unknown formatter `{tag}`; known: {}", known.join(", ")))
}

fn completion_client(args: &Args) -> Result<AzureMlOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return Ok(Registry::new()
            .load_with(path, &load_options(args)?)?
            .into_completion()?);
    }
    let mut b = builder(args, AzureMlOnlineEndpoint::builder())?;
    if let Some(tag) = &args.formatter {
        b = b
            .formatter_arc(completion_formatter(tag).ok_or_else(|| unknown_formatter(tag, COMPLETION_TAGS))?);
    }
    Ok(b.build()?)
}

fn chat_client(args: &Args) -> Result<AzureMlChatOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return Ok(Registry::new()
            .load_with(path, &load_options(args)?)?
            .into_chat()?);
    }
    let mut b = builder(args, AzureMlChatOnlineEndpoint::builder())?;
    if let Some(tag) = &args.formatter {
        b = b.formatter_arc(chat_formatter(tag).ok_or_else(|| unknown_formatter(tag, CHAT_TAGS))?);
    }
    Ok(b.build()?)
}

fn complete(args: &Args, rest: &[&str]) -> Result<u8, Failure> {
    let llm = completion_client(args)?;
    let prompt = text_argument(rest, "prompt")?;
    let options = call_options(args);
    if args.stream {
        return print_stream(args, llm.stream_with(&prompt, &options)?, false);
    }
    let completion = llm.invoke_with(&prompt, &options)?;
    if args.json {
        println!("{}", completion_json(&completion));
    } else {
        println!("{}", completion.text);
    }
    Ok(0)
}

fn chat(args: &Args, rest: &[&str]) -> Result<u8, Failure> {
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
    if !(args.messages.is_some() && rest.is_empty()) {
        messages.push(ChatMessage::user(text_argument(rest, "message")?));
    }
    let options = call_options(args);
    if args.stream {
        return print_stream(args, client.stream_with(&messages, &options)?, true);
    }
    let reply = client.invoke_with(&messages, &options)?;
    if args.json {
        println!("{}", chat_json(&reply));
    } else {
        println!("{}", reply.message.text());
    }
    Ok(0)
}

/// Prints text as it arrives; with `--json`, one object at the end instead.
fn print_stream(
    args: &Args,
    stream: impl Iterator<Item = azureml_endpoint::Result<StreamChunk>> + StreamInfo,
    chat: bool,
) -> Result<u8, Failure> {
    let request_id = stream.id();
    let mut out = io::stdout().lock();
    let (mut text, mut finish_reason, mut usage) = (String::new(), None, None);
    for chunk in stream {
        let chunk = chunk?;
        if !args.json {
            out.write_all(chunk.text.as_bytes())?;
            out.flush()?;
        }
        text.push_str(&chunk.text);
        finish_reason = chunk.finish_reason.or(finish_reason);
        usage = chunk.usage.or(usage);
    }
    if args.json {
        let body = if chat {
            json!({"message": {"role": "assistant", "content": text}})
        } else {
            json!({"text": text})
        };
        let mut object = body.as_object().cloned().unwrap_or_default();
        object.insert("finish_reason".into(), json!(finish_reason));
        object.insert("usage".into(), json!(usage));
        object.insert("request_id".into(), json!(request_id));
        writeln!(out, "{}", Value::Object(object))?;
    } else {
        writeln!(out)?;
    }
    Ok(0)
}

/// The request id of a stream, read before the stream is consumed.
trait StreamInfo {
    fn id(&self) -> Option<String>;
}

impl StreamInfo for azureml_endpoint::CompletionStream {
    fn id(&self) -> Option<String> {
        self.request_id().map(str::to_owned)
    }
}

fn completion_json(c: &Completion) -> Value {
    json!({"text": c.text, "finish_reason": c.finish_reason, "usage": c.usage, "request_id": c.request_id})
}

fn chat_json(c: &ChatCompletion) -> Value {
    json!({"message": c.message, "finish_reason": c.finish_reason, "usage": c.usage, "request_id": c.request_id})
}

/// One input line of a batch.
enum Item {
    Prompt(String),
    Messages(Vec<ChatMessage>),
    Bad(String),
}

fn parse_item(line: &str) -> Item {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return Item::Bad(format!("not JSON: {e}")),
    };
    if let Some(prompt) = value.get("prompt").and_then(Value::as_str) {
        return Item::Prompt(prompt.to_owned());
    }
    match value
        .get("messages")
        .map(|m| serde_json::from_value::<Vec<ChatMessage>>(m.clone()))
    {
        Some(Ok(messages)) => Item::Messages(messages),
        Some(Err(e)) => Item::Bad(format!("`messages` is not a list of messages: {e}")),
        None => Item::Bad("expected {\"prompt\": \"...\"} or {\"messages\": [...]}".into()),
    }
}

fn batch(args: &Args) -> Result<u8, Failure> {
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| Failure::usage("batch needs --input FILE.jsonl"))?;
    let output = args
        .output
        .as_ref()
        .ok_or_else(|| Failure::usage("batch needs --output FILE.jsonl"))?;
    let file = File::open(input)
        .map_err(|e| Failure::usage(format!("cannot read --input {}: {e}", input.display())))?;
    let lines: Vec<String> = BufReader::new(file).lines().collect::<Result<_, _>>()?;
    let items: Vec<Item> = lines.iter().map(|line| parse_item(line)).collect();

    // Build only the clients the input needs; a config error stops the run before any request.
    let needs_completion = items.iter().any(|i| matches!(i, Item::Prompt(_)));
    let needs_chat = items.iter().any(|i| matches!(i, Item::Messages(_)));
    let (llm, chat) = match &args.config {
        Some(path) => match Registry::new()
            .load_with(path, &load_options(args)?)?
            .into_client()
        {
            LoadedClient::Completion(llm) => (Some(llm), None),
            LoadedClient::Chat(chat) => (None, Some(chat)),
            _ => {
                return Err(Failure::usage(
                    "this config's `_type` is not a completion or chat endpoint",
                ))
            }
        },
        None => (
            needs_completion.then(|| completion_client(args)).transpose()?,
            needs_chat.then(|| chat_client(args)).transpose()?,
        ),
    };

    let done = if args.resume { resume_point(output)? } else { 0 };
    let mut out = OpenOptions::new().create(true).append(true).open(output)?;
    if !args.resume {
        out.set_len(0)?;
    }
    let options = call_options(args);
    let total = items.len();
    let mut failed = 0;
    let chunk = args.concurrency.saturating_mul(4).max(1);
    let mut index = done;
    for group in items.get(done..).unwrap_or_default().chunks(chunk) {
        let prompts: Vec<&str> = group
            .iter()
            .filter_map(|i| {
                if let Item::Prompt(p) = i {
                    Some(p.as_str())
                } else {
                    None
                }
            })
            .collect();
        let conversations: Vec<&[ChatMessage]> = group
            .iter()
            .filter_map(|i| {
                if let Item::Messages(m) = i {
                    Some(m.as_slice())
                } else {
                    None
                }
            })
            .collect();
        let mut completions = llm
            .as_ref()
            .map(|l| l.generate(&prompts, &options))
            .unwrap_or_default()
            .into_iter();
        let mut replies = chat
            .as_ref()
            .map(|c| c.generate(&conversations, &options))
            .unwrap_or_default()
            .into_iter();
        for item in group {
            index += 1;
            let mut record = match item {
                Item::Bad(message) => json!({"error": message}),
                Item::Prompt(_) => match completions.next() {
                    Some(Ok(c)) => completion_json(&c),
                    Some(Err(e)) => error_json(&e),
                    None => {
                        json!({"error": "this config is a chat endpoint; use {\"messages\": [...]} lines"})
                    }
                },
                Item::Messages(_) => match replies.next() {
                    Some(Ok(c)) => chat_json(&c),
                    Some(Err(e)) => error_json(&e),
                    None => {
                        json!({"error": "this config is a completion endpoint; use {\"prompt\": ...} lines"})
                    }
                },
            };
            if record.get("error").is_some() {
                failed += 1;
            }
            if let Some(object) = record.as_object_mut() {
                object.shift_insert(0, "line".into(), json!(index));
            }
            writeln!(out, "{record}")?;
        }
        out.flush()?;
        eprint!("\rbatch: {index}/{total} lines done, {failed} failed");
    }
    eprintln!(
        "\rbatch: {index}/{total} lines done, {failed} failed{}",
        if done > 0 {
            format!(" ({done} resumed)")
        } else {
            String::new()
        }
    );
    Ok(u8::from(failed > 0))
}

fn error_json(error: &Error) -> Value {
    json!({"error": chain(error), "status": error.status(), "request_id": error.request_id()})
}

/// How many whole lines the output already has; a torn last line is cut off.
fn resume_point(output: &PathBuf) -> Result<usize, Failure> {
    let mut file = match OpenOptions::new().read(true).write(true).open(output) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    file.set_len(whole as u64)?;
    file.seek(io::SeekFrom::End(0))?;
    Ok(bytes
        .get(..whole)
        .unwrap_or_default()
        .iter()
        .filter(|b| **b == b'\n')
        .count())
}

fn config_new(args: &Args) -> Result<u8, Failure> {
    let path = args
        .output
        .as_ref()
        .ok_or_else(|| Failure::usage("config new needs -o FILE"))?;
    let is_chat = args.chat
        || args.url.as_deref().is_some_and(|u| {
            u.split('?')
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .ends_with("/chat/completions")
        })
        || args
            .formatter
            .as_deref()
            .is_some_and(|t| chat_formatter(t).is_some());
    // The key is never saved; a placeholder lets the rest be validated without one.
    const PLACEHOLDER: &str = "placeholder-not-saved";
    let mut kwargs = args.params.clone();
    if !args.stop.is_empty() {
        kwargs.insert("stop".into(), json!(args.stop));
    }
    if is_chat {
        let mut b = AzureMlChatOnlineEndpoint::builder().api_key(PLACEHOLDER);
        b = builder(args, b)?.model_kwargs(kwargs);
        if let Some(tag) = &args.formatter {
            b = b.formatter_arc(chat_formatter(tag).ok_or_else(|| unknown_formatter(tag, CHAT_TAGS))?);
        }
        b.build()?.save(path)?;
    } else {
        let mut b = AzureMlOnlineEndpoint::builder().api_key(PLACEHOLDER);
        b = builder(args, b)?.model_kwargs(kwargs);
        if let Some(tag) = &args.formatter {
            b = b.formatter_arc(
                completion_formatter(tag).ok_or_else(|| unknown_formatter(tag, COMPLETION_TAGS))?,
            );
        }
        b.build()?.save(path)?;
    }
    eprintln!(
        "wrote {} (the key is not saved: set {ENV_ENDPOINT_API_KEY} when using it)",
        path.display()
    );
    Ok(0)
}

fn config_show(args: &Args, file: &str) -> Result<u8, Failure> {
    let options = load_options(args)?;
    let registry = Registry::new();
    // Show a config even where no key is set: the key is reported as unset.
    let (loaded, key_set) = match registry.load_with(file, &options) {
        Ok(loaded) => (loaded, true),
        Err(Error::Config(e)) if e.key == "endpoint_api_key" => (
            registry.load_with(file, &options.clone().api_key("unset"))?,
            false,
        ),
        Err(e) => return Err(e.into()),
    };
    let type_name = loaded.type_name().to_owned();
    let (map, sources) = match loaded.into_client() {
        LoadedClient::Completion(c) => (c.to_config_map(), c.sources().to_vec()),
        LoadedClient::Chat(c) => (c.to_config_map(), c.sources().to_vec()),
        _ => {
            return Err(Failure::usage(format!(
                "`{type_name}` is not a built-in endpoint type"
            )))
        }
    };
    let source_of = |key: &str| {
        sources
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.clone())
            .unwrap_or(Source::Default)
    };
    let key_source = if key_set {
        format!("set ({})", source_of("endpoint_api_key"))
    } else {
        "unset".to_owned()
    };
    if args.json {
        let mut object = map.clone();
        let sources: Map<String, Value> = map
            .keys()
            .map(|k| (k.clone(), json!(source_of(k).to_string())))
            .collect();
        object.insert(
            "endpoint_api_key".into(),
            json!(if key_set { "set" } else { "unset" }),
        );
        object.insert("sources".into(), Value::Object(sources));
        println!("{}", Value::Object(object));
        return Ok(0);
    }
    for (key, value) in &map {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let source = if key == "_type" {
            format!("file {file}")
        } else {
            source_of(key).to_string()
        };
        println!("{key:<18} {shown}  ({source})");
    }
    println!("{:<18} {key_source}", "endpoint_api_key");
    Ok(0)
}

fn local(args: &Args) -> Result<u8, Failure> {
    let server = LocalEndpoint::start_on(args.port)?;
    println!(
        "local echo endpoint on {} (any key is accepted; Ctrl-C stops it)",
        server.base_url()
    );
    println!("  dedicated:            {}", server.dedicated_url());
    println!("  serverless completion: {}", server.completions_url());
    println!("  serverless chat:       {}", server.chat_url());
    io::stdout().flush()?;
    server.wait();
    Ok(0)
}
