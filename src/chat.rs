//! The chat client, `AzureMLChatOnlineEndpoint` in LangChain Python.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::builder::Builder;
use crate::chunk::StreamChunk;
use crate::client::{Core, Kind};
use crate::config::{ApiType, ClientKind, EndpointConfig, Origin};
use crate::config_file::{save_config, AZUREML_CHAT_ENDPOINT_TYPE};
use crate::error::Result;
use crate::formatter::{ChatContentFormatter, CustomOpenAiChatContentFormatter};
use crate::message::{ChatCompletion, ChatMessage};
use crate::options::CallOptions;
use crate::rate_limit::RateLimits;
use crate::secret::ApiKey;
use crate::stream::CompletionStream;
use crate::telemetry::{self, Answer, Operation};

/// Builds an [`AzureMlChatOnlineEndpoint`]; see [`Builder`] for the shared settings.
pub type AzureMlChatOnlineEndpointBuilder = Builder<dyn ChatContentFormatter>;

/// A chat client for one Azure ML endpoint.
///
/// Cheap to clone and `Send + Sync`: clones share one connection pool. Its settings never change
/// after `build()`.
///
/// ```no_run
/// use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, ChatMessage};
///
/// let chat = AzureMlChatOnlineEndpoint::builder()
///     .endpoint_url("https://my-model.eastus2.models.ai.azure.com/v1/chat/completions")
///     .api_type(ApiType::Serverless)
///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
///     .build()?;
/// let reply = chat.invoke(&[ChatMessage::user("Why is the sky blue?")])?;
/// println!("{}", reply.message.text());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AzureMlChatOnlineEndpoint {
    core: Arc<Core<Chats>>,
}

impl Builder<dyn ChatContentFormatter> {
    /// The chat formatter for the model family ([`formatter_arc`](Builder::formatter_arc) takes one
    /// already shared). Defaults to [`CustomOpenAiChatContentFormatter`].
    pub fn formatter(self, formatter: impl ChatContentFormatter + 'static) -> Self {
        self.formatter_arc(Arc::new(formatter))
    }

    /// Validates every setting and makes the client.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the setting, where it came from and what to
    /// change, as for the completion client; on serverless the URL path must end with
    /// `/chat/completions`.
    pub fn build(self) -> Result<AzureMlChatOnlineEndpoint> {
        let core = Core::build(self)?;
        Ok(AzureMlChatOnlineEndpoint { core })
    }

    /// The mapping a client built from these settings would [`save`](AzureMlChatOnlineEndpoint::save),
    /// checked as [`build`](Self::build) checks it except that no key is needed (a saved config
    /// never holds one), e.g. to write a config on a machine that has no key.
    ///
    /// # Errors
    /// As [`build`](Self::build), less the missing key and the CA certificate files (read when a
    /// client is built).
    pub fn to_config_map(&self) -> Result<Map<String, Value>> {
        Core::<Chats>::saved(self.clone())
    }

    /// Writes the config [`to_config_map`](Self::to_config_map) makes to `path`, as
    /// [`AzureMlChatOnlineEndpoint::save`] does.
    ///
    /// # Errors
    /// As [`to_config_map`](Self::to_config_map), then as [`AzureMlChatOnlineEndpoint::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map()?)
    }
}

impl AzureMlChatOnlineEndpoint {
    /// A builder with nothing set.
    pub fn builder() -> AzureMlChatOnlineEndpointBuilder {
        Builder::default()
    }

    /// A client configured from the `AZUREML_*` env vars, with the default formatter.
    ///
    /// # Errors
    /// As [`AzureMlChatOnlineEndpointBuilder::build`], naming the env var at fault.
    pub fn from_env() -> Result<Self> {
        Self::builder().with_env().build()
    }

    /// Sends a conversation and returns the model's reply.
    ///
    /// # Errors
    /// [`Error::Input`](crate::Error::Input) for an empty conversation, then as
    /// [`AzureMlOnlineEndpoint::invoke`](crate::AzureMlOnlineEndpoint::invoke).
    pub fn invoke(&self, messages: &[ChatMessage]) -> Result<ChatCompletion> {
        self.invoke_with(messages, &CallOptions::default())
    }

    /// Sends a conversation with per-call parameters (e.g. `tools`, `tool_choice`), stop words
    /// or timeout merged in for this call only.
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke), and [`Error::Input`](crate::Error::Input) before anything is
    /// sent when the [`CallOptions::timeout`] is not between 1 ms and a day.
    pub fn invoke_with(&self, messages: &[ChatMessage], options: &CallOptions) -> Result<ChatCompletion> {
        self.core.call(messages, options)
    }

    /// Sends every conversation, returning one result per conversation in order; a failure does
    /// not lose the others. Runs `options.max_concurrency` requests at once.
    pub fn generate<C: AsRef<[ChatMessage]> + Sync>(
        &self,
        conversations: &[C],
        options: &CallOptions,
    ) -> Vec<Result<ChatCompletion>> {
        crate::batch::run(conversations, options.concurrency(), |c| {
            self.invoke_with(c.as_ref(), options)
        })
    }

    /// Sends a conversation, yielding the reply as the model produces it.
    ///
    /// On a serverless endpoint the request is the one [`invoke`](Self::invoke) sends (Mistral's
    /// system merge included), with `"stream": true` added to the parameters and
    /// `Accept: text/event-stream`; each event's `choices[0].delta` is yielded as soon as it
    /// arrives. A dedicated endpoint does not stream: the whole reply comes as one chunk.
    ///
    /// ```no_run
    /// use azureml_endpoint::{ApiType, AzureMlChatOnlineEndpoint, ChatMessage};
    ///
    /// let chat = AzureMlChatOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-model.eastus2.models.ai.azure.com/v1/chat/completions")
    ///     .api_type(ApiType::Serverless)
    ///     .api_key(std::env::var("AZUREML_ENDPOINT_API_KEY")?)
    ///     .build()?;
    /// let reply: String = chat
    ///     .stream(&[ChatMessage::user("Why is the sky blue?")])?
    ///     .map(|chunk| chunk.map(|c| c.text))
    ///     .collect::<Result<_, _>>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Input`](crate::Error::Input) for an empty conversation, then as
    /// [`AzureMlOnlineEndpoint::stream`](crate::AzureMlOnlineEndpoint::stream).
    pub fn stream(&self, messages: &[ChatMessage]) -> Result<CompletionStream> {
        self.stream_with(messages, &CallOptions::default())
    }

    /// Like [`stream`](Self::stream), with per-call parameters (e.g. `tools`), stop words or
    /// timeout; the timeout bounds the wait for each next chunk.
    ///
    /// # Errors
    /// As [`stream`](Self::stream).
    pub fn stream_with(&self, messages: &[ChatMessage], options: &CallOptions) -> Result<CompletionStream> {
        self.core.stream(messages, options)
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
    /// let chat = azureml_endpoint::AzureMlChatOnlineEndpoint::builder()
    ///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
    ///     .api_key("key-1")
    ///     .build()?;
    /// chat.set_api_key("key-2")?;
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

    /// The chat formatter.
    pub fn formatter(&self) -> &Arc<dyn ChatContentFormatter> {
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
    /// [`AzureMlOnlineEndpoint::save`](crate::AzureMlOnlineEndpoint::save) does, with `_type: azureml_chat_endpoint`.
    ///
    /// # Errors
    /// As [`AzureMlOnlineEndpoint::save`](crate::AzureMlOnlineEndpoint::save).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_config(path, &self.to_config_map())
    }
}

/// What the chat client sends and reads.
#[derive(Debug)]
pub(crate) enum Chats {}

impl Kind for Chats {
    type Formatter = dyn ChatContentFormatter;
    type Input = [ChatMessage];
    type Output = ChatCompletion;
    const CLIENT: ClientKind = ClientKind::Chat;
    const TYPE_NAME: &'static str = AZUREML_CHAT_ENDPOINT_TYPE;
    const OPERATION: Operation = Operation::Chat;

    fn default_formatter() -> Arc<dyn ChatContentFormatter> {
        Arc::new(CustomOpenAiChatContentFormatter)
    }
    fn builtin_formatter(tag: &str) -> Option<Arc<dyn ChatContentFormatter>> {
        crate::formatter::chat_formatter(tag)
    }
    fn request(
        f: &dyn ChatContentFormatter,
        input: &[ChatMessage],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        f.format_messages(input, params, api_type)
    }
    fn response(f: &dyn ChatContentFormatter, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
        f.format_response(body, api_type)
    }
    fn set_meta(output: &mut ChatCompletion, request_id: Option<String>, rate_limits: RateLimits) {
        output.request_id = request_id;
        output.rate_limits = rate_limits;
    }
    fn into_chunk(output: ChatCompletion) -> StreamChunk {
        output.into()
    }
    fn stream_event(f: &dyn ChatContentFormatter, data: &[u8], api_type: ApiType) -> Option<StreamChunk> {
        f.parse_stream_event(data, api_type)
    }
    fn input_messages(messages: &[ChatMessage]) -> Value {
        telemetry::chat_messages(messages)
    }
    fn answer(output: &ChatCompletion) -> Answer<'_> {
        Answer {
            finish_reason: output.finish_reason.as_deref(),
            usage: output.usage.as_ref(),
        }
    }
    fn output_messages(output: &ChatCompletion) -> Value {
        let calls = telemetry::tool_call_parts(&output.message);
        telemetry::reply_messages(output.message.text(), &calls, output.finish_reason.as_deref())
    }
}
