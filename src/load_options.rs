//! What a caller passes when loading a saved config: a builder whose settings win over the
//! file's.

use crate::builder::{Builder, Load};
use crate::config::Origin;
use crate::settings::{FormatterSpec, Setting};

/// Settings passed in code when loading a config file: the [`Builder`] setters, whose values win
/// over the file, which wins over the `AZUREML_*` env vars (read unless
/// [`env_vars`](Builder::env_vars) gives others), which win over the defaults.
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
pub type LoadOptions = Builder<Load>;

impl Builder<Load> {
    /// No settings given; env vars from the process.
    pub fn new() -> Self {
        Self::default()
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
    pub fn formatter(mut self, tag: impl Into<String>) -> Self {
        let spec = FormatterSpec {
            tag: tag.into(),
            settings: serde_json::Map::new(),
        };
        self.settings.formatter = Setting::new(spec, Origin::Argument);
        self
    }
}
