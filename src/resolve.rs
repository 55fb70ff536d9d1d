//! Validating settings once, at build or load: the one place a client's settings are checked,
//! in the order their errors are reported. What comes out never changes.

mod named;

use std::sync::Arc;
use std::time::Duration;

use crate::arm::{AmlTokenCredential, Coordinates};
use crate::config::ParsedUrl;
use crate::config::{
    ApiType, ClientKind, EndpointConfig, Origin, DEFAULT_BATCH_SIZE, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_IDLE_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT,
    MAX_BATCH_SIZE,
};
use crate::credential::{scope_for_host, AuthMode, TokenCredential, AZURE_ML_SCOPE};
use crate::error::{Error, Result};
use crate::secret::ApiKey;
use crate::settings::{FormatterSpec, Setting, Settings};
use crate::transport::{Auth, Clock, Transport, Trust};
use crate::validate::{check_extra_headers, check_header_value, check_key, validate_url};
use named::coordinates;

/// What a client holds once its settings are valid: the config users read, the transport, and
/// the settings as resolved (defaults filled in, with their origins) for saving and showing.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub config: EndpointConfig,
    pub transport: Transport,
    pub settings: Settings,
}

/// The formatter a client was built with, as the checks see it.
pub(crate) struct FormatterFacts<'a> {
    pub spec: FormatterSpec,
    pub api_types: &'a [ApiType],
    pub origin: Origin,
}

/// The value of `setting`, or `default` (recorded with [`Origin::Default`] so the resolved
/// settings show and save it).
fn or_default<T: Clone>(setting: &mut Setting<T>, key: &str, default: T) -> Result<T> {
    let (value, origin) = std::mem::take(setting).get_or(key, default)?;
    *setting = Setting::new(value.clone(), origin);
    Ok(value)
}

/// The value of `setting` if set, with its origin.
fn given<T: Clone>(setting: &Setting<T>, key: &str) -> Result<Option<(T, Origin)>> {
    setting.clone().get(key)
}

/// What was given in code besides the settings, and the one env var that is not a setting.
#[derive(Default)]
pub(crate) struct InCode {
    /// [`Builder::credential`](crate::Builder::credential).
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// [`Builder::arm_credential`](crate::Builder::arm_credential).
    pub arm_credential: Option<Arc<dyn TokenCredential>>,
    /// `AZUREML_ARM_ENDPOINT`, from the builder's env vars or the process.
    pub arm_endpoint: Option<(String, Origin)>,
}

/// Settings that passed every check, before the transport is made (which reads CA files and
/// needs the key or a credential) and, for an endpoint named, before it is looked up.
pub(crate) struct Checked {
    pub config: EndpointConfig,
    pub settings: Settings,
    /// The key and the secondary key given, if any.
    keys: Option<(ApiKey, Option<ApiKey>)>,
    in_code: InCode,
    /// The URL given; `None` when a named endpoint's is looked up.
    url: Option<ParsedUrl>,
    /// The mode given; `None` when a named endpoint's is looked up.
    auth: Option<AuthMode>,
    named: Option<Coordinates>,
    kind: ClientKind,
    trust: Trust,
    /// Every wait between attempts goes through it.
    pub clock: Clock,
}

/// Validates everything; `need_key` is false for saving, which never writes the key.
pub(crate) fn check(
    mut s: Settings,
    in_code: InCode,
    kind: ClientKind,
    formatter: FormatterFacts<'_>,
    need_key: bool,
) -> Result<Checked> {
    let api_type = or_default(&mut s.endpoint_api_type, "endpoint_api_type", ApiType::Dedicated)?;
    let named = coordinates(&mut s)?;
    let allow_insecure_http = or_default(&mut s.allow_insecure_http, "allow_insecure_http", false)?;
    let url = match (given(&s.endpoint_url, "endpoint_url")?, &named) {
        (Some((url, origin)), _) => Some((validate_url(&url, &origin, api_type, kind, allow_insecure_http)?, url)),
        (None, Some(_)) => None,
        (None, None) => return Err(Error::config("endpoint_url", Origin::Default, "no endpoint URL; it comes from the builder, the config file's `endpoint_url` or env var AZUREML_ENDPOINT_URL, or from Azure Resource Manager for an endpoint named with `endpoint_name`")),
    };

    let auth = match given(&s.auth, "auth")? {
        Some((AuthMode::AmlToken, origin)) if named.is_none() => {
            return Err(Error::config(
                "auth",
                origin,
                "`aml_token` gets the endpoint's token from Azure Resource Manager: connect by \
                 name with `endpoint_name`, `workspace_name`, `resource_group` and `subscription_id`",
            ))
        }
        Some((mode, _)) => Some(mode),
        None if named.is_some() => None,
        None => Some(or_default(&mut s.auth, "auth", AuthMode::Key)?),
    };
    let client_id = match given(&s.client_id, "client_id")? {
        Some((id, origin)) => Some(check_client_id(id, origin, auth)?),
        None => None,
    };
    let token_scope = match given(&s.token_scope, "token_scope")? {
        Some((scope, origin)) => {
            if scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::config(
                    "token_scope",
                    origin,
                    format!("{scope:?} is not a token scope; use a URL such as {AZURE_ML_SCOPE:?}, without spaces"),
                ));
            }
            Some(scope)
        }
        None => None,
    };
    let keys = if auth.is_some_and(AuthMode::uses_token) {
        // A key in the environment is ignored: the client signs in with a token.
        None
    } else {
        given_keys(&s, need_key && named.is_none())?
    };
    // The host decides the scope, so a host nobody vouched for never gets a token.
    if let (Some((parsed, _)), Some(mode), None) = (&url, auth, &token_scope) {
        if mode.uses_entra() {
            scope_for(parsed, false)?;
        }
    }

    let deployment_name = match given(&s.deployment_name, "deployment_name")? {
        Some((name, origin)) => {
            check_header_value("deployment_name", &origin, &name, &format!("{name:?}"))?;
            Some(name)
        }
        None => None,
    };
    let timeout = or_default(&mut s.timeout, "timeout", DEFAULT_TIMEOUT)?;
    let connect_timeout = or_default(&mut s.connect_timeout, "connect_timeout", DEFAULT_CONNECT_TIMEOUT)?;
    let max_retries = or_default(&mut s.max_retries, "max_retries", DEFAULT_MAX_RETRIES)?;
    let model_kwargs = or_default(&mut s.model_kwargs, "model_kwargs", Default::default())?;
    let extra_headers = or_default(&mut s.extra_headers, "extra_headers", Vec::new())?;
    let headers_origin = s.extra_headers.origin().cloned().unwrap_or(Origin::Argument);
    check_extra_headers(&extra_headers, &headers_origin)?;
    check_formatter_supports(api_type, &formatter)?;
    s.formatter = Setting::new(formatter.spec, formatter.origin);
    s.content_formatter = Setting::default();
    let max_response_bytes = or_default(
        &mut s.max_response_bytes,
        "max_response_bytes",
        DEFAULT_MAX_RESPONSE_BYTES,
    )?;
    let max_idle_connections = or_default(
        &mut s.max_idle_connections,
        "max_idle_connections",
        DEFAULT_MAX_IDLE_CONNECTIONS,
    )?;
    let trust = trust(&s)?;
    let model = check_model(&s.model, api_type)?;
    let batch_size = check_batch_size(&mut s.batch_size, kind)?;
    let capture_message_content =
        or_default(&mut s.capture_message_content, "capture_message_content", false)?;

    let (url, endpoint_url) = match url {
        Some((parsed, text)) => (Some(parsed), text),
        // Looked up when the client is made.
        None => (None, String::new()),
    };
    let config = EndpointConfig {
        endpoint_url,
        api_type,
        deployment_name,
        timeout,
        connect_timeout,
        max_retries,
        model_kwargs,
        extra_headers,
        allow_insecure_http,
        max_response_bytes,
        auth: auth.unwrap_or_default(),
        client_id,
        token_scope,
        max_idle_connections,
        ca_certificate_files: trust.files(),
        use_os_trust_store: trust.os_store,
        model,
        endpoint_name: named.as_ref().map(|c| c.endpoint.clone()),
        workspace_name: named.as_ref().map(|c| c.workspace.clone()),
        resource_group: named.as_ref().map(|c| c.resource_group.clone()),
        subscription_id: named.as_ref().map(|c| c.subscription.clone()),
        traffic: None,
        proxy: None,
        batch_size,
        capture_message_content,
    };
    // Saved files say "" for no deployment, as Python's do.
    if !s.deployment_name.is_set() {
        s.deployment_name = Setting::new(String::new(), Origin::Default);
    }
    Ok(Checked {
        config,
        settings: s,
        keys,
        in_code,
        url,
        auth,
        named,
        kind,
        trust,
        clock: Clock::default(),
    })
}

/// The key and secondary key given; `need` when nothing else can supply a key.
fn given_keys(s: &Settings, need: bool) -> Result<Option<(ApiKey, Option<ApiKey>)>> {
    let secondary = match given(&s.secondary_api_key, "secondary_api_key")? {
        Some((key, origin)) => {
            check_key(key.expose(), &origin)?;
            Some((key, origin))
        }
        None => None,
    };
    match (given(&s.endpoint_api_key, "endpoint_api_key")?, secondary) {
        (Some((key, origin)), secondary) => {
            check_key(key.expose(), &origin)?;
            Ok(Some((key, secondary.map(|(key, _)| key))))
        }
        (None, Some((_, origin))) => Err(Error::config(
            "secondary_api_key",
            origin,
            "a secondary key is the other key of the one in use: give the primary key too",
        )),
        (None, None) if !need => Ok(None),
        (None, None) => Err(Error::config("endpoint_api_key", Origin::Default, "no API key; it comes from the builder, env var AZUREML_ENDPOINT_API_KEY or `endpoint_api_key` in a hand-written config file")),
    }
}

/// The token scope for an Entra token to `url`: `looked_up` URLs came from Azure Resource
/// Manager, which vouches for them as Azure ML endpoints.
fn scope_for(url: &ParsedUrl, looked_up: bool) -> Result<String> {
    if looked_up {
        return Ok(AZURE_ML_SCOPE.to_owned());
    }
    match scope_for_host(&url.host) {
        Some(scope) => Ok(scope.to_owned()),
        None => Err(Error::config(
            "token_scope",
            Origin::Default,
            format!(
                "no token scope is known for host `{}`: a token is sent only to \
                 *.inference.ml.azure.com, *.openai.azure.com, \
                 *.cognitiveservices.azure.com and *.services.ai.azure.com unless \
                 `token_scope` is set for this host",
                url.host
            ),
        )),
    }
}

impl Checked {
    /// Looks a named endpoint up (its URL, mode, keys or first AML token, as needed), then makes
    /// the transport: reads the CA certificates and sets up the keys or the credential.
    pub(crate) fn into_resolved(self) -> Result<Resolved> {
        let Checked {
            mut config,
            mut settings,
            keys,
            in_code,
            url,
            auth,
            named,
            kind,
            trust,
            clock,
        } = self;
        let arm = match named {
            Some(coordinates) => Some(named::arm(
                coordinates,
                &in_code,
                auth,
                config.client_id.as_deref(),
                &trust,
            )?),
            None => None,
        };
        let facts = match (&arm, &url, auth) {
            (Some(arm), None, _) | (Some(arm), _, None) => Some(arm.endpoint()?),
            _ => None,
        };
        let looked_up = url.is_none();
        let url = match (url, &facts) {
            (Some(url), _) => url,
            (None, Some(facts)) => {
                let url = validate_url(&facts.scoring_uri, &Origin::Lookup, config.api_type, kind, false)?;
                config.endpoint_url.clone_from(&facts.scoring_uri);
                settings.endpoint_url = Setting::new(facts.scoring_uri.clone(), Origin::Lookup);
                url
            }
            // `check` made sure a URL was given or an endpoint named.
            (None, None) => return Err(Error::config("endpoint_url", Origin::Default, "no endpoint URL")),
        };
        let auth = match (auth, &facts) {
            (Some(mode), _) => mode,
            (None, Some(facts)) => {
                settings.auth = Setting::new(facts.auth_mode, Origin::Lookup);
                facts.auth_mode
            }
            (None, None) => AuthMode::Key,
        };
        config.auth = auth;
        config.traffic = facts.map(|facts| facts.traffic);
        let signer = match auth {
            AuthMode::Key => {
                let (primary, secondary) = match (keys, &arm) {
                    (Some(given), _) => given,
                    (None, Some(arm)) => {
                        let (primary, secondary) = arm.keys()?;
                        settings.endpoint_api_key = Setting::new(primary.clone(), Origin::Lookup);
                        if let Some(secondary) = &secondary {
                            settings.secondary_api_key = Setting::new(secondary.clone(), Origin::Lookup);
                        }
                        (primary, secondary)
                    }
                    (None, None) => {
                        return Err(Error::config("endpoint_api_key", Origin::Default, "no API key"))
                    }
                };
                Auth::Keys(primary, secondary)
            }
            AuthMode::AmlToken => {
                let Some(arm) = arm else {
                    return Err(Error::config(
                        "auth",
                        Origin::Argument,
                        "`aml_token` needs an endpoint named with `endpoint_name`",
                    ));
                };
                let first = arm.aml_token()?;
                let label = format!("AML token for endpoint {}", arm.coordinates().endpoint);
                Auth::Credential(Arc::new(AmlTokenCredential::new(Arc::new(arm), first)), label)
            }
            mode => {
                let scope = match &config.token_scope {
                    Some(scope) => scope.clone(),
                    None => scope_for(&url, looked_up)?,
                };
                match in_code.credential {
                    Some(credential) => Auth::Credential(credential, scope),
                    None => Auth::Mode(mode, config.client_id.as_deref(), scope),
                }
            }
        };
        let transport = Transport::new(&config, url, signer, config.deployment_name.as_deref(), &trust)?
            .with_clock(clock);
        config.proxy = transport.proxy();
        Ok(Resolved {
            config,
            transport,
            settings,
        })
    }
}

/// What the client trusts: the CA certificates and the OS store, from one layer.
fn trust(s: &Settings) -> Result<Trust> {
    let mut trust = Trust::default();
    if let Some((list, origin)) = given(&s.ca_certificates, "ca_certificates")? {
        trust.extra = list.into_iter().map(|ca| (ca, origin.clone())).collect();
    }
    if let Some((os_store, _)) = given(&s.use_os_trust_store, "use_os_trust_store")? {
        trust.os_store = os_store;
    }
    Ok(trust)
}

/// A client id, for a mode that takes one (or a mode still to be looked up, whose sign-in to
/// Azure Resource Manager takes one).
fn check_client_id(id: String, origin: Origin, auth: Option<AuthMode>) -> Result<String> {
    if let Some(auth) = auth.filter(|mode| !mode.takes_client_id()) {
        return Err(Error::config(
            "client_id",
            origin,
            format!(
                "auth `{auth}` takes no client id; it is for managed_identity, workload_identity, \
                 client_secret, default and aml_token"
            ),
        ));
    }
    check_header_value("client_id", &origin, &id, &format!("{id:?}"))?;
    Ok(id)
}

fn check_formatter_supports(api_type: ApiType, formatter: &FormatterFacts<'_>) -> Result<()> {
    if formatter.api_types.contains(&api_type) {
        return Ok(());
    }
    let supported: Vec<_> = formatter.api_types.iter().map(|t| t.as_str()).collect();
    Err(Error::config(
        "formatter",
        formatter.origin.clone(),
        format!(
            "formatter `{}` does not support api type `{api_type}` (it supports: {}); \
             choose a formatter for {api_type} endpoints, e.g. `custom_openai`",
            formatter.spec.tag,
            supported.join(", ")
        ),
    ))
}

/// A `model` is a non-empty name, for serverless endpoints only.
fn check_model(model: &Setting<String>, api_type: ApiType) -> Result<Option<String>> {
    let Some((value, origin)) = given(model, "model")? else {
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
    Ok(Some(value))
}

/// The embeddings client's inputs per request (its default filled in); other clients take none.
fn check_batch_size(setting: &mut Setting<u32>, kind: ClientKind) -> Result<u32> {
    if kind != ClientKind::Embeddings {
        return match given(setting, "batch_size")? {
            Some((_, origin)) => Err(Error::config(
                "batch_size",
                origin,
                "`batch_size` applies to the embeddings client (AzureMlEmbeddingsEndpoint), which \
                 sends many inputs per request; remove it",
            )),
            None => Ok(1),
        };
    }
    let size = or_default(setting, "batch_size", DEFAULT_BATCH_SIZE)?;
    if !(1..=MAX_BATCH_SIZE).contains(&size) {
        let origin = setting.origin().cloned().unwrap_or(Origin::Default);
        return Err(Error::config(
            "batch_size",
            origin,
            format!(
                "must be 1 to {MAX_BATCH_SIZE} inputs per request (Azure OpenAI takes at most \
                 {MAX_BATCH_SIZE}, Cohere 96), got {size}"
            ),
        ));
    }
    Ok(size)
}

/// A timeout given in code, checked like every other.
pub(crate) fn timeout_argument(timeout: Duration) -> std::result::Result<Duration, String> {
    crate::config::check_timeout(timeout, format_args!("{timeout:?}"))
}
