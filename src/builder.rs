//! The consuming builder shared by both clients, and where settings are resolved and validated.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{
    check_extra_headers, check_header_value, check_key, check_timeout, parse_timeout, validate_url, ApiType,
    ClientKind, EndpointConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT, ENV_DEPLOYMENT_NAME, ENV_ENDPOINT_API_KEY, ENV_ENDPOINT_API_TYPE, ENV_ENDPOINT_URL,
    ENV_TIMEOUT,
};
use crate::error::{Error, Result, Source};
use crate::secret::ApiKey;
use crate::transport::Transport;

/// A value and where it came from, so errors can point at the right place to fix.
#[derive(Clone, Debug)]
pub(crate) struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}

/// A deployment name from `source`; `""` is no name (Python's `save()` writes `""` for none), so
/// a later source can still give one.
pub(crate) fn deployment(name: String, source: Source) -> Option<Sourced<String>> {
    (!name.is_empty()).then(|| Sourced::new(name, source))
}

/// Settings as given, not yet validated. Text from env vars and files is parsed late, so an
/// explicit argument can still replace a bad value before [`Builder::build`] reports it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub endpoint_url: Option<Sourced<String>>,
    pub api_type: Option<Sourced<std::result::Result<ApiType, String>>>,
    pub api_key: Option<Sourced<ApiKey>>,
    pub deployment_name: Option<Sourced<String>>,
    pub timeout: Option<Sourced<std::result::Result<Duration, String>>>,
    pub connect_timeout: Option<std::result::Result<Duration, String>>,
    pub max_retries: Option<u32>,
    pub model_kwargs: Map<String, Value>,
    pub extra_headers: Vec<(String, String)>,
    /// Where `extra_headers` came from; `None` means the builder.
    pub extra_headers_source: Option<Source>,
    pub allow_insecure_http: bool,
    pub max_response_bytes: Option<u64>,
}

/// Builds an [`AzureMlOnlineEndpoint`](crate::AzureMlOnlineEndpoint) or an
/// [`AzureMlChatOnlineEndpoint`](crate::AzureMlChatOnlineEndpoint).
///
/// Use it through its aliases [`AzureMlOnlineEndpointBuilder`](crate::AzureMlOnlineEndpointBuilder)
/// and [`AzureMlChatOnlineEndpointBuilder`](crate::AzureMlChatOnlineEndpointBuilder). Nothing is
/// checked until `build()`, which validates everything at once.
#[derive(Debug)]
pub struct Builder<F: ?Sized> {
    pub(crate) settings: Settings,
    pub(crate) formatter: Option<Sourced<Arc<F>>>,
}

impl<F: ?Sized> Default for Builder<F> {
    fn default() -> Self {
        Builder {
            settings: Settings::default(),
            formatter: None,
        }
    }
}

impl<F: ?Sized> Builder<F> {
    /// The scoring URL. Required (here, in a config file, or in `AZUREML_ENDPOINT_URL`).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint_url = Some(Sourced::new(url.into(), Source::Argument));
        self
    }

    /// The endpoint kind. Defaults to [`ApiType::Dedicated`].
    pub fn api_type(mut self, api_type: ApiType) -> Self {
        self.settings.api_type = Some(Sourced::new(Ok(api_type), Source::Argument));
        self
    }

    /// The endpoint key or Microsoft Entra token: visible ASCII, no spaces or line breaks.
    /// Required (here, in a config file, or in `AZUREML_ENDPOINT_API_KEY`).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.settings.api_key = Some(Sourced::new(key.into(), Source::Argument));
        self
    }

    /// Pins requests to one deployment (`azureml-model-deployment` header); `""` means unset, so
    /// `AZUREML_DEPLOYMENT_NAME` still applies, as in Python. Defaults to none: the endpoint's
    /// traffic split decides.
    pub fn deployment_name(mut self, name: impl Into<String>) -> Self {
        match deployment(name.into(), Source::Argument) {
            Some(name) => self.settings.deployment_name = Some(name),
            // Unset forgets an earlier argument but keeps what `with_env` found.
            None => {
                let set = &mut self.settings.deployment_name;
                if set.as_ref().is_some_and(|d| d.source == Source::Argument) {
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
        self.settings.timeout = Some(Sourced::new(value, Source::Argument));
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

    /// Fills every setting not given yet from the `AZUREML_*` env vars: `AZUREML_ENDPOINT_URL`,
    /// `AZUREML_ENDPOINT_API_KEY`, `AZUREML_ENDPOINT_API_TYPE`, `AZUREML_DEPLOYMENT_NAME`,
    /// `AZUREML_TIMEOUT`. Settings given in code win, whatever the call order.
    pub fn with_env(mut self) -> Self {
        self.settings.fill_from_env(|name| std::env::var(name).ok());
        self
    }
}

impl<F: ?Sized> Builder<F> {
    /// Resolves the settings for a client of `kind`, with the formatter given or `default`.
    /// `describe` gives the formatter's tag and api types (a fn, so it can return borrows).
    pub(crate) fn resolve_for(
        self,
        kind: ClientKind,
        default: impl FnOnce() -> Arc<F>,
        describe: fn(&F) -> (&str, &[ApiType]),
    ) -> Result<(Resolved, Arc<F>)> {
        let Sourced {
            value: formatter,
            source,
        } = self
            .formatter
            .unwrap_or_else(|| Sourced::new(default(), Source::Default));
        let (tag, api_types) = describe(&formatter);
        let resolved = self.settings.resolve(kind, tag, api_types, &source)?;
        Ok((resolved, formatter))
    }
}

impl Settings {
    /// Fills unset values from env vars read through `var` (a seam for tests).
    pub(crate) fn fill_from_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        let env = |name: &'static str| var(name).map(|value| (value, Source::Env(name)));
        if self.endpoint_url.is_none() {
            self.endpoint_url = env(ENV_ENDPOINT_URL).map(|(v, s)| Sourced::new(v, s));
        }
        if self.api_key.is_none() {
            self.api_key = env(ENV_ENDPOINT_API_KEY).map(|(v, s)| Sourced::new(ApiKey::new(v), s));
        }
        if self.api_type.is_none() {
            self.api_type = env(ENV_ENDPOINT_API_TYPE).map(|(v, s)| Sourced::new(v.parse(), s));
        }
        if self.deployment_name.is_none() {
            self.deployment_name = env(ENV_DEPLOYMENT_NAME).and_then(|(v, s)| deployment(v, s));
        }
        if self.timeout.is_none() {
            self.timeout = env(ENV_TIMEOUT).map(|(v, s)| Sourced::new(parse_timeout(&v), s));
        }
    }

    /// Validates everything and makes the transport: the one place a client's settings are checked.
    pub(crate) fn resolve(
        self,
        kind: ClientKind,
        formatter_tag: &str,
        formatter_api_types: &[ApiType],
        formatter_source: &Source,
    ) -> Result<Resolved> {
        let mut sources = Vec::new();
        let api_type = match self.api_type {
            Some(Sourced { value, source }) => {
                let api_type =
                    value.map_err(|message| Error::config("endpoint_api_type", source.clone(), message))?;
                sources.push(("endpoint_api_type", source));
                api_type
            }
            None => {
                sources.push(("endpoint_api_type", Source::Default));
                ApiType::Dedicated
            }
        };
        let Some(Sourced {
            value: endpoint_url,
            source: url_source,
        }) = self.endpoint_url
        else {
            return Err(Error::config(
                "endpoint_url",
                Source::Default,
                format!("no endpoint URL: pass it to the builder, set `endpoint_url` in the config file, or set {ENV_ENDPOINT_URL}"),
            ));
        };
        let url = validate_url(
            &endpoint_url,
            &url_source,
            api_type,
            kind,
            self.allow_insecure_http,
        )?;
        sources.push(("endpoint_url", url_source));

        let Some(Sourced {
            value: key,
            source: key_source,
        }) = self.api_key
        else {
            return Err(Error::config(
                "endpoint_api_key",
                Source::Default,
                format!("no API key: pass it to the builder, set {ENV_ENDPOINT_API_KEY}, or set `endpoint_api_key` in a hand-written config file"),
            ));
        };
        check_key(key.expose(), &key_source)?;
        sources.push(("endpoint_api_key", key_source));

        let deployment_name = match self.deployment_name {
            Some(Sourced { value, source }) => {
                check_header_value("deployment_name", &source, &value, &format!("{value:?}"))?;
                sources.push(("deployment_name", source));
                Some(value)
            }
            None => None,
        };

        let timeout = match self.timeout {
            Some(Sourced { value, source }) => {
                let timeout = value.map_err(|message| Error::config("timeout", source.clone(), message))?;
                sources.push(("timeout", source));
                timeout
            }
            None => {
                sources.push(("timeout", Source::Default));
                DEFAULT_TIMEOUT
            }
        };

        let connect_timeout = self
            .connect_timeout
            .unwrap_or(Ok(DEFAULT_CONNECT_TIMEOUT))
            .map_err(|message| Error::config("connect_timeout", Source::Argument, message))?;

        let headers_source = self.extra_headers_source.unwrap_or(Source::Argument);
        check_extra_headers(&self.extra_headers, &headers_source)?;

        if !formatter_api_types.contains(&api_type) {
            let supported: Vec<_> = formatter_api_types.iter().map(|t| t.as_str()).collect();
            return Err(Error::config(
                "formatter",
                formatter_source.clone(),
                format!(
                    "formatter `{formatter_tag}` does not support api type `{api_type}` (it supports: {}); \
                     choose a formatter for {api_type} endpoints, e.g. `custom_openai`",
                    supported.join(", ")
                ),
            ));
        }

        let config = EndpointConfig {
            endpoint_url,
            api_type,
            deployment_name,
            timeout,
            connect_timeout,
            max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            model_kwargs: self.model_kwargs,
            extra_headers: self.extra_headers,
            allow_insecure_http: self.allow_insecure_http,
            max_response_bytes: self.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        };
        let transport = Transport::new(&config, url, &key, config.deployment_name.as_deref())?;
        Ok(Resolved {
            config,
            transport,
            sources,
        })
    }
}

/// What both clients hold once their settings are valid.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub config: EndpointConfig,
    pub transport: Transport,
    pub sources: Vec<(&'static str, Source)>,
}
