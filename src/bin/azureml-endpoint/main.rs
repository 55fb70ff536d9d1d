//! `azureml-endpoint`: call Azure ML online endpoints from shells, cron and batch jobs.
//!
//! A thin layer: parse the arguments (`args`), build a client (`client`), call it and print
//! (`call`, `batch`, `config`), map errors to an exit status and a hint (here).

mod args;
mod batch;
mod call;
mod client;
mod config;
mod help;
mod ordered;
mod stream_json;

use std::io::{self, Write};
use std::process::ExitCode;

use azureml_endpoint::local::LocalEndpoint;
use azureml_endpoint::{Error, Origin, TransportErrorKind, ENV_ENDPOINT_API_KEY};

use args::{Command, Parsed};

/// Why the program stops early: the exit code and what to print.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    message: String,
    hint: Option<String>,
    /// The library's "no API key" with nothing set anywhere (`config show` reports it as unset).
    missing_key: bool,
}

impl Failure {
    pub fn new(code: u8, message: String, hint: String) -> Self {
        Failure {
            code,
            message,
            hint: Some(hint),
            missing_key: false,
        }
    }

    /// A usage error (exit status 2) pointing at the help.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message.into(), "see `azureml-endpoint --help`".into())
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let (code, hint) = match &error {
            Error::Config(e) if e.key == "endpoint_api_key" => (
                2,
                format!(
                    "export {ENV_ENDPOINT_API_KEY}=... (or name another variable with --api-key-env NAME)"
                ),
            ),
            Error::Config(e) if e.key == "endpoint_url" => (
                2,
                "check --url (or AZUREML_ENDPOINT_URL, or the file's endpoint_url) and --api-type".into(),
            ),
            Error::Config(_) | Error::ConfigFile(_) | Error::Input(_) | Error::Io(_) => {
                (2, "fix the setting or file named above".into())
            }
            Error::Http(e) if e.status == 401 || e.status == 403 => (
                1,
                format!(
                    "check the key in {ENV_ENDPOINT_API_KEY} (or --api-key-env); with --auth, check \
                     that the identity has a role that may score on the endpoint (see the README)"
                ),
            ),
            Error::Http(e) if e.status == 404 => {
                (1, "check the URL and that a deployment takes traffic".into())
            }
            Error::Http(e) if e.content_filter.is_some() => (
                1,
                "Azure's content filter refused the prompt: rephrase it, or review the deployment's content filter".into(),
            ),
            Error::Http(e) if e.status == 400 || e.status == 422 => (
                1,
                "the endpoint refused the request: check --param values and --formatter".into(),
            ),
            Error::Http(e) if e.status == 429 => (1, "throttled: retry later, or lower --concurrency".into()),
            Error::Http(e) if e.status == 408 || e.status >= 500 => (1, "retry later".into()),
            Error::Response(_) => (
                1,
                "check --formatter: it must match the model's request/response shape".into(),
            ),
            Error::Stream(_) => (1, "the answer is incomplete; retry the call".into()),
            Error::Transport(e) => (1, transport_hint(e.kind).into()),
            Error::Credential(e) => (1, credential_hint(e.credential()).into()),
            _ => (1, "see the message above".into()),
        };
        let missing_key =
            matches!(&error, Error::Config(e) if e.key == "endpoint_api_key" && e.origin == Origin::Default);
        // The library's text speaks of builders; the CLI user has env vars and a config file.
        let message = if missing_key {
            format!("no API key: {ENV_ENDPOINT_API_KEY} is not set")
        } else {
            cli_words(&chain(&error))
        };
        Failure {
            missing_key,
            ..Failure::new(code, message, hint)
        }
    }
}

fn transport_hint(kind: TransportErrorKind) -> &'static str {
    match kind {
        TransportErrorKind::Connect => {
            "check the host name in the URL and that the endpoint is up (and HTTPS_PROXY, if you need one)"
        }
        TransportErrorKind::ConnectTimeout => {
            "check the network path to the host (firewall, proxy), then retry"
        }
        TransportErrorKind::Timeout => "the model is slow: raise --timeout, or ask for fewer tokens",
        TransportErrorKind::TooLarge => "ask for a shorter answer (max_tokens / max_new_tokens)",
        TransportErrorKind::Redirect => "use the URL the endpoint redirects to",
        TransportErrorKind::Tls => {
            "behind a TLS-inspecting proxy, trust its CA: --ca-cert FILE, AZUREML_CA_BUNDLE, or --os-trust-store"
        }
        _ => "retry later",
    }
}

/// The library names its builder settings; the CLI user knows flags and commands.
fn cli_words(message: &str) -> String {
    message
        .replace("or set allow_insecure_http", "or pass --allow-insecure-http")
        .replace("use AzureMlChatOnlineEndpoint", "use `azureml-endpoint chat`")
        .replace("use AzureMlOnlineEndpoint", "use `azureml-endpoint complete`")
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        let code = if error.kind() == io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        };
        Failure {
            code,
            message: format!("I/O error: {error}"),
            hint: None,
            missing_key: false,
        }
    }
}

/// The error and its sources on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
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
    match run() {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`| head`) is not an error.
        Err(failure) if failure.code == 0 => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", one_line(&failure.message));
            if let Some(hint) = failure.hint {
                eprintln!("hint: {}", one_line(&hint));
            }
            ExitCode::from(failure.code)
        }
    }
}

/// An error message as one line a terminal shows as written: messages carry server text, and a
/// hostile server could otherwise send escape sequences (or bidi overrides) to the user's terminal.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn run() -> Result<u8, Failure> {
    let (command, args) = match args::parse(std::env::args_os().skip(1))? {
        Parsed::Help(text) => {
            io::stdout().write_all(text.as_bytes())?;
            return Ok(0);
        }
        Parsed::Version => {
            println!("azureml-endpoint {}", env!("CARGO_PKG_VERSION"));
            return Ok(0);
        }
        Parsed::Run(command, args) => (command, args),
    };
    match command {
        Command::Complete => call::complete(&args),
        Command::Chat => call::chat(&args),
        Command::Batch => batch::run(&args),
        Command::ConfigNew => config::new(&args),
        Command::ConfigShow => config::show(&args),
        Command::Local => local(&args),
    }
}

/// The default port of `local`, as in the README and the help examples.
const LOCAL_PORT: u16 = 8765;

fn local(args: &args::Args) -> Result<u8, Failure> {
    args::no_positional(args, Command::Local)?;
    let port = args.port.unwrap_or(LOCAL_PORT);
    let server = LocalEndpoint::start_on(port).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            "another program uses it: pick another --port, or --port 0 for any free one"
        } else {
            "pick another --port, or --port 0 for any free one"
        };
        Failure::new(1, format!("cannot listen on 127.0.0.1:{port}: {e}"), hint.into())
    })?;
    println!(
        "local echo endpoint on {} (any key is accepted; Ctrl-C stops it)",
        server.base_url()
    );
    println!("  dedicated:             {}", server.dedicated_url());
    println!("  serverless completion: {}", server.completions_url());
    println!("  serverless chat:       {}", server.chat_url());
    io::stdout().flush()?;
    server.wait();
    Ok(0)
}

/// What to do when a credential gave no token, by source.
fn credential_hint(source: &str) -> &'static str {
    match source {
        "azure cli credential" => "run `az login` (and `az account set` for the right subscription), or choose another --auth",
        "managed identity credential" => {
            "run on Azure with a managed identity assigned (--client-id for a user-assigned one), or choose another --auth"
        }
        "workload identity credential" => {
            "check the pod's workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID"
        }
        "client secret credential" => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        _ => "set up one of the sources listed above, or choose another --auth (key, managed_identity, workload_identity, client_secret, azure_cli)",
    }
}
