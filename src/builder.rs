//! The consuming builder shared by both clients, and where settings are resolved and validated.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{
    check_timeout, parse_timeout, ApiType, ClientKind, EndpointConfig, Origin, WithOrigin,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT,
    ENV_DEPLOYMENT_NAME, ENV_ENDPOINT_API_KEY, ENV_ENDPOINT_API_TYPE, ENV_ENDPOINT_URL, ENV_TIMEOUT,
};
use crate::config::{DEFAULT_MAX_IDLE_CONNECTIONS, ENV_CA_BUNDLE};
use crate::credential::{scope_for_host, AuthMode, TokenCredential, AZURE_ML_SCOPE, ENV_AUTH};
use crate::error::{Error, Result};
use crate::formatter::{ChatContentFormatter, ContentFormatter};
use crate::secret::ApiKey;
use crate::transport::{Auth, CaCertificates, Transport, Trust};
use crate::validate::{check_extra_headers, check_header_value, check_key, validate_url};

/// A deployment name from `source`; `""` is no name (Python's `save()` writes `""` for none), so
/// a later source can still give one.
pub(crate) fn deployment(name: String, source: Origin) -> Option<WithOrigin<String>> {
    (!name.is_empty()).then(|| WithOrigin::new(name, source))
}

/// What the builder and the clients' core need of a formatter, whichever client it serves.
/// `pub` in a private module: it seals [`Builder`]'s `Default`, so only the two clients'
/// builders exist.
pub trait Formatter {
    fn tag(&self) -> &str;
    fn supported_api_types(&self) -> &[ApiType];
    fn content_type(&self) -> &str;
    fn accept(&self) -> &str;
    fn settings(&self) -> Map<String, Value>;
    fn streams_on_dedicated(&self) -> bool;
}

/// The two public formatter traits have these methods under the same names.
macro_rules! formatter_for {
    ($($public:ident),*) => {$(
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
                $public::streams_on_dedicated(self)
            }
        }
    )*};
}

formatter_for!(ContentFormatter, ChatContentFormatter);

/// Settings as given, not yet validated. Text from env vars and files is parsed late, so an
/// explicit argument can still replace a bad value before [`Builder::build`] reports it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub endpoint_url: Option<WithOrigin<String>>,
    pub api_type: Option<WithOrigin<std::result::Result<ApiType, String>>>,
    pub api_key: Option<WithOrigin<ApiKey>>,
    pub deployment_name: Option<WithOrigin<String>>,
    pub timeout: Option<WithOrigin<std::result::Result<Duration, String>>>,
    pub connect_timeout: Option<std::result::Result<Duration, String>>,
    pub max_retries: Option<u32>,
    pub model_kwargs: Map<String, Value>,
    pub extra_headers: Vec<(String, String)>,
    /// Where `extra_headers` came from; `None` means the builder.
    pub extra_headers_source: Option<Origin>,
    pub allow_insecure_http: bool,
    pub max_response_bytes: Option<u64>,
    pub auth: Option<WithOrigin<std::result::Result<AuthMode, String>>>,
    /// Set with `auth` = [`AuthMode::Custom`].
    pub credential: Option<Arc<dyn TokenCredential>>,
    pub client_id: Option<WithOrigin<String>>,
    pub token_scope: Option<WithOrigin<String>>,
    pub max_idle_connections: Option<usize>,
    pub trust: Trust,
    pub model: Option<WithOrigin<String>>,
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
#[derive(Debug)]
pub struct Builder<F: ?Sized> {
    pub(crate) settings: Settings,
    pub(crate) formatter: Option<WithOrigin<Arc<F>>>,
}

/// Only for the two formatter kinds: no other builder can be made.
impl<F: ?Sized + Formatter> Default for Builder<F> {
    fn default() -> Self {
        Builder {
            settings: Settings::default(),
            formatter: None,
        }
    }
}

impl<F: ?Sized> Builder<F> {
    /// Like `formatter`, for a formatter already shared, e.g. one looked up by tag with
    /// [`completion_formatter`](crate::formatter::completion_formatter) or
    /// [`chat_formatter`](crate::formatter::chat_formatter). Defaults to the client's default
    /// formatter.
    pub fn formatter_arc(mut self, formatter: Arc<F>) -> Self {
        self.formatter = Some(WithOrigin::new(formatter, Origin::Argument));
        self
    }

    /// The scoring URL. Required (here, in a config file, or in `AZUREML_ENDPOINT_URL`).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint_url = Some(WithOrigin::new(url.into(), Origin::Argument));
        self
    }

    /// The endpoint kind. Defaults to [`ApiType::Dedicated`].
    pub fn api_type(mut self, api_type: ApiType) -> Self {
        self.settings.api_type = Some(WithOrigin::new(Ok(api_type), Origin::Argument));
        self
    }

    /// The endpoint key or Microsoft Entra token: visible ASCII, no spaces or line breaks.
    /// Required (here, in a config file, or in `AZUREML_ENDPOINT_API_KEY`).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.settings.api_key = Some(WithOrigin::new(key.into(), Origin::Argument));
        self
    }

    /// Pins requests to one deployment (`azureml-model-deployment` header); `""` means unset, so
    /// `AZUREML_DEPLOYMENT_NAME` still applies, as in Python. Defaults to none: the endpoint's
    /// traffic split decides.
    pub fn deployment_name(mut self, name: impl Into<String>) -> Self {
        match deployment(name.into(), Origin::Argument) {
            Some(name) => self.settings.deployment_name = Some(name),
            // Unset forgets an earlier argument but keeps what `with_env` found.
            None => {
                let set = &mut self.settings.deployment_name;
                if set.as_ref().is_some_and(|d| d.origin == Origin::Argument) {
                    *set = None;
                }
            }
        }
        self
    }

    /// Deadline for one request attempt; for a stream, for each next event. Must be between
    /// 1 ms and a day. Defaults to 50 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let value = check_timeout(timeout, format_args!("{timeout:?}"));
        self.settings.timeout = Some(WithOrigin::new(value, Origin::Argument));
        self
    }

    /// Deadline for making a connection. Must be between 1 ms and a day. Defaults to 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = Some(check_timeout(timeout, format_args!("{timeout:?}")));
        self
    }

    /// Further attempts after the first for 408, 429, 5xx and failed connections. Defaults to 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings.max_retries = Some(retries);
        self
    }

    /// Parameters sent with every request (`temperature`, `max_new_tokens`, …), replacing any set
    /// before. Defaults to none.
    pub fn model_kwargs(mut self, kwargs: Map<String, Value>) -> Self {
        self.settings.model_kwargs = kwargs;
        self
    }

    /// Adds one parameter sent with every request. Defaults to none.
    pub fn model_kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.settings.model_kwargs.insert(key.into(), value.into());
        self
    }

    /// Adds a header sent with every request, e.g. `extra-parameters: pass-through`. The name
    /// must be an HTTP token and not one the client sets (`Host`, `Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Content-Type`, `Accept`, `Authorization`, `api-key`);
    /// the value must have no control characters. Defaults to none.
    pub fn extra_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Allows plain `http` to a non-loopback host, which sends the key in clear text.
    /// Defaults to `false`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_http = allow;
        self
    }

    /// A response body larger than this is an error, never a truncated answer. Defaults to 32 MiB.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.settings.max_response_bytes = Some(limit);
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
        self.settings.credential = Some(Arc::new(credential));
        self.settings.auth = Some(WithOrigin::new(Ok(AuthMode::Custom), Origin::Argument));
        self
    }

    /// How the client signs in: [`AuthMode::Key`] (the default) or a built-in Microsoft Entra
    /// credential, set up from the environment at `build()` (a source whose variables are
    /// unset is [`Error::Credential`]). Tokens are cached and retried as for
    /// [`credential`](Self::credential), which this replaces.
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.settings.credential = None;
        let mode = match mode {
            AuthMode::Custom => Err("`custom` is set with Builder::credential".to_owned()),
            named => Ok(named),
        };
        self.settings.auth = Some(WithOrigin::new(mode, Origin::Argument));
        self
    }

    /// The token scope, e.g. `api://my-app/.default`. Defaults to the scope of the endpoint's
    /// host: `https://ml.azure.com/.default` for `*.inference.ml.azure.com`,
    /// `https://cognitiveservices.azure.com/.default` for `*.openai.azure.com`,
    /// `*.cognitiveservices.azure.com` and `*.services.ai.azure.com`. Any other host needs one:
    /// a token is never sent to a host nobody vouched for.
    pub fn token_scope(mut self, scope: impl Into<String>) -> Self {
        self.settings.token_scope = Some(WithOrigin::new(scope.into(), Origin::Argument));
        self
    }

    /// The identity to sign in as: a user-assigned managed identity's client id, or the app's
    /// client id instead of `AZURE_CLIENT_ID` (workload identity, client secret, default).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.settings.client_id = Some(WithOrigin::new(client_id.into(), Origin::Argument));
        self
    }

    /// How many idle connections to the endpoint the client keeps open for the next requests
    /// (each one a TCP and TLS handshake saved). Defaults to 32, which covers
    /// [`CallOptions::max_concurrency`](crate::CallOptions::max_concurrency) up to 32: a steady
    /// batch then opens exactly `max_concurrency` connections. Above it, the connections past
    /// this many are closed after each request and opened again for the next, so set it to at
    /// least your largest concurrency. `0` keeps none (a new connection per request).
    pub fn max_idle_connections(mut self, connections: usize) -> Self {
        self.settings.max_idle_connections = Some(connections);
        self
    }

    /// Trusts the CA certificates in `pem` (PEM text, one or more `-----BEGIN CERTIFICATE-----`
    /// blocks), e.g. a corporate TLS-inspecting proxy's CA. Certificates given here or with
    /// [`add_root_certificates_file`](Self::add_root_certificates_file) replace Mozilla's roots,
    /// which the client trusts by default: give the whole bundle your network needs. A bundle
    /// without a certificate, or not PEM, is an error from `build()`.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let given = CaCertificates::Pem(pem.into());
        self.settings.trust.extra.push((given, Origin::Argument));
        self
    }

    /// Like [`add_root_certificates_pem`](Self::add_root_certificates_pem), read from a PEM file
    /// at `build()`; a missing, unreadable or empty file is an error naming it.
    pub fn add_root_certificates_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        let given = CaCertificates::File(path.into());
        self.settings.trust.extra.push((given, Origin::Argument));
        self
    }

    /// Verifies servers with the operating system's verifier and trust store (where IT installs
    /// a corporate CA) instead of Mozilla's roots. Cannot be combined with extra CA
    /// certificates. Defaults to `false`.
    pub fn use_os_trust_store(mut self, use_it: bool) -> Self {
        self.settings.trust.os_store = use_it;
        self
    }

    /// The body's `"model"`, for serverless gateways that serve many models from one URL (e.g.
    /// the unified `…/openai/v1/chat/completions` route). A `model` in `model_kwargs` or in the
    /// call's parameters wins over it. A dedicated endpoint serves one model, so setting it
    /// there is a config error at build. Defaults to none (no `"model"` sent).
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.settings.model = Some(WithOrigin::new(name.into(), Origin::Argument));
        self
    }

    /// Fills every setting not given yet from the `AZUREML_*` env vars: `AZUREML_ENDPOINT_URL`,
    /// `AZUREML_ENDPOINT_API_KEY`, `AZUREML_ENDPOINT_API_TYPE`, `AZUREML_DEPLOYMENT_NAME`,
    /// `AZUREML_TIMEOUT`, `AZUREML_AUTH`, and `AZUREML_CA_BUNDLE` (a PEM file of CA certificates,
    /// used when no CA or OS trust store was chosen in code). Settings given in code win, whatever
    /// the call order.
    pub fn with_env(mut self) -> Self {
        self.settings.fill_from_env(|name| std::env::var(name).ok());
        self
    }
}

impl<F: ?Sized> Builder<F> {
    /// Resolves the settings for a client of `kind`, with the formatter given or `default`.
    pub(crate) fn resolve_for(
        self,
        kind: ClientKind,
        default: impl FnOnce() -> Arc<F>,
    ) -> Result<(Resolved, Arc<F>)>
    where
        F: Formatter,
    {
        let formatter = self
            .formatter
            .unwrap_or_else(|| WithOrigin::new(default(), Origin::Default));
        let resolved = self.settings.resolve(
            kind,
            formatter.value.tag(),
            formatter.value.supported_api_types(),
            &formatter.origin,
        )?;
        Ok((resolved, formatter.value))
    }
}

impl Settings {
    /// Fills unset values from env vars read through `var` (a seam for tests).
    pub(crate) fn fill_from_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        let env = |name: &'static str| var(name).map(|value| (value, Origin::Env(name)));
        if self.endpoint_url.is_none() {
            self.endpoint_url = env(ENV_ENDPOINT_URL).map(|(v, s)| WithOrigin::new(v, s));
        }
        if self.api_key.is_none() {
            self.api_key = env(ENV_ENDPOINT_API_KEY).map(|(v, s)| WithOrigin::new(ApiKey::new(v), s));
        }
        if self.api_type.is_none() {
            self.api_type = env(ENV_ENDPOINT_API_TYPE).map(|(v, s)| WithOrigin::new(v.parse(), s));
        }
        if self.deployment_name.is_none() {
            self.deployment_name = env(ENV_DEPLOYMENT_NAME).and_then(|(v, s)| deployment(v, s));
        }
        if self.timeout.is_none() {
            self.timeout = env(ENV_TIMEOUT).map(|(v, s)| WithOrigin::new(parse_timeout(&v), s));
        }
        if self.auth.is_none() {
            self.auth = env(ENV_AUTH).map(|(v, s)| WithOrigin::new(v.parse(), s));
        }
        if self.trust.extra.is_empty() && !self.trust.os_store {
            if let Some((path, source)) = env(ENV_CA_BUNDLE).filter(|(v, _)| !v.trim().is_empty()) {
                self.trust.extra.push((CaCertificates::File(path.into()), source));
            }
        }
    }

    /// Validates everything and makes the transport: the one place a client's settings are
    /// checked, in the order their errors are reported.
    pub(crate) fn resolve(
        self,
        kind: ClientKind,
        formatter_tag: &str,
        formatter_api_types: &[ApiType],
        formatter_origin: &Origin,
    ) -> Result<Resolved> {
        let mut origins = Vec::new();
        let api_type = parsed_or_default(
            "endpoint_api_type",
            self.api_type,
            ApiType::Dedicated,
            &mut origins,
        )?;

        let url = required(
            "endpoint_url",
            self.endpoint_url,
            format!("no endpoint URL: pass it to the builder, set `endpoint_url` in the config file, or set {ENV_ENDPOINT_URL}"),
        )?;
        let parsed_url = validate_url(&url.value, &url.origin, api_type, kind, self.allow_insecure_http)?;
        origins.push(("endpoint_url", url.origin));

        let auth = parsed_or_default("auth", self.auth, AuthMode::Key, &mut origins)?;
        let client_id = self
            .client_id
            .map(|id| check_client_id(id, auth, &mut origins))
            .transpose()?;
        let token_scope = match &self.token_scope {
            Some(WithOrigin { value, origin }) => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::config(
                        "token_scope",
                        origin.clone(),
                        format!("{value:?} is not a token scope; use a URL such as {AZURE_ML_SCOPE:?}, without spaces"),
                    ));
                }
                origins.push(("token_scope", origin.clone()));
                Some(value.clone())
            }
            None => None,
        };
        let key = if auth.uses_token() {
            // A key in the environment is ignored: the client signs in with a token.
            None
        } else {
            let key = required(
                "endpoint_api_key",
                self.api_key,
                format!("no API key: pass it to the builder, set {ENV_ENDPOINT_API_KEY}, or set `endpoint_api_key` in a hand-written config file"),
            )?;
            check_key(key.value.expose(), &key.origin)?;
            origins.push(("endpoint_api_key", key.origin));
            Some(key.value)
        };
        let scope = match (&token_scope, auth.uses_token()) {
            (Some(scope), _) => Some(scope.clone()),
            (None, false) => None,
            (None, true) => match scope_for_host(&parsed_url.host) {
                Some(scope) => Some(scope.to_owned()),
                None => {
                    return Err(Error::config(
                        "token_scope",
                        Origin::Default,
                        format!(
                            "no token scope is known for host `{}`: a token is sent only to \
                             *.inference.ml.azure.com, *.openai.azure.com, \
                             *.cognitiveservices.azure.com and *.services.ai.azure.com unless \
                             you set token_scope (--token-scope) for this host",
                            parsed_url.host
                        ),
                    ))
                }
            },
        };

        let deployment_name = match self.deployment_name {
            Some(WithOrigin { value, origin }) => {
                check_header_value("deployment_name", &origin, &value, &format!("{value:?}"))?;
                origins.push(("deployment_name", origin));
                Some(value)
            }
            None => None,
        };
        let timeout = parsed_or_default("timeout", self.timeout, DEFAULT_TIMEOUT, &mut origins)?;
        let connect_timeout = self
            .connect_timeout
            .unwrap_or(Ok(DEFAULT_CONNECT_TIMEOUT))
            .map_err(|message| Error::config("connect_timeout", Origin::Argument, message))?;
        check_extra_headers(
            &self.extra_headers,
            &self.extra_headers_source.unwrap_or(Origin::Argument),
        )?;
        check_formatter_supports(api_type, formatter_tag, formatter_api_types, formatter_origin)?;

        let config = EndpointConfig {
            endpoint_url: url.value,
            api_type,
            deployment_name,
            timeout,
            connect_timeout,
            max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            model_kwargs: self.model_kwargs,
            extra_headers: self.extra_headers,
            allow_insecure_http: self.allow_insecure_http,
            max_response_bytes: self.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            auth,
            client_id,
            token_scope,
            max_idle_connections: self.max_idle_connections.unwrap_or(DEFAULT_MAX_IDLE_CONNECTIONS),
            ca_certificate_files: self.trust.files(),
            use_os_trust_store: self.trust.os_store,
            model: check_model(self.model, api_type, &mut origins)?,
        };
        let auth = match (key.as_ref(), self.credential, scope) {
            (Some(key), _, _) => Auth::Key(key),
            (None, Some(credential), Some(scope)) => Auth::Credential(credential, scope),
            (None, _, scope) => Auth::Mode(auth, config.client_id.as_deref(), scope.unwrap_or_default()),
        };
        let transport = Transport::new(
            &config,
            parsed_url,
            auth,
            config.deployment_name.as_deref(),
            &self.trust,
        )?;
        Ok(Resolved {
            config,
            transport,
            sources: origins,
        })
    }
}

/// Where each resolved setting came from, in resolution order.
type Origins = Vec<(&'static str, Origin)>;

/// A setting parsed late (so an argument can replace a bad env or file value) or its default,
/// with its origin recorded.
fn parsed_or_default<T>(
    key: &'static str,
    given: Option<WithOrigin<std::result::Result<T, String>>>,
    default: T,
    origins: &mut Origins,
) -> Result<T> {
    match given {
        Some(WithOrigin { value, origin }) => {
            let value = value.map_err(|message| Error::config(key, origin.clone(), message))?;
            origins.push((key, origin));
            Ok(value)
        }
        None => {
            origins.push((key, Origin::Default));
            Ok(default)
        }
    }
}

/// A client id, for a mode that takes one.
fn check_client_id(id: WithOrigin<String>, auth: AuthMode, origins: &mut Origins) -> Result<String> {
    if !auth.takes_client_id() {
        return Err(Error::config(
            "client_id",
            id.origin,
            format!(
                "auth `{auth}` takes no client id; it is for managed_identity, workload_identity, \
                 client_secret and default"
            ),
        ));
    }
    check_header_value("client_id", &id.origin, &id.value, &format!("{:?}", id.value))?;
    origins.push(("client_id", id.origin));
    Ok(id.value)
}

/// A setting without a default; `missing` says where it can come from.
fn required<T>(key: &'static str, given: Option<WithOrigin<T>>, missing: String) -> Result<WithOrigin<T>> {
    given.ok_or_else(|| Error::config(key, Origin::Default, missing))
}

fn check_formatter_supports(
    api_type: ApiType,
    tag: &str,
    supported: &[ApiType],
    origin: &Origin,
) -> Result<()> {
    if supported.contains(&api_type) {
        return Ok(());
    }
    let supported: Vec<_> = supported.iter().map(|t| t.as_str()).collect();
    Err(Error::config(
        "formatter",
        origin.clone(),
        format!(
            "formatter `{tag}` does not support api type `{api_type}` (it supports: {}); \
             choose a formatter for {api_type} endpoints, e.g. `custom_openai`",
            supported.join(", ")
        ),
    ))
}

/// A `model` is a non-empty name, for serverless endpoints only.
fn check_model(
    model: Option<WithOrigin<String>>,
    api_type: ApiType,
    origins: &mut Vec<(&'static str, Origin)>,
) -> Result<Option<String>> {
    let Some(WithOrigin { value, origin }) = model else {
        return Ok(None);
    };
    let bad = |message: &str| Err(Error::config("model", origin.clone(), message.to_owned()));
    if value.trim().is_empty() {
        return bad("the model name is empty; give a name or leave `model` unset");
    }
    if api_type == ApiType::Dedicated {
        return bad(
            "`model` applies to serverless endpoints; a dedicated endpoint serves the model its \
             deployment runs: remove `model`, or pin a deployment with `deployment_name`",
        );
    }
    origins.push(("model", origin));
    Ok(Some(value))
}

/// What both clients hold once their settings are valid.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub config: EndpointConfig,
    pub transport: Transport,
    pub sources: Vec<(&'static str, Origin)>,
}
