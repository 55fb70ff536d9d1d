//! Why the program stops early: an exit status, what went wrong and how to fix it.

use std::io;

use azureml_endpoint::{config::ENV_ENDPOINT_API_KEY, Error, Origin};

/// The exit status and what to print. A library error keeps its text as the message; its hint
/// is worked out once the command and flags are known (`remedy.rs`).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
    error: Option<Error>,
}

impl Failure {
    pub fn new(code: u8, message: String, hint: String) -> Self {
        Failure {
            code,
            message,
            hint: Some(hint),
            error: None,
        }
    }

    /// A usage error (exit status 2) pointing at the help.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message.into(), "see `azureml-endpoint --help`".into())
    }

    /// The library error this failure reports, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The library's "no API key" with nothing set anywhere (`config show` reports it as unset).
    pub fn is_missing_key(&self) -> bool {
        self.error.as_ref().is_some_and(missing_key)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::Config(_) | Error::ConfigFile(_) | Error::Input(_) | Error::Io(_) => 2,
            _ => 1,
        };
        // The library speaks of builders and files; a CLI user with no key has one place to set it.
        let message = match missing_key(&error) {
            // The library reads only UTF-8 text from the env: a key that is not is "not set" to it.
            true if std::env::var_os(ENV_ENDPOINT_API_KEY).is_some() => {
                format!("the key in env var {ENV_ENDPOINT_API_KEY} is not valid UTF-8")
            }
            true => format!("no API key: {ENV_ENDPOINT_API_KEY} is not set"),
            false => chain(&error),
        };
        Failure {
            code,
            message,
            hint: None,
            error: Some(error),
        }
    }
}

fn missing_key(error: &Error) -> bool {
    matches!(error, Error::Config(e) if e.key == "endpoint_api_key" && e.origin == Origin::Default)
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
            error: None,
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
