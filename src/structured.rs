//! Structured output: asking for JSON (`response_format`) and reading a reply into a `serde` type.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::content::ContentPart;
use crate::error::{Error, ReplyJsonError, Result};
use crate::excerpt::{excerpt, EXCERPT_CHARS};
use crate::message::{ChatCompletion, Completion};

/// What shape the reply must have: the `response_format` parameter, set with
/// [`CallOptions::response_format`](crate::CallOptions::response_format).
///
/// ```
/// use azureml_endpoint::{CallOptions, ResponseFormat};
/// let schema = serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}});
/// let options = CallOptions::new().response_format(ResponseFormat::json_schema("place", schema).strict(true));
/// assert_eq!(options.params()["response_format"]["json_schema"]["name"], "place");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ResponseFormat {
    /// `{"type": "json_object"}`: any JSON object. Most models also need the prompt to say "JSON".
    JsonObject,
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"?}}`: JSON matching `schema`.
    JsonSchema {
        /// A name for the schema (letters, digits, `_` and `-`).
        name: String,
        /// The JSON Schema the reply must match.
        schema: Value,
        /// Whether the service must follow the schema exactly, when set.
        strict: Option<bool>,
    },
}

impl ResponseFormat {
    /// Any JSON object.
    pub fn json_object() -> Self {
        ResponseFormat::JsonObject
    }

    /// JSON matching `schema`, under `name`.
    pub fn json_schema(name: impl Into<String>, schema: Value) -> Self {
        ResponseFormat::JsonSchema {
            name: name.into(),
            schema,
            strict: None,
        }
    }

    /// This schema format with `strict` set; [`JsonObject`](Self::JsonObject) is returned unchanged.
    #[must_use]
    pub fn strict(mut self, value: bool) -> Self {
        if let ResponseFormat::JsonSchema { strict, .. } = &mut self {
            *strict = Some(value);
        }
        self
    }
}

impl From<ResponseFormat> for Value {
    fn from(format: ResponseFormat) -> Self {
        match format {
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema { name, schema, strict } => {
                let mut inner = json!({"name": name, "schema": schema});
                if let (Some(strict), Some(inner)) = (strict, inner.as_object_mut()) {
                    inner.insert("strict".to_owned(), strict.into());
                }
                json!({"type": "json_schema", "json_schema": inner})
            }
        }
    }
}

/// `text` (`what`) read as a `T`; a text fenced as a Markdown code block
/// (```` ```json … ``` ````), as models often write, is read inside the fence.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, what: impl FnOnce() -> String) -> Result<T> {
    serde_json::from_str(unfenced(text)).map_err(|e| {
        Error::ReplyJson(Box::new(ReplyJsonError {
            what: what(),
            reason: e.to_string(),
            excerpt: excerpt(text.as_bytes(), EXCERPT_CHARS),
        }))
    })
}

fn the_reply() -> String {
    "the reply".to_owned()
}

fn unfenced(text: &str) -> &str {
    let trimmed = text.trim();
    trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .and_then(|inner| inner.split_once('\n'))
        .filter(|(language, _)| language.trim().chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or(trimmed, |(_, body)| body)
}

impl ChatCompletion {
    /// The reply's text (its content, then any text parts) read as JSON into `T`.
    /// Anything else is [`Error::ReplyJson`], showing where parsing failed and how the reply begins.
    ///
    /// ```
    /// use azureml_endpoint::{ChatCompletion, ChatMessage};
    /// #[derive(serde::Deserialize)]
    /// struct Place { city: String }
    /// let reply = ChatCompletion::new(ChatMessage::assistant(r#"{"city": "Paris"}"#));
    /// assert_eq!(reply.json::<Place>()?.city, "Paris");
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ReplyJson`] when the reply is not `T` as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let message = &self.message;
        if message.parts.is_empty() {
            return parse(message.text(), the_reply);
        }
        let parts = message.parts.iter().filter_map(ContentPart::as_text);
        parse(
            &std::iter::once(message.text()).chain(parts).collect::<String>(),
            the_reply,
        )
    }
}

impl Completion {
    /// The generated text read as JSON into `T`, as [`ChatCompletion::json`].
    ///
    /// # Errors
    /// [`Error::ReplyJson`] when the text is not `T` as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        parse(&self.text, the_reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_unwrapped_only_when_whole() {
        assert_eq!(unfenced("```json\n{\"a\":1}\n```"), "{\"a\":1}\n");
        assert_eq!(unfenced("  ```\n[1]\n```\n"), "[1]\n");
        assert_eq!(unfenced("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(unfenced("```json {\"a\":1}```"), "```json {\"a\":1}```");
        assert_eq!(unfenced("see ```json\n{}\n```"), "see ```json\n{}\n```");
    }
}
