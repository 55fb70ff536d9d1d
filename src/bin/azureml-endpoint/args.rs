//! The command line: which command, which flags (checked per command), and the help texts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use azureml_endpoint::{ApiType, AuthMode, ENV_ENDPOINT_API_KEY};
use lexopt::prelude::*;
use serde_json::{Map, Value};

use crate::Failure;

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Complete,
    Chat,
    Batch,
    ConfigNew,
    ConfigShow,
    Local,
}

use Command::*;

const COMMANDS: [(&str, Command); 6] = [
    ("complete", Complete),
    ("chat", Chat),
    ("batch", Batch),
    ("config new", ConfigNew),
    ("config show", ConfigShow),
    ("local", Local),
];

impl Command {
    pub fn name(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(name, _)| name)
    }
}

/// A flag: its name, value placeholder (none for a switch), description and commands.
struct Flag {
    name: &'static str,
    value: Option<&'static str>,
    about: &'static str,
    commands: &'static [Command],
}

const ENDPOINT: &[Command] = &[Complete, Chat, Batch, ConfigNew];
const CALLING: &[Command] = &[Complete, Chat, Batch];
const CALL_PARAMS: &[Command] = &[Complete, Chat, Batch, ConfigNew];
const ONE_CALL: &[Command] = &[Complete, Chat];

const fn flag(
    name: &'static str,
    value: Option<&'static str>,
    about: &'static str,
    commands: &'static [Command],
) -> Flag {
    Flag {
        name,
        value,
        about,
        commands,
    }
}

const FLAGS: &[Flag] = &[
    flag("config", Some("FILE"), "a saved config (.json/.yaml), e.g. from LangChain's save(); flags win over it", CALLING),
    flag("url", Some("URL"), "the scoring URL (or AZUREML_ENDPOINT_URL)", ENDPOINT),
    flag("api-type", Some("TYPE"), "dedicated or serverless; default: the one the URL path fits (…/score: dedicated)", ENDPOINT),
    flag("formatter", Some("TAG"), "the model's request/response shape: gpt2, catalog, hf, dolly, custom_openai (default), custom_openai_chat, mistral_chat, …", ENDPOINT),
    flag("deployment", Some("NAME"), "pin a deployment (or AZUREML_DEPLOYMENT_NAME)", ENDPOINT),
    flag("timeout", Some("SECS"), "per-request deadline in seconds (or AZUREML_TIMEOUT; default 50)", ENDPOINT),
    flag("api-key-env", Some("NAME"), "read the key from env var NAME instead of AZUREML_ENDPOINT_API_KEY", &[Complete, Chat, Batch, ConfigShow]),
    flag("auth", Some("MODE"), "sign in with: key (default), managed_identity, workload_identity, client_secret, azure_cli, default (or AZUREML_AUTH)", ENDPOINT),
    flag("token-scope", Some("SCOPE"), "the Entra token scope; needed for hosts other than *.inference.ml.azure.com, *.openai.azure.com, *.cognitiveservices.azure.com, *.services.ai.azure.com", ENDPOINT),
    flag("client-id", Some("ID"), "the identity to sign in as: a user-assigned managed identity, or instead of AZURE_CLIENT_ID", ENDPOINT),
    flag("allow-insecure-http", None, "allow plain http:// to a host other than 127.0.0.1/localhost (sends the key in clear text; never saved)", ENDPOINT),
    flag("param", Some("KEY=VALUE"), "model parameter; VALUE is JSON, else a string (repeatable)", CALL_PARAMS),
    flag("stop", Some("TEXT"), "stop sequence (repeatable)", CALL_PARAMS),
    flag("stream", None, "print the answer as it arrives (serverless endpoints and prompt flows stream; other dedicated ones answer whole)", ONE_CALL),
    flag("json", None, "print one JSON object: text or message, finish_reason, usage, request_id", &[Complete, Chat, ConfigShow]),
    flag("show-reasoning", None, "print a reasoning model's thinking (reasoning_content, or its <think> block) before the answer; --json always has it", ONE_CALL),
    flag("system", Some("TEXT"), "a system message before the conversation", &[Chat]),
    flag("messages", Some("FILE"), "a JSON array of {\"role\", \"content\"} messages to send before MESSAGE", &[Chat]),
    flag("image", Some("FILE|URL"), "attach an image to MESSAGE: a PNG/JPEG/GIF/WebP file (up to 20 MiB) or an https:// or data: URL (repeatable)", &[Chat]),
    flag("input", Some("FILE"), "the JSONL input: one {\"prompt\": …} or {\"messages\": […]} per line; - reads stdin as it comes", &[Batch]),
    flag("output", Some("FILE"), "where to write the results (-o for short); - writes each to stdout as it is next in order", &[Batch, ConfigNew]),
    flag("concurrency", Some("N"), "requests in flight at once (default 1)", &[Batch]),
    flag("resume", None, "keep the successful results already in the output; redo failed and missing lines", &[Batch]),
    flag("chat", None, "write a chat endpoint (implied by a …/chat/completions URL or a chat formatter)", &[ConfigNew]),
    flag("force", None, "overwrite an existing file", &[ConfigNew]),
    flag("port", Some("N"), "the port on 127.0.0.1 (default 8765; 0 picks a free one)", &[Local]),
    flag("ca-cert", Some("FILE"), "trust the CA certificates in this PEM file instead of Mozilla's roots, e.g. a TLS-inspecting proxy's (repeatable; or AZUREML_CA_BUNDLE)", CALLING),
    flag("os-trust-store", None, "verify TLS with the operating system's trust store instead of Mozilla's roots", CALLING),
    flag("model", Some("NAME"), "the body's \"model\", for serverless gateways serving many models from one URL (--param model=… wins)", ENDPOINT),
];

/// The settings the flags gave; `None`/empty where not given.
#[derive(Debug, Default)]
pub struct Args {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub api_type: Option<ApiType>,
    pub formatter: Option<String>,
    pub deployment: Option<String>,
    pub timeout: Option<Duration>,
    pub api_key_env: Option<String>,
    pub auth: Option<AuthMode>,
    pub token_scope: Option<String>,
    pub client_id: Option<String>,
    pub allow_insecure_http: bool,
    pub params: Map<String, Value>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub json: bool,
    pub show_reasoning: bool,
    pub system: Option<String>,
    pub messages: Option<PathBuf>,
    pub images: Vec<String>,
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub resume: bool,
    pub chat: bool,
    pub force: bool,
    pub port: Option<u16>,
    pub ca_certs: Vec<PathBuf>,
    pub os_trust_store: bool,
    pub model: Option<String>,
    /// PROMPT, MESSAGE or FILE.
    pub positional: Vec<OsString>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Help(String),
    Version,
    Run(Command, Box<Args>),
}

/// Parses the arguments after the program name.
pub fn parse(raw: impl IntoIterator<Item = OsString>) -> Result<Parsed, Failure> {
    let mut parser = lexopt::Parser::from_args(raw);
    let mut words: Vec<OsString> = Vec::new();
    let mut flags: Vec<(String, Option<OsString>)> = Vec::new();
    let (mut help, mut version) = (false, false);
    while let Some(arg) = parser.next().map_err(lexopt_failure)? {
        match arg {
            Short('h') | Long("help") => help = true,
            Short('V') | Long("version") => version = true,
            Short('o') => flags.push(("output".into(), Some(parser.value().map_err(lexopt_failure)?))),
            Long("api-key" | "key" | "token") => {
                let name = display(&arg);
                return Err(Failure::new(
                    2,
                    format!("{name} is not accepted: a key on the command line lands in shell history and process lists"),
                    format!("export {ENV_ENDPOINT_API_KEY}=..., or name another variable with --api-key-env NAME"),
                ));
            }
            Long(name) => {
                let name = name.to_owned();
                let takes_value = FLAGS.iter().find(|f| f.name == name).map(|f| f.value.is_some());
                let value = match takes_value {
                    Some(true) => Some(parser.value().map_err(lexopt_failure)?),
                    Some(false) => None,
                    // Unknown: judged once the command is known, for a suggestion among its flags.
                    None => {
                        let _ = parser.optional_value();
                        None
                    }
                };
                flags.push((name, value));
            }
            Short(c) => flags.push((c.to_string(), None)),
            Value(word) => words.push(word),
        }
    }
    let (command, positional) = match command_of(&words, help)? {
        Found::Run(command, positional) => (command, positional),
        Found::Help(text) => return Ok(Parsed::Help(text)),
        Found::Nothing if version => return Ok(Parsed::Version),
        Found::Nothing => return Ok(Parsed::Help(crate::help::OVERVIEW.to_owned())),
    };
    if help {
        return Ok(Parsed::Help(command_help(command)));
    }
    if version {
        return Ok(Parsed::Version);
    }
    let mut args = Args {
        positional,
        ..Args::default()
    };
    for (name, value) in flags {
        apply(&mut args, command, &name, value)?;
    }
    Ok(Parsed::Run(command, Box::new(args)))
}

/// What the first words name.
enum Found {
    /// No command, or `help` alone.
    Nothing,
    /// `help CMD`, or `config --help`.
    Help(String),
    /// The command and the words after it.
    Run(Command, Vec<OsString>),
}

fn command_of(words: &[OsString], help: bool) -> Result<Found, Failure> {
    let mut words = words.iter();
    let Some(first) = words.next() else {
        return Ok(Found::Nothing);
    };
    let first = first.to_string_lossy();
    let rest: Vec<OsString> = words.cloned().collect();
    if first == "help" {
        return Ok(match command_of(&rest, true)? {
            Found::Run(command, _) => Found::Help(command_help(command)),
            other => other,
        });
    }
    if first == "config" {
        let sub = rest.first().map(|s| s.to_string_lossy().into_owned());
        let tail = rest.get(1..).unwrap_or_default().to_vec();
        return match sub.as_deref() {
            Some("new") => Ok(Found::Run(ConfigNew, tail)),
            Some("show") => Ok(Found::Run(ConfigShow, tail)),
            None if help => Ok(Found::Help(format!(
                "{}\n{}",
                command_help(ConfigNew),
                command_help(ConfigShow)
            ))),
            None => Err(Failure::new(
                2,
                "`config` needs a subcommand: `config new -o FILE` or `config show FILE`".into(),
                "see `azureml-endpoint config --help`".into(),
            )),
            Some(other) => Err(Failure::new(
                2,
                format!(
                    "unknown subcommand `config {other}`{}",
                    did_you_mean(other, ["new", "show"])
                ),
                "use `config new -o FILE` or `config show FILE`".into(),
            )),
        };
    }
    match COMMANDS.iter().find(|(name, _)| *name == first) {
        Some((_, command)) => Ok(Found::Run(*command, rest)),
        None => Err(Failure::usage(format!(
            "unknown command `{first}`{}",
            did_you_mean(&first, ["complete", "chat", "batch", "config", "local", "help"])
        ))),
    }
}

/// Records one flag, refusing flags of other commands and bad values.
fn apply(args: &mut Args, command: Command, name: &str, value: Option<OsString>) -> Result<(), Failure> {
    let shown = if name.chars().count() == 1 {
        format!("-{name}")
    } else {
        format!("--{name}")
    };
    let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
        let known = FLAGS
            .iter()
            .filter(|f| f.commands.contains(&command))
            .map(|f| f.name);
        let mut hint = format!("see `azureml-endpoint {} --help`", command.name());
        if shown.len() == 2 && matches!(command, Command::Complete | Command::Chat) {
            hint.push_str("; a text starting with '-' goes after `--`");
        }
        return Err(Failure::new(
            2,
            format!("unknown flag {shown}{}", did_you_mean_flag(name, known)),
            hint,
        ));
    };
    if !flag.commands.contains(&command) {
        return Err(Failure::new(
            2,
            format!("{shown} is not a flag of `{}`", command.name()),
            format!("see `azureml-endpoint {} --help` for its flags", command.name()),
        ));
    }
    let path = || value.clone().map(PathBuf::from).unwrap_or_default();
    let text = || -> Result<String, Failure> {
        value
            .clone()
            .unwrap_or_default()
            .into_string()
            .map_err(|_| Failure::usage(format!("the value of {shown} is not valid UTF-8")))
    };
    match name {
        "config" => args.config = Some(path()),
        "url" => args.url = Some(text()?),
        "api-type" => args.api_type = Some(api_type(&text()?)?),
        "formatter" => args.formatter = Some(text()?),
        "deployment" => args.deployment = Some(text()?),
        "timeout" => args.timeout = Some(timeout(&text()?)?),
        "api-key-env" => args.api_key_env = Some(text()?),
        "auth" => {
            args.auth = Some(
                text()?
                    .parse()
                    .map_err(|e| Failure::usage(format!("--auth: {e}")))?,
            )
        }
        "token-scope" => args.token_scope = Some(text()?),
        "client-id" => args.client_id = Some(text()?),
        "allow-insecure-http" => args.allow_insecure_http = true,
        "param" => {
            let pair = text()?;
            let (key, raw) = pair
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| Failure::usage(format!("--param {pair:?} is not KEY=VALUE")))?;
            let parsed = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
            args.params.insert(key.to_owned(), parsed);
        }
        "stop" => args.stop.push(text()?),
        "stream" => args.stream = true,
        "json" => args.json = true,
        "show-reasoning" => args.show_reasoning = true,
        "system" => args.system = Some(text()?),
        "messages" => args.messages = Some(path()),
        "image" => args.images.push(text()?),
        "input" => args.input = Some(path()),
        "output" => args.output = Some(path()),
        "concurrency" => {
            let text = text()?;
            let n = text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                Failure::usage(format!("--concurrency must be a whole number > 0, got {text:?}"))
            })?;
            args.concurrency = Some(n);
        }
        "resume" => args.resume = true,
        "chat" => args.chat = true,
        "force" => args.force = true,
        "port" => {
            let text = text()?;
            let port = text
                .parse()
                .map_err(|_| Failure::usage(format!("--port {text:?} is not a port number (0 to 65535)")))?;
            args.port = Some(port);
        }
        "ca-cert" => args.ca_certs.push(path()),
        "os-trust-store" => args.os_trust_store = true,
        "model" => args.model = Some(text()?),
        _ => return Err(Failure::usage(format!("unknown flag {shown}"))),
    }
    Ok(())
}

fn api_type(text: &str) -> Result<ApiType, Failure> {
    text.parse().map_err(|_| {
        let hint = match closest(text, ["dedicated", "serverless"]) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "or leave --api-type out: the URL path decides".into(),
        };
        Failure::new(
            2,
            format!("unknown api type `{text}`; use `dedicated` (…/score URLs) or `serverless` (…/completions, …/chat/completions URLs)"),
            hint,
        )
    })
}

fn timeout(text: &str) -> Result<Duration, Failure> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|t| !t.is_zero())
        .ok_or_else(|| Failure::usage(format!("--timeout must be a number of seconds > 0, got {text:?}")))
}

fn lexopt_failure(error: lexopt::Error) -> Failure {
    let message = match error {
        lexopt::Error::MissingValue { option: Some(option) } => format!("{option} needs a value"),
        lexopt::Error::UnexpectedValue { option, .. } => format!("{option} takes no value"),
        lexopt::Error::NonUnicodeValue(_) => "an argument is not valid UTF-8".to_owned(),
        other => other.to_string(),
    };
    Failure::usage(message)
}

fn display(arg: &lexopt::Arg<'_>) -> String {
    match arg {
        Long(name) => format!("--{name}"),
        Short(c) => format!("-{c}"),
        Value(v) => v.to_string_lossy().into_owned(),
    }
}

/// `; did you mean `x`?` when one candidate is a likely typo of `word`, else nothing.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

fn did_you_mean_flag<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean --{c}?"))
}

/// The candidate at the smallest edit distance (swaps count once), if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d: Vec<usize> = vec![0; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let value = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a.get(i - 1) != b.get(j - 1));
                let mut best = (d[at(i - 1, j)] + 1)
                    .min(d[at(i, j - 1)] + 1)
                    .min(d[at(i - 1, j - 1)] + cost);
                if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                    best = best.min(d[at(i - 2, j - 2)] + 1);
                }
                best
            };
            d[at(i, j)] = value;
        }
    }
    d[at(a.len(), b.len())]
}

/// The help of one command: what it does, every flag it takes, an example.
pub fn command_help(command: Command) -> String {
    let (usage, about, example) = crate::help::command(command);
    let mut text = format!("Usage: azureml-endpoint {usage}\n\n{about}\n\nFlags:\n");
    for flag in FLAGS.iter().filter(|f| f.commands.contains(&command)) {
        let left = match flag.value {
            Some(value) => format!("--{} {value}", flag.name),
            None => format!("--{}", flag.name),
        };
        text.push_str(&format!("    {left:<24} {}\n", flag.about));
    }
    text.push_str(&format!("    {:<24} {}\n", "-h, --help", "this help"));
    text.push_str(&format!("\nExample:\n    {example}\n"));
    text
}

/// Refuses words after a command that takes none.
pub fn no_positional(args: &Args, command: Command) -> Result<(), Failure> {
    match args.positional.first() {
        None => Ok(()),
        Some(word) => Err(Failure::new(
            2,
            format!(
                "unexpected argument `{}` for `{}`",
                word.to_string_lossy(),
                command.name()
            ),
            format!("see `azureml-endpoint {} --help`", command.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word() {
        assert_eq!(closest("compelte", ["complete", "chat"]), Some("complete"));
        assert_eq!(closest("ulr", ["url", "port"]), Some("url"));
        assert_eq!(closest("gtp2", ["gpt2", "hf"]), Some("gpt2"));
        assert_eq!(closest("xyz", ["complete", "chat"]), None);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "ab"), 2);
    }
}
