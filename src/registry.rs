//! Loading saved configs: the registry that maps a file's `_type` to a loader and formatter tags
//! to formatters, and what a load gives back (the caller's options are in `load_options.rs`).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::{Builder, Env};
use crate::chat::AzureMlChatOnlineEndpoint;
use crate::config::{suggest, Origin, AZUREML_EMBEDDINGS_ENDPOINT_TYPE};
use crate::config_file::{check_keys, read_config, AZUREML_CHAT_ENDPOINT_TYPE, AZUREML_ENDPOINT_TYPE};
use crate::embeddings::AzureMlEmbeddingsEndpoint;
use crate::error::{Error, Result};
use crate::formatter::{self, ChatContentFormatter, ContentFormatter, EmbeddingsFormatter};
use crate::llm::AzureMlOnlineEndpoint;
use crate::load_options::LoadOptions;
use crate::settings::{describe, FormatterSpec, Settings};

/// An error a user formatter factory returns; its text goes into [`Error::Config`].
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type LoaderFn = dyn Fn(&LoadContext<'_>) -> Result<AnyClient> + Send + Sync;
type Factory<T> = dyn Fn(&Map<String, Value>) -> std::result::Result<Arc<T>, BoxError> + Send + Sync;

/// Whichever client a config file held: completion, chat, embeddings, or what a user `_type`'s
/// loader built.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyClient {
    /// `_type: azureml_endpoint`.
    Completion(AzureMlOnlineEndpoint),
    /// `_type: azureml_chat_endpoint`.
    Chat(AzureMlChatOnlineEndpoint),
    /// `_type: azureml_embeddings_endpoint`.
    Embeddings(AzureMlEmbeddingsEndpoint),
    /// Whatever a user-registered loader builds.
    Custom(Box<dyn Any + Send + Sync>),
}

/// A loaded config file: the client it rebuilt, with the file's `_type` and path.
///
/// Take the client with [`into_completion`](Self::into_completion) or
/// [`into_chat`](Self::into_chat) when the kind is known, or match on
/// [`into_client`](Self::into_client) when it is not.
#[derive(Debug)]
pub struct LoadedConfig {
    type_name: String,
    path: PathBuf,
    client: AnyClient,
}

impl LoadedConfig {
    /// The file's `_type`.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The client, whatever its kind.
    pub fn into_client(self) -> AnyClient {
        self.client
    }

    /// The completion client.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds another kind of client.
    pub fn into_completion(self) -> Result<AzureMlOnlineEndpoint> {
        match self.client {
            AnyClient::Completion(llm) => Ok(llm),
            _ => Err(self.wrong_kind("a completion client (AzureMlOnlineEndpoint)")),
        }
    }

    /// The chat client.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds another kind of client.
    pub fn into_chat(self) -> Result<AzureMlChatOnlineEndpoint> {
        match self.client {
            AnyClient::Chat(chat) => Ok(chat),
            _ => Err(self.wrong_kind("a chat client (AzureMlChatOnlineEndpoint)")),
        }
    }

    /// The embeddings client.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds another kind of client.
    pub fn into_embeddings(self) -> Result<AzureMlEmbeddingsEndpoint> {
        match self.client {
            AnyClient::Embeddings(embedder) => Ok(embedder),
            _ => Err(self.wrong_kind("an embeddings client (AzureMlEmbeddingsEndpoint)")),
        }
    }

    /// The value a user loader built, as `T`.
    ///
    /// # Errors
    /// [`Error::Config`] on `_type` when the file holds a built-in client or another type.
    pub fn downcast<T: Any>(self) -> Result<T> {
        let wanted = std::any::type_name::<T>();
        match self.client {
            AnyClient::Custom(value) => match value.downcast::<T>() {
                Ok(value) => Ok(*value),
                Err(_) => Err(Error::config(
                    "_type",
                    Origin::File(self.path),
                    format!(
                        "the loader of `{}` built another type than `{wanted}`",
                        self.type_name
                    ),
                )),
            },
            _ => Err(self.wrong_kind(wanted)),
        }
    }

    fn wrong_kind(&self, wanted: &str) -> Error {
        let (held, accessor) = match self.client {
            AnyClient::Completion(_) => ("a completion client", "into_completion()"),
            AnyClient::Chat(_) => ("a chat client", "into_chat()"),
            AnyClient::Embeddings(_) => ("an embeddings client", "into_embeddings()"),
            AnyClient::Custom(_) => ("a user type", "downcast()"),
        };
        Error::config(
            "_type",
            Origin::File(self.path.clone()),
            format!("`{}` is {held}, not {wanted}; use {accessor}", self.type_name),
        )
    }
}

/// What a loader sees: the parsed file, the caller's [`LoadOptions`] and the [`Registry`]'s
/// formatter tags.
#[derive(Debug)]
pub struct LoadContext<'a> {
    path: &'a Path,
    type_name: &'a str,
    fields: &'a Map<String, Value>,
    options: &'a LoadOptions,
    registry: &'a Registry,
}

impl LoadContext<'_> {
    /// The file being loaded.
    pub fn path(&self) -> &Path {
        self.path
    }

    /// The file's `_type`.
    pub fn type_name(&self) -> &str {
        self.type_name
    }

    /// The file's top-level mapping, `_type` included.
    pub fn fields(&self) -> &Map<String, Value> {
        self.fields
    }

    /// A config error at `key` in this file, for a user loader to return.
    pub fn invalid(&self, key: &str, message: impl Into<String>) -> Error {
        Error::config(key, self.file(), message)
    }

    /// Builds a completion client from this file as `azureml_endpoint` does: the keys of
    /// docs/config.md only, options over file over env vars over defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and this file: an unknown key, a value of the wrong
    /// type, an unknown formatter tag; then anything
    /// [`build`](crate::AzureMlOnlineEndpointBuilder::build) rejects.
    pub fn completion_client(&self) -> Result<AzureMlOnlineEndpoint> {
        self.builder(&self.registry.completion, &FormatterKind::COMPLETION)?
            .build()
    }

    /// Builds a chat client from this file as `azureml_chat_endpoint` does.
    ///
    /// # Errors
    /// As [`completion_client`](Self::completion_client).
    pub fn chat_client(&self) -> Result<AzureMlChatOnlineEndpoint> {
        self.builder(&self.registry.chat, &FormatterKind::CHAT)?.build()
    }

    /// Builds an embeddings client from this file as `azureml_embeddings_endpoint` does.
    ///
    /// # Errors
    /// As [`completion_client`](Self::completion_client).
    pub fn embeddings_client(&self) -> Result<AzureMlEmbeddingsEndpoint> {
        self.builder(&self.registry.embeddings, &FormatterKind::EMBEDDINGS)?
            .build()
    }

    /// A builder with the caller's settings over this file's (over the env vars, read at
    /// build), and the formatter they name, if any.
    fn builder<T: ?Sized>(
        &self,
        registered: &BTreeMap<String, Arc<Factory<T>>>,
        kind: &FormatterKind<T>,
    ) -> Result<Builder<T>> {
        let file = self.file();
        check_keys(self.fields, &file)?;
        let non_null = |key| self.fields.get(key).is_some_and(|v| !v.is_null());
        if non_null("formatter") && non_null("content_formatter") {
            return Err(Error::config(
                "content_formatter",
                file,
                "both `formatter` and `content_formatter` are set; keep `formatter`",
            ));
        }
        let options = self.options;
        let mut settings = options.settings.clone();
        settings.overlay(Settings::from_map(self.fields.clone(), &file)?);
        let (key, named) = if settings.formatter.is_set() {
            ("formatter", std::mem::take(&mut settings.formatter))
        } else {
            (
                "content_formatter",
                std::mem::take(&mut settings.content_formatter),
            )
        };
        let formatter = match named.get(key)? {
            Some((spec, origin)) => Some((self.formatter(key, &spec, registered, kind, &origin)?, origin)),
            None => None,
        };
        Ok(Builder {
            settings,
            formatter,
            credential: options.credential.clone(),
            arm_credential: options.arm_credential.clone(),
            env: Some(options.env.clone().unwrap_or(Env::Process)),
            clock: options.clock.clone(),
        })
    }

    fn file(&self) -> Origin {
        Origin::File(self.path.to_path_buf())
    }

    /// A formatter by tag: a registered one first, then a built-in (which takes no settings);
    /// errors point at `origin`, the file or the load options.
    fn formatter<T: ?Sized>(
        &self,
        key: &str,
        spec: &FormatterSpec,
        registered: &BTreeMap<String, Arc<Factory<T>>>,
        kind: &FormatterKind<T>,
        origin: &Origin,
    ) -> Result<Arc<T>> {
        let invalid = |key: &str, message: String| Error::config(key, origin.clone(), message);
        let FormatterSpec { tag, settings } = spec;
        if let Some(factory) = registered.get(tag) {
            return factory(settings).map_err(|e| invalid(key, format!("formatter `{tag}`: {e}")));
        }
        if let Some(formatter) = (kind.builtin)(tag, settings) {
            return formatter.map_err(|e| invalid(key, e));
        }
        let known: Vec<&str> = tags(kind.builtin_tags, registered).collect();
        let hint = self
            .registry
            .other_kind_with(kind.name, tag)
            .map_or(String::new(), |(other, type_name)| {
                format!(" (`{tag}` is a {other} formatter: use `_type: {type_name}`)")
            });
        let python = kind.python_example.map_or(String::new(), |example| {
            format!(" (Python class names such as `{example}` work too)")
        });
        Err(invalid(
            key,
            format!(
                "unknown {} formatter `{tag}`{hint}; known: {}{python}",
                kind.name,
                known.join(", "),
            ),
        ))
    }
}

/// What differs between looking up completion, chat and embeddings formatters.
struct FormatterKind<T: ?Sized> {
    name: &'static str,
    builtin: formatter::Builtin<T>,
    builtin_tags: &'static [&'static str],
    python_example: Option<&'static str>, // embeddings have no Python class
}

impl FormatterKind<dyn ContentFormatter> {
    const COMPLETION: Self = FormatterKind {
        name: "completion",
        builtin: formatter::completion_formatter_with,
        builtin_tags: formatter::COMPLETION_TAGS,
        python_example: Some("GPT2ContentFormatter"),
    };
}

impl FormatterKind<dyn ChatContentFormatter> {
    const CHAT: Self = FormatterKind {
        name: "chat",
        builtin: formatter::chat_formatter_with,
        builtin_tags: formatter::CHAT_TAGS,
        python_example: Some("CustomOpenAIChatContentFormatter"),
    };
}

impl FormatterKind<dyn EmbeddingsFormatter> {
    const EMBEDDINGS: Self = FormatterKind {
        name: "embeddings",
        builtin: formatter::embeddings_formatter_with,
        builtin_tags: formatter::EMBEDDINGS_TAGS,
        python_example: None,
    };
}

/// Maps a config file's `_type` to the loader that rebuilds it, and formatter tags to
/// formatters.
///
/// [`Registry::new`] knows `azureml_endpoint`, `azureml_chat_endpoint` and
/// `azureml_embeddings_endpoint` and every built-in
/// formatter tag, alias and Python class name. Register your own `_type`s and formatter tags so
/// configs naming them load again.
///
/// ```
/// use std::sync::Arc;
/// use azureml_endpoint::{formatter::completion_formatter, AnyClient, Registry};
///
/// let mut registry = Registry::new();
/// // A user `_type` that is a completion client under another name.
/// registry.register("my_team_llm", |ctx| ctx.completion_client().map(AnyClient::Completion));
/// // A user formatter tag; its settings come from the file's `formatter` mapping.
/// registry.register_completion_formatter("shouty", |settings| {
///     let _volume = settings.get("volume").and_then(|v| v.as_u64()).ok_or("`volume` is required")?;
///     Ok(completion_formatter("gpt2").ok_or("no gpt2")?) // a real one would wrap its settings
/// });
/// assert!(registry.type_names().any(|t| t == "my_team_llm"));
/// ```
#[derive(Clone)]
pub struct Registry {
    loaders: BTreeMap<String, Arc<LoaderFn>>,
    completion: BTreeMap<String, Arc<Factory<dyn ContentFormatter>>>,
    chat: BTreeMap<String, Arc<Factory<dyn ChatContentFormatter>>>,
    embeddings: BTreeMap<String, Arc<Factory<dyn EmbeddingsFormatter>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names<V>(map: &BTreeMap<String, V>) -> Vec<&String> {
            map.keys().collect()
        }
        f.debug_struct("Registry")
            .field("types", &names(&self.loaders))
            .field("completion_formatters", &names(&self.completion))
            .field("chat_formatters", &names(&self.chat))
            .field("embeddings_formatters", &names(&self.embeddings))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with the built-in `_type`s and formatters.
    pub fn new() -> Self {
        let mut registry = Registry {
            loaders: BTreeMap::new(),
            completion: BTreeMap::new(),
            chat: BTreeMap::new(),
            embeddings: BTreeMap::new(),
        };
        registry
            .register(AZUREML_ENDPOINT_TYPE, |ctx| {
                ctx.completion_client().map(AnyClient::Completion)
            })
            .register(AZUREML_CHAT_ENDPOINT_TYPE, |ctx| {
                ctx.chat_client().map(AnyClient::Chat)
            })
            .register(AZUREML_EMBEDDINGS_ENDPOINT_TYPE, |ctx| {
                ctx.embeddings_client().map(AnyClient::Embeddings)
            });
        registry
    }

    /// Makes files with this `_type` load through `loader` (replacing any loader it had).
    ///
    /// The loader gets a [`LoadContext`]; [`LoadContext::completion_client`] and
    /// [`LoadContext::chat_client`] do what the built-in loaders do.
    pub fn register(
        &mut self,
        type_name: impl Into<String>,
        loader: impl Fn(&LoadContext<'_>) -> Result<AnyClient> + Send + Sync + 'static,
    ) -> &mut Self {
        self.loaders.insert(type_name.into(), Arc::new(loader));
        self
    }

    /// Makes `formatter: {"_type": tag, …settings}` in completion configs build a formatter
    /// with `factory(settings)` (settings: the mapping without `_type`). The formatter's
    /// [`tag`](ContentFormatter::tag) should return `tag` and its
    /// [`settings`](ContentFormatter::settings) what `factory` reads, so saved configs load again.
    /// A registered tag wins over a built-in one.
    pub fn register_completion_formatter(
        &mut self,
        tag: impl Into<String>,
        factory: impl Fn(
                &Map<String, Value>,
            )
                -> std::result::Result<Arc<dyn ContentFormatter>, Box<dyn std::error::Error + Send + Sync>>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.completion.insert(tag.into(), Arc::new(factory));
        self
    }

    /// The chat counterpart of [`register_completion_formatter`](Self::register_completion_formatter).
    pub fn register_chat_formatter(
        &mut self,
        tag: impl Into<String>,
        factory: impl Fn(
                &Map<String, Value>,
            )
                -> std::result::Result<Arc<dyn ChatContentFormatter>, Box<dyn std::error::Error + Send + Sync>>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.chat.insert(tag.into(), Arc::new(factory));
        self
    }

    /// [`register_completion_formatter`](Self::register_completion_formatter) for embeddings formatters.
    pub fn register_embeddings_formatter(
        &mut self,
        tag: impl Into<String>,
        factory: impl Fn(
                &Map<String, Value>,
            )
                -> std::result::Result<Arc<dyn EmbeddingsFormatter>, Box<dyn std::error::Error + Send + Sync>>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.embeddings.insert(tag.into(), Arc::new(factory));
        self
    }

    /// The completion formatter tags configs may name: the built-in ones (Python class names
    /// work too), then the registered ones, sorted.
    ///
    /// ```
    /// let registry = azureml_endpoint::Registry::new();
    /// let tags: Vec<&str> = registry.completion_formatter_tags().collect();
    /// assert_eq!(tags, ["gpt2", "oss", "hf", "dolly", "custom_openai", "llama", "catalog", "promptflow"]);
    /// ```
    pub fn completion_formatter_tags(&self) -> impl Iterator<Item = &str> {
        tags(formatter::COMPLETION_TAGS, &self.completion)
    }

    /// The chat formatter tags configs may name, as
    /// [`completion_formatter_tags`](Self::completion_formatter_tags).
    pub fn chat_formatter_tags(&self) -> impl Iterator<Item = &str> {
        tags(formatter::CHAT_TAGS, &self.chat)
    }

    /// The embeddings formatter tags configs may name, as
    /// [`completion_formatter_tags`](Self::completion_formatter_tags).
    pub fn embeddings_formatter_tags(&self) -> impl Iterator<Item = &str> {
        tags(formatter::EMBEDDINGS_TAGS, &self.embeddings)
    }

    /// The kind of client other than `name` that has a formatter `tag`: its name and `_type`.
    fn other_kind_with(&self, name: &str, tag: &str) -> Option<(&'static str, &'static str)> {
        let completion = self.completion.contains_key(tag) || formatter::completion_formatter(tag).is_some();
        let chat = self.chat.contains_key(tag) || formatter::chat_formatter(tag).is_some();
        let embeddings = self.embeddings.contains_key(tag) || formatter::embeddings_formatter(tag).is_some();
        [
            ("completion", AZUREML_ENDPOINT_TYPE, completion),
            ("chat", AZUREML_CHAT_ENDPOINT_TYPE, chat),
            ("embeddings", AZUREML_EMBEDDINGS_ENDPOINT_TYPE, embeddings),
        ]
        .into_iter()
        .find(|(kind, _, found)| *kind != name && *found)
        .map(|(kind, type_name, _)| (kind, type_name))
    }

    /// The `_type`s this registry loads, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.loaders.keys().map(String::as_str)
    }

    /// Loads a config file with settings from the file, then env vars, then defaults.
    ///
    /// # Errors
    /// As [`load_with`](Self::load_with).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<LoadedConfig> {
        self.load_with(path, &LoadOptions::default())
    }

    /// Loads a config file; `options` win over the file, which wins over env vars.
    ///
    /// # Errors
    /// - [`Error::ConfigFile`]: an extension other than `.json`/`.yaml`/`.yml`, a file that is
    ///   not UTF-8 text, empty, not valid JSON/YAML (with line and column), nested too deep, a
    ///   YAML alias bomb, or not a mapping.
    /// - [`Error::Io`]: the file cannot be read (with its path).
    /// - [`Error::Config`] naming the key and where its value came from: a missing or unknown
    ///   `_type` (listing the registered ones), an unknown key (with the closest known one), a
    ///   value of the wrong type, an unknown formatter tag (listing the known ones), a bad
    ///   timeout, a missing URL or key (saying where each can come from), and anything the
    ///   client's `build()` rejects.
    pub fn load_with(&self, path: impl AsRef<Path>, options: &LoadOptions) -> Result<LoadedConfig> {
        let path = path.as_ref();
        let fields = read_config(path)?;
        let registered = || self.type_names().collect::<Vec<_>>().join(", ");
        let invalid = |message: String| Error::config("_type", Origin::File(path.to_path_buf()), message);
        let type_name = match fields.get("_type") {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(invalid(format!(
                    "expected a string naming the client (one of: {}), got {}",
                    registered(),
                    describe(other)
                )))
            }
            None => {
                return Err(invalid(format!(
                    "missing; the file needs `_type`, one of: {}",
                    registered()
                )))
            }
        };
        let Some(loader) = self.loaders.get(type_name) else {
            let names: Vec<&str> = self.type_names().collect();
            let hint =
                suggest(type_name, &names).map_or(String::new(), |t| format!(" (did you mean `{t}`?)"));
            return Err(invalid(format!(
                "unknown `_type` {type_name:?}{hint}; registered: {}",
                registered()
            )));
        };
        let context = LoadContext {
            path,
            type_name,
            fields: &fields,
            options,
            registry: self,
        };
        let client = loader(&context)?;
        Ok(LoadedConfig {
            type_name: type_name.clone(),
            path: path.to_path_buf(),
            client,
        })
    }
}

/// Built-in tags, then registered ones.
fn tags<'r, T: ?Sized>(
    builtin: &'static [&'static str],
    registered: &'r BTreeMap<String, Arc<Factory<T>>>,
) -> impl Iterator<Item = &'r str> {
    builtin
        .iter()
        .copied()
        .chain(registered.keys().map(String::as_str))
}

/// Loads a saved client with the built-in [`Registry`]; LangChain Python's `load_llm`.
///
/// Reads files written by [`AzureMlOnlineEndpoint::save`], [`AzureMlChatOnlineEndpoint::save`]
/// and LangChain Python's `save()` (whose files hold no URL or key: those come from
/// `AZUREML_ENDPOINT_URL` and `AZUREML_ENDPOINT_API_KEY`).
///
/// ```no_run
/// let llm = azureml_endpoint::load_llm("llm.yaml")?.into_completion()?;
/// println!("{}", llm.invoke("Tell me a joke")?.text);
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
///
/// # Errors
/// As [`Registry::load_with`].
pub fn load_llm(path: impl AsRef<Path>) -> Result<LoadedConfig> {
    Registry::new().load(path)
}
