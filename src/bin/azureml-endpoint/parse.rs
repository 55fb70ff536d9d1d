//! Reading the command line: which command, then each flag through its entry in the flag table
//! (refused when it belongs to another command).

use std::ffi::OsString;

use azureml_endpoint::config::ENV_ENDPOINT_API_KEY;
use lexopt::prelude::*;

use crate::args::Args;
use crate::command::{Command, COMMANDS};
use crate::failure::Failure;
use crate::flags::{Flag, Given, FLAGS};
use crate::help::{command_help, OVERVIEW};
use azureml_endpoint::config::suggest;

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
    // Flags as given, with their entry (`None`: unknown, judged once the command is known).
    let mut given: Vec<(Option<&'static Flag>, Given)> = Vec::new();
    let (mut help, mut version) = (false, false);
    while let Some(arg) = parser.next().map_err(lexopt_failure)? {
        let (flag, shown) = match arg {
            Short('h') | Long("help") => {
                help = true;
                continue;
            }
            Short('V') | Long("version") => {
                version = true;
                continue;
            }
            Long(name @ ("api-key" | "key" | "token")) => {
                return Err(Failure::new(
                    2,
                    format!("--{name} is not accepted: a key on the command line lands in shell history and process lists"),
                    format!("export {ENV_ENDPOINT_API_KEY}=..., or name another variable with --api-key-env NAME"),
                ));
            }
            Long(name) => (Flag::by_long(name), format!("--{name}")),
            Short(c) => (Flag::by_short(c), format!("-{c}")),
            Value(word) => {
                words.push(word);
                continue;
            }
        };
        let value = match flag {
            Some(Flag { value: Some(_), .. }) => parser.value().map_err(lexopt_failure)?,
            Some(_) => OsString::new(),
            None => {
                // `--unknown=value`: the value is dropped with the flag.
                let _ = parser.optional_value();
                OsString::new()
            }
        };
        given.push((flag, Given { shown, value }));
    }
    let (command, positional) = match command_of(&words, help)? {
        Found::Run(command, positional) => (command, positional),
        Found::Help(text) => return Ok(Parsed::Help(text)),
        Found::Nothing if version => return Ok(Parsed::Version),
        Found::Nothing => return Ok(Parsed::Help(OVERVIEW.to_owned())),
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
    for (flag, given) in given {
        let flag = flag.ok_or_else(|| unknown_flag(&given.shown, command))?;
        if !flag.commands.contains(&command) {
            return Err(Failure::new(
                2,
                format!("{} is not a flag of `{}`", given.shown, command.name()),
                format!("see `azureml-endpoint {} --help` for its flags", command.name()),
            ));
        }
        (flag.apply)(&mut args, &given)?;
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
            Some("new") => Ok(Found::Run(Command::ConfigNew, tail)),
            Some("show") => Ok(Found::Run(Command::ConfigShow, tail)),
            None if help => Ok(Found::Help(format!(
                "{}\n{}",
                command_help(Command::ConfigNew),
                command_help(Command::ConfigShow)
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
                    did_you_mean(other, &["new", "show"], |w| format!("`{w}`"))
                ),
                "use `config new -o FILE` or `config show FILE`".into(),
            )),
        };
    }
    match COMMANDS.iter().find(|(name, _)| *name == first) {
        Some((_, command)) => Ok(Found::Run(*command, rest)),
        None => Err(Failure::usage(format!(
            "unknown command `{first}`{}",
            did_you_mean(
                &first,
                &["complete", "chat", "embed", "batch", "config", "check", "local", "help"],
                |w| format!("`{w}`")
            )
        ))),
    }
}

/// A flag no entry names, with the closest flag of `command`.
fn unknown_flag(shown: &str, command: Command) -> Failure {
    let known: Vec<&str> = FLAGS
        .iter()
        .filter(|f| f.commands.contains(&command))
        .map(|f| f.long)
        .collect();
    let name = shown.trim_start_matches('-');
    let mut hint = format!("see `azureml-endpoint {} --help`", command.name());
    if !shown.starts_with("--") && matches!(command, Command::Complete | Command::Chat | Command::Embed) {
        hint.push_str("; a text starting with '-' goes after `--`");
    }
    Failure::new(
        2,
        format!(
            "unknown flag {shown}{}",
            did_you_mean(name, &known, |w| format!("--{w}"))
        ),
        hint,
    )
}

/// `; did you mean X?` when one candidate is a likely typo of `word`, else nothing.
fn did_you_mean(word: &str, candidates: &[&str], show: impl Fn(&str) -> String) -> String {
    suggest(word, candidates).map_or_else(String::new, |c| format!("; did you mean {}?", show(c)))
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
