//! `batch`: one request per JSONL line, results in input order, resumable; with `--input -
//! --output -` a streaming filter from stdin to stdout.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use azureml_endpoint::config::ClientKind;
use azureml_endpoint::{AnyClient, CallOptions, ChatMessage, Error};
use serde_json::{json, Value};

use crate::args::Args;
use crate::call::{chat_json, completion_json};
use crate::client::{call_options, chat_client, completion_client, embeddings_client, load, load_options};
use crate::command::Command;
use crate::failure::{chain, Failure};
use crate::ordered::ordered_map;
use crate::verbose::WAITS_FOR_429;

/// One input line of a batch.
enum Item {
    Prompt(String),
    Messages(Vec<ChatMessage>),
    /// A text to embed.
    Input(String),
    Bad(String),
}

/// A numbered non-blank line as an item: a line that is not UTF-8 or not a request becomes an
/// `Item::Bad` of its own, so the other lines still run.
fn item(number: usize, line: &[u8]) -> Option<(usize, Item)> {
    if line.trim_ascii().is_empty() {
        return None;
    }
    let item = match std::str::from_utf8(line) {
        Ok(text) => parse_item(text),
        Err(e) => Item::Bad(format!("not valid UTF-8 (at byte {})", e.valid_up_to())),
    };
    Some((number, item))
}

/// The non-blank lines of a whole input with their 1-based line numbers.
fn items(bytes: &[u8]) -> Vec<(usize, Item)> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| item(i + 1, line))
        .collect()
}

/// The items of `--input -`, read as they come; a read error ends them and is kept for the end
/// of the run (never a cut input passed off as whole).
struct Piped<'a> {
    lines: std::iter::Enumerate<io::Split<io::BufReader<io::Stdin>>>,
    error: &'a Mutex<Option<io::Error>>,
}

impl Iterator for Piped<'_> {
    type Item = (usize, Item);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.lines.next()? {
                (i, Ok(line)) => {
                    if let Some(found) = item(i + 1, &line) {
                        return Some(found);
                    }
                }
                (_, Err(e)) => {
                    *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    return None;
                }
            }
        }
    }
}

fn parse_item(line: &str) -> Item {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return Item::Bad(format!("not JSON: {e}")),
    };
    if let Some(prompt) = value.get("prompt").and_then(Value::as_str) {
        return Item::Prompt(prompt.to_owned());
    }
    if let Some(input) = value.get("input").and_then(Value::as_str) {
        return Item::Input(input.to_owned());
    }
    match value
        .get("messages")
        .map(|m| serde_json::from_value::<Vec<ChatMessage>>(m.clone()))
    {
        Some(Ok(messages)) => Item::Messages(messages),
        Some(Err(e)) => Item::Bad(format!("`messages` is not a list of messages: {e}")),
        None => Item::Bad(
            "expected {\"prompt\": \"...\"}, {\"messages\": [...]} or (embeddings) {\"input\": \"...\"}"
                .into(),
        ),
    }
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    args.no_positional(Command::Batch)?;
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| Failure::usage("batch needs --input FILE.jsonl (or - for stdin)"))?;
    let output = args
        .output
        .as_ref()
        .ok_or_else(|| Failure::usage("batch needs --output FILE.jsonl (or - for stdout)"))?;
    let (from_stdin, to_stdout) = (input.as_os_str() == "-", output.as_os_str() == "-");
    if to_stdout && args.resume {
        return Err(Failure::usage(
            "--resume needs an --output file to resume from, not -",
        ));
    }
    let whole = if from_stdin {
        None
    } else {
        let bytes = std::fs::read(input).map_err(|e| {
            Failure::new(
                2,
                format!("cannot read --input {}: {e}", input.display()),
                "check the path".into(),
            )
        })?;
        Some(items(&bytes))
    };

    // Build only the clients the input needs; a config error stops the run before any request.
    // A piped input is not known in advance: both kinds are built, and one that cannot be is an
    // error for its lines only.
    let needs = |kind: fn(&Item) -> bool| {
        whole
            .as_ref()
            .is_none_or(|items| items.iter().any(|(_, i)| kind(i)))
    };
    let needs_completion = needs(|i| matches!(i, Item::Prompt(_)));
    let needs_chat = needs(|i| matches!(i, Item::Messages(_)));
    let needs_embeddings = needs(|i| matches!(i, Item::Input(_)));
    // Guides the api type inferred from --url: the one kind the lines need, if only one.
    let kind = match (needs_completion, needs_chat, needs_embeddings) {
        (false, true, false) => ClientKind::Chat,
        (false, false, true) => ClientKind::Embeddings,
        _ => ClientKind::Completion,
    };
    let clients = match &args.config {
        Some(path) => match load(path, &load_options(args, kind)?)? {
            AnyClient::Completion(llm) => Clients {
                llm: Some(llm),
                ..Clients::default()
            },
            AnyClient::Chat(chat) => Clients {
                chat: Some(chat),
                ..Clients::default()
            },
            AnyClient::Embeddings(embedder) => Clients {
                embedder: Some(embedder),
                ..Clients::default()
            },
            _ => {
                return Err(Failure::usage(
                    "this config's `_type` is not a completion, chat or embeddings endpoint",
                ))
            }
        },
        None if from_stdin => match (
            completion_client(args),
            chat_client(args),
            embeddings_client(args),
        ) {
            (Err(e), Err(_), Err(_)) => return Err(e),
            (llm, chat, embedder) => Clients {
                llm: llm.ok(),
                chat: chat.ok(),
                embedder: embedder.ok(),
            },
        },
        None => Clients {
            llm: needs_completion.then(|| completion_client(args)).transpose()?,
            chat: needs_chat.then(|| chat_client(args)).transpose()?,
            embedder: needs_embeddings.then(|| embeddings_client(args)).transpose()?,
        },
    };

    let kept = if args.resume {
        successes(output)?
    } else {
        BTreeMap::new()
    };
    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(io::stdout().lock())
    } else {
        Box::new(open_output(output, args.resume)?)
    };
    let options = call_options(args);
    let mut progress = Progress::new(whole.as_ref().map(Vec::len), kept.len());
    let read_error = Mutex::new(None);
    let todo: Box<dyn Iterator<Item = (usize, Item)> + Send> = match whole {
        Some(items) => Box::new(items.into_iter()),
        None => Box::new(Piped {
            lines: io::BufReader::new(io::stdin()).split(b'\n').enumerate(),
            error: &read_error,
        }),
    };
    let mut todo = todo.filter(|(line, _)| !kept.contains_key(line));
    // An embeddings endpoint takes `batch_size` lines per request: lines go to the workers in
    // groups that size (one line each otherwise, so prompts keep their concurrency).
    let group = match &clients {
        Clients {
            embedder: Some(embedder),
            llm: None,
            chat: None,
        } => usize::try_from(embedder.config().batch_size).unwrap_or(1),
        _ => 1,
    };
    let groups = std::iter::from_fn(move || {
        let lines: Vec<(usize, Item)> = todo.by_ref().take(group).collect();
        (!lines.is_empty()).then_some(lines)
    });
    let workers = args.concurrency.unwrap_or(1);
    // Each record is flushed as it is written: a pipe's reader sees it at once, and an
    // interrupted run keeps every line written.
    ordered_map(
        groups,
        workers,
        workers.saturating_mul(4),
        |lines| clients.run(lines, &options),
        |records| {
            for record in records {
                progress.record(&record);
                writeln!(out, "{record}")
                    .and_then(|()| out.flush())
                    .map_err(|e| write_failure(output, &e))?;
            }
            progress.show(false);
            Ok::<(), Failure>(())
        },
    )?;
    drop(out);
    if let Some(e) = read_error.into_inner().unwrap_or_else(PoisonError::into_inner) {
        progress.show(true);
        return Err(Failure::new(
            1,
            format!("cannot read --input -: {e}"),
            "the lines before it were run and written".into(),
        ));
    }
    if !kept.is_empty() {
        compact(output)?;
    }
    progress.show(true);
    Ok(u8::from(progress.failed > 0))
}

/// The clients a batch's lines go to: the config's one, or those the flags make for the lines.
#[derive(Default)]
struct Clients {
    llm: Option<azureml_endpoint::AzureMlOnlineEndpoint>,
    chat: Option<azureml_endpoint::AzureMlChatOnlineEndpoint>,
    embedder: Option<azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint>,
}

impl Clients {
    /// The records of a group of lines, in order: its texts to embed in one request, each other
    /// line on its own.
    fn run(&self, lines: Vec<(usize, Item)>, options: &CallOptions) -> Vec<Value> {
        let texts: Vec<&str> = lines
            .iter()
            .filter_map(|(_, item)| match item {
                Item::Input(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let mut vectors = match (&self.embedder, texts.is_empty()) {
            (Some(embedder), false) => embedder.embed_each(&texts, options).into_iter(),
            _ => Vec::new().into_iter(),
        };
        let mut records = Vec::with_capacity(lines.len());
        for (line, item) in lines {
            let mut record = match item {
                Item::Bad(message) => json!({"error": message}),
                Item::Prompt(prompt) => match &self.llm {
                    Some(llm) => llm
                        .invoke_with(&prompt, options)
                        .map_or_else(|e| error_json(&e), |c| completion_json(&c)),
                    None => self.wrong_line("{\"prompt\": ...}"),
                },
                Item::Messages(messages) => match &self.chat {
                    Some(chat) => chat
                        .invoke_with(&messages, options)
                        .map_or_else(|e| error_json(&e), |c| chat_json(&c)),
                    None => self.wrong_line("{\"messages\": [...]}"),
                },
                Item::Input(_) => match vectors.next() {
                    Some(Ok(vector)) => json!({"embedding": shortest(&vector)}),
                    Some(Err(e)) => error_json(&e),
                    None => self.wrong_line("{\"input\": ...}"),
                },
            };
            if let Some(object) = record.as_object_mut() {
                object.shift_insert(0, "line".into(), json!(line));
            }
            records.push(record);
        }
        records
    }

    /// A line of a shape the endpoint does not take, naming the shapes it takes.
    fn wrong_line(&self, shape: &str) -> Value {
        let takes: Vec<&str> = [
            (self.llm.is_some(), "{\"prompt\": ...}"),
            (self.chat.is_some(), "{\"messages\": [...]}"),
            (self.embedder.is_some(), "{\"input\": ...}"),
        ]
        .into_iter()
        .filter_map(|(has, shape)| has.then_some(shape))
        .collect();
        json!({"error": format!("this endpoint takes no {shape} lines; use {} lines", takes.join(" or "))})
    }
}

/// A vector as JSON numbers written as the `f32`s they are (`0.123`): `f32` to `f64` directly
/// would print `0.12300000339746475`. Every number is finite (the library checks).
fn shortest(vector: &[f32]) -> Value {
    vector
        .iter()
        .map(|x| x.to_string().parse::<f64>().map_or(Value::Null, Value::from))
        .collect()
}

fn error_json(error: &Error) -> Value {
    json!({"error": chain(error), "status": error.status(), "request_id": error.request_id()})
}

fn write_failure(path: &Path, error: &io::Error) -> Failure {
    Failure::new(
        1,
        format!("cannot write --output {}: {error}", path.display()),
        "check that the folder exists and is writable".into(),
    )
}

/// The output, emptied unless resuming; a resumed file loses its torn last line, if any.
fn open_output(path: &Path, resume: bool) -> Result<File, Failure> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        // Before any request: a bad path is a usage error.
        .map_err(|e| {
            let mut failure = write_failure(path, &e);
            failure.code = 2;
            failure
        })?;
    let keep = if resume {
        let bytes = std::fs::read(path).map_err(|e| write_failure(path, &e))?;
        bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
    } else {
        0
    };
    file.set_len(keep as u64).map_err(|e| write_failure(path, &e))?;
    Ok(file)
}

/// The records of an earlier run by line number, last one winning.
fn records(path: &Path) -> Result<BTreeMap<usize, (String, bool)>, Failure> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(write_failure(path, &e)),
    };
    let mut records = BTreeMap::new();
    // Only whole lines: a torn last line is redone.
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let number = value
            .get("line")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok());
        if let Some(number) = number {
            let ok = value.get("error").is_none();
            records.insert(number, (line.trim_end().to_owned(), ok));
        }
    }
    Ok(records)
}

/// The lines an earlier run answered successfully: `--resume` skips them.
fn successes(path: &Path) -> Result<BTreeMap<usize, String>, Failure> {
    Ok(records(path)?
        .into_iter()
        .filter(|(_, (_, ok))| *ok)
        .map(|(line, (text, _))| (line, text))
        .collect())
}

/// Rewrites a resumed output in input order, one record per line (the newest), atomically.
fn compact(path: &PathBuf) -> Result<(), Failure> {
    let records = records(path)?;
    let mut temp = path.clone().into_os_string();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let mut text = String::new();
    for (record, _) in records.values() {
        text.push_str(record);
        text.push('\n');
    }
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            write_failure(path, &e)
        })
}

/// The progress line on stderr: lines done and failed, tokens used, waits for 429, rate and
/// ETA; redrawn in place on a terminal, else a line at most every 10 s and one at the end.
struct Progress {
    /// Unknown for a piped input.
    total: Option<usize>,
    resumed: usize,
    done: usize,
    failed: usize,
    /// As the endpoint reported them (`usage.total_tokens`).
    tokens: u64,
    terminal: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    fn new(total: Option<usize>, resumed: usize) -> Self {
        Progress {
            total,
            resumed,
            done: resumed,
            failed: 0,
            tokens: 0,
            terminal: io::stderr().is_terminal(),
            start: Instant::now(),
            last: Instant::now(),
        }
    }

    /// One more result.
    fn record(&mut self, record: &Value) {
        self.failed += usize::from(record.get("error").is_some());
        self.done += 1;
        let tokens = record.pointer("/usage/total_tokens").and_then(Value::as_u64);
        self.tokens = self.tokens.saturating_add(tokens.unwrap_or(0));
    }

    fn show(&mut self, last: bool) {
        let elapsed = self.start.elapsed();
        let line = self.line(last, elapsed, WAITS_FOR_429.load(Ordering::Relaxed));
        if self.terminal {
            // Erase what a longer line left, then redraw in place.
            eprint!("\r{line}\x1b[K{}", if last { "\n" } else { "" });
        } else if last || self.last.elapsed() >= Duration::from_secs(10) {
            eprintln!("{line}");
            self.last = Instant::now();
        }
    }

    /// `batch: 40/100 lines done, 1 failed; 5200 tokens, 2 waits for 429; 12.5 lines/s, ETA 4.8 s`;
    /// the last line says how long the run took instead of the ETA.
    fn line(&self, last: bool, elapsed: Duration, waits_for_429: u64) -> String {
        let mut line = match self.total {
            Some(total) => format!("batch: {}/{total} lines done, {} failed", self.done, self.failed),
            None => format!("batch: {} lines done, {} failed", self.done, self.failed),
        };
        if last && self.resumed > 0 {
            line.push_str(&format!(" ({} resumed)", self.resumed));
        }
        let plural = if waits_for_429 == 1 { "" } else { "s" };
        line.push_str(&format!(
            "; {} tokens, {waits_for_429} wait{plural} for 429",
            self.tokens
        ));
        let run = self.done.saturating_sub(self.resumed) as f64;
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 { run / seconds } else { 0.0 };
        line.push_str(&format!("; {rate:.1} lines/s"));
        if last {
            line.push_str(&format!(" in {}", span_of(seconds)));
        } else if let Some(total) = self.total.filter(|_| rate > 0.0) {
            let left = total.saturating_sub(self.done) as f64 / rate;
            line.push_str(&format!(", ETA {}", span_of(left)));
        }
        line
    }
}

/// `0.4 s`, `42 s`, `3m05s`, `2h03m`.
fn span_of(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        _ if seconds < 10.0 => format!("{seconds:.1} s"),
        0..=59 => format!("{whole} s"),
        60..=3599 => format!("{}m{:02}s", whole / 60, whole % 60),
        _ => format!("{}h{:02}m", whole / 3600, whole % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_tells_rate_eta_tokens_and_waits() {
        let mut progress = Progress::new(Some(100), 10);
        for _ in 0..30 {
            progress.record(&json!({"usage": {"total_tokens": 7}}));
        }
        progress.record(&json!({"error": "x"}));
        assert_eq!(
            progress.line(false, Duration::from_secs(2), 1),
            "batch: 41/100 lines done, 1 failed; 210 tokens, 1 wait for 429; 15.5 lines/s, ETA 3.8 s"
        );
        assert_eq!(
            progress.line(true, Duration::from_secs(200), 2),
            "batch: 41/100 lines done, 1 failed (10 resumed); 210 tokens, 2 waits for 429; 0.2 lines/s in 3m20s"
        );
        let piped = Progress::new(None, 0);
        assert_eq!(
            piped.line(false, Duration::ZERO, 0),
            "batch: 0 lines done, 0 failed; 0 tokens, 0 waits for 429; 0.0 lines/s"
        );
        assert_eq!(span_of(7300.0), "2h01m");
        assert_eq!(span_of(42.4), "42 s");
    }
}
