//! A client from the flags and the environment, or from a config file under the flags.

use std::path::Path;

use azureml_endpoint::config::ClientKind;
use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::{
    AnyClient, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, LoadOptions, Registry,
};

use crate::args::Args;
use crate::failure::Failure;
use crate::settings::settings;

/// The flags as load options: they win over the file. `kind` guides the api type inferred from
/// `--url`.
pub fn load_options(args: &Args, kind: ClientKind) -> Result<LoadOptions, Failure> {
    settings(args, kind, LoadOptions::new())
}

/// A config file's client. `--formatter` (in `options`) replaces the file's formatter, whatever
/// tag it names, so a file saved for the wrong model needs no hand-editing.
pub fn load(path: &Path, options: &LoadOptions) -> Result<AnyClient, Failure> {
    Ok(Registry::new().load_with(path, options)?.into_client())
}

pub fn completion_client(args: &Args) -> Result<AzureMlOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(path, &load_options(args, ClientKind::Completion)?)? {
            AnyClient::Completion(llm) => Ok(llm),
            other => Err(wrong_kind(path, &other)),
        };
    }
    Ok(
        settings(args, ClientKind::Completion, AzureMlOnlineEndpoint::builder())?
            .with_env()
            .build()?,
    )
}

pub fn chat_client(args: &Args) -> Result<AzureMlChatOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(path, &load_options(args, ClientKind::Chat)?)? {
            AnyClient::Chat(chat) => Ok(chat),
            other => Err(wrong_kind(path, &other)),
        };
    }
    Ok(
        settings(args, ClientKind::Chat, AzureMlChatOnlineEndpoint::builder())?
            .with_env()
            .build()?,
    )
}

pub fn embeddings_client(args: &Args) -> Result<AzureMlEmbeddingsEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(path, &load_options(args, ClientKind::Embeddings)?)? {
            AnyClient::Embeddings(embedder) => Ok(embedder),
            other => Err(wrong_kind(path, &other)),
        };
    }
    Ok(
        settings(args, ClientKind::Embeddings, AzureMlEmbeddingsEndpoint::builder())?
            .with_env()
            .build()?,
    )
}

/// A config file of another kind than the command's, with the command for it.
fn wrong_kind(path: &Path, held: &AnyClient) -> Failure {
    let (what, command) = match held {
        AnyClient::Completion(_) => ("a completion endpoint", "complete"),
        AnyClient::Chat(_) => ("a chat endpoint", "chat"),
        AnyClient::Embeddings(_) => ("an embeddings endpoint", "embed"),
        _ => ("not a built-in endpoint type", "batch"),
    };
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
