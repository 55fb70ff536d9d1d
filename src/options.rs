//! Per-call parameters and how they merge with the client's `model_kwargs`.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::check_timeout;
use crate::error::{Error, Result};
use crate::structured::ResponseFormat;
use crate::tools::{Tool, ToolChoice};
use crate::validate::header_rule;

/// Options for one call: extra model parameters, stop words and an HTTP timeout.
///
/// Nothing here changes the client: the next call starts again from its `model_kwargs`.
///
/// ```
/// use azureml_endpoint::CallOptions;
/// let options = CallOptions::new().param("temperature", 0.1).stop(["\n\n"]);
/// assert_eq!(options.params()["temperature"], 0.1);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct CallOptions {
    params: Map<String, Value>,
    stop: Vec<String>,
    timeout: Option<Duration>,
    max_concurrency: usize,
    headers: Vec<(String, String)>,
}

impl CallOptions {
    /// No extra parameters, no stop words, the client's timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one model parameter for this call; it wins over the same key in `model_kwargs`.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Sets several model parameters for this call.
    pub fn params_from(mut self, params: Map<String, Value>) -> Self {
        self.params.extend(params);
        self
    }

    /// Asks for JSON (the `response_format` parameter); read the reply with
    /// [`ChatCompletion::json`](crate::ChatCompletion::json).
    pub fn response_format(self, format: ResponseFormat) -> Self {
        self.param("response_format", format)
    }

    /// Functions the model may call (the `tools` parameter); its calls come back in the reply's
    /// [`tool_calls`](crate::ChatMessage::tool_calls).
    pub fn tools(self, tools: impl IntoIterator<Item = Tool>) -> Self {
        let tools: Vec<Value> = tools.into_iter().map(Value::from).collect();
        self.param("tools", tools)
    }

    /// Whether and which tool the model must call (the `tool_choice` parameter).
    pub fn tool_choice(self, choice: ToolChoice) -> Self {
        self.param("tool_choice", choice)
    }

    /// Stop sequences; a non-empty list is sent as the `stop` parameter.
    pub fn stop<S: Into<String>>(mut self, stop: impl IntoIterator<Item = S>) -> Self {
        self.stop = stop.into_iter().map(Into::into).collect();
        self
    }

    /// The HTTP deadline for this call, instead of the client's `timeout`. Never sent to the model.
    /// It must be between 1 ms and a day, as the client's: otherwise the call fails with
    /// [`Error::Input`] before anything is sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// For `generate`: how many requests run at once, on threads sharing the client's connection
    /// pool. Defaults to 1 (one after another).
    pub fn max_concurrency(mut self, max_concurrency: usize) -> Self {
        self.max_concurrency = max_concurrency;
        self
    }

    /// Sends a header on this call only (repeatable). It replaces an `extra_headers` entry of
    /// the same name (case-insensitive) for this call. The headers the client sets itself
    /// (`Authorization`, `api-key`, `Content-Type`, `Accept`, `Host`, `Content-Length`,
    /// `Transfer-Encoding`, `Connection`) and values with control characters are refused with
    /// [`Error::Input`] naming the header, before anything is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Tells an Azure serverless endpoint what to do with body parameters its model does not
    /// know (the `extra-parameters` header). Without it the endpoint rejects them with a 400,
    /// a common surprise when passing a provider-specific parameter.
    ///
    /// ```
    /// use azureml_endpoint::{CallOptions, ExtraParameters};
    /// let options = CallOptions::new().extra_parameters(ExtraParameters::PassThrough);
    /// assert_eq!(options.headers(), [("extra-parameters".to_owned(), "pass-through".to_owned())]);
    /// ```
    pub fn extra_parameters(self, policy: ExtraParameters) -> Self {
        self.header("extra-parameters", policy.as_str())
    }

    /// The headers set for this call, in the order they were set.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The headers set for this call, checked by the rule `extra_headers` follow.
    pub(crate) fn checked_headers(&self) -> Result<&[(String, String)]> {
        for (name, value) in &self.headers {
            header_rule(name, value, ("a per-call header", "the per-call headers"))
                .map_err(|message| Error::input(format!("`CallOptions::header`: {message}")))?;
        }
        Ok(&self.headers)
    }

    /// The concurrency set for `generate` (at least 1).
    pub fn concurrency(&self) -> usize {
        self.max_concurrency.max(1)
    }

    /// The parameters set for this call.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The stop sequences set for this call.
    pub fn stop_sequences(&self) -> &[String] {
        &self.stop
    }

    /// The timeout set for this call, if any.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The timeout set for this call, checked as the client's timeout is.
    pub(crate) fn checked_timeout(&self) -> Result<Option<Duration>> {
        self.timeout
            .map(|t| {
                check_timeout(t, format_args!("{t:?}"))
                    .map_err(|message| Error::input(format!("`CallOptions::timeout` {message}")))
            })
            .transpose()
    }

    /// `model_kwargs` with this call's parameters over them, key by key, in the user's order.
    pub(crate) fn merge<'a>(&self, model_kwargs: &'a Map<String, Value>) -> Cow<'a, Map<String, Value>> {
        if self.params.is_empty() && self.stop.is_empty() {
            return Cow::Borrowed(model_kwargs);
        }
        let mut merged = model_kwargs.clone();
        merged.extend(self.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        if !self.stop.is_empty() {
            merged.insert("stop".to_owned(), self.stop.clone().into());
        }
        Cow::Owned(merged)
    }
}

impl std::fmt::Debug for CallOptions {
    // A per-call header may carry a token: only names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("params", &self.params)
            .field("stop", &self.stop)
            .field("timeout", &self.timeout)
            .field("max_concurrency", &self.max_concurrency)
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What an Azure serverless endpoint does with body parameters its model does not know: the
/// values of the `extra-parameters` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraParameters {
    /// `pass-through`: sends them on to the model.
    PassThrough,
    /// `drop`: removes them from the request.
    Drop,
    /// `error`: rejects the request (the service's default).
    Error,
}

impl ExtraParameters {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtraParameters::PassThrough => "pass-through",
            ExtraParameters::Drop => "drop",
            ExtraParameters::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn call_values_win_and_keep_configured_order() {
        let kwargs = json!({"temperature": 0.8, "max_tokens": 10, "stop": ["a"]});
        let kwargs = kwargs.as_object().unwrap();
        let options = CallOptions::new()
            .param("top_p", 0.5)
            .param("temperature", 0.1)
            .stop(["b"]);
        let merged = options.merge(kwargs);
        assert_eq!(
            serde_json::to_string(&*merged).unwrap(),
            r#"{"temperature":0.1,"max_tokens":10,"stop":["b"],"top_p":0.5}"#
        );
        assert_eq!(kwargs["temperature"], 0.8, "the client's kwargs are untouched");
    }

    #[test]
    fn debug_shows_header_names_only() {
        let options = CallOptions::new().header("x-token", "secret-value");
        assert_eq!(
            format!("{options:?}"),
            r#"CallOptions { params: {}, stop: [], timeout: None, max_concurrency: 0, headers: ["x-token"] }"#
        );
    }

    #[test]
    fn empty_stop_keeps_configured_stop() {
        let kwargs = json!({"stop": ["a"]});
        let merged = CallOptions::new()
            .stop(Vec::<String>::new())
            .merge(kwargs.as_object().unwrap());
        assert_eq!(merged["stop"], json!(["a"]));
    }
}
