//! The consuming builder shared by both clients and by loading: setters over the one settings
//! model (`settings.rs`), checked once by `resolve.rs` at `build()`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{ApiType, ClientKind, Origin, ENV_ARM_ENDPOINT};
use crate::credential::{AuthMode, TokenCredential};
use crate::error::{Error, Result};
use crate::formatter::{ChatContentFormatter, ContentFormatter, EmbeddingsFormatter};
use crate::resolve::{check, timeout_argument, Checked, FormatterFacts, InCode};
use crate::secret::ApiKey;
use crate::settings::{FormatterSpec, Setting, Settings};
use crate::transport::{CaCertificates, Clock};

/// What the builder and the clients' core need of a formatter, whichever client it serves.
/// `pub` in a private module: users never name it.
pub trait Formatter {
    fn tag(&self) -> &str;
    fn supported_api_types(&self) -> &[ApiType];
    fn content_type(&self) -> &str;
    fn accept(&self) -> &str;
    fn settings(&self) -> Map<String, Value>;
    fn streams_on_dedicated(&self) -> bool;
}

/// The public formatter traits have these methods under the same names; `$streams` says whether
/// a dedicated endpoint streams.
macro_rules! formatter_for {
    ($($public:ident => $streams:path),*) => {$(
        impl Formatter for dyn $public {
            fn tag(&self) -> &str {
                $public::tag(self)
            }
            fn supported_api_types(&self) -> &[ApiType] {
                $public::supported_api_types(self)
            }
            fn content_type(&self) -> &str {
                $public::content_type(self)
            }
            fn accept(&self) -> &str {
                $public::accept(self)
            }
            fn settings(&self) -> Map<String, Value> {
                $public::settings(self)
            }
            fn streams_on_dedicated(&self) -> bool {
                $streams(self)
            }
        }
    )*};
}

formatter_for!(
    ContentFormatter => ContentFormatter::streams_on_dedicated,
    ChatContentFormatter => ChatContentFormatter::streams_on_dedicated,
    EmbeddingsFormatter => never_streams
);

/// Embeddings come whole.
fn never_streams<T: ?Sized>(_: &T) -> bool {
    false
}

/// The settings both builders share: [`AzureMlOnlineEndpointBuilder`](crate::AzureMlOnlineEndpointBuilder)
/// and [`AzureMlChatOnlineEndpointBuilder`](crate::AzureMlChatOnlineEndpointBuilder) are this type.
///
/// Get one from [`AzureMlOnlineEndpoint::builder`](crate::AzureMlOnlineEndpoint::builder) or
/// [`AzureMlChatOnlineEndpoint::builder`](crate::AzureMlChatOnlineEndpoint::builder); name it only
/// to write code that sets the shared settings on either. It is sealed: those two are the only
/// builders. Nothing is checked until `build()`, which validates everything at once.
///
/// ```
/// use azureml_endpoint::{AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, Builder};
///
/// fn team_defaults<F: ?Sized>(builder: Builder<F>) -> Builder<F> {
///     builder.max_retries(5).extra_header("extra-parameters", "pass-through")
/// }
///
/// let llm = team_defaults(AzureMlOnlineEndpoint::builder())
///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
///     .api_key("k")
///     .build()?;
/// let chat = team_defaults(AzureMlChatOnlineEndpoint::builder())
///     .endpoint_url("https://my-endpoint.eastus2.inference.ml.azure.com/score")
///     .api_key("k")
///     .build()?;
/// assert_eq!(llm.config().max_retries, chat.config().max_retries);
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
pub struct Builder<F: ?Sized> {
    pub(crate) settings: Settings,
    /// A formatter given in code; one named by tag is in `settings.formatter`.
    pub(crate) formatter: Option<(Arc<F>, Origin)>,
    /// Set with `auth` = [`AuthMode::Custom`].
    pub(crate) credential: Option<Arc<dyn TokenCredential>>,
    /// Signs in to Azure Resource Manager for an endpoint named.
    pub(crate) arm_credential: Option<Arc<dyn TokenCredential>>,
    /// Where env vars are read from at build, under everything else; `None`: not read.
    pub(crate) env: Option<Env>,
    /// Every wait between attempts goes through it (`sleeper`); the real clock by default.
    pub(crate) clock: Clock,
}

/// Where a build reads the `AZUREML_*` env vars from.
#[derive(Clone, Debug)]
pub(crate) enum Env {
    Process,
    Vars(Arc<HashMap<String, String>>),
}

impl Env {
    pub(crate) fn settings(&self) -> Settings {
        match self {
            Env::Process => Settings::from_env(|name| std::env::var(name).ok()),
            Env::Vars(vars) => Settings::from_env(|name| vars.get(name).cloned()),
        }
    }

    /// One variable, with its origin.
    fn var(&self, name: &'static str) -> Option<(String, Origin)> {
        let value = match self {
            Env::Process => std::env::var(name).ok(),
            Env::Vars(vars) => vars.get(name).cloned(),
        };
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v, Origin::Env(name)))
    }
}

/// The builder kinds: the two clients' formatter traits and [`LoadOptions`](crate::LoadOptions)'
/// marker. `pub` in a private module, so no other builder can be made.
pub trait BuilderKind {}
impl BuilderKind for dyn ContentFormatter {}
impl BuilderKind for dyn ChatContentFormatter {}
impl BuilderKind for dyn EmbeddingsFormatter {}
impl BuilderKind for Load {}

/// The kind of [`LoadOptions`](crate::LoadOptions): a load builds whichever client the file
/// holds, so its formatter is named by tag.
#[derive(Debug)]
pub enum Load {}

impl<F: ?Sized + BuilderKind> Default for Builder<F> {
    fn default() -> Self {
        Builder {
            settings: Settings::default(),
            formatter: None,
            credential: None,
            arm_credential: None,
            env: None,
            clock: Clock::default(),
        }
    }
}

impl<F: ?Sized> Clone for Builder<F> {
    fn clone(&self) -> Self {
        Builder {
            settings: self.settings.clone(),
            formatter: self.formatter.clone(),
            credential: self.credential.clone(),
            arm_credential: self.arm_credential.clone(),
            env: self.env.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<F: ?Sized> fmt::Debug for Builder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .field("formatter", &self.formatter.as_ref().map(|(_, origin)| origin))
            .field("credential", &self.credential.is_some())
            .field("arm_credential", &self.arm_credential.is_some())
            .field("env", &self.env)
            .finish()
    }
}

impl<F: ?Sized> Builder<F> {
    /// Like `formatter`, for a formatter already shared, e.g. one looked up by tag with
    /// [`completion_formatter`](crate::formatter::completion_formatter) or
    /// [`chat_formatter`](crate::formatter::chat_formatter). Defaults to the client's default
    /// formatter.
    pub fn formatter_arc(mut self, formatter: Arc<F>) -> Self {
        self.formatter = Some((formatter, Origin::Argument));
        self
    }

    /// The scoring URL. Required (here, in a config file, or in `AZUREML_ENDPOINT_URL`) unless
    /// the endpoint is named with [`endpoint_name`](Self::endpoint_name).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint_url = Setting::new(url.into(), Origin::Argument);
        self
    }

    /// Connects by name: `build()` gets the endpoint from Azure Resource Manager once (its
    /// scoring URI, auth mode and traffic), then its keys or an AML token as the mode needs,
    /// signed in with the Entra source [`auth`](Self::auth) names (the default chain for keys
    /// and AML tokens) for the management audience. The workspace comes from
    /// [`workspace_name`](Self::workspace_name), [`resource_group`](Self::resource_group) and
    /// [`subscription_id`](Self::subscription_id). An [`endpoint_url`](Self::endpoint_url),
    /// [`auth`](Self::auth) or key given otherwise wins over what is looked up. Azure Resource
    /// Manager is `AZUREML_ARM_ENDPOINT`, else `https://management.azure.com`. Defaults to none.
    pub fn endpoint_name(mut self, name: impl Into<String>) -> Self {
        self.settings.endpoint_name = Setting::new(name.into(), Origin::Argument);
        self
    }

    /// The named endpoint's Azure ML workspace. Defaults to `AZUREML_ARM_WORKSPACE_NAME` (set on
    /// Azure ML compute) when env vars are read.
    pub fn workspace_name(mut self, name: impl Into<String>) -> Self {
        self.settings.workspace_name = Setting::new(name.into(), Origin::Argument);
        self
    }

    /// The workspace's resource group. Defaults to `AZUREML_ARM_RESOURCEGROUP` when env vars are
    /// read.
    pub fn resource_group(mut self, name: impl Into<String>) -> Self {
        self.settings.resource_group = Setting::new(name.into(), Origin::Argument);
        self
    }

    /// The workspace's subscription id. Defaults to `AZUREML_ARM_SUBSCRIPTION` when env vars are
    /// read.
    pub fn subscription_id(mut self, id: impl Into<String>) -> Self {
        self.settings.subscription_id = Setting::new(id.into(), Origin::Argument);
        self
    }

    /// Signs in to Azure Resource Manager with this credential (for the management audience)
    /// to look up an endpoint named with [`endpoint_name`](Self::endpoint_name). Defaults to the
    /// endpoint's [`credential`](Self::credential), else the Entra source `auth` names, else
    /// [`DefaultCredential`](crate::credential::DefaultCredential). Its tokens go only to Azure
    /// Resource Manager, never to the endpoint.
    pub fn arm_credential(mut self, credential: impl TokenCredential + 'static) -> Self {
        self.arm_credential = Some(Arc::new(credential));
        self
    }

    /// The endpoint kind. Defaults to [`ApiType::Dedicated`].
    pub fn api_type(mut self, api_type: ApiType) -> Self {
        self.settings.endpoint_api_type = Setting::new(api_type, Origin::Argument);
        self
    }

    /// The endpoint key or Microsoft Entra token: visible ASCII, no spaces or line breaks.
    /// Required (here, in a config file, or in `AZUREML_ENDPOINT_API_KEY`).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.settings.endpoint_api_key = Setting::new(key.into(), Origin::Argument);
        self
    }

    /// The endpoint's other key. With both, a 401 to the key in use switches to the other one
    /// and retries once; the switch sticks for every clone and thread (regenerate one key while
    /// clients use the other). Never saved. Defaults to none (for an endpoint named, the
    /// secondary key from Azure Resource Manager when no key is given).
    pub fn secondary_api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.settings.secondary_api_key = Setting::new(key.into(), Origin::Argument);
        self
    }

    /// Pins requests to one deployment (`azureml-model-deployment` header); `""` means unset, so
    /// `AZUREML_DEPLOYMENT_NAME` still applies, as in Python. Defaults to none: the endpoint's
    /// traffic split decides.
    pub fn deployment_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        // `""` forgets an earlier argument, so the file's or env's name applies.
        self.settings.deployment_name = if name.is_empty() {
            Setting::default()
        } else {
            Setting::new(name, Origin::Argument)
        };
        self
    }

    /// Deadline for one request attempt; for a stream, for each next event. Must be between
    /// 1 ms and a day. Defaults to 50 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Setting::parsed(timeout_argument(timeout), Origin::Argument);
        self
    }

    /// Deadline for making a connection. Must be between 1 ms and a day. Defaults to 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = Setting::parsed(timeout_argument(timeout), Origin::Argument);
        self
    }

    /// Further attempts after the first for 408, 429, 5xx and failed connections. Defaults to 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings.max_retries = Setting::new(retries, Origin::Argument);
        self
    }

    /// Parameters sent with every request (`temperature`, `max_new_tokens`, …), replacing any set
    /// before. Defaults to none.
    pub fn model_kwargs(mut self, kwargs: Map<String, Value>) -> Self {
        self.settings.model_kwargs = Setting::new(kwargs, Origin::Argument);
        self
    }

    /// Adds one parameter sent with every request. Defaults to none.
    pub fn model_kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.settings.model_kwargs.update_argument(|kwargs| {
            kwargs.insert(key, value);
        });
        self
    }

    /// Adds a header sent with every request, e.g. `extra-parameters: pass-through`. The name
    /// must be an HTTP token and not one the client sets (`Host`, `Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Content-Type`, `Accept`, `Authorization`, `api-key`);
    /// the value must have no control characters. Defaults to none.
    pub fn extra_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let header = (name.into(), value.into());
        self.settings
            .extra_headers
            .update_argument(|headers| headers.push(header));
        self
    }

    /// Allows plain `http` to a non-loopback host, which sends the key in clear text.
    /// Defaults to `false`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_http = Setting::new(allow, Origin::Argument);
        self
    }

    /// A response body larger than this is an error, never a truncated answer. Defaults to 32 MiB.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.settings.max_response_bytes = Setting::new(limit, Origin::Argument);
        self
    }

    /// Signs in with a Microsoft Entra credential of your own instead of the key: a built-in
    /// one set up in code, or [`credential::from_fn`](crate::credential::from_fn) for tokens
    /// from elsewhere. Tokens are cached per client (shared by clones and threads) and sent as
    /// `Authorization: Bearer`, never as `api-key`. Replaces an earlier [`auth`](Self::auth).
    ///
    /// A 401 to a token fetches one new token and retries once; that retry is an attempt of its
    /// own (counted in errors) but does not use up [`max_retries`](Self::max_retries).
    ///
    /// A saved config does not record it: it loads as [`AuthMode::Key`] unless `auth` is set.
    pub fn credential(mut self, credential: impl TokenCredential + 'static) -> Self {
        self.credential = Some(Arc::new(credential));
        self.settings.auth = Setting::new(AuthMode::Custom, Origin::Argument);
        self
    }

    /// How the client signs in: [`AuthMode::Key`] (the default) or a built-in Microsoft Entra
    /// credential, set up from the environment at `build()` (a source whose variables are
    /// unset is [`Error::Credential`]). Tokens are cached and retried as for
    /// [`credential`](Self::credential), which this replaces.
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.credential = None;
        let mode = match mode {
            AuthMode::Custom => Err("`custom` is set with Builder::credential".to_owned()),
            named => Ok(named),
        };
        self.settings.auth = Setting::parsed(mode, Origin::Argument);
        self
    }

    /// The token scope, e.g. `api://my-app/.default`. Defaults to the scope of the endpoint's
    /// host: `https://ml.azure.com/.default` for `*.inference.ml.azure.com`,
    /// `https://cognitiveservices.azure.com/.default` for `*.openai.azure.com`,
    /// `*.cognitiveservices.azure.com` and `*.services.ai.azure.com`. Any other host needs one:
    /// a token is never sent to a host nobody vouched for.
    pub fn token_scope(mut self, scope: impl Into<String>) -> Self {
        self.settings.token_scope = Setting::new(scope.into(), Origin::Argument);
        self
    }

    /// The identity to sign in as: a user-assigned managed identity's client id, or the app's
    /// client id instead of `AZURE_CLIENT_ID` (workload identity, client secret, default).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.settings.client_id = Setting::new(client_id.into(), Origin::Argument);
        self
    }

    /// How many idle connections to the endpoint the client keeps open for the next requests
    /// (each one a TCP and TLS handshake saved). Defaults to 32, which covers
    /// [`CallOptions::max_concurrency`](crate::CallOptions::max_concurrency) up to 32: a steady
    /// batch then opens exactly `max_concurrency` connections. Above it, the connections past
    /// this many are closed after each request and opened again for the next, so set it to at
    /// least your largest concurrency. `0` keeps none (a new connection per request).
    pub fn max_idle_connections(mut self, connections: usize) -> Self {
        self.settings.max_idle_connections = Setting::new(connections, Origin::Argument);
        self
    }

    /// Trusts the CA certificates in `pem` (PEM text, one or more `-----BEGIN CERTIFICATE-----`
    /// blocks), e.g. a corporate TLS-inspecting proxy's CA. Certificates given here or with
    /// [`add_root_certificates_file`](Self::add_root_certificates_file) replace Mozilla's roots,
    /// which the client trusts by default: give the whole bundle your network needs. A bundle
    /// without a certificate, or not PEM, is an error from `build()`.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let given = CaCertificates::Pem(pem.into());
        self.settings
            .ca_certificates
            .update_argument(|list| list.push(given));
        self
    }

    /// Like [`add_root_certificates_pem`](Self::add_root_certificates_pem), read from a PEM file
    /// at `build()`; a missing, unreadable or empty file is an error naming it.
    pub fn add_root_certificates_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        let given = CaCertificates::File(path.into());
        self.settings
            .ca_certificates
            .update_argument(|list| list.push(given));
        self
    }

    /// Verifies servers with the operating system's verifier and trust store (where IT installs
    /// a corporate CA) instead of Mozilla's roots. Cannot be combined with extra CA
    /// certificates. Defaults to `false`.
    pub fn use_os_trust_store(mut self, use_it: bool) -> Self {
        self.settings.use_os_trust_store = Setting::new(use_it, Origin::Argument);
        self
    }

    /// The body's `"model"`, for serverless gateways that serve many models from one URL (e.g.
    /// the unified `…/openai/v1/chat/completions` route). A `model` in `model_kwargs` or in the
    /// call's parameters wins over it. A dedicated endpoint serves one model, so setting it
    /// there is a config error at build. Defaults to none (no `"model"` sent).
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.settings.model = Setting::new(name.into(), Origin::Argument);
        self
    }

    /// A test hook, outside the stable API: every wait between attempts (a backoff, a server's
    /// `Retry-After`, the client's shared 429 pause) is handed to `sleep` instead of being slept,
    /// and the time those waits are measured in moves only by the waits handed over, so a test
    /// can assert exactly the waits the client asked for. Defaults to sleeping the thread.
    #[doc(hidden)]
    pub fn sleeper(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.clock = Clock::handing_to(sleep);
        self
    }

    /// How many inputs one embeddings request carries, at most (1 to 2048): an
    /// [`embed`](crate::embeddings::AzureMlEmbeddingsEndpoint::embed) of more inputs sends several
    /// requests, [`CallOptions::max_concurrency`](crate::CallOptions::max_concurrency) at a time.
    /// Cohere takes at most 96 texts per request, Azure OpenAI 2048. Only the embeddings client
    /// takes it. Defaults to 96.
    pub fn batch_size(mut self, inputs: u32) -> Self {
        self.settings.batch_size = Setting::new(inputs, Origin::Argument);
        self
    }

    /// Records prompts and replies on each call's span (`gen_ai.input.messages`,
    /// `gen_ai.output.messages`), with the key or token scrubbed from them: for an application
    /// whose telemetry may hold its users' text. Also read from
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (`true` or `false`) with
    /// [`with_env`](Self::with_env) or when loading; never saved. Defaults to `false`.
    pub fn capture_message_content(mut self, capture: bool) -> Self {
        self.settings.capture_message_content = Setting::new(capture, Origin::Argument);
        self
    }

    /// Fills every setting not given otherwise from the `AZUREML_*` env vars, read at
    /// `build()`: `AZUREML_ENDPOINT_URL`, `AZUREML_ENDPOINT_API_KEY`, `AZUREML_ENDPOINT_API_TYPE`,
    /// `AZUREML_DEPLOYMENT_NAME`, `AZUREML_TIMEOUT`, `AZUREML_AUTH`, `AZUREML_CA_BUNDLE` (a
    /// PEM file of CA certificates, used when no CA or OS trust store was chosen otherwise), and
    /// for an endpoint named with [`endpoint_name`](Self::endpoint_name),
    /// `AZUREML_ARM_WORKSPACE_NAME`, `AZUREML_ARM_RESOURCEGROUP` and `AZUREML_ARM_SUBSCRIPTION`; and
    /// OpenTelemetry's `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
    /// ([`capture_message_content`](Self::capture_message_content)).
    /// Settings given in code win, whatever the call order. Defaults to no env vars for a
    /// builder; loading reads them unless [`env_vars`](Self::env_vars) says otherwise.
    pub fn with_env(mut self) -> Self {
        self.env = Some(Env::Process);
        self
    }

    /// Like [`with_env`](Self::with_env), reading the `AZUREML_*` settings from these pairs
    /// instead of the process environment (for tests, or a program that keeps its own). An
    /// empty list means no env vars at all.
    pub fn env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self.env = Some(Env::Vars(Arc::new(vars)));
        self
    }
}

impl<F: ?Sized + Formatter> Builder<F> {
    /// Checks the settings for a client of `kind`, with the formatter given in code, else the
    /// one named by tag (looked up with `builtin`), else `default`; `need_key` is false for
    /// saving, which never writes the key.
    pub(crate) fn check_for(
        self,
        kind: ClientKind,
        builtin: fn(&str) -> Option<Arc<F>>,
        default: impl FnOnce() -> Arc<F>,
        need_key: bool,
    ) -> Result<(Checked, Arc<F>)> {
        let mut settings = self.settings;
        if let Some(env) = &self.env {
            settings.overlay(env.settings());
        }
        let (formatter, origin) = match self.formatter {
            Some(given) => given,
            None => match named_formatter(&mut settings, builtin)? {
                Some(named) => named,
                None => (default(), Origin::Default),
            },
        };
        let facts = FormatterFacts {
            spec: FormatterSpec {
                tag: formatter.tag().to_owned(),
                settings: formatter.settings(),
            },
            api_types: formatter.supported_api_types(),
            origin,
        };
        let env = self.env.unwrap_or(Env::Process);
        let in_code = InCode {
            credential: self.credential,
            arm_credential: self.arm_credential,
            arm_endpoint: env.var(ENV_ARM_ENDPOINT),
        };
        let mut checked = check(settings, in_code, kind, facts, need_key)?;
        checked.clock = self.clock;
        Ok((checked, formatter))
    }
}

/// The formatter named by tag in `settings` (`formatter`, or Python's `content_formatter`), as
/// `lookup` finds it.
fn named_formatter<F: ?Sized>(
    settings: &mut Settings,
    lookup: impl FnOnce(&str) -> Option<Arc<F>>,
) -> Result<Option<(Arc<F>, Origin)>> {
    let (key, setting) = if settings.formatter.is_set() {
        ("formatter", std::mem::take(&mut settings.formatter))
    } else {
        (
            "content_formatter",
            std::mem::take(&mut settings.content_formatter),
        )
    };
    let Some((spec, origin)) = setting.get(key)? else {
        return Ok(None);
    };
    match lookup(&spec.tag) {
        Some(formatter) => Ok(Some((formatter, origin))),
        None => Err(Error::config(
            key,
            origin,
            format!("unknown formatter `{}`", spec.tag),
        )),
    }
}
