//! The one mapping from the flags to the library's settings: the same function fills a builder
//! (a client from flags) and load options (a config file under the flags).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azureml_endpoint::formatter::{chat_formatter, completion_formatter};
use azureml_endpoint::{
    config::DEFAULT_MAX_IDLE_CONNECTIONS, config::ENV_ENDPOINT_API_TYPE, config::ENV_ENDPOINT_URL, ApiType,
    AuthMode, Builder, ChatContentFormatter, ContentFormatter, LoadOptions, Registry,
};

use crate::args::Args;
use crate::failure::Failure;
use crate::stand_ins::suggest;

/// The flags' settings over `sink`: a [`Builder`] or [`LoadOptions`].
///
/// `chat` guides the api type inferred from `--url`. The key is set only from `--api-key-env`:
/// the library reads `AZUREML_ENDPOINT_API_KEY` itself, after a config file's key, and checks
/// whichever key it uses.
pub fn settings<S: Sink>(args: &Args, chat: bool, sink: S) -> Result<S, Failure> {
    let mut s = sink.allow_insecure_http(args.allow_insecure_http);
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

/// Declares [`Sink`], the library's setters the flags fill, and forwards it to [`Builder`] and
/// [`LoadOptions`], whose setters of the same names it calls.
macro_rules! sink {
    ($($setter:ident($value:ident: $type:ty)),* $(,)?) => {
        /// The library's setters the flags fill, alike on a builder and on load options.
        ///
        /// The library has two setter sets today ([`Builder`] and [`LoadOptions`]); this trait
        /// bridges them so [`settings`] is written once, and goes when one settings type serves both.
        pub trait Sink: FormatterTag {
            $(fn $setter(self, $value: $type) -> Self;)*
        }

        impl<F: ?Sized + Kind> Sink for Builder<F> {
            $(fn $setter(self, $value: $type) -> Self {
                Builder::<F>::$setter(self, $value)
            })*
        }

        impl Sink for LoadOptions {
            $(fn $setter(self, $value: $type) -> Self {
                LoadOptions::$setter(self, $value)
            })*
        }
    };
}

sink!(
    endpoint_url(url: String),
    api_type(api_type: ApiType),
    api_key(key: String),
    secondary_api_key(key: String),
    endpoint_name(name: String),
    workspace_name(name: String),
    resource_group(name: String),
    subscription_id(id: String),
    deployment_name(name: String),
    model(name: String),
    timeout(timeout: Duration),
    auth(mode: AuthMode),
    token_scope(scope: String),
    client_id(id: String),
    max_idle_connections(connections: usize),
    add_root_certificates_file(path: PathBuf),
    use_os_trust_store(use_it: bool),
    allow_insecure_http(allow: bool),
);

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
