//! What a caller passes when loading a saved config: settings that win over the file's.

use std::collections::HashMap;
use std::time::Duration;

use crate::builder::{Builder, Settings};
use crate::config::ApiType;
use crate::secret::ApiKey;

/// Settings passed in code when loading a config file. They win over the file, which wins over
/// the `AZUREML_*` env vars, which win over the defaults.
///
/// The key comes from [`api_key`](Self::api_key), else `endpoint_api_key` in the file, else
/// `AZUREML_ENDPOINT_API_KEY`. `allow_insecure_http`, `connect_timeout` and `max_response_bytes`
/// are never saved: they are the loading program's policy, set here.
///
/// ```
/// use std::time::Duration;
/// use azureml_endpoint::LoadOptions;
///
/// let _options = LoadOptions::new()
///     .api_key("from-a-vault")
///     .timeout(Duration::from_secs(120))
///     .env_vars([("AZUREML_ENDPOINT_URL", "https://e.eastus2.inference.ml.azure.com/score")]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub(crate) explicit: Settings,
    pub(crate) env: Option<HashMap<String, String>>,
    pub(crate) formatter: Option<String>,
}

impl LoadOptions {
    /// No explicit settings; env vars from the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one of [`Builder`]'s setters, so both validate and record sources alike.
    fn with(self, set: impl FnOnce(Builder<()>) -> Builder<()>) -> Self {
        let builder = set(Builder {
            settings: self.explicit,
            formatter: None,
        });
        LoadOptions {
            explicit: builder.settings,
            ..self
        }
    }

    /// The scoring URL, over the file's `endpoint_url`. Defaults to the file, then
    /// `AZUREML_ENDPOINT_URL`.
    pub fn endpoint_url(self, url: impl Into<String>) -> Self {
        self.with(|b| b.endpoint_url(url))
    }

    /// The endpoint kind, over the file's `endpoint_api_type`. Defaults to the file, then
    /// `AZUREML_ENDPOINT_API_TYPE`, then [`ApiType::Dedicated`].
    pub fn api_type(self, api_type: ApiType) -> Self {
        self.with(|b| b.api_type(api_type))
    }

    /// The key or token. Defaults to the file's `endpoint_api_key`, then
    /// `AZUREML_ENDPOINT_API_KEY`.
    pub fn api_key(self, key: impl Into<ApiKey>) -> Self {
        self.with(|b| b.api_key(key))
    }

    /// The deployment to pin; `""` is unset, so the file's, then `AZUREML_DEPLOYMENT_NAME`,
    /// applies. Defaults to the file, then `AZUREML_DEPLOYMENT_NAME`.
    pub fn deployment_name(self, name: impl Into<String>) -> Self {
        self.with(|b| b.deployment_name(name))
    }

    /// The request timeout (1 ms to a day). Defaults to the file, then `AZUREML_TIMEOUT`, then
    /// 50 s.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|b| b.timeout(timeout))
    }

    /// Further attempts after the first. Defaults to the file, then 3.
    pub fn max_retries(self, retries: u32) -> Self {
        self.with(|b| b.max_retries(retries))
    }

    /// Deadline for making a connection (never saved; 1 ms to a day). Defaults to 10 s.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.with(|b| b.connect_timeout(timeout))
    }

    /// Cap on a response body (never saved). Defaults to 32 MiB.
    pub fn max_response_bytes(self, limit: u64) -> Self {
        self.with(|b| b.max_response_bytes(limit))
    }

    /// Idle connections kept for reuse (never saved). Defaults to 32; see
    /// [`Builder::max_idle_connections`](crate::Builder::max_idle_connections).
    pub fn max_idle_connections(self, connections: usize) -> Self {
        self.with(|b| b.max_idle_connections(connections))
    }

    /// Trusts the CA certificates in a PEM file instead of Mozilla's roots (never saved); see
    /// [`Builder::add_root_certificates_file`](crate::Builder::add_root_certificates_file).
    pub fn add_root_certificates_file(self, path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        self.with(|b| b.add_root_certificates_file(path))
    }

    /// Verifies TLS with the OS trust store (never saved); see
    /// [`Builder::use_os_trust_store`](crate::Builder::use_os_trust_store).
    pub fn use_os_trust_store(self, use_it: bool) -> Self {
        self.with(|b| b.use_os_trust_store(use_it))
    }

    /// Allows plain `http` to a non-loopback host (never saved: a file cannot opt in to sending
    /// the key in clear text). Defaults to `false`.
    pub fn allow_insecure_http(self, allow: bool) -> Self {
        self.with(|b| b.allow_insecure_http(allow))
    }

    /// How the client signs in, over the file's `auth`. Defaults to the file, then
    /// `AZUREML_AUTH`, then [`AuthMode::Key`](crate::credential::AuthMode::Key).
    pub fn auth(self, mode: crate::credential::AuthMode) -> Self {
        self.with(|b| b.auth(mode))
    }

    /// A credential of your own, over the file's `auth` (see [`Builder::credential`]).
    pub fn credential(self, credential: impl crate::credential::TokenCredential + 'static) -> Self {
        self.with(|b| b.credential(credential))
    }

    /// The token scope, over the file's `token_scope`. Defaults to the file, then the scope of
    /// the endpoint's host.
    pub fn token_scope(self, scope: impl Into<String>) -> Self {
        self.with(|b| b.token_scope(scope))
    }

    /// The identity to sign in as, over the file's `client_id`. Defaults to the file.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.with(|b| b.client_id(client_id))
    }

    /// The body's `"model"` on a serverless endpoint. Defaults to the file's `model`.
    pub fn model(self, name: impl Into<String>) -> Self {
        self.with(|b| b.model(name))
    }

    /// Reads the `AZUREML_*` settings from these pairs instead of the process environment (for
    /// tests, or a program that keeps its own). An empty list means no env vars at all.
    /// Defaults to the process environment.
    pub fn env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// The formatter by tag, alias or Python class name (built-in, or registered with the
    /// [`Registry`](crate::Registry)), over the file's `formatter`, which it replaces whatever tag that names; it
    /// takes no settings. Defaults to the file's, then the client's default.
    ///
    /// ```
    /// use azureml_endpoint::{LoadOptions, Registry};
    ///
    /// let path = std::env::temp_dir().join(format!("azureml-doc-fmt-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"_type": "azureml_endpoint", "formatter": {"_type": "hf"},
    ///     "endpoint_url": "https://e.eastus2.inference.ml.azure.com/score"}"#)?;
    /// let options = LoadOptions::new().api_key("k").formatter("GPT2ContentFormatter");
    /// let llm = Registry::new().load_with(&path, &options)?.into_completion()?;
    /// assert_eq!(llm.formatter().tag(), "gpt2");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn formatter(self, tag: impl Into<String>) -> Self {
        LoadOptions {
            formatter: Some(tag.into()),
            ..self
        }
    }
}
