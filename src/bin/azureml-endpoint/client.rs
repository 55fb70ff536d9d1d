//! Building a client from the flags, a config file and the environment.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use azureml_endpoint::credential;
use azureml_endpoint::formatter::{chat_formatter, completion_formatter};
use azureml_endpoint::{
    config::AZUREML_CHAT_ENDPOINT_TYPE, config::AZUREML_ENDPOINT_TYPE, config::ENV_ENDPOINT_API_KEY,
    config::ENV_ENDPOINT_API_TYPE, config::ENV_ENDPOINT_URL, AnyClient, ApiType, AuthMode,
    AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, Builder, LoadOptions, Registry,
};
use serde_json::{Map, Value};

use crate::args::{closest, Args};
use crate::Failure;

/// The key's env var: `--api-key-env NAME`, else `AZUREML_ENDPOINT_API_KEY`.
pub fn key_var(args: &Args) -> &str {
    args.api_key_env.as_deref().unwrap_or(ENV_ENDPOINT_API_KEY)
}

/// The key from its env var: `None` when unset; an error, never showing it, when it cannot go
/// in an HTTP header (visible ASCII only: a CR/LF from a copied file is the usual culprit).
pub fn key(args: &Args) -> Result<Option<String>, Failure> {
    let name = key_var(args);
    let invalid = || {
        Failure::new(
            2,
            format!("the key in env var {name} is invalid: it must be visible ASCII, without spaces, CR/LF or other control characters"),
            format!("export {name} again without the trailing newline, e.g. {name}=\"$(tr -d '\\r\\n' < key.txt)\""),
        )
    };
    match std::env::var_os(name) {
        None if args.api_key_env.is_some() => Err(Failure::new(
            2,
            format!("--api-key-env {name}: env var {name} is not set"),
            format!("export {name}=..."),
        )),
        None => Ok(None),
        Some(value) => {
            let text = value.into_string().map_err(|_| invalid())?;
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid());
            }
            Ok(Some(text))
        }
    }
}

/// The key to pass explicitly: only one from `--api-key-env` (the library reads
/// `AZUREML_ENDPOINT_API_KEY` itself, after a config file's key). Either is checked.
fn named_key(args: &Args) -> Result<Option<String>, Failure> {
    let key = key(args)?;
    Ok(key.filter(|_| args.api_key_env.is_some()))
}

/// The api type: `--api-type`, else `AZUREML_ENDPOINT_API_TYPE`, else the one the URL fits.
/// A URL for the other command is an error naming that command.
fn api_type(args: &Args, chat: bool) -> Result<Option<ApiType>, Failure> {
    if args.api_type.is_some() {
        return Ok(args.api_type);
    }
    let env_url = std::env::var(ENV_ENDPOINT_URL).ok();
    let Some(url) = args
        .url
        .as_deref()
        .or(env_url.as_deref().filter(|_| args.config.is_none()))
    else {
        return Ok(None);
    };
    if args.url.is_none() && std::env::var_os(ENV_ENDPOINT_API_TYPE).is_some() {
        return Ok(None);
    }
    if let (None, Some(_)) = (
        ApiType::infer_from_url(url, chat),
        ApiType::infer_from_url(url, !chat),
    ) {
        let (what, other) = if chat {
            ("a completions URL", "complete")
        } else {
            ("a chat URL", "chat")
        };
        return Err(Failure::new(
            2,
            format!("{url} is {what}"),
            format!(
                "use `azureml-endpoint {other}`, or a URL ending in {}",
                if chat {
                    "/chat/completions"
                } else {
                    "/completions or /score"
                }
            ),
        ));
    }
    Ok(ApiType::infer_from_url(url, chat))
}

/// A builder from env vars with the flags over them.
fn builder<F: ?Sized>(args: &Args, base: Builder<F>, chat: bool) -> Result<Builder<F>, Failure> {
    let mut builder = base;
    if let Some(key) = named_key(args)? {
        builder = builder.api_key(key);
    }
    if let Some(url) = &args.url {
        builder = builder.endpoint_url(url.clone());
    }
    if let Some(api_type) = api_type(args, chat)? {
        builder = builder.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        builder = builder.deployment_name(name.clone());
    }
    if let Some(model) = &args.model {
        builder = builder.model(model.clone());
    }
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(mode) = args.auth {
        builder = builder.auth(mode);
    }
    if let Some(scope) = &args.token_scope {
        builder = builder.token_scope(scope.clone());
    }
    if let Some(id) = &args.client_id {
        builder = builder.client_id(id.clone());
    }
    if let Some(idle) = idle_connections(args) {
        builder = builder.max_idle_connections(idle);
    }
    for path in &args.ca_certs {
        builder = builder.add_root_certificates_file(path);
    }
    if args.os_trust_store {
        builder = builder.use_os_trust_store(true);
    }
    Ok(builder.allow_insecure_http(args.allow_insecure_http).with_env())
}

/// Explicit flags for a config-file load: they win over the file.
pub fn load_options(args: &Args, chat: bool) -> Result<LoadOptions, Failure> {
    let mut options = LoadOptions::new().allow_insecure_http(args.allow_insecure_http);
    if let Some(url) = &args.url {
        options = options.endpoint_url(url.clone());
    }
    if let Some(api_type) = api_type(args, chat)? {
        options = options.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        options = options.deployment_name(name.clone());
    }
    if let Some(model) = &args.model {
        options = options.model(model.clone());
    }
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    if let Some(key) = named_key(args)? {
        options = options.api_key(key);
    }
    if let Some(tag) = &args.formatter {
        options = options.formatter(tag.clone());
    }
    if let Some(mode) = args.auth {
        options = options.auth(mode);
    }
    if let Some(scope) = &args.token_scope {
        options = options.token_scope(scope.clone());
    }
    if let Some(id) = &args.client_id {
        options = options.client_id(id.clone());
    }
    if let Some(idle) = idle_connections(args) {
        options = options.max_idle_connections(idle);
    }
    for path in &args.ca_certs {
        options = options.add_root_certificates_file(path);
    }
    if args.os_trust_store {
        options = options.use_os_trust_store(true);
    }
    Ok(options)
}

/// A pool that keeps every connection of `--concurrency` open between requests, when the
/// default would not.
fn idle_connections(args: &Args) -> Option<usize> {
    args.concurrency
        .filter(|&n| n > azureml_endpoint::config::DEFAULT_MAX_IDLE_CONNECTIONS)
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
    for (type_name, chat) in [(AZUREML_ENDPOINT_TYPE, false), (AZUREML_CHAT_ENDPOINT_TYPE, true)] {
        let fields = Arc::clone(&fields);
        registry.register(type_name, move |ctx| {
            *fields.lock().unwrap_or_else(PoisonError::into_inner) = ctx.fields().clone();
            if chat {
                ctx.chat_client().map(AnyClient::Chat)
            } else {
                ctx.completion_client().map(AnyClient::Completion)
            }
        });
    }
    if let Some(tag) = &args.formatter {
        if completion_formatter(tag).is_none() && chat_formatter(tag).is_none() {
            return Err(unknown_formatter(tag, false));
        }
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
        return match load(args, path, &load_options(args, false)?)?.0 {
            AnyClient::Completion(llm) => Ok(llm),
            _ => Err(wrong_kind(path, "a chat endpoint", "chat")),
        };
    }
    let mut b = builder(args, AzureMlOnlineEndpoint::builder(), false)?;
    if let Some(tag) = &args.formatter {
        b = b.formatter_arc(completion_formatter(tag).ok_or_else(|| unknown_formatter(tag, false))?);
    }
    Ok(b.build()?)
}

pub fn chat_client(args: &Args) -> Result<AzureMlChatOnlineEndpoint, Failure> {
    if let Some(path) = &args.config {
        return match load(args, path, &load_options(args, true)?)?.0 {
            AnyClient::Chat(chat) => Ok(chat),
            _ => Err(wrong_kind(path, "a completion endpoint", "complete")),
        };
    }
    let mut b = builder(args, AzureMlChatOnlineEndpoint::builder(), true)?;
    if let Some(tag) = &args.formatter {
        b = b.formatter_arc(chat_formatter(tag).ok_or_else(|| unknown_formatter(tag, true))?);
    }
    Ok(b.build()?)
}

/// A builder for `config new`: the flags without the env vars' key (a placeholder stands in).
pub fn saving_builder<F: ?Sized>(args: &Args, base: Builder<F>, chat: bool) -> Result<Builder<F>, Failure> {
    let mut b = base
        .endpoint_url(args.url.clone().unwrap_or_default())
        .allow_insecure_http(args.allow_insecure_http);
    if let Some(api_type) = api_type(args, chat)? {
        b = b.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        b = b.deployment_name(name.clone());
    }
    if let Some(model) = &args.model {
        b = b.model(model.clone());
    }
    if let Some(timeout) = args.timeout {
        b = b.timeout(timeout);
    }
    if let Some(scope) = &args.token_scope {
        b = b.token_scope(scope.clone());
    }
    Ok(match args.auth.filter(|mode| mode.uses_token()) {
        // `config new` makes no call, and the file may be for another machine (a pod, a VM):
        // a stand-in credential checks the scope without reading this machine's environment.
        Some(_) => b.credential(credential::from_fn(|_: &str| {
            Err(credential::CredentialError::custom("config new makes no calls"))
        })),
        None => {
            if let Some(id) = &args.client_id {
                b = b.client_id(id.clone());
            }
            b
        }
    })
}

/// `config_map` with the flags' sign-in settings: the mode and client id a stand-in credential
/// (see [`saving_builder`]) left out.
pub fn with_auth(args: &Args, mut map: Map<String, Value>) -> Result<Map<String, Value>, Failure> {
    let Some(mode) = args.auth.filter(|mode| mode.uses_token()) else {
        return Ok(map);
    };
    map.insert("auth".into(), mode.as_str().into());
    if let Some(id) = &args.client_id {
        if mode == AuthMode::AzureCli {
            return Err(Failure::usage(
                "--client-id does not apply to --auth azure_cli: it signs in as the `az login` account",
            ));
        }
        map.insert("client_id".into(), id.as_str().into());
    }
    Ok(map)
}

fn wrong_kind(path: &Path, what: &str, command: &str) -> Failure {
    Failure::new(
        2,
        format!("{} is {what}", path.display()),
        format!("use `azureml-endpoint {command} --config {}`", path.display()),
    )
}

/// An unknown tag, or a tag of the other kind of client, with what to use instead.
pub fn unknown_formatter(tag: &str, chat: bool) -> Failure {
    let registry = Registry::new();
    let completion_tags: Vec<&str> = registry.completion_formatter_tags().collect();
    let chat_tags: Vec<&str> = registry.chat_formatter_tags().collect();
    let (known, other, other_command) = if chat {
        (&chat_tags, &completion_tags, "complete")
    } else {
        (&completion_tags, &chat_tags, "chat")
    };
    let kind = if chat { "chat" } else { "completion" };
    if other.contains(&tag)
        || (chat && completion_formatter(tag).is_some())
        || (!chat && chat_formatter(tag).is_some())
    {
        return Failure::new(
            2,
            format!(
                "`{tag}` is a {} formatter; {kind} formatters: {}",
                if chat { "completion" } else { "chat" },
                known.join(", ")
            ),
            format!("use it with `azureml-endpoint {other_command}`, or pick a {kind} formatter"),
        );
    }
    let all = completion_tags.iter().chain(&chat_tags).copied();
    let hint = match closest(tag, all) {
        Some(near) => format!("did you mean `{near}`?"),
        None => "see the formatter table in the README".into(),
    };
    Failure::new(
        2,
        format!(
            "unknown formatter `{tag}`; {kind} formatters: {}",
            known.join(", ")
        ),
        hint,
    )
}

/// The per-call settings from the flags.
pub fn call_options(args: &Args) -> azureml_endpoint::CallOptions {
    let mut options = azureml_endpoint::CallOptions::new()
        .params_from(args.params.clone())
        .stop(args.stop.clone());
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    options.max_concurrency(args.concurrency.unwrap_or(1))
}
