// The README's examples run the embedded local endpoint, so it is the crate docs only with it.
#![cfg_attr(feature = "local", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "local"),
    doc = "Blocking client for models on Azure ML online endpoints. Built without the `local` \
           feature (the embedded echo endpoint); the README is the crate docs with it."
)]
// Lints: the [lints] table in Cargo.toml, shared with the CLI, examples and tests.

mod arm;
mod base64;
mod batch;
mod builder;
mod chat;
mod chunk;
mod client;
pub mod config;
mod config_file;
mod content;
mod content_filter;
pub mod credential;
pub mod embeddings;
pub mod error;
mod excerpt;
pub mod formatter;
mod llm;
mod load_options;
#[cfg(feature = "local")]
pub mod local;
mod message;
mod nullable;
mod options;
#[cfg(test)]
mod public_surface;
mod rate_limit;
mod reasoning;
mod redact_key;
mod registry;
mod resolve;
mod retry;
mod secret;
mod settings;
mod sse;
mod stream;
mod structured;
mod suggest;
mod telemetry;
mod tool_stream;
mod tools;
mod transport;
mod validate;
mod yaml;

pub use builder::Builder;
pub use chat::{AzureMlChatOnlineEndpoint, AzureMlChatOnlineEndpointBuilder};
pub use chunk::{StreamChunk, ToolCallDelta};
pub use config::{ApiType, EndpointConfig, Origin};
pub use config_file::save_config;
pub use content::ContentPart;
pub use credential::AuthMode;
pub use error::{Error, Result};
pub use formatter::{ChatContentFormatter, ContentFormatter};
pub use llm::{AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder};
pub use load_options::LoadOptions;
pub use message::{ChatCompletion, ChatMessage, Completion, FunctionCall, Role, ToolCall, Usage};
pub use options::{CallOptions, ExtraParameters};
pub use rate_limit::RateLimits;
pub use registry::{load_llm, AnyClient, LoadContext, LoadedConfig, Registry};
pub use secret::ApiKey;
pub use stream::CompletionStream;
pub use structured::ResponseFormat;
pub use tool_stream::ToolCalls;
pub use tools::{Tool, ToolChoice};
