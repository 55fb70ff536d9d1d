//! `azureml-endpoint`: call Azure ML online endpoints from shells, cron and batch jobs.
//!
//! A thin layer: parse the arguments (`parse`, with every flag defined once in `flags`), map
//! them onto the library's settings (`settings`), call and print (`call`, `batch`, `config`), and
//! say how to fix what failed (`remedy`).

mod args;
mod batch;
mod call;
mod check;
mod client;
mod command;
mod config;
mod failure;
mod flags;
mod help;
mod ordered;
mod parse;
mod remedy;
mod settings;
mod stream_json;
mod verbose;

use std::io::{self, Write};
use std::process::ExitCode;

use azureml_endpoint::local::LocalEndpoint;

use args::Args;
use command::Command;
use failure::Failure;
use parse::Parsed;

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
    let (command, args) = match parse::parse(std::env::args_os().skip(1))? {
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
    if matches!(command, Command::Complete | Command::Chat | Command::Batch) {
        verbose::install(args.verbose);
    }
    let result = match command {
        Command::Complete => call::complete(&args),
        Command::Chat => call::chat(&args),
        Command::Embed => call::embed(&args),
        Command::Batch => batch::run(&args),
        Command::ConfigNew => config::new(&args),
        Command::ConfigShow => config::show(&args),
        Command::Check => check::run(&args),
        Command::Local => local(&args),
    };
    result.map_err(|failure| remedy::explain(failure, &args, command))
}

/// The default port of `local`, as in the README and the help examples.
const LOCAL_PORT: u16 = 8765;

fn local(args: &Args) -> Result<u8, Failure> {
    args.no_positional(Command::Local)?;
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
    println!("  serverless embeddings: {}", server.embeddings_url());
    io::stdout().flush()?;
    server.wait();
    Ok(0)
}
