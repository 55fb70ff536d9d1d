//! A client from the flags and the environment, or from a config file under the flags.

use std::path::Path;

use azureml_endpoint::{
    AnyClient, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, LoadOptions, Registry,
};

use crate::args::Args;
use crate::failure::Failure;
use crate::settings::settings;

/// The flags as load options: they win over the file. `chat` guides the api type inferred from
/// `--url`.
pub fn load_options(args: &Args, chat: bool) -> Result<LoadOptions, Failure> {
    settings(args, chat, LoadOptions::new())
}

/// A config file's client. `--formatter` (in `options`) replaces the file's formatter, whatever
/// tag it names, so a file saved for the wrong model needs no hand-editing.
pub fn load(path: &Path, options: &LoadOptions) -> Result<AnyClient, Failure> {
    Ok(Registry::new().load_with(path, options)?.into_client())
}

pub fn completion_client(args: &Args) -> Result<AzureMlOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(path, &load_options(args, false)?)? {
            AnyClient::Completion(llm) => Ok(llm),
            _ => Err(wrong_kind(path, "a chat endpoint", "chat")),
        };
    }
    Ok(settings(args, false, AzureMlOnlineEndpoint::builder())?
        .with_env()
        .build()?)
}

pub fn chat_client(args: &Args) -> Result<AzureMlChatOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(path, &load_options(args, true)?)? {
            AnyClient::Chat(chat) => Ok(chat),
            _ => Err(wrong_kind(path, "a completion endpoint", "complete")),
        };
    }
    Ok(settings(args, true, AzureMlChatOnlineEndpoint::builder())?
        .with_env()
        .build()?)
}

fn wrong_kind(path: &Path, what: &str, command: &str) -> Failure {
    Failure::new(
        2,
        format!("{} is {what}", path.display()),
        format!("use `azureml-endpoint {command} --config {}`", path.display()),
    )
}

/// The per-call settings from the flags.
pub fn call_options(args: &Args) -> CallOptions {
    let mut options = CallOptions::new()
        .params_from(args.params.clone())
        .stop(args.stop.clone());
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    options.max_concurrency(args.concurrency.unwrap_or(1))
}
