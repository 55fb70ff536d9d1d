//! `config new` and `config show`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use azureml_endpoint::config::ClientKind;
use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
use azureml_endpoint::{
    config::ENV_ENDPOINT_API_KEY, save_config, AnyClient, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint,
    Origin,
};
use serde_json::{json, Map, Value};

use crate::args::Args;
use crate::client::{load, load_options};
use crate::command::Command;
use crate::failure::Failure;
use crate::settings::{formatter_kind, settings};

pub fn new(args: &Args) -> Result<u8, Failure> {
    args.no_positional(Command::ConfigNew)?;
    let path = args
        .output
        .as_ref()
        .ok_or_else(|| Failure::usage("config new needs -o FILE"))?;
    check_target(path, args.force)?;
    // The kind: --chat, else the formatter's, else the URL path's; a completion client otherwise.
    let kind = if args.chat {
        ClientKind::Chat
    } else {
        args.formatter
            .as_deref()
            .and_then(formatter_kind)
            .or_else(|| args.url.as_deref().and_then(ClientKind::from_url))
            .unwrap_or(ClientKind::Completion)
    };
    let mut kwargs = args.params.clone();
    if !args.stop.is_empty() {
        kwargs.insert("stop".into(), json!(args.stop));
    }
    // No key is needed: a saved config never holds one, and `config new` makes no call (the file
    // may be for another machine, so its sign-in mode is not set up here either).
    let map = match kind {
        ClientKind::Chat => {
            let b = settings(args, kind, AzureMlChatOnlineEndpoint::builder())?;
            b.model_kwargs(kwargs).to_config_map()?
        }
        ClientKind::Embeddings => {
            let b = settings(args, kind, AzureMlEmbeddingsEndpoint::builder())?;
            b.model_kwargs(kwargs).to_config_map()?
        }
        _ => {
            let b = settings(args, kind, AzureMlOnlineEndpoint::builder())?;
            b.model_kwargs(kwargs).to_config_map()?
        }
    };
    save_config(path, &map)?;
    let uses = match (&args.auth, &args.endpoint_name) {
        (Some(mode), _) if mode.uses_token() => format!("it signs in with `{mode}` when used"),
        (_, Some(_)) => "the endpoint's keys or token are looked up by name when it is used".into(),
        _ => format!("set {ENV_ENDPOINT_API_KEY} when using it"),
    };
    eprintln!("wrote {} (no key is saved: {uses})", path.display());
    Ok(0)
}

/// Refuses to overwrite without `--force`, and to create folders a typo may have named.
fn check_target(path: &Path, force: bool) -> Result<(), Failure> {
    if path.exists() && !force {
        return Err(Failure::new(
            2,
            format!("{} already exists", path.display()),
            "pass --force to overwrite it, or pick another -o FILE".into(),
        ));
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) if !folder.is_dir() => Err(Failure::new(
            2,
            format!("folder {} does not exist", folder.display()),
            format!(
                "create it first (mkdir -p {}), or check the path",
                folder.display()
            ),
        )),
        _ => Ok(()),
    }
}

pub fn show(args: &Args) -> Result<u8, Failure> {
    let file = match args.positional.as_slice() {
        [file] => PathBuf::from(file),
        _ => {
            return Err(Failure::usage(
                "config show needs one FILE: azureml-endpoint config show FILE",
            ))
        }
    };
    // The kind only guides api type inference from --url, which `show` does not take.
    let options = load_options(args, ClientKind::Completion)?;
    // Show a config even where no key is set anywhere: the key is reported as unset. A key that
    // is set but invalid is the library's error, never shown.
    let (client, key_set) = match load(&file, &options) {
        Ok(client) => (client, true),
        Err(failure) if failure.is_missing_key() => {
            let client = load(&file, &options.clone().api_key("unset"))?;
            (client, false)
        }
        Err(failure) => return Err(failure),
    };
    let (mut map, sources, auth) = match client {
        AnyClient::Completion(c) => (c.to_config_map(), c.sources().to_vec(), c.config().auth),
        AnyClient::Chat(c) => (c.to_config_map(), c.sources().to_vec(), c.config().auth),
        AnyClient::Embeddings(c) => (c.to_config_map(), c.sources().to_vec(), c.config().auth),
        _ => {
            return Err(Failure::usage(
                "this file's `_type` is not a built-in endpoint type",
            ))
        }
    };
    // The resolved settings carry every origin, defaults included.
    let source_of = |key: &str| -> Origin {
        let found = sources.iter().find(|(k, _)| *k == key);
        found.map_or(Origin::Default, |(_, origin)| origin.clone())
    };
    let key_source = match (
        &args.api_key_env,
        sources.iter().find(|(k, _)| *k == "endpoint_api_key"),
    ) {
        (Some(name), _) => format!("env var {name}"),
        (None, Some((_, source))) => source.to_string(),
        (None, None) => Origin::Env(ENV_ENDPOINT_API_KEY).to_string(),
    };
    // A key-mode file has no `auth`; the mode is shown all the same, with where it came from.
    map.entry("auth").or_insert_with(|| auth.as_str().into());
    let key_shown = match (auth.uses_token(), key_set) {
        (true, _) => format!("not used (auth {auth})"),
        (false, true) => format!("set ({key_source})"),
        (false, false) => format!("unset (export {} to set it)", args.key_var()),
    };
    let mut out = io::stdout().lock();
    if args.json {
        let mut object = map.clone();
        let mut shown: Map<String, Value> = map
            .keys()
            .map(|k| (k.clone(), json!(source_of(k).to_string())))
            .collect();
        let key_state = match (auth.uses_token(), key_set) {
            (true, _) => "not used",
            (false, true) => "set",
            (false, false) => "unset",
        };
        object.insert("endpoint_api_key".into(), json!(key_state));
        if key_set && !auth.uses_token() {
            shown.insert("endpoint_api_key".into(), json!(key_source));
        }
        object.insert("sources".into(), Value::Object(shown));
        writeln!(out, "{}", Value::Object(object))?;
        return Ok(0);
    }
    for (key, value) in &map {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        writeln!(out, "{key:<18} {shown}  ({})", source_of(key))?;
    }
    writeln!(out, "{:<18} {key_shown}", "endpoint_api_key")?;
    Ok(0)
}
