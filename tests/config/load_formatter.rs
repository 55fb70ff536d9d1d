//! `LoadOptions::formatter`: a formatter given to the loader wins over the file's (docs/config.md:
//! argument > file > default), looked up like the file's tag, with errors naming the argument.

use crate::support::TempDir;
use std::path::PathBuf;

use azureml_endpoint::formatter::completion_formatter;
use azureml_endpoint::{Error, LoadOptions, Origin, Registry};

/// A config file in its own temp folder, removed when dropped.
struct File(PathBuf, #[allow(dead_code)] TempDir);

impl File {
    fn new(name: &str, json: &str) -> Self {
        let dir = TempDir::new(name);
        File(dir.write("azureml.json", json), dir)
    }
}

const WITH_HF: &str = r#"{"_type": "azureml_endpoint", "formatter": {"_type": "hf"},
    "endpoint_url": "https://e.eastus2.inference.ml.azure.com/score"}"#;
const CHAT_WITHOUT_FORMATTER: &str = r#"{"_type": "azureml_chat_endpoint",
    "endpoint_url": "https://e.eastus2.inference.ml.azure.com/score"}"#;

fn options() -> LoadOptions {
    LoadOptions::new().api_key("k").env_vars::<String, String>([])
}

#[test]
fn the_option_replaces_the_files_formatter_by_tag_alias_or_python_name() {
    let file = File::new("replace", WITH_HF);
    for (given, tag) in [
        ("gpt2", "gpt2"),
        ("oss", "gpt2"),
        ("LlamaContentFormatter", "custom_openai"),
    ] {
        let llm = Registry::new()
            .load_with(&file.0, &options().formatter(given))
            .unwrap()
            .into_completion()
            .unwrap();
        assert_eq!(llm.formatter().tag(), tag, "given {given}");
    }
    let llm = Registry::new()
        .load_with(&file.0, &options())
        .unwrap()
        .into_completion()
        .unwrap();
    assert_eq!(
        llm.formatter().tag(),
        "hf",
        "without the option the file's formatter is used"
    );
}

#[test]
fn the_option_replaces_the_default_when_the_file_names_none() {
    let file = File::new("default", CHAT_WITHOUT_FORMATTER);
    let chat = Registry::new()
        .load_with(&file.0, &options().formatter("MistralChatContentFormatter"))
        .unwrap()
        .into_chat()
        .unwrap();
    assert_eq!(chat.formatter().tag(), "mistral_chat");
}

#[test]
fn a_registered_tag_works_as_the_option() {
    let file = File::new("registered", WITH_HF);
    let mut registry = Registry::new();
    registry.register_completion_formatter("team_gpt2", |_| {
        Ok(completion_formatter("dolly").ok_or("no dolly")?)
    });
    let llm = registry
        .load_with(&file.0, &options().formatter("team_gpt2"))
        .unwrap()
        .into_completion()
        .unwrap();
    assert_eq!(llm.formatter().tag(), "dolly");
}

#[test]
fn an_unknown_or_wrong_kind_option_is_an_argument_error() {
    let file = File::new("unknown", WITH_HF);
    let error = |tag: &str| match Registry::new().load_with(&file.0, &options().formatter(tag)) {
        Err(Error::Config(e)) => (e.key.clone(), e.origin.clone(), e.to_string()),
        other => panic!("expected a config error, got {other:?}"),
    };
    assert_eq!(
        error("gtp2"),
        (
            "formatter".to_owned(),
            Origin::Argument,
            "invalid `formatter` (argument): unknown completion formatter `gtp2`; known: gpt2, oss, hf, \
             dolly, custom_openai, llama, catalog, promptflow (Python class names such as `GPT2ContentFormatter` work too)"
                .to_owned()
        )
    );
    assert_eq!(
        error("mistral_chat").2,
        "invalid `formatter` (argument): unknown completion formatter `mistral_chat` (`mistral_chat` is \
         a chat formatter: use `_type: azureml_chat_endpoint`); known: gpt2, oss, hf, dolly, \
         custom_openai, llama, catalog, promptflow (Python class names such as `GPT2ContentFormatter` work too)"
    );
}

#[test]
fn prompt_flow_field_names_are_saved_and_loaded_again() {
    use azureml_endpoint::formatter::PromptFlowContentFormatter;
    use azureml_endpoint::AzureMlChatOnlineEndpoint;

    let flow = PromptFlowContentFormatter::default()
        .input_field("query")
        .output_field("reply");
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url("https://flow.eastus2.inference.ml.azure.com/score")
        .api_key("k")
        .formatter(flow)
        .build()
        .unwrap();
    let file = File::new("promptflow", "{}");
    chat.save(&file.0).unwrap();
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file.0).unwrap()).unwrap();
    assert_eq!(
        saved["formatter"],
        serde_json::json!({"_type": "promptflow", "input_field": "query", "output_field": "reply", "history_field": "chat_history"})
    );
    let again = Registry::new()
        .load_with(&file.0, &options())
        .unwrap()
        .into_chat()
        .unwrap();
    assert_eq!(again.formatter().settings(), chat.formatter().settings());
    assert_eq!(again.config(), chat.config());

    let bad = File::new(
        "promptflow-bad",
        r#"{"_type": "azureml_chat_endpoint", "formatter": {"_type": "promptflow", "question_field": "q"},
            "endpoint_url": "https://e.eastus2.inference.ml.azure.com/score"}"#,
    );
    let error = Registry::new().load_with(&bad.0, &options()).unwrap_err();
    assert_eq!(
        error.to_string().replace(&bad.0.display().to_string(), "<file>"),
        "invalid `formatter` (file `<file>`): formatter `promptflow`: unknown setting `question_field`; \
         known: input_field, output_field, history_field"
    );
}
