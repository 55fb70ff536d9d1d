//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ApiType, Origin};
use crate::excerpt::{excerpt, EXCERPT_CHARS};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building, calling, streaming, saving or loading a client.
///
/// Details live in boxed structs so the enum stays two words wide. No variant ever contains the
/// API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing or invalid; fix the config and build again.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// The endpoint answered with a status of 400 or more.
    #[error(transparent)]
    Http(Box<HttpError>),
    /// The request did not get a whole response: connect failure, timeout, reset, oversized body.
    #[error(transparent)]
    Transport(Box<TransportError>),
    /// The response arrived but is not the shape the formatter expects.
    #[error(transparent)]
    Response(Box<ResponseError>),
    /// A streamed response was cut short, garbled, oversized or carried an error event.
    #[error(transparent)]
    Stream(Box<StreamError>),
    /// The input to a call cannot be sent (an empty conversation, a parameter the formatter owns).
    #[error("invalid input: {0}")]
    Input(Box<str>),
    /// A config file cannot be used as a whole: unsupported extension, not text, empty, not valid
    /// JSON/YAML, too deep, an alias bomb, or not a mapping. A bad *setting* inside a readable file
    /// is [`Error::Config`] with [`Origin::File`].
    #[error(transparent)]
    ConfigFile(Box<ConfigFileError>),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(Box<IoError>),
    /// A reply read with [`ChatCompletion::json`](crate::ChatCompletion::json), or tool call
    /// arguments read with [`ToolCall::arguments`](crate::ToolCall::arguments), are not that JSON.
    #[error(transparent)]
    ReplyJson(Box<ReplyJsonError>),
    /// A Microsoft Entra credential gave no token: the message names the source and what to do
    /// (e.g. "run az login"); it never contains a token or secret.
    #[error(transparent)]
    Credential(Box<crate::credential::CredentialError>),
    /// Azure Resource Manager did not give the endpoint connected to by name, its keys or its
    /// AML token: the message names the endpoint, the workspace, what was asked and, for a
    /// 401 or 403, the permission the signed-in identity lacks; never a token or key.
    #[error(transparent)]
    Lookup(Box<LookupError>),
}

impl From<crate::credential::CredentialError> for Error {
    fn from(error: crate::credential::CredentialError) -> Self {
        Error::Credential(Box::new(error))
    }
}

/// A file that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`", path.display())]
#[non_exhaustive]
pub struct IoError {
    /// What was being done, e.g. "read config file".
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

impl Error {
    /// The HTTP status when the endpoint answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http(e) => Some(e.status),
            _ => None,
        }
    }

    /// The request id the service gave the failed request, for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Http(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn config(key: impl Into<String>, origin: Origin, message: impl Into<String>) -> Self {
        Error::Config(Box::new(ConfigError {
            key: key.into(),
            origin,
            message: message.into(),
        }))
    }

    pub(crate) fn response(formatter: &str, api_type: ApiType, expected: &str, body: &[u8]) -> Self {
        Error::Response(Box::new(ResponseError {
            formatter: formatter.to_owned(),
            api_type,
            expected: expected.to_owned(),
            excerpt: excerpt(body, EXCERPT_CHARS),
        }))
    }

    pub(crate) fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into().into_boxed_str())
    }

    pub(crate) fn stream(kind: StreamErrorKind, message: impl Into<String>) -> Self {
        Error::Stream(Box::new(StreamError {
            kind,
            message: message.into(),
        }))
    }

    pub(crate) fn config_file(
        path: impl Into<PathBuf>,
        kind: ConfigFileErrorKind,
        position: Option<(usize, usize)>,
        message: impl Into<String>,
    ) -> Self {
        Error::ConfigFile(Box::new(ConfigFileError {
            path: path.into(),
            kind,
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message: message.into(),
        }))
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io(Box::new(IoError {
            action,
            path: path.into(),
            source,
        }))
    }
}

/// A missing or invalid setting.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting, named as in the config file (`endpoint_url`, `timeout`, …).
    pub key: String,
    /// Where the bad value came from.
    pub origin: Origin,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}` ({}): {}", self.key, self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// What is wrong with a config file as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigFileErrorKind {
    /// The extension is not `.json`, `.yaml` or `.yml` (nothing was read or written).
    UnsupportedExtension,
    /// The file is larger than a config file can be (256 KiB).
    TooLarge,
    /// The file is not UTF-8 text (a binary file?).
    NotText,
    /// The file is empty or only whitespace.
    Empty,
    /// The text is not valid JSON or YAML.
    Syntax,
    /// Values are nested deeper than a config file needs (64 levels).
    TooDeep,
    /// YAML aliases expand to more than the file itself holds (an alias bomb).
    AliasExpansion,
    /// The document is valid but is not a mapping of settings (an array, a string, null, …).
    NotAMapping,
}

/// A config file that cannot be used as a whole.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConfigFileError {
    /// The file.
    pub path: PathBuf,
    /// What kind of problem.
    pub kind: ConfigFileErrorKind,
    /// Where in the file (1-based), when known.
    pub line: Option<usize>,
    /// Where on the line (1-based), when known.
    pub column: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config file `{}`", self.path.display())?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, ", line {line}, column {column}")?,
            (Some(line), None) => write!(f, ", line {line}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigFileError {}

/// An error status from the endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub struct HttpError {
    /// The HTTP status code.
    pub status: u16,
    /// The service's own message (`error.message`, `error` when it is a string, `message`,
    /// `detail`, or else the body), with the key removed, cut to 2 KiB.
    pub message: Option<String>,
    /// When Azure's content filter blocked the request (`error.code` `content_filter`): the
    /// categories it names as filtered (`hate`, `self_harm`, `sexual`, `violence`, `jailbreak`,
    /// …), empty when it names none. `None` for every other error.
    pub content_filter: Option<Vec<String>>,
    /// `x-request-id`, `x-ms-request-id` or `apim-request-id` (with the key removed, as for
    /// every text the server sent).
    pub request_id: Option<String>,
    /// For 424: the model container's status (`ms-azureml-model-error-statuscode`).
    pub model_status: Option<String>,
    /// For 424: the model container's reason (`ms-azureml-model-error-reason`).
    pub model_reason: Option<String>,
    /// How many attempts were made, retries included.
    pub attempts: u32,
    /// How long the server asked us to wait, when it asked for more than we wait for.
    pub retry_after: Option<Duration>,
    /// The `x-ratelimit-*` headers of the error response.
    pub rate_limits: crate::rate_limit::RateLimits,
    /// Which key the last attempt sent, `"primary key"` or `"secondary key"`, when the client
    /// holds both (never the key).
    pub signed_with: Option<&'static str>,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "endpoint answered HTTP {}", self.status)?;
        match &self.content_filter {
            Some(categories) if categories.is_empty() => f.write_str(" (blocked by the content filter)")?,
            Some(categories) => write!(f, " (blocked by the content filter: {})", categories.join(", "))?,
            None => {
                if let Some(hint) = status_hint(self.status, self.message.as_deref()) {
                    write!(f, " ({hint})")?;
                }
            }
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if self.model_status.is_some() || self.model_reason.is_some() {
            write!(
                f,
                "; model container status {}, reason {}",
                self.model_status.as_deref().unwrap_or("?"),
                self.model_reason.as_deref().unwrap_or("?")
            )?;
        }
        if let Some(id) = &self.request_id {
            write!(f, "; request id {id}")?;
        }
        if let Some(key) = self
            .signed_with
            .filter(|_| self.status == 401 || self.status == 403)
        {
            write!(f, "; sent the {key}")?;
        }
        if self.attempts > 1 {
            write!(f, "; after {} attempts", self.attempts)?;
        }
        if let Some(wait) = self.retry_after {
            write!(
                f,
                "; server asked to retry after {} s, longer than the 60 s we wait",
                wait.as_secs()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

fn status_hint(status: u16, message: Option<&str>) -> Option<&'static str> {
    // Azure AI Model Inference's 404 for a route the deployed model does not serve.
    let modality = message.is_some_and(|m| m.to_ascii_lowercase().contains("modality not supported"));
    Some(match status {
        401 | 403 => "key or token rejected: check AZUREML_ENDPOINT_API_KEY",
        404 if modality => {
            "the deployed model does not do what this route asks: embeddings need an embeddings \
             model, chat and completions a chat or text model"
        }
        404 => "wrong URL, or no deployment takes traffic",
        408 => "the model exceeded the deployment's request timeout",
        413 => "request too large",
        424 => "the model container failed",
        429 => "throttled: lower the request rate or raise the quota",
        500..=599 => "server error",
        _ => return None,
    })
}

/// What went wrong below HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, unreachable).
    Connect,
    /// The connect timeout passed.
    ConnectTimeout,
    /// The request deadline passed while waiting for or reading the response.
    Timeout,
    /// The connection broke.
    Reset,
    /// The response body is larger than `max_response_bytes`.
    TooLarge,
    /// The endpoint redirected to another host; the key is not sent there.
    Redirect,
    /// Anything else (a protocol error, a bad header value).
    Other,
    /// TLS failed, e.g. the server's certificate is not trusted (behind a TLS-inspecting proxy,
    /// trust its CA). Not retried: the next attempt would fail the same way.
    Tls,
    /// The host name did not resolve (a typo, a deleted endpoint, a private endpoint's name
    /// outside its network, or no DNS here). Not retried.
    Dns,
    /// The proxy could not be reached or refused the tunnel. Not retried.
    Proxy,
}

/// A request that got no whole response.
#[derive(Debug)]
#[non_exhaustive]
pub struct TransportError {
    /// The kind of failure.
    pub kind: TransportErrorKind,
    /// The endpoint's host (never the key).
    pub host: String,
    /// What happened, in words.
    pub detail: String,
    /// How many attempts were made, retries included.
    pub attempts: u32,
    /// The request body had been sent, so the model may have run.
    pub may_have_run: bool,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "cannot connect to",
            TransportErrorKind::ConnectTimeout => "connect timed out to",
            TransportErrorKind::Timeout => "request timed out at",
            TransportErrorKind::Reset => "connection broke with",
            TransportErrorKind::TooLarge => "response too large from",
            TransportErrorKind::Redirect => "redirect not followed from",
            TransportErrorKind::Other => "request failed to",
            TransportErrorKind::Tls => "TLS failed with",
            TransportErrorKind::Dns => "cannot resolve the host name",
            TransportErrorKind::Proxy => "the proxy failed for",
        };
        write!(f, "{what} {}: {}", self.host, self.detail)?;
        if self.attempts > 1 {
            write!(f, "; after {} attempts", self.attempts)?;
        }
        if self.may_have_run {
            f.write_str("; the model may have run (not retried)")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {}

/// A response of the wrong shape for the formatter.
#[derive(Debug)]
#[non_exhaustive]
pub struct ResponseError {
    /// The formatter's tag.
    pub formatter: String,
    /// The api type the request was made as.
    pub api_type: ApiType,
    /// What the formatter expected.
    pub expected: String,
    /// The first ~200 characters of the body, with the key removed before it was cut.
    pub excerpt: String,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unexpected response for formatter `{}` on a {} endpoint: expected {}, got {:?} \
             (is this the right formatter for this model?)",
            self.formatter, self.api_type, self.expected, self.excerpt
        )
    }
}

impl std::error::Error for ResponseError {}

/// What went wrong in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamErrorKind {
    /// The stream ended before `data: [DONE]` and without a finish reason.
    Truncated,
    /// An event could not be parsed.
    BadEvent,
    /// One event was larger than the limit (1 MiB).
    EventTooLarge,
    /// The service sent an `{"error": …}` event.
    ServiceError,
    /// No event arrived within the timeout.
    Timeout,
}

/// A streamed response that failed part-way.
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamError {
    /// The kind of failure.
    pub kind: StreamErrorKind,
    /// What happened, in words.
    pub message: String,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream failed: {}", self.message)
    }
}

impl std::error::Error for StreamError {}

/// A reply that is not the JSON the caller asked for.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what} as the expected JSON: {reason}; it starts: {excerpt:?}")]
#[non_exhaustive]
pub struct ReplyJsonError {
    /// What was read: "the reply", or a tool call's arguments.
    pub what: String,
    /// What `serde_json` said (with line and column in the reply).
    pub reason: String,
    /// The reply's first ~200 characters.
    pub excerpt: String,
}

/// What was asked of Azure Resource Manager about an endpoint connected to by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupOperation {
    /// `GET …/onlineEndpoints/{name}`: the scoring URI, auth mode and traffic.
    Endpoint,
    /// `POST …/onlineEndpoints/{name}/listKeys`: the two keys.
    ListKeys,
    /// `POST …/onlineEndpoints/{name}/token`: an AML token.
    Token,
}

impl LookupOperation {
    /// The Azure RBAC action the signed-in identity needs for this operation.
    pub fn action(self) -> &'static str {
        match self {
            LookupOperation::Endpoint => "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read",
            LookupOperation::ListKeys => {
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listkeys/action"
            }
            LookupOperation::Token => {
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/token/action"
            }
        }
    }

    fn what(self) -> &'static str {
        match self {
            LookupOperation::Endpoint => "get endpoint",
            LookupOperation::ListKeys => "list the keys of endpoint",
            LookupOperation::Token => "get an AML token for endpoint",
        }
    }
}

/// Azure Resource Manager did not answer, or refused, a question about an endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub struct LookupError {
    /// What was asked.
    pub operation: LookupOperation,
    /// The endpoint's name.
    pub endpoint_name: String,
    /// Its workspace.
    pub workspace_name: String,
    /// The workspace's resource group.
    pub resource_group: String,
    /// Azure Resource Manager's status, when it answered.
    pub status: Option<u16>,
    /// Its error code (`AuthorizationFailed`, `ResourceNotFound`, …), when it gave one.
    pub code: Option<String>,
    /// What went wrong: the service's message (scrubbed of tokens, cut to 300 characters), or
    /// why no answer came.
    pub message: String,
    /// `x-ms-request-id`, for support tickets.
    pub request_id: Option<String>,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} `{}` in workspace `{}` (resource group `{}`): ",
            self.operation.what(),
            self.endpoint_name,
            self.workspace_name,
            self.resource_group
        )?;
        if let Some(status) = self.status {
            write!(f, "Azure Resource Manager answered {status}")?;
            if let Some(code) = &self.code {
                write!(f, " {code}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        match self.status {
            Some(401 | 403) => write!(
                f,
                "; the signed-in identity needs {} on the endpoint (the AzureML Data Scientist \
                 role has it)",
                self.operation.action()
            )?,
            Some(404) => {
                f.write_str("; check the endpoint name, workspace, resource group and subscription")?
            }
            _ => {}
        }
        if let Some(id) = &self.request_id {
            write!(f, "; request id {id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LookupError {}
