// The README's examples run the embedded local endpoint, so it is the crate docs only with it.
#![cfg_attr(feature = "local", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "local"),
    doc = "Blocking client for models on Azure ML online endpoints. Built without the `local` \
           feature (the embedded echo endpoint); the README is the crate docs with it."
)]
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod base64;
mod batch;
mod builder;
mod chat;
mod chunk;
mod client;
mod config;
mod config_file;
mod content;
mod content_filter;
pub mod credential;
mod error;
mod excerpt;
pub mod formatter;
mod llm;
mod load_options;
#[cfg(feature = "local")]
pub mod local;
mod message;
mod nullable;
mod options;
mod rate_limit;
mod reasoning;
mod registry;
mod retry;
mod secret;
mod sse;
mod stream;
mod structured;
mod tool_stream;
mod tools;
mod transport;
mod validate;
mod yaml;

pub use builder::Builder;
pub use chat::{AzureMlChatOnlineEndpoint, AzureMlChatOnlineEndpointBuilder};
pub use chunk::{StreamChunk, ToolCallDelta};
#[allow(deprecated)]
pub use config::{
    ApiType, EndpointConfig, Origin, Source, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ENV_DEPLOYMENT_NAME, ENV_ENDPOINT_API_KEY, ENV_ENDPOINT_API_TYPE,
    ENV_ENDPOINT_URL, ENV_TIMEOUT,
};
pub use config::{DEFAULT_MAX_IDLE_CONNECTIONS, ENV_CA_BUNDLE};
pub use config_file::{save_config, AZUREML_CHAT_ENDPOINT_TYPE, AZUREML_ENDPOINT_TYPE};
pub use content::{ContentPart, MAX_IMAGE_FILE_BYTES};
pub use credential::AuthMode;
pub use error::{
    ConfigError, ConfigFileError, ConfigFileErrorKind, Error, HttpError, IoError, ReplyJsonError,
    ResponseError, Result, StreamError, StreamErrorKind, TransportError, TransportErrorKind,
};
pub use formatter::{
    CatalogContentFormatter, ChatContentFormatter, ContentFormatter, CustomOpenAiChatContentFormatter,
    CustomOpenAiContentFormatter, DollyContentFormatter, Gpt2ContentFormatter, HfContentFormatter,
    LlamaChatContentFormatter, LlamaContentFormatter, MistralChatContentFormatter, OssContentFormatter,
};
pub use llm::{AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder};
pub use load_options::LoadOptions;
pub use message::{ChatCompletion, ChatMessage, Completion, FunctionCall, Role, ToolCall, Usage};
pub use options::{CallOptions, ExtraParameters};
pub use rate_limit::RateLimits;
#[allow(deprecated)]
pub use registry::{load_llm, AnyClient, LoadContext, Loaded, LoadedClient, LoadedConfig, Registry};
pub use secret::ApiKey;
pub use stream::CompletionStream;
pub use structured::ResponseFormat;
pub use tool_stream::ToolCalls;
pub use tools::{Tool, ToolChoice};
