//! Endpoint settings as plain data: api type, defaults, env vars, limits and URL rules; the
//! names and numbers a program may want to spell (env vars, `_type`s, defaults) live here.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::suggest::suggest;

/// The `_type` of a saved [`AzureMlOnlineEndpoint`](crate::AzureMlOnlineEndpoint), as in LangChain
/// Python.
pub const AZUREML_ENDPOINT_TYPE: &str = "azureml_endpoint";
/// The `_type` of a saved [`AzureMlChatOnlineEndpoint`](crate::AzureMlChatOnlineEndpoint).
pub const AZUREML_CHAT_ENDPOINT_TYPE: &str = "azureml_chat_endpoint";
/// The `_type` of a saved [`AzureMlEmbeddingsEndpoint`](crate::embeddings::AzureMlEmbeddingsEndpoint).
pub const AZUREML_EMBEDDINGS_ENDPOINT_TYPE: &str = "azureml_embeddings_endpoint";
/// The largest image file [`ContentPart::image_file`](crate::ContentPart::image_file) reads: 20 MiB, the limit most vision
/// models document for one image. Its data URL is a third larger.
pub const MAX_IMAGE_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// Env var naming how the client signs in (`key`, `managed_identity`, …; see
/// [`AuthMode`](crate::AuthMode)).
pub const ENV_AUTH: &str = "AZUREML_AUTH";
/// Env var holding the endpoint URL.
pub const ENV_ENDPOINT_URL: &str = "AZUREML_ENDPOINT_URL";
/// Env var holding the key or token.
pub const ENV_ENDPOINT_API_KEY: &str = "AZUREML_ENDPOINT_API_KEY";
/// Env var holding the api type (`dedicated`, `serverless`, `realtime`).
pub const ENV_ENDPOINT_API_TYPE: &str = "AZUREML_ENDPOINT_API_TYPE";
/// Env var holding the deployment name.
pub const ENV_DEPLOYMENT_NAME: &str = "AZUREML_DEPLOYMENT_NAME";
/// Env var holding the request timeout in seconds.
pub const ENV_TIMEOUT: &str = "AZUREML_TIMEOUT";
/// Env var: a PEM file of CA certificates to trust instead of Mozilla's roots (a corporate
/// TLS-inspecting proxy's CA).
pub const ENV_CA_BUNDLE: &str = "AZUREML_CA_BUNDLE";
/// Env var holding the workspace of an endpoint connected to by name (Azure ML sets it on its
/// own compute).
pub const ENV_ARM_WORKSPACE_NAME: &str = "AZUREML_ARM_WORKSPACE_NAME";
/// Env var holding the workspace's resource group (set on Azure ML compute).
pub const ENV_ARM_RESOURCE_GROUP: &str = "AZUREML_ARM_RESOURCEGROUP";
/// Env var holding the workspace's subscription id (set on Azure ML compute).
pub const ENV_ARM_SUBSCRIPTION: &str = "AZUREML_ARM_SUBSCRIPTION";
/// Env var overriding [`DEFAULT_ARM_ENDPOINT`] (sovereign clouds; `http` only for loopback, for
/// tests). Read from the process, or from the builder's [`env_vars`](crate::Builder::env_vars);
/// never from a config file, which could otherwise send the sign-in token elsewhere.
pub const ENV_ARM_ENDPOINT: &str = "AZUREML_ARM_ENDPOINT";
/// Azure Resource Manager, where an endpoint connected to by name is looked up.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// Env var (OpenTelemetry's) opting in to prompts and replies on spans: `true` or `false`.
pub const ENV_CAPTURE_MESSAGE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// Default request timeout, as in LangChain Python.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(50);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// Default number of idle connections kept open to the endpoint for reuse.
pub const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 32;
/// Default number of inputs in one embeddings request: Cohere's limit, so it fits every route.
pub const DEFAULT_BATCH_SIZE: u32 = 96;
/// The most inputs one embeddings request may hold: Azure OpenAI's limit.
pub const MAX_BATCH_SIZE: u32 = 2048;

/// The kind of endpoint, which decides the URL shape, headers and request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiType {
    /// A managed online endpoint (`…/score`). `realtime` is read as this.
    #[default]
    #[serde(alias = "realtime")]
    Dedicated,
    /// A pay-as-you-go endpoint with the OpenAI REST shape (`…/completions`, `…/chat/completions`).
    Serverless,
}

impl ApiType {
    /// The name as written in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Dedicated => "dedicated",
            ApiType::Serverless => "serverless",
        }
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "dedicated" | "realtime" => Ok(ApiType::Dedicated),
            "serverless" => Ok(ApiType::Serverless),
            other => Err(format!(
                "unknown api type {other:?}; use `dedicated` (…/score URLs) or `serverless` \
                 (…/completions, …/chat/completions, …/embeddings URLs)"
            )),
        }
    }
}

/// Where a setting came from, so an error can say where to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Passed to a builder or loader in code (or a CLI flag).
    Argument,
    /// Read from a config file.
    File(PathBuf),
    /// Read from an environment variable.
    Env(&'static str),
    /// The built-in default.
    Default,
    /// Looked up in Azure Resource Manager when the client was built (an endpoint connected to
    /// by name); never saved, so a loaded config looks it up again.
    Lookup,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument => f.write_str("argument"),
            Origin::File(path) => write!(f, "file `{}`", path.display()),
            Origin::Env(var) => write!(f, "env var {var}"),
            Origin::Default => f.write_str("default"),
            Origin::Lookup => f.write_str("looked up by endpoint name"),
        }
    }
}

/// The resolved, validated settings of a client: everything but the key and the formatter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The scoring URL, as given.
    pub endpoint_url: String,
    /// Dedicated or serverless.
    pub api_type: ApiType,
    /// Pins requests to one deployment via `azureml-model-deployment`.
    pub deployment_name: Option<String>,
    /// Deadline for one request attempt (for a stream: for each next event).
    pub timeout: Duration,
    /// Deadline for making a connection.
    pub connect_timeout: Duration,
    /// Further attempts after the first for retryable failures.
    pub max_retries: u32,
    /// Parameters sent with every request, in this order.
    pub model_kwargs: Map<String, Value>,
    /// Headers sent with every request.
    pub extra_headers: Vec<(String, String)>,
    /// Whether the key may be sent over plain HTTP to a non-loopback host.
    pub allow_insecure_http: bool,
    /// Larger response bodies are an error.
    pub max_response_bytes: u64,
    /// How the client signs in: its key, or a Microsoft Entra credential.
    pub auth: crate::credential::AuthMode,
    /// The identity a credential signs in as (a user-assigned managed identity, or instead of
    /// `AZURE_CLIENT_ID`), if set.
    pub client_id: Option<String>,
    /// The token scope, if set explicitly; otherwise it follows from the endpoint's host.
    pub token_scope: Option<String>,
    /// Idle connections kept open to the endpoint for the next requests.
    pub max_idle_connections: usize,
    /// PEM files of CA certificates trusted instead of Mozilla's roots (saved as
    /// `ca_certificates`; certificates given in code as PEM text are not listed).
    pub ca_certificate_files: Vec<std::path::PathBuf>,
    /// TLS is verified with the operating system's trust store (saved as `use_os_trust_store`).
    pub use_os_trust_store: bool,
    /// The body's `"model"` on a serverless endpoint (gateways serving many models from one
    /// URL); a `model` in `model_kwargs` or the call's parameters wins over it.
    pub model: Option<String>,
    /// The endpoint's name, when the client connects by name (with the three below).
    pub endpoint_name: Option<String>,
    /// The endpoint's Azure ML workspace.
    pub workspace_name: Option<String>,
    /// The workspace's resource group.
    pub resource_group: Option<String>,
    /// The workspace's subscription id.
    pub subscription_id: Option<String>,
    /// The endpoint's traffic split (deployment, percent) as Azure Resource Manager gave it when
    /// the client was built by name; `None` otherwise.
    pub traffic: Option<Vec<(String, u32)>>,
    /// The proxy requests to the endpoint go through (`http://host:port`, never its
    /// credentials) and the env var that set it; `None` when they go direct.
    pub proxy: Option<(String, Origin)>,
    /// Inputs per request of the embeddings client (the others send one input per request).
    pub batch_size: u32,
    /// Prompts and replies are recorded on each call's span (see the README's Observability).
    pub capture_message_content: bool,
}

/// Which kind of client: each has its own serverless URL paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKind {
    /// [`AzureMlOnlineEndpoint`](crate::AzureMlOnlineEndpoint): `…/completions`.
    Completion,
    /// [`AzureMlChatOnlineEndpoint`](crate::AzureMlChatOnlineEndpoint): `…/chat/completions`.
    Chat,
    /// [`AzureMlEmbeddingsEndpoint`](crate::embeddings::AzureMlEmbeddingsEndpoint): `…/embeddings`
    /// (OpenAI, Azure OpenAI, Model Inference) or `…/embed` (Cohere).
    Embeddings,
}

impl ClientKind {
    /// The kind whose serverless path `url` has, or `None` when the URL does not parse or its
    /// path is a dedicated `…/score` (any kind) or fits none.
    ///
    /// ```
    /// use azureml_endpoint::config::ClientKind;
    ///
    /// let url = "https://my-ai.openai.azure.com/openai/deployments/te3/embeddings?api-version=2024-10-21";
    /// assert_eq!(ClientKind::from_url(url), Some(ClientKind::Embeddings));
    /// assert_eq!(ClientKind::from_url("https://x.models.ai.azure.com/v1/chat/completions"), Some(ClientKind::Chat));
    /// assert_eq!(ClientKind::from_url("https://x.eastus2.inference.ml.azure.com/score"), None);
    /// ```
    pub fn from_url(url: &str) -> Option<ClientKind> {
        let path = parse_url(url).ok()?.path;
        [ClientKind::Completion, ClientKind::Chat, ClientKind::Embeddings]
            .into_iter()
            .find(|kind| path_rule_violation(&path, ApiType::Serverless, *kind).is_none())
    }
}

/// A URL split into the parts the rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    /// The URL to send: as given, less one trailing `/` on the path.
    pub normalized: String,
}

impl ParsedUrl {
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// Scheme, host and port: redirects within it keep the key.
    pub fn origin(&self) -> (&str, &str, u16) {
        (&self.scheme, &self.host, self.port)
    }
}

pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host == "[::1]"
        || host.strip_prefix("127.").is_some_and(|rest| {
            rest.split('.').count() == 3 && rest.split('.').all(|p| p.parse::<u8>().is_ok())
        })
}

/// Splits an absolute `http(s)` URL. Errors are plain text for the caller to wrap.
pub(crate) fn parse_url(url: &str) -> std::result::Result<ParsedUrl, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "not an absolute URL (expected https://host/path)".to_owned())?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(format!("scheme `{scheme}` is not supported; use https")),
    };
    if rest.contains('#') {
        return Err("a URL fragment (`#…`) is not allowed".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains spaces or control characters".to_owned());
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; set the key instead".to_owned());
    }
    let (host, port) = split_host_port(authority)?;
    let (path, query) = match path_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_query, None),
    };
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let mut normalized = format!("{scheme}://{authority}{trimmed}");
    if let Some(query) = query {
        normalized.push('?');
        normalized.push_str(query);
    }
    Ok(ParsedUrl {
        scheme,
        host: host.to_owned(),
        port: port.unwrap_or(default_port),
        path: trimmed.to_owned(),
        normalized,
    })
}

fn split_host_port(authority: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                (host, after.strip_prefix(':'))
            }
            None => return Err("unclosed `[` in the host".to_owned()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("the URL has no host".to_owned());
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?),
        None => None,
    };
    Ok((host, port))
}

/// What the path should look like, or `None` when it fits.
pub(crate) fn path_rule_violation(path: &str, api_type: ApiType, kind: ClientKind) -> Option<String> {
    let is_score = path.ends_with("/score");
    let is_chat = path.ends_with("/chat/completions");
    let is_completions = path.ends_with("/completions") && !is_chat;
    let is_embeddings = path.ends_with("/embeddings") || path.ends_with("/embed");
    let (fits, shape) = match (api_type, kind) {
        (ApiType::Dedicated, _) => (
            is_score,
            "for api type `dedicated` the path must end with /score \
             (https://<name>.<region>.inference.ml.azure.com/score)",
        ),
        (ApiType::Serverless, ClientKind::Completion) => (
            is_completions,
            "for api type `serverless` the completion client needs a path ending with /completions \
             (https://<name>.<region>.models.ai.azure.com/v1/completions)",
        ),
        (ApiType::Serverless, ClientKind::Chat) => (
            is_chat,
            "for api type `serverless` the chat client needs a path ending with /chat/completions \
             (https://<name>.<region>.models.ai.azure.com/v1/chat/completions)",
        ),
        (ApiType::Serverless, ClientKind::Embeddings) => (
            is_embeddings,
            "for api type `serverless` the embeddings client needs a path ending with /embeddings \
             (https://<name>.<region>.models.ai.azure.com/v1/embeddings, \
             https://<resource>.openai.azure.com/openai/deployments/<deployment>/embeddings) \
             or Cohere's /embed (https://<name>.<region>.models.ai.azure.com/v1/embed)",
        ),
    };
    if fits {
        return None;
    }
    use ClientKind::{Chat, Completion, Embeddings};
    let fits_serverless = "; this path fits api type `serverless`";
    let hint = match (api_type, kind) {
        (ApiType::Dedicated, Completion) if is_completions => fits_serverless,
        (ApiType::Dedicated, Chat) if is_chat => fits_serverless,
        (ApiType::Dedicated, Embeddings) if is_embeddings => fits_serverless,
        (ApiType::Dedicated, Completion | Embeddings) if is_chat => {
            "; this is a serverless chat URL: use AzureMlChatOnlineEndpoint with api type `serverless`"
        }
        (ApiType::Dedicated, Embeddings) if is_completions => {
            "; this is a serverless completions URL: use AzureMlOnlineEndpoint with api type `serverless`"
        }
        (ApiType::Dedicated, Completion | Chat) if is_embeddings => {
            "; this is a serverless embeddings URL: use AzureMlEmbeddingsEndpoint with api type `serverless`"
        }
        (ApiType::Serverless, _) if is_score => "; this path fits api type `dedicated`",
        (ApiType::Serverless, Completion | Embeddings) if is_chat => {
            "; this is a chat URL: use AzureMlChatOnlineEndpoint"
        }
        (ApiType::Serverless, Chat | Embeddings) if is_completions => {
            "; this is a completions URL: use AzureMlOnlineEndpoint"
        }
        (ApiType::Serverless, Completion | Chat) if is_embeddings => {
            "; this is an embeddings URL: use AzureMlEmbeddingsEndpoint"
        }
        _ => "",
    };
    Some(format!("{shape}{hint}"))
}

/// The shortest timeout: shorter deadlines pass before a request is even written (one that
/// rounds to zero, such as `1e-10` seconds, fails every call at once).
const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest timeout: longer deadlines overflow `Instant` arithmetic in the HTTP stack (a panic
/// on the first call), and no endpoint holds a request open for a day.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The one range check every timeout passes, whatever its source (builder, file, env var, per
/// call; request or connect). `given` is the value as the user wrote it, for the message.
pub(crate) fn check_timeout(
    timeout: Duration,
    given: impl fmt::Display,
) -> std::result::Result<Duration, String> {
    if timeout < MIN_TIMEOUT {
        Err(format!("must be at least 0.001 seconds (1 ms), got {given}"))
    } else if timeout > MAX_TIMEOUT {
        Err(format!("must be at most 86400 seconds (a day), got {given}"))
    } else {
        Ok(timeout)
    }
}

/// Reads a timeout in seconds (an integer or a decimal) as `AZUREML_TIMEOUT` and config files are
/// read: more than 0, between 1 ms and a day.
///
/// ```
/// use std::time::Duration;
/// use azureml_endpoint::config::parse_timeout;
///
/// assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
/// assert_eq!(parse_timeout("soon").unwrap_err(), "\"soon\" is not a number of seconds");
/// ```
///
/// # Errors
/// What is wrong with the text, as config errors say it.
pub fn parse_timeout(text: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    timeout_from_secs(secs)
}

/// A timeout in seconds, checked by [`check_timeout`].
pub(crate) fn timeout_from_secs(secs: f64) -> std::result::Result<Duration, String> {
    if secs.is_nan() || secs <= 0.0 || secs.is_infinite() {
        return Err(format!("must be a number of seconds > 0, got {secs}"));
    }
    // Conversion fails only beyond u64::MAX seconds, which the range check rejects as well.
    let timeout = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
    check_timeout(timeout, secs)
}

impl ApiType {
    /// The api type whose path rule (see [`ApiType`]) a URL fits for a chat (`chat == true`) or
    /// completion client, or `None` when the URL does not parse or its path fits neither.
    ///
    /// Used to default the api type from the URL, as the `azureml-endpoint` CLI does.
    ///
    /// ```
    /// use azureml_endpoint::ApiType;
    ///
    /// let serverless = "https://my-llama.eastus2.models.ai.azure.com/v1/chat/completions";
    /// assert_eq!(ApiType::infer_from_url(serverless, true), Some(ApiType::Serverless));
    /// assert_eq!(ApiType::infer_from_url(serverless, false), None); // a chat URL, not a completion one
    /// let dedicated = "https://my-ep.eastus2.inference.ml.azure.com/score?x=1";
    /// assert_eq!(ApiType::infer_from_url(dedicated, false), Some(ApiType::Dedicated));
    /// assert_eq!(ApiType::infer_from_url("not a url", false), None);
    /// ```
    pub fn infer_from_url(url: &str, chat: bool) -> Option<ApiType> {
        let kind = if chat {
            ClientKind::Chat
        } else {
            ClientKind::Completion
        };
        ApiType::infer_for(url, kind)
    }

    /// The api type whose path rule a URL fits for a client of `kind` (see
    /// [`infer_from_url`](Self::infer_from_url)).
    ///
    /// ```
    /// use azureml_endpoint::{config::ClientKind, ApiType};
    ///
    /// let cohere = "https://my-cohere.eastus2.models.ai.azure.com/v1/embed";
    /// assert_eq!(ApiType::infer_for(cohere, ClientKind::Embeddings), Some(ApiType::Serverless));
    /// assert_eq!(ApiType::infer_for(cohere, ClientKind::Chat), None);
    /// ```
    pub fn infer_for(url: &str, kind: ClientKind) -> Option<ApiType> {
        let path = parse_url(url).ok()?.path;
        [ApiType::Dedicated, ApiType::Serverless]
            .into_iter()
            .find(|api_type| path_rule_violation(&path, *api_type, kind).is_none())
    }
}
