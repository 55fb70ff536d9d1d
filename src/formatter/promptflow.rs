//! Prompt flow deployments: flows deployed to Azure ML online endpoints, which take the flow's
//! inputs and answer its outputs.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{answer, parse_json, to_body, ChatContentFormatter, ContentFormatter};
use crate::chunk::StreamChunk;
use crate::config::ApiType;
use crate::error::{Error, Result};
use crate::message::{ChatCompletion, ChatMessage, Completion, Role};

pub(super) const TAG: &str = "promptflow";

/// A flow deployed from prompt flow: `{"question": prompt, "chat_history": […]}` →
/// `{"answer": text}`. Dedicated only.
///
/// The chat client sends the last user message as the question and the turns before it as
/// `[{"inputs": {"question": q}, "outputs": {"answer": a}}, …]`; the completion client sends the
/// prompt as the question and no history. The field names are the flow's own, so they are
/// settings (saved in config files next to the tag): [`input_field`](Self::input_field)
/// (default `question`), [`output_field`](Self::output_field) (`answer`) and
/// [`history_field`](Self::history_field) (`chat_history`). Other parameters are sent as further
/// flow inputs.
///
/// Streaming asks with `Accept: text/event-stream`; a flow whose last node streams answers with
/// events `{"answer": "piece"}` (and its other outputs in an event of their own first) until
/// the body ends. A flow that does not stream answers 424, saying the media type is not
/// acceptable.
///
/// ```
/// use azureml_endpoint::{formatter::PromptFlowContentFormatter, ApiType, ChatContentFormatter, ChatMessage};
/// let flow = PromptFlowContentFormatter::default();
/// let conversation = [
///     ChatMessage::user("Hello"),
///     ChatMessage::assistant("Hello! How can I assist you today?"),
///     ChatMessage::user("Glad to know you!"),
/// ];
/// let body = flow.format_messages(&conversation, &Default::default(), ApiType::Dedicated)?;
/// assert_eq!(
///     String::from_utf8_lossy(&body),
///     r#"{"question":"Glad to know you!","chat_history":[{"inputs":{"question":"Hello"},"outputs":{"answer":"Hello! How can I assist you today?"}}]}"#
/// );
/// # Ok::<(), azureml_endpoint::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptFlowContentFormatter {
    input: String,
    output: String,
    history: String,
}

const DEFAULTS: [&str; 3] = ["question", "answer", "chat_history"];
/// The settings' names in config files, in `DEFAULTS` order.
const SETTINGS: [&str; 3] = ["input_field", "output_field", "history_field"];

impl Default for PromptFlowContentFormatter {
    fn default() -> Self {
        let [input, output, history] = DEFAULTS.map(str::to_owned);
        PromptFlowContentFormatter {
            input,
            output,
            history,
        }
    }
}

impl PromptFlowContentFormatter {
    /// The flow input the prompt or question goes in. Defaults to `question`.
    #[must_use]
    pub fn input_field(mut self, name: impl Into<String>) -> Self {
        self.input = name.into();
        self
    }

    /// The flow output the answer comes in. Defaults to `answer`.
    #[must_use]
    pub fn output_field(mut self, name: impl Into<String>) -> Self {
        self.output = name.into();
        self
    }

    /// The flow input the earlier turns of a chat go in. Defaults to `chat_history`.
    #[must_use]
    pub fn history_field(mut self, name: impl Into<String>) -> Self {
        self.history = name.into();
        self
    }

    /// The formatter a config file's settings describe (`input_field`, `output_field`,
    /// `history_field`, each optional).
    ///
    /// # Errors
    /// A message naming the setting when one is unknown, not a string, empty, or two name the
    /// same field.
    pub fn from_settings(settings: &Map<String, Value>) -> std::result::Result<Self, String> {
        let mut names = DEFAULTS.map(str::to_owned);
        for (key, value) in settings {
            let slot = SETTINGS
                .iter()
                .position(|s| s == key)
                .and_then(|i| names.get_mut(i))
                .ok_or_else(|| format!("unknown setting `{key}`; known: {}", SETTINGS.join(", ")))?;
            match value.as_str() {
                Some(name) if !name.is_empty() => *slot = name.to_owned(),
                _ => {
                    return Err(format!(
                        "`{key}` must be a non-empty string (a flow input or output name)"
                    ))
                }
            }
        }
        let [input, output, history] = names;
        if input == history {
            return Err(format!("`input_field` and `history_field` are both `{input}`"));
        }
        Ok(PromptFlowContentFormatter {
            input,
            output,
            history,
        })
    }

    fn to_settings(&self) -> Map<String, Value> {
        SETTINGS
            .iter()
            .zip([&self.input, &self.output, &self.history])
            .map(|(key, value)| ((*key).to_owned(), Value::from(value.as_str())))
            .collect()
    }

    /// The body: the question, the history (chat only), then the other parameters as further
    /// flow inputs; `stream` is not a flow input (streaming is asked for by the `Accept` header).
    fn request(
        &self,
        question: &str,
        history: Option<&[Turn<'_>]>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>> {
        let owned = [Some(&self.input), history.map(|_| &self.history)];
        if let Some(name) = owned
            .into_iter()
            .flatten()
            .find(|name| params.contains_key(name.as_str()))
        {
            return Err(Error::input(format!(
                "`{name}` is set from the conversation you pass; remove it from the parameters"
            )));
        }
        let body = Body {
            flow: self,
            question,
            history,
            params,
        };
        to_body(TAG, &body)
    }

    /// The answer in a whole (non-streamed) reply.
    fn text(&self, body: &[u8], api_type: ApiType) -> Result<String> {
        let json = parse_json(TAG, api_type, body)?;
        match json.get(&self.output) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(Error::response(
                TAG,
                api_type,
                &format!("{{{:?}: string}}", self.output),
                body,
            )),
        }
    }

    /// One streamed event: the output field's piece, or nothing for an event of other outputs.
    fn event(&self, data: &[u8]) -> Option<StreamChunk> {
        let json: Map<String, Value> = serde_json::from_slice(data).ok()?;
        if json.get("error").is_some_and(|e| !e.is_null()) {
            return None;
        }
        match json.get(&self.output) {
            None | Some(Value::Null) => Some(StreamChunk::default()),
            Some(Value::String(piece)) => Some(StreamChunk::new(piece.as_str())),
            Some(_) => None,
        }
    }
}

/// One earlier question and its answer.
type Turn<'a> = (&'a str, &'a str);

struct Body<'a> {
    flow: &'a PromptFlowContentFormatter,
    question: &'a str,
    history: Option<&'a [Turn<'a>]>,
    params: &'a Map<String, Value>,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(&self.flow.input, self.question)?;
        if let Some(history) = self.history {
            let turns: Vec<Value> = history
                .iter()
                .map(|(question, answer)| {
                    let one = |key: &str, value: &str| {
                        Value::Object(Map::from_iter([(key.to_owned(), value.into())]))
                    };
                    let mut turn = Map::new();
                    turn.insert("inputs".to_owned(), one(&self.flow.input, question));
                    turn.insert("outputs".to_owned(), one(&self.flow.output, answer));
                    Value::Object(turn)
                })
                .collect();
            map.serialize_entry(&self.flow.history, &turns)?;
        }
        for (key, value) in self.params.iter().filter(|(key, _)| key.as_str() != "stream") {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The question (the last message, from the user) and the question-answer pairs before it.
fn turns(messages: &[ChatMessage]) -> Result<(&str, Vec<Turn<'_>>)> {
    let text = |m: &'_ ChatMessage| -> Result<()> {
        match (&m.content, m.parts.is_empty(), m.tool_calls.is_empty()) {
            (Some(_), true, true) => Ok(()),
            _ => Err(Error::input(
                "a prompt flow takes text messages only (no content parts, tool calls or null content)"
                    .to_owned(),
            )),
        }
    };
    let Some((last, earlier)) = messages.split_last() else {
        return Err(Error::input(
            "the conversation is empty: pass at least one message".to_owned(),
        ));
    };
    if last.role != Role::User {
        return Err(Error::input(format!(
            "a prompt flow answers the last message, which must be from the user, not `{}`",
            last.role.as_str()
        )));
    }
    text(last)?;
    let mut pairs = Vec::with_capacity(earlier.len() / 2);
    let mut rest = earlier.iter();
    while let Some(question) = rest.next() {
        let answer = rest.next();
        match (&question.role, answer.map(|a| &a.role)) {
            (Role::User, Some(Role::Assistant)) => {}
            _ => {
                return Err(Error::input(
                    "a prompt flow's chat history is user and assistant turns in pairs \
                     (no system or tool messages: the flow has its own prompt)"
                        .to_owned(),
                ))
            }
        }
        text(question)?;
        if let Some(answer) = answer {
            text(answer)?;
            pairs.push((question.text(), answer.text()));
        }
    }
    Ok((last.text(), pairs))
}

impl ContentFormatter for PromptFlowContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_request(&self, prompt: &str, params: &Map<String, Value>, _: ApiType) -> Result<Vec<u8>> {
        self.request(prompt, None, params)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        self.text(body, api_type).map(|text| answer(&text))
    }

    fn parse_stream_event(&self, data: &[u8], _: ApiType) -> Option<StreamChunk> {
        self.event(data)
    }

    fn streams_on_dedicated(&self) -> bool {
        true
    }

    fn settings(&self) -> Map<String, Value> {
        self.to_settings()
    }
}

impl ChatContentFormatter for PromptFlowContentFormatter {
    fn tag(&self) -> &str {
        TAG
    }

    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }

    fn format_messages(
        &self,
        messages: &[ChatMessage],
        params: &Map<String, Value>,
        _: ApiType,
    ) -> Result<Vec<u8>> {
        let (question, history) = turns(messages)?;
        self.request(question, Some(&history), params)
    }

    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
        let Completion { text, reasoning, .. } = answer(&self.text(body, api_type)?);
        Ok(ChatCompletion {
            reasoning,
            ..ChatCompletion::new(ChatMessage::assistant(text))
        })
    }

    fn parse_stream_event(&self, data: &[u8], _: ApiType) -> Option<StreamChunk> {
        self.event(data)
    }

    fn streams_on_dedicated(&self) -> bool {
        true
    }

    fn settings(&self) -> Map<String, Value> {
        self.to_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(flow: &PromptFlowContentFormatter, messages: &[ChatMessage], params: Value) -> Result<Value> {
        let params = params.as_object().cloned().unwrap_or_default();
        let bytes = ChatContentFormatter::format_messages(flow, messages, &params, ApiType::Dedicated)?;
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[test]
    fn field_names_are_settings_and_round_trip() {
        let settings = json!({"input_field": "query", "output_field": "reply", "history_field": "turns"});
        let flow = PromptFlowContentFormatter::from_settings(settings.as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(flow.to_settings()), settings);
        let messages = [
            ChatMessage::user("a"),
            ChatMessage::assistant("b"),
            ChatMessage::user("c"),
        ];
        assert_eq!(
            body(&flow, &messages, json!({"stream": true, "top_k": 3})).unwrap(),
            json!({"query": "c", "turns": [{"inputs": {"query": "a"}, "outputs": {"reply": "b"}}], "top_k": 3})
        );
        assert_eq!(
            ContentFormatter::format_response(
                &flow,
                br#"{"reply": "x", "answer": "no"}"#,
                ApiType::Dedicated
            )
            .unwrap()
            .text,
            "x"
        );
        assert_eq!(flow.event(br#"{"reply": "x"}"#), Some(StreamChunk::new("x")));
        assert_eq!(flow.event(br#"{"url": ["u"]}"#), Some(StreamChunk::default()));
        assert_eq!(flow.event(br#"{"reply": 5}"#), None);
        assert_eq!(flow.event(br#"{"error": {"message": "m"}}"#), None);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let err = |v: Value| PromptFlowContentFormatter::from_settings(v.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err(json!({"input": "q"})),
            "unknown setting `input`; known: input_field, output_field, history_field"
        );
        assert_eq!(
            err(json!({"output_field": ""})),
            "`output_field` must be a non-empty string (a flow input or output name)"
        );
        assert_eq!(
            err(json!({"history_field": "question"})),
            "`input_field` and `history_field` are both `question`"
        );
    }

    #[test]
    fn conversations_a_flow_cannot_take_are_input_errors() {
        let flow = PromptFlowContentFormatter::default();
        let cases = [
            (vec![], "invalid input: the conversation is empty: pass at least one message"),
            (
                vec![ChatMessage::user("a"), ChatMessage::assistant("b")],
                "invalid input: a prompt flow answers the last message, which must be from the user, not `assistant`",
            ),
            (
                vec![ChatMessage::system("s"), ChatMessage::user("a")],
                "invalid input: a prompt flow's chat history is user and assistant turns in pairs \
                 (no system or tool messages: the flow has its own prompt)",
            ),
            (
                vec![ChatMessage::user("a"), ChatMessage::user("b")],
                "invalid input: a prompt flow's chat history is user and assistant turns in pairs \
                 (no system or tool messages: the flow has its own prompt)",
            ),
        ];
        for (messages, expected) in cases {
            let error = body(&flow, &messages, json!({})).unwrap_err().to_string();
            assert_eq!(error, expected);
        }
        let error = body(&flow, &[ChatMessage::user("a")], json!({"question": "b"})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid input: `question` is set from the conversation you pass; remove it from the parameters"
        );
    }

    #[test]
    fn a_reply_without_the_output_is_the_wrong_shape() {
        let flow = PromptFlowContentFormatter::default();
        let error =
            ContentFormatter::format_response(&flow, br#"{"answer": 5}"#, ApiType::Dedicated).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unexpected response for formatter `promptflow` on a dedicated endpoint: expected \
             {\"answer\": string}, got \"{\\\"answer\\\": 5}\" (is this the right formatter for this model?)"
        );
    }
}
