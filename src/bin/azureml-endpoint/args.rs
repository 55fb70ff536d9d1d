//! The parsed command line: what the flags gave, each field filled by its entry in `flags.rs`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use azureml_endpoint::{config::ENV_ENDPOINT_API_KEY, ApiType, AuthMode};
use serde_json::{Map, Value};

use crate::command::Command;
use crate::failure::Failure;

/// The values the flags gave; `None`/empty where not given.
#[derive(Clone, Debug, Default)]
pub struct Args {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub endpoint_name: Option<String>,
    pub workspace: Option<String>,
    pub resource_group: Option<String>,
    pub subscription: Option<String>,
    pub api_type: Option<ApiType>,
    pub formatter: Option<String>,
    pub deployment: Option<String>,
    pub timeout: Option<Duration>,
    pub api_key_env: Option<String>,
    pub secondary_key_env: Option<String>,
    pub auth: Option<AuthMode>,
    pub token_scope: Option<String>,
    pub client_id: Option<String>,
    pub allow_insecure_http: bool,
    pub params: Map<String, Value>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub show_reasoning: bool,
    pub json: bool,
    pub probe: bool,
    pub system: Option<String>,
    pub messages: Option<PathBuf>,
    pub images: Vec<String>,
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub batch_size: Option<u32>,
    pub resume: bool,
    pub chat: bool,
    pub force: bool,
    pub port: Option<u16>,
    pub ca_certs: Vec<PathBuf>,
    pub os_trust_store: bool,
    pub model: Option<String>,
    /// How many `-v`.
    pub verbose: u8,
    /// PROMPT, MESSAGE, TEXTs or FILE.
    pub positional: Vec<OsString>,
}

impl Args {
    /// The key's env var: `--api-key-env NAME`, else `AZUREML_ENDPOINT_API_KEY`.
    pub fn key_var(&self) -> &str {
        self.api_key_env.as_deref().unwrap_or(ENV_ENDPOINT_API_KEY)
    }

    /// Refuses words after a command that takes none.
    pub fn no_positional(&self, command: Command) -> Result<(), Failure> {
        match self.positional.first() {
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
}
