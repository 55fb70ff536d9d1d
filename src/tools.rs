//! Tools the model may call: their definitions, the `tool_choice`, and reading a call's arguments.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::Result;
use crate::message::ToolCall;

/// A function the model may call, sent in the `tools` parameter with
/// [`CallOptions::tools`](crate::CallOptions::tools).
///
/// ```
/// use azureml_endpoint::Tool;
/// let weather = Tool::function(
///     "get_weather",
///     "Current weather in a city",
///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
/// );
/// assert_eq!(serde_json::Value::from(weather)["function"]["name"], "get_weather");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Tool {
    /// The function's name, as the model will call it.
    pub name: String,
    /// What it does and when to call it: the model reads this.
    pub description: String,
    /// A JSON Schema of its arguments (an `object` schema).
    pub parameters: Value,
}

impl Tool {
    /// A function tool.
    pub fn function(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Tool {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

impl From<Tool> for Value {
    fn from(tool: Tool) -> Self {
        json!({"type": "function", "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }})
    }
}

/// Whether and which tool the model must call: the `tool_choice` parameter, set with
/// [`CallOptions::tool_choice`](crate::CallOptions::tool_choice).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolChoice {
    /// `"auto"`: the model decides (the default when tools are given).
    Auto,
    /// `"none"`: answer in text.
    None,
    /// `"required"`: call at least one tool.
    Required,
    /// `{"type": "function", "function": {"name": …}}`: call this one.
    Function(String),
}

impl From<ToolChoice> for Value {
    fn from(choice: ToolChoice) -> Self {
        match choice {
            ToolChoice::Auto => "auto".into(),
            ToolChoice::None => "none".into(),
            ToolChoice::Required => "required".into(),
            ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
        }
    }
}

impl ToolCall {
    /// The call's arguments read into `T`. Models make mistakes: arguments that are not that
    /// JSON are [`Error::ReplyJson`](crate::Error::ReplyJson), naming the function and showing
    /// how the arguments start, fit to send back to the model as the tool's answer.
    ///
    /// ```
    /// use azureml_endpoint::ToolCall;
    /// #[derive(serde::Deserialize)]
    /// struct Weather { city: String }
    /// let call = ToolCall::function("call_1", "get_weather", r#"{"city": "Paris"}"#);
    /// assert_eq!(call.arguments::<Weather>()?.city, "Paris");
    /// # Ok::<(), azureml_endpoint::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ReplyJson`](crate::Error::ReplyJson) when the arguments are not `T` as JSON.
    pub fn arguments<T: DeserializeOwned>(&self) -> Result<T> {
        crate::structured::parse(&self.function.arguments, || {
            format!("the arguments of tool call `{}`", self.function.name)
        })
    }
}
