//! A client from the flags and the environment, or from a config file under the flags.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use azureml_endpoint::config::{ClientKind, AZUREML_EMBEDDINGS_ENDPOINT_TYPE};
use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::{
    config::AZUREML_CHAT_ENDPOINT_TYPE, config::AZUREML_ENDPOINT_TYPE, AnyClient, AzureMlChatOnlineEndpoint,
    AzureMlOnlineEndpoint, CallOptions, LoadOptions, Registry,
};
use serde_json::{Map, Value};

use crate::args::Args;
use crate::failure::Failure;
use crate::settings::settings;

/// The flags as load options: they win over the file. `kind` guides the api type inferred from
/// `--url`.
pub fn load_options(args: &Args, kind: ClientKind) -> Result<LoadOptions, Failure> {
    settings(args, kind, LoadOptions::new())
}

/// A config file's client and top-level fields. `--formatter` (in `options`) replaces the file's
/// formatter, whatever tag it names, so a file saved for the wrong model needs no hand-editing.
pub fn load(
    args: &Args,
    path: &Path,
    options: &LoadOptions,
) -> Result<(AnyClient, Map<String, Value>), Failure> {
    let fields = Arc::new(Mutex::new(Map::new()));
    let mut registry = Registry::new();
    let types = [
        (AZUREML_ENDPOINT_TYPE, ClientKind::Completion),
        (AZUREML_CHAT_ENDPOINT_TYPE, ClientKind::Chat),
        (AZUREML_EMBEDDINGS_ENDPOINT_TYPE, ClientKind::Embeddings),
    ];
    for (type_name, kind) in types {
        let fields = Arc::clone(&fields);
        registry.register(type_name, move |ctx| {
            *fields.lock().unwrap_or_else(PoisonError::into_inner) = ctx.fields().clone();
            match kind {
                ClientKind::Chat => ctx.chat_client().map(AnyClient::Chat),
                ClientKind::Embeddings => ctx.embeddings_client().map(AnyClient::Embeddings),
                _ => ctx.completion_client().map(AnyClient::Completion),
            }
        });
    }
    let loaded = registry.load_with(path, options)?;
    let fields = std::mem::take(&mut *fields.lock().unwrap_or_else(PoisonError::into_inner));
    // With no formatter in the file the default one was used: --formatter would be ignored.
    if let Some(tag) = args
        .formatter
        .as_deref()
        .filter(|_| !fields.contains_key("formatter") && !fields.contains_key("content_formatter"))
    {
        return Err(Failure::new(
            2,
            format!(
                "{} names no formatter, so --formatter {tag} has nothing to replace",
                path.display()
            ),
            format!("add \"formatter\": {{\"_type\": \"{tag}\"}} to the file"),
        ));
    }
    Ok((loaded.into_client(), fields))
}

pub fn completion_client(args: &Args) -> Result<AzureMlOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(args, path, &load_options(args, ClientKind::Completion)?)?.0 {
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
        return match load(args, path, &load_options(args, ClientKind::Chat)?)?.0 {
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
        return match load(args, path, &load_options(args, ClientKind::Embeddings)?)?.0 {
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
