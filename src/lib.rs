#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod batch;
mod builder;
mod chat;
mod config;
mod error;
pub mod formatter;
mod llm;
mod loader;
pub mod local;
mod message;
mod params;
mod retry;
mod secret;
mod stream;
mod transport;

pub use builder::Builder;
pub use chat::{AzureMlChatOnlineEndpoint, AzureMlChatOnlineEndpointBuilder};
pub use config::{
    ApiType, EndpointConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT, ENV_DEPLOYMENT_NAME, ENV_ENDPOINT_API_KEY, ENV_ENDPOINT_API_TYPE, ENV_ENDPOINT_URL,
    ENV_TIMEOUT,
};
pub use error::{
    ConfigError, ConfigFileError, ConfigFileErrorKind, Error, HttpError, IoError, ResponseError, Result,
    Source, StreamError, StreamErrorKind, TransportError, TransportErrorKind,
};
pub use formatter::{
    ChatContentFormatter, Completion, ContentFormatter, CustomOpenAiChatContentFormatter,
    CustomOpenAiContentFormatter, DollyContentFormatter, Gpt2ContentFormatter, HfContentFormatter,
    LlamaChatContentFormatter, LlamaContentFormatter, MistralChatContentFormatter, OssContentFormatter,
    Usage,
};
pub use llm::{AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder};
pub use loader::{
    load_llm, save_config, BoxError, LoadContext, LoadOptions, Loaded, LoadedClient, Registry,
    AZUREML_CHAT_ENDPOINT_TYPE, AZUREML_ENDPOINT_TYPE,
};
pub use message::{ChatCompletion, ChatMessage, FunctionCall, Role, ToolCall};
pub use params::CallOptions;
pub use secret::ApiKey;
pub use stream::{CompletionStream, StreamChunk, ToolCallDelta};
