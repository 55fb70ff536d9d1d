//! Validating settings once, at build or load: the one place a client's settings are checked,
//! in the order their errors are reported. What comes out never changes.

use std::sync::Arc;
use std::time::Duration;

use crate::config::ParsedUrl;
use crate::config::{
    ApiType, ClientKind, EndpointConfig, Origin, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_IDLE_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT,
};
use crate::credential::{scope_for_host, AuthMode, TokenCredential, AZURE_ML_SCOPE};
use crate::error::{Error, Result};
use crate::secret::ApiKey;
use crate::settings::{FormatterSpec, Setting, Settings};
use crate::transport::{Auth, Transport, Trust};
use crate::validate::{check_extra_headers, check_header_value, check_key, validate_url};

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

/// Settings that passed every check, before the transport is made (which reads CA files and
/// needs the key or a credential).
pub(crate) struct Checked {
    pub config: EndpointConfig,
    pub settings: Settings,
    key: Option<ApiKey>,
    scope: Option<String>,
    credential: Option<Arc<dyn TokenCredential>>,
    url: ParsedUrl,
    trust: Trust,
}

/// Validates everything; `need_key` is false for saving, which never writes the key.
pub(crate) fn check(
    mut s: Settings,
    credential: Option<Arc<dyn TokenCredential>>,
    kind: ClientKind,
    formatter: FormatterFacts<'_>,
    need_key: bool,
) -> Result<Checked> {
    let api_type = or_default(&mut s.endpoint_api_type, "endpoint_api_type", ApiType::Dedicated)?;
    let Some((url, url_origin)) = given(&s.endpoint_url, "endpoint_url")? else {
        return Err(Error::config("endpoint_url", Origin::Default, "no endpoint URL; it comes from the builder, the config file's `endpoint_url` or env var AZUREML_ENDPOINT_URL"));
    };
    let allow_insecure_http = or_default(&mut s.allow_insecure_http, "allow_insecure_http", false)?;
    let parsed_url = validate_url(&url, &url_origin, api_type, kind, allow_insecure_http)?;

    let auth = or_default(&mut s.auth, "auth", AuthMode::Key)?;
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
    let key = if auth.uses_token() {
        // A key in the environment is ignored: the client signs in with a token.
        None
    } else {
        match given(&s.endpoint_api_key, "endpoint_api_key")? {
            Some((key, origin)) => {
                check_key(key.expose(), &origin)?;
                Some(key)
            }
            None if !need_key => None,
            None => return Err(Error::config("endpoint_api_key", Origin::Default, "no API key; it comes from the builder, env var AZUREML_ENDPOINT_API_KEY or `endpoint_api_key` in a hand-written config file")),
        }
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
                         `token_scope` is set for this host",
                        parsed_url.host
                    ),
                ))
            }
        },
    };

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
    let capture_message_content =
        or_default(&mut s.capture_message_content, "capture_message_content", false)?;

    let config = EndpointConfig {
        endpoint_url: url,
        api_type,
        deployment_name,
        timeout,
        connect_timeout,
        max_retries,
        model_kwargs,
        extra_headers,
        allow_insecure_http,
        max_response_bytes,
        auth,
        client_id,
        token_scope,
        max_idle_connections,
        ca_certificate_files: trust.files(),
        use_os_trust_store: trust.os_store,
        model,
        capture_message_content,
    };
    // Saved files say "" for no deployment, as Python's do.
    if !s.deployment_name.is_set() {
        s.deployment_name = Setting::new(String::new(), Origin::Default);
    }
    Ok(Checked {
        config,
        settings: s,
        key,
        scope,
        credential,
        url: parsed_url,
        trust,
    })
}

impl Checked {
    /// Makes the transport: reads the CA certificates and sets up the key or the credential.
    pub(crate) fn into_resolved(self) -> Result<Resolved> {
        let Checked {
            config,
            settings,
            key,
            scope,
            credential,
            url,
            trust,
        } = self;
        let auth = match (key.as_ref(), credential, scope) {
            (Some(key), _, _) => Auth::Key(key),
            (None, Some(credential), Some(scope)) => Auth::Credential(credential, scope),
            (None, _, scope) => Auth::Mode(
                config.auth,
                config.client_id.as_deref(),
                scope.unwrap_or_default(),
            ),
        };
        let transport = Transport::new(&config, url, auth, config.deployment_name.as_deref(), &trust)?;
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

/// A client id, for a mode that takes one.
fn check_client_id(id: String, origin: Origin, auth: AuthMode) -> Result<String> {
    if !auth.takes_client_id() {
        return Err(Error::config(
            "client_id",
            origin,
            format!(
                "auth `{auth}` takes no client id; it is for managed_identity, workload_identity, \
                 client_secret and default"
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

/// A timeout given in code, checked like every other.
pub(crate) fn timeout_argument(timeout: Duration) -> std::result::Result<Duration, String> {
    crate::config::check_timeout(timeout, format_args!("{timeout:?}"))
}
