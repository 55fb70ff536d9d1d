//! The completion client, `AzureMLOnlineEndpoint` in LangChain Python.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::Builder;
use crate::chunk::StreamChunk;
use crate::client::{Core, Kind};
use crate::config::{ApiType, ClientKind, EndpointConfig, Origin};
use crate::config_file::{save_config, AZUREML_ENDPOINT_TYPE};
use crate::error::Result;
use crate::formatter::{ContentFormatter, CustomOpenAiContentFormatter};
use crate::message::Completion;
use crate::options::CallOptions;
use crate::rate_limit::RateLimits;
use crate::secret::ApiKey;
use crate::stream::CompletionStream;
use crate::telemetry::{self, Answer, Operation};

/// Builds an [`AzureMlOnlineEndpoint`]; see [`Builder`] for the shared settings.
pub type AzureMlOnlineEndpointBuilder = Builder<dyn ContentFormatter>;

/// A text-completion client for one Azure ML endpoint.
///
/// Cheap to clone and `Send + Sync`: clones share one connection pool, so one client can serve
/// many threads. Its settings never change after `build()`.
///
/// ```no_run
/// use azureml_endpoint::{ApiType, AzureMlOnlineEndpoint, formatter::Gpt2ContentFormatter};
///
/// let llm = AzureMlOnlineEndpoint::builder()
///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
///     .formatter(Gpt2ContentFormatter)
///     .model_kwarg("max_new_tokens", 50)
///     .build()?;
/// println!("{}", llm.invoke("Tell me a joke")?.text);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AzureMlOnlineEndpoint {
    core: Arc<Core<Completions>>,
}

impl Builder<dyn ContentFormatter> {
    /// The content formatter for the model family ([`formatter_arc`](Builder::formatter_arc) takes one
    /// already shared). Defaults to [`CustomOpenAiContentFormatter`].
    pub fn formatter(self, formatter: impl ContentFormatter + 'static) -> Self {
        self.formatter_arc(Arc::new(formatter))
    }

    /// Validates every setting and makes the client.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the setting, where it came from and what to
    /// change: a missing or malformed URL, a URL path that does not fit the api type, a missing
    /// key or one that is not visible ASCII, a timeout outside 1 ms to a day, a formatter that
    /// does not support the api type, an extra header the client sets itself or with control
    /// characters in its value.
    pub fn build(self) -> Result<AzureMlOnlineEndpoint> {
        let core = Core::build(self)?;
        Ok(AzureMlOnlineEndpoint { core })
    }

    /// The mapping a client built from these settings would [`save`](AzureMlOnlineEndpoint::save),
    /// checked as [`build`](Self::build) checks it except that no key is needed (a saved config
    /// never holds one), e.g. to write a config on a machine that has no key.
    ///
    /// # Errors
    /// As [`build`](Self::build), less the missing key and the CA certificate files (read when a
    /// client is built).
    pub fn to_config_map(&self) -> Result<Map<String, Value>> {
        Core::<Completions>::saved(self.clone())
    }

    /// Writes the config [`to_config_map`](Self::to_config_map) makes to `path`, as
    /// [`AzureMlOnlineEndpoint::save`] does.
    ///
    /// # Errors
    /// As [`to_config_map`](Self::to_config_map), then as [`AzureMlOnlineEndpoint::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map()?)
    }
}

impl AzureMlOnlineEndpoint {
    /// A builder with nothing set.
    pub fn builder() -> AzureMlOnlineEndpointBuilder {
        Builder::default()
    }

    /// A client configured from the `AZUREML_*` env vars, with the default formatter.
    ///
    /// # Errors
    /// As [`AzureMlOnlineEndpointBuilder::build`], naming the env var at fault.
    pub fn from_env() -> Result<Self> {
        Self::builder().with_env().build()
    }

    /// Completes one prompt with the client's `model_kwargs`.
    ///
    /// # Errors
    /// [`Error::Http`](crate::Error::Http) for an error status (after retries),
    /// [`Error::Transport`](crate::Error::Transport) for connect failures and timeouts,
    /// [`Error::Response`](crate::Error::Response) when the answer is not the formatter's shape.
    pub fn invoke(&self, prompt: &str) -> Result<Completion> {
        self.invoke_with(prompt, &CallOptions::default())
    }

    /// Completes one prompt with per-call parameters, stop words or timeout merged in for this
    /// call only.
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke), and [`Error::Input`](crate::Error::Input) before anything is
    /// sent when the [`CallOptions::timeout`] is not between 1 ms and a day.
    pub fn invoke_with(&self, prompt: &str, options: &CallOptions) -> Result<Completion> {
        self.core.call(prompt, options)
    }

    /// Completes every prompt, returning one result per prompt in order; a failed prompt does
    /// not lose the others. Runs `options.max_concurrency` requests at once.
    pub fn generate<S: AsRef<str> + Sync>(
        &self,
        prompts: &[S],
        options: &CallOptions,
    ) -> Vec<Result<Completion>> {
        crate::batch::run(prompts, options.concurrency(), |prompt| {
            self.invoke_with(prompt.as_ref(), options)
        })
    }

    /// Completes one prompt, yielding the text as the model produces it.
    ///
    /// On a serverless endpoint the request is the one [`invoke`](Self::invoke) sends, with
    /// `"stream": true` added to the parameters and `Accept: text/event-stream`; each event's
    /// `choices[0].text` is yielded as soon as it arrives. A dedicated endpoint does not stream:
    /// the whole answer comes as one chunk.
    ///
    /// ```no_run
    /// use azureml_endpoint::{ApiType, AzureMlOnlineEndpoint};
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-model.eastus2.models.ai.azure.com/v1/completions")
    ///     .api_type(ApiType::Serverless)
    ///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
    ///     .build()?;
    /// for chunk in llm.stream("Once upon a time")? {
    ///     print!("{}", chunk?.text);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Before the first chunk, as [`invoke`](Self::invoke): [`Error::Http`](crate::Error::Http) for an error status
    /// (after retries), [`Error::Transport`](crate::Error::Transport) when no response came. Failures part-way come
    /// from the iterator, see [`CompletionStream`].
    pub fn stream(&self, prompt: &str) -> Result<CompletionStream> {
        self.stream_with(prompt, &CallOptions::default())
    }

    /// Like [`stream`](Self::stream), with per-call parameters, stop words or timeout; the
    /// timeout bounds the wait for each next chunk.
    ///
    /// # Errors
    /// As [`stream`](Self::stream).
    pub fn stream_with(&self, prompt: &str, options: &CallOptions) -> Result<CompletionStream> {
        self.core.stream(prompt, options)
    }

    /// The validated settings.
    pub fn config(&self) -> &EndpointConfig {
        self.core.config()
    }

    /// Replaces the key for every clone and thread, keeping the connection pool: the next
    /// request sends `key`. The endpoint's other key, if the client holds it, stays the one
    /// tried on a 401.
    ///
    /// ```
    /// let llm = azureml_endpoint::AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("key-1")
    ///     .build()?;
    /// llm.set_api_key("key-2")?;
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for a key that cannot go in an HTTP header (as
    /// at build), or a client that signs in with a token.
    pub fn set_api_key(&self, key: impl Into<ApiKey>) -> Result<()> {
        self.core.set_key(false, key.into())
    }

    /// Replaces (or gives) the endpoint's other key, tried once when the key in use is refused
    /// with a 401, for every clone and thread.
    ///
    /// # Errors
    /// As [`set_api_key`](Self::set_api_key).
    pub fn set_secondary_api_key(&self, key: impl Into<ApiKey>) -> Result<()> {
        self.core.set_key(true, key.into())
    }

    /// The content formatter.
    pub fn formatter(&self) -> &Arc<dyn ContentFormatter> {
        self.core.formatter()
    }

    /// Where each setting came from (argument, file, env var or default), for `config show`.
    pub fn sources(&self) -> Vec<(&'static str, Origin)> {
        self.core.sources()
    }

    /// The mapping [`save`](Self::save) writes: the whole config except the key.
    ///
    /// ```
    /// use azureml_endpoint::AzureMlOnlineEndpoint;
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("k")
    ///     .build()?;
    /// let fields = llm.to_config_map();
    /// assert_eq!(fields["_type"], "azureml_endpoint");
    /// assert_eq!(fields["formatter"]["_type"], "custom_openai");
    /// assert!(!fields.contains_key("endpoint_api_key"));
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    pub fn to_config_map(&self) -> Map<String, Value> {
        self.core.config_map()
    }

    /// Writes the config (never the key) to `path`: JSON for `.json`, YAML for `.yaml`/`.yml`.
    ///
    /// Parent folders are created; the file is replaced atomically. LangChain Python's
    /// `load_llm` reads the result too. Load it again with [`load_llm`](crate::load_llm).
    ///
    /// ```
    /// use azureml_endpoint::{AzureMlOnlineEndpoint, LoadOptions, Registry};
    ///
    /// let llm = AzureMlOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("k")
    ///     .model_kwarg("temperature", 0.2)
    ///     .build()?;
    /// let path = std::env::temp_dir().join(format!("azureml-doc-{}/llm.yaml", std::process::id()));
    /// llm.save(&path)?;
    ///
    /// let options = LoadOptions::new().api_key("k");
    /// let again = Registry::new().load_with(&path, &options)?.into_completion()?;
    /// assert_eq!(again.config(), llm.config());
    /// # std::fs::remove_dir_all(path.parent().unwrap()).ok();
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ConfigFile`](crate::Error::ConfigFile) for another extension (nothing is
    /// written), [`Error::Io`](crate::Error::Io) when the folder or file cannot be written,
    /// [`Error::Config`](crate::Error::Config) when `model_kwargs` nest deeper than a config file
    /// may.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map())
    }
}

/// What the completion client sends and reads.
#[derive(Debug)]
pub(crate) enum Completions {}

impl Kind for Completions {
    type Formatter = dyn ContentFormatter;
    type Input = str;
    type Output = Completion;
    const CLIENT: ClientKind = ClientKind::Completion;
    const TYPE_NAME: &'static str = AZUREML_ENDPOINT_TYPE;
    const OPERATION: Operation = Operation::TextCompletion;

    fn default_formatter() -> Arc<dyn ContentFormatter> {
        Arc::new(CustomOpenAiContentFormatter)
    }
    fn builtin_formatter(tag: &str) -> Option<Arc<dyn ContentFormatter>> {
        crate::formatter::completion_formatter(tag)
    }
    fn request(
        f: &dyn ContentFormatter,
        input: &str,
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        f.format_request(input, params, api_type)
    }
    fn response(f: &dyn ContentFormatter, body: &[u8], api_type: ApiType) -> Result<Completion> {
        f.format_response(body, api_type)
    }
    fn set_meta(output: &mut Completion, request_id: Option<String>, rate_limits: RateLimits) {
        output.request_id = request_id;
        output.rate_limits = rate_limits;
    }
    fn into_chunk(output: Completion) -> StreamChunk {
        output.into()
    }
    fn stream_event(f: &dyn ContentFormatter, data: &[u8], api_type: ApiType) -> Option<StreamChunk> {
        f.parse_stream_event(data, api_type)
    }
    fn input_messages(prompt: &str) -> Value {
        telemetry::prompt_messages(prompt)
    }
    fn answer(output: &Completion) -> Answer<'_> {
        Answer {
            finish_reason: output.finish_reason.as_deref(),
            usage: output.usage.as_ref(),
        }
    }
    fn output_messages(output: &Completion) -> Value {
        telemetry::reply_messages(&output.text, &[], output.finish_reason.as_deref())
    }
}
