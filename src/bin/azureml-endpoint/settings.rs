//! The one mapping from the flags to the library's settings: the same function fills a builder
//! (a client from flags) and load options (a config file under the flags).

use std::sync::Arc;

use azureml_endpoint::formatter::{chat_formatter, completion_formatter};
use azureml_endpoint::{
    config::DEFAULT_MAX_IDLE_CONNECTIONS, config::ENV_ENDPOINT_API_TYPE, config::ENV_ENDPOINT_URL, ApiType,
    Builder, ChatContentFormatter, ContentFormatter, LoadOptions, Registry,
};

use crate::args::Args;
use crate::failure::Failure;
use azureml_endpoint::config::suggest;

/// The flags' settings over `b`: a client's [`Builder`] or [`LoadOptions`] (a builder too).
///
/// `chat` guides the api type inferred from `--url`. The key is set only from `--api-key-env`:
/// the library reads `AZUREML_ENDPOINT_API_KEY` itself, after a config file's key, and checks
/// whichever key it uses.
pub fn settings<F: ?Sized>(args: &Args, chat: bool, b: Builder<F>) -> Result<Builder<F>, Failure>
where
    Builder<F>: FormatterTag,
{
    let mut s = b.allow_insecure_http(args.allow_insecure_http);
    if let Some(key) = named_key("--api-key-env", args.api_key_env.as_deref())? {
        s = s.api_key(key);
    }
    if let Some(key) = named_key("--secondary-key-env", args.secondary_key_env.as_deref())? {
        s = s.secondary_api_key(key);
    }
    if let Some(url) = &args.url {
        s = s.endpoint_url(url.clone());
    }
    if let Some(name) = &args.endpoint_name {
        s = s.endpoint_name(name.clone());
    }
    if let Some(name) = &args.workspace {
        s = s.workspace_name(name.clone());
    }
    if let Some(name) = &args.resource_group {
        s = s.resource_group(name.clone());
    }
    if let Some(id) = &args.subscription {
        s = s.subscription_id(id.clone());
    }
    if let Some(api_type) = api_type(args, chat)? {
        s = s.api_type(api_type);
    }
    if let Some(name) = &args.deployment {
        s = s.deployment_name(name.clone());
    }
    if let Some(model) = &args.model {
        s = s.model(model.clone());
    }
    if let Some(timeout) = args.timeout {
        s = s.timeout(timeout);
    }
    if let Some(mode) = args.auth {
        s = s.auth(mode);
    }
    if let Some(scope) = &args.token_scope {
        s = s.token_scope(scope.clone());
    }
    if let Some(id) = &args.client_id {
        s = s.client_id(id.clone());
    }
    // A pool that keeps every connection of `--concurrency` open between requests.
    if let Some(n) = args.concurrency.filter(|&n| n > DEFAULT_MAX_IDLE_CONNECTIONS) {
        s = s.max_idle_connections(n);
    }
    for path in &args.ca_certs {
        s = s.add_root_certificates_file(path.clone());
    }
    if args.os_trust_store {
        s = s.use_os_trust_store(true);
    }
    match &args.formatter {
        Some(tag) => s.formatter_tag(tag),
        None => Ok(s),
    }
}

/// The key from `--api-key-env NAME` (or `--secondary-key-env NAME`), which must be set.
fn named_key(flag: &str, var: Option<&str>) -> Result<Option<String>, Failure> {
    let Some(name) = var else {
        return Ok(None);
    };
    let value = std::env::var_os(name).ok_or_else(|| {
        Failure::new(
            2,
            format!("{flag} {name}: env var {name} is not set"),
            format!("export {name}=..."),
        )
    })?;
    let key = value.into_string().map_err(|_| {
        Failure::new(
            2,
            format!("the key in env var {name} is not valid UTF-8"),
            format!("export {name} again with the key alone"),
        )
    })?;
    Ok(Some(key))
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
    if let Some(other) = other_command(url, chat) {
        let what = if chat { "a completions URL" } else { "a chat URL" };
        let fits = if chat {
            "/chat/completions"
        } else {
            "/completions or /score"
        };
        return Err(Failure::new(
            2,
            format!("{url} is {what}"),
            format!("use `azureml-endpoint {other}`, or a URL ending in {fits}"),
        ));
    }
    Ok(ApiType::infer_from_url(url, chat))
}

/// The command whose client `url` is for, when it is only for the other kind than `chat` says.
pub fn other_command(url: &str, chat: bool) -> Option<&'static str> {
    let only_other =
        ApiType::infer_from_url(url, chat).is_none() && ApiType::infer_from_url(url, !chat).is_some();
    only_other.then_some(if chat { "complete" } else { "chat" })
}

/// `--formatter`: a builder takes a formatter of its kind; load options take any tag.
pub trait FormatterTag: Sized {
    /// The formatter by tag, refused with the tags there are when unknown.
    fn formatter_tag(self, tag: &str) -> Result<Self, Failure>;
}

impl<F: ?Sized + Kind> FormatterTag for Builder<F> {
    fn formatter_tag(self, tag: &str) -> Result<Self, Failure> {
        let formatter = F::lookup(tag).ok_or_else(|| unknown_formatter(tag, F::CHAT))?;
        Ok(self.formatter_arc(formatter))
    }
}

impl FormatterTag for LoadOptions {
    /// Replaces the file's formatter, whatever kind of client the file is.
    fn formatter_tag(self, tag: &str) -> Result<Self, Failure> {
        if completion_formatter(tag).is_none() && chat_formatter(tag).is_none() {
            return Err(unknown_formatter(tag, false));
        }
        Ok(self.formatter(tag))
    }
}

/// A kind of client, told by its formatter trait.
pub trait Kind {
    const CHAT: bool;
    fn lookup(tag: &str) -> Option<Arc<Self>>;
}

impl Kind for dyn ContentFormatter {
    const CHAT: bool = false;
    fn lookup(tag: &str) -> Option<Arc<Self>> {
        completion_formatter(tag)
    }
}

impl Kind for dyn ChatContentFormatter {
    const CHAT: bool = true;
    fn lookup(tag: &str) -> Option<Arc<Self>> {
        chat_formatter(tag)
    }
}

/// An unknown tag, or a tag of the other kind of client, with what to use instead.
fn unknown_formatter(tag: &str, chat: bool) -> Failure {
    let registry = Registry::new();
    let completion_tags: Vec<&str> = registry.completion_formatter_tags().collect();
    let chat_tags: Vec<&str> = registry.chat_formatter_tags().collect();
    let (known, other_command) = if chat {
        (&chat_tags, "complete")
    } else {
        (&completion_tags, "chat")
    };
    let kind = if chat { "chat" } else { "completion" };
    let of_other_kind = if chat {
        completion_formatter(tag).is_some()
    } else {
        chat_formatter(tag).is_some()
    };
    if of_other_kind {
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
    let all: Vec<&str> = completion_tags.iter().chain(&chat_tags).copied().collect();
    let hint = match suggest(tag, &all) {
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
