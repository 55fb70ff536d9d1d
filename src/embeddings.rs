//! The embeddings client: one vector per text, for search and retrieval (RAG), from embedding
//! models on Azure: serverless and Foundry deployments (`…/v1/embeddings`, Cohere's `…/v1/embed`),
//! Azure AI Model Inference (`…/models/embeddings`), Azure OpenAI
//! (`…/openai/deployments/<d>/embeddings`, `…/openai/v1/embeddings`) and dedicated `…/score`
//! deployments through an [`EmbeddingsFormatter`].
//!
//! ```
//! # #[cfg(feature = "local")] { // the echo endpoint is there with the default features
//! use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
//! use azureml_endpoint::local::LocalEndpoint;
//!
//! let local = LocalEndpoint::start()?; // an echo model: vectors from a hash of each text
//! let embedder = AzureMlEmbeddingsEndpoint::builder()
//!     .endpoint_url(local.embeddings_url())
//!     .api_key("any-key-works-locally")
//!     .build()?;
//! let embeddings = embedder.embed(&["first text", "second text"])?;
//! assert_eq!(embeddings.vectors.len(), 2);
//! assert_eq!(embeddings.vectors[0].len(), 8);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::{Builder, Env};
use crate::chunk::StreamChunk;
use crate::client::{Core, Kind};
use crate::config::{
    parse_url, ApiType, ClientKind, EndpointConfig, Origin, AZUREML_EMBEDDINGS_ENDPOINT_TYPE,
};
use crate::config_file::save_config;
use crate::error::{Error, ResponseError, Result};
#[doc(no_inline)]
pub use crate::formatter::Embeddings;
use crate::formatter::OpenAiEmbeddingsFormatter;
use crate::formatter::{embeddings_formatter, embeddings_formatter_for_path, EmbeddingsFormatter};
use crate::message::Usage;
use crate::options::CallOptions;
use crate::rate_limit::RateLimits;
use crate::settings::Setting;
use crate::telemetry::{Answer, Operation};

/// Builds an [`AzureMlEmbeddingsEndpoint`]; see [`Builder`] for the shared settings.
pub type AzureMlEmbeddingsEndpointBuilder = Builder<dyn EmbeddingsFormatter>;

/// An embeddings client for one Azure endpoint.
///
/// Cheap to clone and `Send + Sync`: clones share one connection pool. Its settings never change
/// after `build()`. Inputs are sent `batch_size` at a time (see
/// [`Builder::batch_size`]), [`CallOptions::max_concurrency`] requests at once; the vectors come
/// back in input order whatever the order the requests finish in or the service lists them in.
///
/// ```no_run
/// use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
/// use azureml_endpoint::CallOptions;
///
/// let embedder = AzureMlEmbeddingsEndpoint::builder()
///     .endpoint_url("https://my-cohere.eastus2.models.ai.azure.com/v1/embed")
///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
///     .build()?;
/// let documents = ["Paris is the capital of France.", "Berlin is the capital of Germany."];
/// let options = CallOptions::new().max_concurrency(8);
/// let embeddings = embedder.embed_with(&documents, &options)?;
/// println!("{} vectors, {:?}", embeddings.vectors.len(), embeddings.usage);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AzureMlEmbeddingsEndpoint {
    core: Arc<Core<Embedding>>,
}

impl Builder<dyn EmbeddingsFormatter> {
    /// The embeddings formatter for the route or model family ([`formatter_arc`](Builder::formatter_arc)
    /// takes one already shared). Defaults to the one the URL path calls for:
    /// [`CohereEmbeddingsFormatter`](crate::formatter::CohereEmbeddingsFormatter) for `…/embed`,
    /// [`ClipTextEmbeddingsFormatter`](crate::formatter::ClipTextEmbeddingsFormatter) for
    /// `…/score`, [`OpenAiEmbeddingsFormatter`] otherwise.
    pub fn formatter(self, formatter: impl EmbeddingsFormatter + 'static) -> Self {
        self.formatter_arc(Arc::new(formatter))
    }

    /// Validates every setting and makes the client. Unless set, the api type is the one the
    /// URL path fits: `…/score` dedicated, `…/embeddings` and `…/embed` serverless.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting, where it came from and what to change, as for the
    /// completion client; on serverless the URL path must end with `/embeddings` or `/embed`,
    /// and `batch_size` must be 1 to 2048.
    pub fn build(self) -> Result<AzureMlEmbeddingsEndpoint> {
        let core = Core::build(self.with_route_defaults())?;
        Ok(AzureMlEmbeddingsEndpoint { core })
    }

    /// The mapping a client built from these settings would [`save`](AzureMlEmbeddingsEndpoint::save),
    /// checked as [`build`](Self::build) checks it except that no key is needed.
    ///
    /// # Errors
    /// As [`build`](Self::build), less the missing key and the CA certificate files.
    pub fn to_config_map(&self) -> Result<Map<String, Value>> {
        Core::<Embedding>::saved(self.clone().with_route_defaults())
    }

    /// Writes the config [`to_config_map`](Self::to_config_map) makes to `path`, as
    /// [`AzureMlEmbeddingsEndpoint::save`] does.
    ///
    /// # Errors
    /// As [`to_config_map`](Self::to_config_map), then as [`AzureMlEmbeddingsEndpoint::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map()?)
    }

    /// Defaults that follow the URL's path (the URL as `build` will see it: given, else from the
    /// env vars it reads): the api type it fits, and the formatter it calls for. No Python file
    /// format to match here, so the URL can decide what the completion client must be told.
    fn with_route_defaults(mut self) -> Self {
        let env = self.env.as_ref().map(Env::settings).unwrap_or_default();
        let Some(url) = self.settings.endpoint_url.value().or(env.endpoint_url.value()) else {
            return self;
        };
        if !self.settings.endpoint_api_type.is_set() && !env.endpoint_api_type.is_set() {
            if let Some(api_type) = ApiType::infer_for(url, ClientKind::Embeddings) {
                self.settings.endpoint_api_type = Setting::new(api_type, Origin::Default);
            }
        }
        let named = self.settings.formatter.is_set() || self.settings.content_formatter.is_set();
        if let (None, false, Ok(parsed)) = (&self.formatter, named, parse_url(url)) {
            self.formatter = Some((embeddings_formatter_for_path(&parsed.path), Origin::Default));
        }
        self
    }
}

impl AzureMlEmbeddingsEndpoint {
    /// A builder with nothing set.
    pub fn builder() -> AzureMlEmbeddingsEndpointBuilder {
        Builder::default()
    }

    /// A client configured from the `AZUREML_*` env vars, with the formatter the URL calls for.
    ///
    /// # Errors
    /// As [`AzureMlEmbeddingsEndpointBuilder::build`], naming the env var at fault.
    pub fn from_env() -> Result<Self> {
        Self::builder().with_env().build()
    }

    /// One vector per input, in input order, with the client's `model_kwargs`. More than
    /// `batch_size` inputs go in several requests, one after another; no inputs send nothing.
    ///
    /// # Errors
    /// The first failed request's error (the call fails as a whole: use
    /// [`embed_each`](Self::embed_each) to keep what succeeded): [`Error::Http`] for an error
    /// status after retries (422 for a parameter the model does not support; 404 "Modality not
    /// supported by the model" when the deployment is not an embeddings model),
    /// [`Error::Transport`] for connect failures and timeouts, [`Error::Response`] when an answer
    /// is not the formatter's shape or holds another number of vectors than inputs.
    pub fn embed<S: AsRef<str> + Sync>(&self, inputs: &[S]) -> Result<Embeddings> {
        self.embed_with(inputs, &CallOptions::default())
    }

    /// Like [`embed`](Self::embed), with per-call parameters (`dimensions`, `encoding_format`,
    /// `input_type`, …) or timeout merged in for this call only, and
    /// [`max_concurrency`](CallOptions::max_concurrency) requests at once. Once a request fails,
    /// no further one is started.
    ///
    /// # Errors
    /// As [`embed`](Self::embed), and [`Error::Input`] before anything is sent when the
    /// [`CallOptions::timeout`] is not between 1 ms and a day.
    pub fn embed_with<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CallOptions,
    ) -> Result<Embeddings> {
        let failed = AtomicBool::new(false);
        let results = self.requests(inputs, options, |batch| {
            if failed.load(Ordering::Relaxed) {
                return None;
            }
            let result = self.request(batch, options);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            Some(result)
        });
        let mut all = Embeddings::default();
        for result in results.into_iter().flatten() {
            let one = result?;
            all.vectors.extend(one.vectors);
            all.usage = match (all.usage, one.usage) {
                (Some(a), Some(b)) => Some(Usage::new(
                    a.prompt_tokens.saturating_add(b.prompt_tokens),
                    a.completion_tokens.saturating_add(b.completion_tokens),
                    a.total_tokens.saturating_add(b.total_tokens),
                )),
                (a, b) => a.or(b),
            };
            all.model = all.model.or(one.model);
            all.request_ids.extend(one.request_ids);
            all.rate_limits = one.rate_limits;
        }
        Ok(all)
    }

    /// One result per input, in input order: a failed request fails only its inputs (each
    /// holds its request's error), the others still run. For large batches, with
    /// [`max_concurrency`](CallOptions::max_concurrency) requests at once.
    ///
    /// ```
    /// # #[cfg(feature = "local")] {
    /// use azureml_endpoint::embeddings::AzureMlEmbeddingsEndpoint;
    /// use azureml_endpoint::{local::LocalEndpoint, CallOptions};
    ///
    /// let local = LocalEndpoint::start()?;
    /// let embedder = AzureMlEmbeddingsEndpoint::builder()
    ///     .endpoint_url(local.embeddings_url())
    ///     .api_key("k")
    ///     .batch_size(2)
    ///     .build()?;
    /// let texts: Vec<String> = (0..5).map(|i| format!("text {i}")).collect();
    /// let vectors = embedder.embed_each(&texts, &CallOptions::new().max_concurrency(3));
    /// assert_eq!(vectors.len(), 5); // three requests: 2 + 2 + 1 inputs
    /// assert!(vectors.iter().all(Result::is_ok));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn embed_each<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CallOptions,
    ) -> Vec<std::result::Result<Vec<f32>, Arc<Error>>> {
        let results = self.requests(inputs, options, |batch| {
            (batch.len(), self.request(batch, options))
        });
        let mut each = Vec::with_capacity(inputs.len());
        for (count, result) in results {
            match result {
                Ok(embeddings) => each.extend(embeddings.vectors.into_iter().map(Ok)),
                Err(error) => {
                    let error = Arc::new(error);
                    each.extend(std::iter::repeat_with(|| Err(Arc::clone(&error))).take(count));
                }
            }
        }
        each
    }

    /// `call` on each batch of at most `batch_size` inputs, `max_concurrency` at once, results
    /// in input order.
    fn requests<S: AsRef<str> + Sync, R: Send>(
        &self,
        inputs: &[S],
        options: &CallOptions,
        call: impl Fn(&[S]) -> R + Sync,
    ) -> Vec<R> {
        // Never 0 (checked at build), and a u32 fits in usize on every target Rust supports.
        let size = usize::try_from(self.config().batch_size).unwrap_or(1).max(1);
        let batches: Vec<&[S]> = inputs.chunks(size).collect();
        crate::batch::run(&batches, options.concurrency(), |batch| call(batch))
    }

    /// One request: the batch's vectors, exactly one per input.
    fn request<S: AsRef<str>>(&self, batch: &[S], options: &CallOptions) -> Result<Embeddings> {
        let texts: Vec<String> = batch.iter().map(|s| s.as_ref().to_owned()).collect();
        let embeddings = self.core.call(&texts, options)?;
        if embeddings.vectors.len() != texts.len() {
            return Err(Error::Response(Box::new(ResponseError {
                formatter: self.formatter().tag().to_owned(),
                api_type: self.config().api_type,
                expected: format!("{} embeddings, one per input", texts.len()),
                excerpt: format!("{} embeddings", embeddings.vectors.len()),
            })));
        }
        Ok(embeddings)
    }

    /// The validated settings.
    pub fn config(&self) -> &EndpointConfig {
        self.core.config()
    }

    /// The embeddings formatter.
    pub fn formatter(&self) -> &Arc<dyn EmbeddingsFormatter> {
        self.core.formatter()
    }

    /// Where each setting came from (argument, file, env var or default), for `config show`.
    pub fn sources(&self) -> Vec<(&'static str, Origin)> {
        self.core.sources()
    }

    /// The mapping [`save`](Self::save) writes: the whole config except the key.
    pub fn to_config_map(&self) -> Map<String, Value> {
        self.core.config_map()
    }

    /// Writes the config (never the key) to `path`, as
    /// [`AzureMlOnlineEndpoint::save`](crate::AzureMlOnlineEndpoint::save) does, with
    /// `_type: azureml_embeddings_endpoint`; load it with
    /// [`LoadedConfig::into_embeddings`](crate::LoadedConfig::into_embeddings).
    ///
    /// # Errors
    /// As [`AzureMlOnlineEndpoint::save`](crate::AzureMlOnlineEndpoint::save).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map())
    }
}

/// What the embeddings client sends and reads: one request's inputs and their vectors.
#[derive(Debug)]
pub(crate) enum Embedding {}

impl Kind for Embedding {
    type Formatter = dyn EmbeddingsFormatter;
    type Input = [String];
    type Output = Embeddings;
    const CLIENT: ClientKind = ClientKind::Embeddings;
    const TYPE_NAME: &'static str = AZUREML_EMBEDDINGS_ENDPOINT_TYPE;

    const OPERATION: Operation = Operation::Embeddings;

    fn default_formatter() -> Arc<dyn EmbeddingsFormatter> {
        Arc::new(OpenAiEmbeddingsFormatter)
    }
    fn builtin_formatter(tag: &str) -> Option<Arc<dyn EmbeddingsFormatter>> {
        embeddings_formatter(tag)
    }
    fn request(
        f: &dyn EmbeddingsFormatter,
        input: &[String],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        f.format_request(input, params, api_type)
    }
    fn response(f: &dyn EmbeddingsFormatter, body: &[u8], api_type: ApiType) -> Result<Embeddings> {
        f.format_response(body, api_type)
    }
    fn set_meta(output: &mut Embeddings, request_id: Option<String>, rate_limits: RateLimits) {
        output.request_ids = request_id.into_iter().collect();
        output.rate_limits = rate_limits;
    }
    // Embeddings are never streamed: the client has no `stream`, so `Core::stream` never runs
    // for this kind.
    fn into_chunk(_: Embeddings) -> StreamChunk {
        StreamChunk::default()
    }
    fn stream_event(_: &dyn EmbeddingsFormatter, _: &[u8], _: ApiType) -> Option<StreamChunk> {
        None
    }
    /// The inputs, as the spec's `gen_ai.input.messages` shape has no embeddings form: a list of
    /// the texts (recorded on opt-in only).
    fn input_messages(input: &[String]) -> Value {
        Value::from(input.to_vec())
    }
    fn answer(output: &Embeddings) -> Answer<'_> {
        Answer {
            finish_reason: None,
            usage: output.usage.as_ref(),
        }
    }
    /// Vectors are not content worth recording: nothing.
    fn output_messages(_: &Embeddings) -> Value {
        Value::Null
    }
}
