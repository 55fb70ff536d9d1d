//! Every bad config file gives its own error (kind, position, exact message), quickly, and never
//! a panic.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{message, with_env, TempDir};
use azureml_endpoint::{
    error::ConfigFileErrorKind, load_llm, save_config, AzureMlOnlineEndpoint, Error, LoadOptions, Registry,
    Result,
};
use serde_json::json;

/// Generous for a loaded 2-core box: the guards answer in well under a second, while the
/// unguarded inputs below take minutes or gigabytes.
const QUICK: Duration = Duration::from_secs(10);
const URL: &str = "https://my-endpoint.eastus2.inference.ml.azure.com/score";

fn env() -> LoadOptions {
    with_env(&[("AZUREML_ENDPOINT_URL", URL), ("AZUREML_ENDPOINT_API_KEY", "k")])
}

fn load(path: &Path) -> Result<azureml_endpoint::LoadedConfig> {
    Registry::new().load_with(path, &env())
}

/// The file-level error for `contents` saved as `name`: kind, line/column, message.
fn file_error(
    name: &str,
    contents: impl AsRef<[u8]>,
) -> (ConfigFileErrorKind, Option<(usize, usize)>, String) {
    let dir = TempDir::new("file-error");
    let path = dir.write(name, contents);
    match load(&path) {
        Err(Error::ConfigFile(e)) => {
            assert_eq!(e.path, path);
            let at = e.line.zip(e.column);
            (e.kind, at, e.message.clone())
        }
        other => panic!("expected a config file error, got {other:?}"),
    }
}

/// The full message of loading `contents` saved as `name`, with the temp path shown as `<file>`.
fn load_message(name: &str, contents: impl AsRef<[u8]>, options: &LoadOptions) -> String {
    let dir = TempDir::new("message");
    let path = dir.write(name, contents);
    message(Registry::new().load_with(&path, options)).replace(&path.display().to_string(), "<file>")
}

#[test]
fn truncated_json_names_line_and_column() {
    let (kind, at, msg) = file_error(
        "t.json",
        "{\n    \"_type\": \"azureml_endpoint\",\n    \"model_kwargs\": {\"a\": 1",
    );
    assert_eq!(kind, ConfigFileErrorKind::Syntax);
    assert_eq!(at, Some((3, 27)));
    assert_eq!(msg, "not valid JSON: EOF while parsing an object");
}

#[test]
fn truncated_yaml_names_line_and_column() {
    let (kind, at, msg) = file_error("t.yaml", "_type: azureml_endpoint\nmodel_kwargs: {\"a\": 1\n");
    assert_eq!(kind, ConfigFileErrorKind::Syntax);
    assert_eq!(at, Some((3, 1)));
    assert_eq!(
        msg,
        "not valid YAML: did not find expected ',' or '}', while parsing a flow mapping at line 2 column 15"
    );
}

#[test]
fn syntax_error_display_puts_the_position_first() {
    assert_eq!(
        load_message("bad.json", "{\"_type\": azureml_endpoint}", &env()),
        "config file `<file>`, line 1, column 11: not valid JSON: expected value"
    );
}

#[test]
fn binary_files_are_not_text() {
    let (kind, at, msg) = file_error("b.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    assert_eq!(kind, ConfigFileErrorKind::NotText);
    assert_eq!(at, Some((1, 1)));
    assert_eq!(msg, "not UTF-8 text (a binary file?)");
    let (kind, at, _) = file_error("nul.yaml", "_type: azureml_endpoint\nx: a\0b\n");
    assert_eq!(kind, ConfigFileErrorKind::NotText);
    assert_eq!(at, Some((2, 5)));
}

#[test]
fn empty_files_say_so() {
    for (name, contents) in [
        ("e.json", ""),
        ("e.yaml", ""),
        ("w.yml", " \n\t\n"),
        ("w.json", "\n"),
    ] {
        let (kind, at, msg) = file_error(name, contents);
        assert_eq!(
            (kind, at, msg.as_str()),
            (ConfigFileErrorKind::Empty, None, "the file is empty"),
            "{name}"
        );
    }
}

#[test]
fn documents_that_are_not_mappings() {
    for (name, contents, found) in [
        ("array.json", "[1, 2]", "an array"),
        ("null.json", "null", "null"),
        ("null.yaml", "~\n", "null"),
        ("string.json", "\"azureml_endpoint\"", "a string"),
        ("number.yaml", "42\n", "a number"),
        ("list.yaml", "- _type: azureml_endpoint\n", "an array"),
    ] {
        let (kind, at, msg) = file_error(name, contents);
        assert_eq!(kind, ConfigFileErrorKind::NotAMapping, "{name}");
        assert_eq!(at, None);
        assert_eq!(
            msg,
            format!("expected a mapping of settings such as {{\"_type\": \"azureml_endpoint\", …}}, found {found}"),
            "{name}"
        );
    }
}

#[test]
fn yaml_alias_bomb_is_rejected_quickly() {
    let mut bomb = String::from("_type: azureml_endpoint\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    bomb.push_str("model_kwargs: *i\n");
    let started = Instant::now();
    let (kind, _, msg) = file_error("bomb.yaml", &bomb);
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    assert_eq!(kind, ConfigFileErrorKind::AliasExpansion);
    assert_eq!(
        msg,
        "YAML aliases expand to more data than the file holds (an alias bomb?); write the values out instead"
    );
}

#[test]
fn yaml_aliases_to_a_long_string_are_rejected_too() {
    // Few nodes, but 15,000 aliases of 100 KiB would be 1.5 GB: counted by size, not by node.
    let mut text = format!(
        "_type: azureml_endpoint\nlong: &s \"{}\"\nmodel_kwargs:\n  x:\n",
        "x".repeat(100 * 1024)
    );
    for _ in 0..15_000 {
        text.push_str("    - *s\n");
    }
    let started = Instant::now();
    let (kind, _, _) = file_error("wide.yaml", &text);
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    assert_eq!(kind, ConfigFileErrorKind::AliasExpansion);
}

#[test]
fn small_yaml_aliases_still_load() -> Result<()> {
    let dir = TempDir::new("alias-ok");
    let path = dir.write(
        "a.yaml",
        "_type: azureml_endpoint\nmodel_kwargs: &k {temperature: 0.5}\nextra_headers: {x-a: b}\n",
    );
    let llm = load(&path)?.into_completion()?;
    assert_eq!(llm.config().model_kwargs["temperature"], 0.5);
    Ok(())
}

#[test]
fn deep_nesting_is_rejected_quickly_without_overflowing_the_stack() {
    let deep = 10_000;
    for (name, text) in [
        ("deep.json", format!("{}{}", "[".repeat(deep), "]".repeat(deep))),
        (
            "deep-map.json",
            format!("{}1{}", "{\"a\":".repeat(deep), "}".repeat(deep)),
        ),
        (
            "deep-kwargs.json",
            format!(
                "{{\"_type\": \"azureml_endpoint\", \"model_kwargs\": {}{}}}",
                "[".repeat(deep),
                "]".repeat(deep)
            ),
        ),
        ("deep.yaml", format!("{}{}", "[".repeat(deep), "]".repeat(deep))),
        (
            "deep-map.yaml",
            format!("{}1{}", "{a: ".repeat(deep), "}".repeat(deep)),
        ),
        (
            "deep-mixed.yaml",
            format!(
                "_type: azureml_endpoint\nmodel_kwargs:\n  x: {}",
                "[{\"a\":".repeat(deep)
            ),
        ),
        ("brackets.yaml", "[".repeat(200_000)),
        (
            "block.yaml",
            (0..100)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect::<String>(),
        ),
        ("dashes.yaml", "- ".repeat(deep)),
        (
            "self.yaml",
            "_type: azureml_endpoint\nmodel_kwargs: &a [*a]\n".to_owned(),
        ),
    ] {
        let started = Instant::now();
        let (kind, _, msg) = file_error(name, &text);
        assert!(started.elapsed() < QUICK, "{name} took {:?}", started.elapsed());
        assert_eq!(kind, ConfigFileErrorKind::TooDeep, "{name}: {msg}");
        assert_eq!(msg, "values nested deeper than 64 levels", "{name}");
    }
}

#[test]
fn nesting_within_the_limit_loads() -> Result<()> {
    let dir = TempDir::new("nesting-ok");
    let path = dir.write(
        "ok.json",
        format!(
            "{{\"_type\": \"azureml_endpoint\", \"model_kwargs\": {{\"a\": {}{}}}}}",
            "[".repeat(61),
            "]".repeat(61)
        ),
    );
    load(&path)?.into_completion()?;
    Ok(())
}

#[test]
fn huge_files_are_refused_before_parsing() {
    let (kind, at, msg) = file_error("huge.json", format!("{{\"_type\": \"{}\"}}", "x".repeat(2 << 20)));
    assert_eq!((kind, at), (ConfigFileErrorKind::TooLarge, None));
    assert_eq!(msg, "larger than 262144 bytes; a config file is a few hundred");
}

#[test]
fn duplicate_keys_are_an_error() {
    let (kind, at, msg) = file_error(
        "dup.json",
        "{\"_type\": \"azureml_endpoint\",\n \"timeout\": 5,\n \"timeout\": 6}",
    );
    assert_eq!(kind, ConfigFileErrorKind::Syntax);
    assert_eq!(at, Some((3, 14)));
    assert_eq!(msg, "not valid JSON: duplicate key `timeout`");
    let (kind, at, msg) = file_error("dup.yaml", "_type: azureml_endpoint\ntimeout: 5\ntimeout: 6\n");
    assert_eq!(kind, ConfigFileErrorKind::Syntax);
    assert_eq!(at, Some((1, 1)), "serde_yaml places it at the mapping's start");
    assert_eq!(msg, "not valid YAML: duplicate key `timeout`");
}

#[test]
fn yaml_oddities_are_errors_not_panics() {
    for (name, text) in [
        (
            "multi.yaml",
            "_type: azureml_endpoint\n---\n_type: azureml_endpoint\n",
        ),
        ("tag.yaml", "_type: !custom azureml_endpoint\n"),
        ("inf.yaml", "_type: azureml_endpoint\ntimeout: .inf\n"),
        ("complex-key.yaml", "? [a, b]\n: c\n"),
        ("tabs.yaml", "_type: azureml_endpoint\nmodel_kwargs:\n\t a: 1\n"),
    ] {
        let (kind, _, msg) = file_error(name, text);
        assert_eq!(kind, ConfigFileErrorKind::Syntax, "{name}: {msg}");
        eprintln!("{name}: {msg}");
    }
}

#[test]
fn unknown_key_is_named_with_the_closest_known_one() {
    let text = format!(r#"{{"_type": "azureml_endpoint", "endpoint_ulr": "{URL}"}}"#);
    assert_eq!(
        load_message("typo.json", text, &env()),
        "invalid `endpoint_ulr` (file `<file>`): unknown key (did you mean `endpoint_url`?); known keys: _type, \
         endpoint_url, endpoint_name, workspace_name, resource_group, subscription_id, \
         endpoint_api_type, endpoint_api_key, deployment_name, timeout, max_retries, formatter, \
         content_formatter, model_kwargs, extra_headers, auth, client_id, token_scope, ca_certificates, \
         use_os_trust_store, model, batch_size"
    );
    let far = load_message("far.yaml", "_type: azureml_endpoint\ntemperature: 0.5\n", &env());
    assert!(
        far.starts_with("invalid `temperature` (file `<file>`): unknown key; known keys: _type, "),
        "{far}"
    );
}

#[test]
fn wrong_types_name_the_key_and_what_was_found() {
    for (field, expected) in [
        (r#""max_retries": "three""#, "invalid `max_retries` (file `<file>`): expected an integer ≥ 0, got a string (\"three\")"),
        (r#""max_retries": -1"#, "invalid `max_retries` (file `<file>`): expected an integer ≥ 0, got a number (-1)"),
        (r#""model_kwargs": [1]"#, "invalid `model_kwargs` (file `<file>`): expected a mapping of model parameters, got an array"),
        (r#""extra_headers": {"x-a": 1}"#, "invalid `extra_headers` (file `<file>`): header `x-a`: expected a string, got a number (1)"),
        (r#""extra_headers": {"bad name": "v"}"#, "invalid `extra_headers` (file `<file>`): \"bad name\" is not a valid header name"),
        (r#""endpoint_url": 5"#, "invalid `endpoint_url` (file `<file>`): expected a string, got a number (5)"),
        (r#""endpoint_api_key": 12345"#, "invalid `endpoint_api_key` (file `<file>`): expected a string, got a number"),
        (r#""deployment_name": true"#, "invalid `deployment_name` (file `<file>`): expected a string, got a boolean (true)"),
        (r#""endpoint_api_type": "cloud""#, "invalid `endpoint_api_type` (file `<file>`): unknown api type \"cloud\"; use `dedicated` (…/score URLs) or `serverless` (…/completions, …/chat/completions, …/embeddings URLs)"),
        (r#""endpoint_api_type": 1"#, "invalid `endpoint_api_type` (file `<file>`): expected `dedicated`, `serverless` or `realtime`, got a number (1)"),
        (r#""formatter": 5"#, "invalid `formatter` (file `<file>`): expected a tag string or `{\"_type\": tag, …settings}`, got a number (5)"),
        (r#""formatter": {"temperature": 1}"#, "invalid `formatter` (file `<file>`): expected `{\"_type\": tag, …settings}`: the mapping needs a string `_type`"),
        (r#""formatter": {"_type": "gpt2", "verbose": true}"#, "invalid `formatter` (file `<file>`): formatter `gpt2` takes no settings; remove `verbose`"),
        (r#""formatter": "gpt2", "content_formatter": "gpt2""#, "invalid `content_formatter` (file `<file>`): both `formatter` and `content_formatter` are set; keep `formatter`"),
        (r#""_type": 7"#, "invalid `_type` (file `<file>`): expected a string naming the client (one of: azureml_chat_endpoint, azureml_embeddings_endpoint, azureml_endpoint), got a number (7)"),
    ] {
        let text = if field.starts_with(r#""_type""#) {
            format!("{{{field}}}")
        } else {
            format!(r#"{{"_type": "azureml_endpoint", {field}}}"#)
        };
        assert_eq!(load_message("types.json", &text, &env()), expected, "{text}");
    }
}

#[test]
fn bad_timeout_names_its_source() {
    for (value, problem) in [
        ("0", "must be a number of seconds > 0, got 0"),
        ("-5", "must be a number of seconds > 0, got -5"),
        ("-0.5", "must be a number of seconds > 0, got -0.5"),
        ("\"soon\"", "\"soon\" is not a number of seconds"),
        ("[]", "expected a number of seconds, got an array"),
        (
            "1e20",
            "must be at most 86400 seconds (a day), got 100000000000000000000",
        ),
        (
            "18446744073709551615",
            "must be at most 86400 seconds (a day), got 18446744073709551615",
        ),
        ("86400.5", "must be at most 86400 seconds (a day), got 86400.5"),
        // Rounds to a zero `Duration`: every call would fail at once.
        ("1e-10", "must be at least 0.001 seconds (1 ms), got 0.0000000001"),
        ("0.0009", "must be at least 0.001 seconds (1 ms), got 0.0009"),
        (
            "\"1e-10\"",
            "must be at least 0.001 seconds (1 ms), got 0.0000000001",
        ),
    ] {
        let text = format!(r#"{{"_type": "azureml_endpoint", "timeout": {value}}}"#);
        assert_eq!(
            load_message("timeout.json", &text, &env()),
            format!("invalid `timeout` (file `<file>`): {problem}"),
            "{value}"
        );
    }
    let env_timeout = with_env(&[
        ("AZUREML_ENDPOINT_URL", URL),
        ("AZUREML_ENDPOINT_API_KEY", "k"),
        ("AZUREML_TIMEOUT", "abc"),
    ]);
    assert_eq!(
        load_message("t.yaml", "_type: azureml_endpoint\n", &env_timeout),
        "invalid `timeout` (env var AZUREML_TIMEOUT): \"abc\" is not a number of seconds"
    );
    let zero_env = with_env(&[
        ("AZUREML_ENDPOINT_URL", URL),
        ("AZUREML_ENDPOINT_API_KEY", "k"),
        ("AZUREML_TIMEOUT", "0"),
    ]);
    assert_eq!(
        load_message("t.yaml", "_type: azureml_endpoint\n", &zero_env),
        "invalid `timeout` (env var AZUREML_TIMEOUT): must be a number of seconds > 0, got 0"
    );
    let tiny_env = with_env(&[
        ("AZUREML_ENDPOINT_URL", URL),
        ("AZUREML_ENDPOINT_API_KEY", "k"),
        ("AZUREML_TIMEOUT", "1e-10"),
    ]);
    assert_eq!(
        load_message("t.yaml", "_type: azureml_endpoint\n", &tiny_env),
        "invalid `timeout` (env var AZUREML_TIMEOUT): must be at least 0.001 seconds (1 ms), got 0.0000000001"
    );
    // The edges are accepted.
    for (value, timeout) in [
        ("0.001", Duration::from_millis(1)),
        ("86400", Duration::from_secs(86_400)),
    ] {
        let dir = TempDir::new("timeout-edges");
        let path = dir.write(
            "t.json",
            format!(r#"{{"_type": "azureml_endpoint", "timeout": {value}}}"#),
        );
        let llm = load(&path).and_then(|l| l.into_completion());
        assert_eq!(llm.map(|l| l.config().timeout).ok(), Some(timeout), "{value}");
    }
}

#[test]
fn an_explicit_timeout_replaces_a_bad_one_in_the_file() -> Result<()> {
    let dir = TempDir::new("timeout-override");
    let path = dir.write("t.json", r#"{"_type": "azureml_endpoint", "timeout": 0}"#);
    let llm = Registry::new()
        .load_with(&path, &env().timeout(Duration::from_secs(3)))?
        .into_completion()?;
    assert_eq!(llm.config().timeout, Duration::from_secs(3));
    Ok(())
}

#[test]
fn missing_url_and_key_say_where_each_can_come_from() {
    let no_env = LoadOptions::new().env_vars(Vec::<(String, String)>::new());
    assert_eq!(
        load_message("n.yaml", "_type: azureml_endpoint\n", &no_env),
        "invalid `endpoint_url` (default): no endpoint URL; it comes from the builder, the config file's \
         `endpoint_url` or env var AZUREML_ENDPOINT_URL, or from Azure Resource Manager for an \
         endpoint named with `endpoint_name`"
    );
    let url_only = with_env(&[("AZUREML_ENDPOINT_URL", URL)]);
    assert_eq!(
        load_message("n.yaml", "_type: azureml_endpoint\n", &url_only),
        "invalid `endpoint_api_key` (default): no API key; it comes from the builder, env var \
         AZUREML_ENDPOINT_API_KEY or `endpoint_api_key` in a hand-written config file"
    );
    assert_eq!(
        load_message(
            "n.json",
            r#"{"_type": "azureml_endpoint", "endpoint_api_key": ""}"#,
            &url_only
        ),
        "invalid `endpoint_api_key` (file `<file>`): the key is empty"
    );
}

#[test]
fn missing_and_unknown_type_list_the_registered_ones() {
    assert_eq!(
        load_message("m.json", r#"{"deployment_name": "blue"}"#, &env()),
        "invalid `_type` (file `<file>`): missing; the file needs `_type`, one of: azureml_chat_endpoint, \
         azureml_embeddings_endpoint, azureml_endpoint"
    );
    assert_eq!(
        load_message("u.yaml", "_type: azureml_endpiont\n", &env()),
        "invalid `_type` (file `<file>`): unknown `_type` \"azureml_endpiont\" (did you mean `azureml_endpoint`?); \
         registered: azureml_chat_endpoint, azureml_embeddings_endpoint, azureml_endpoint"
    );
    assert_eq!(
        load_message("u.yaml", "_type: openai\n", &env()),
        "invalid `_type` (file `<file>`): unknown `_type` \"openai\"; registered: azureml_chat_endpoint, \
         azureml_embeddings_endpoint, azureml_endpoint"
    );
}

#[test]
fn unknown_formatter_tag_lists_the_known_ones() {
    assert_eq!(
        load_message("f.yaml", "_type: azureml_endpoint\nformatter: falcon\n", &env()),
        "invalid `formatter` (file `<file>`): unknown completion formatter `falcon`; known: gpt2, oss, hf, dolly, \
         custom_openai, llama, catalog, promptflow (Python class names such as `GPT2ContentFormatter` work too)"
    );
    assert_eq!(
        load_message("f.yaml", "_type: azureml_endpoint\nformatter: {_type: mistral_chat}\n", &env()),
        "invalid `formatter` (file `<file>`): unknown completion formatter `mistral_chat` (`mistral_chat` is a \
         chat formatter: use `_type: azureml_chat_endpoint`); known: gpt2, oss, hf, dolly, custom_openai, llama, catalog, promptflow \
         (Python class names such as `GPT2ContentFormatter` work too)"
    );
    assert_eq!(
        load_message("f.json", r#"{"_type": "azureml_chat_endpoint", "content_formatter": "gpt2"}"#, &env()),
        "invalid `content_formatter` (file `<file>`): unknown chat formatter `gpt2` (`gpt2` is a completion \
         formatter: use `_type: azureml_endpoint`); known: custom_openai_chat, llama_chat, mistral_chat, promptflow (Python \
         class names such as `CustomOpenAIChatContentFormatter` work too)"
    );
}

#[test]
fn user_formatter_factory_errors_name_the_file() {
    let mut registry = Registry::new();
    registry.register_completion_formatter("strict", |settings| {
        Err(format!("`level` is required (got {} settings)", settings.len()).into())
    });
    let dir = TempDir::new("factory");
    let path = dir.write(
        "s.yaml",
        "_type: azureml_endpoint\nformatter: {_type: strict, lvl: 1}\n",
    );
    assert_eq!(
        message(registry.load_with(&path, &env())),
        format!(
            "invalid `formatter` (file `{}`): formatter `strict`: `level` is required (got 1 settings)",
            path.display()
        )
    );
}

#[test]
fn formatter_that_does_not_fit_the_api_type_names_the_file() {
    let text = r#"{"_type": "azureml_endpoint", "endpoint_api_type": "serverless", "formatter": "gpt2",
            "endpoint_url": "https://m.eastus2.models.ai.azure.com/v1/completions"}"#;
    assert_eq!(
        load_message("f.json", text, &env()),
        "invalid `formatter` (file `<file>`): formatter `gpt2` does not support api type `serverless` (it supports: \
         dedicated); choose a formatter for serverless endpoints, e.g. `custom_openai`"
    );
}

#[test]
fn unsupported_extensions_on_load() {
    for (name, expected) in [
        (
            "c.txt",
            "config file `<file>`: unsupported extension `.txt`; use .json, .yaml or .yml",
        ),
        (
            "c.toml",
            "config file `<file>`: unsupported extension `.toml`; use .json, .yaml or .yml",
        ),
        (
            "config",
            "config file `<file>`: no extension; use .json, .yaml or .yml",
        ),
    ] {
        assert_eq!(load_message(name, "_type: azureml_endpoint\n", &env()), expected);
    }
}

#[test]
fn unsupported_extension_on_save_writes_nothing() -> Result<()> {
    let dir = TempDir::new("save-ext");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(URL)
        .api_key("k")
        .build()?;
    let path = dir.path("not-created/llm.txt");
    let err = llm.save(&path).expect_err("txt is not a config format");
    assert!(matches!(&err, Error::ConfigFile(e) if e.kind == ConfigFileErrorKind::UnsupportedExtension));
    assert_eq!(
        err.to_string(),
        format!(
            "config file `{}`: unsupported extension `.txt`; use .json, .yaml or .yml",
            path.display()
        )
    );
    assert!(!dir.path("not-created").exists(), "no folder may be created");
    assert_eq!(std::fs::read_dir(dir.root()).map(|d| d.count()).unwrap_or(99), 0);
    Ok(())
}

#[test]
fn saving_kwargs_too_deep_to_load_again_is_refused() -> Result<()> {
    let dir = TempDir::new("save-deep");
    let mut deep = json!(1);
    for _ in 0..70 {
        deep = json!([deep]);
    }
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(URL)
        .api_key("k")
        .model_kwarg("deep", deep)
        .build()?;
    let path = dir.path("deep.yaml");
    assert_eq!(
        message(llm.save(&path)),
        "invalid `model_kwargs` (argument): nested deeper than 64 levels, which config files do not load"
    );
    assert!(!path.exists());
    Ok(())
}

#[test]
fn save_config_never_writes_a_key() {
    let dir = TempDir::new("save-key");
    let fields = json!({"_type": "azureml_endpoint", "endpoint_api_key": "secret"});
    let path = dir.path("k.json");
    assert_eq!(
        message(save_config(&path, fields.as_object().expect("mapping"))),
        "invalid `endpoint_api_key` (argument): a saved config never holds the key; remove it (loading reads the \
         key from LoadOptions::api_key or AZUREML_ENDPOINT_API_KEY)"
    );
    assert!(!path.exists());
}

#[test]
fn unreadable_files_name_their_path() {
    let dir = TempDir::new("unreadable");
    let missing = dir.path("missing.json");
    let err = load_llm(&missing).expect_err("no such file");
    assert!(matches!(&err, Error::Io(e) if e.path == missing));
    assert_eq!(
        err.to_string(),
        format!("cannot read config file `{}`", missing.display())
    );
    let folder = dir.path("folder.yaml");
    std::fs::create_dir(&folder).expect("mkdir");
    assert_eq!(
        message(load_llm(&folder)),
        format!("cannot read config file `{}`", folder.display())
    );
}

#[test]
fn save_into_a_path_blocked_by_a_file_is_an_io_error() -> Result<()> {
    let dir = TempDir::new("blocked");
    let blocker = dir.write("blocker", "a file, not a folder");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(URL)
        .api_key("k")
        .build()?;
    let err = llm.save(blocker.join("llm.json")).expect_err("parent is a file");
    assert!(
        matches!(&err, Error::Io(e) if e.action == "create folder"),
        "{err:?}"
    );
    Ok(())
}

/// Every prefix of a full config, and every single-byte corruption of it, loads or fails
/// cleanly: never a panic.
#[test]
fn truncations_and_corruptions_never_panic() -> Result<()> {
    let dir = TempDir::new("fuzz");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(URL)
        .api_key("k")
        .deployment_name("blue")
        .model_kwargs(
            json!({"t": 0.5, "stop": ["a", "b"], "n": {"x": [1, null]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .extra_header("extra-parameters", "pass-through")
        .build()?;
    for ext in ["json", "yaml"] {
        let path = dir.path(&format!("full.{ext}"));
        llm.save(&path)?;
        let bytes = std::fs::read(&path).expect("saved");
        let target = dir.path(&format!("case.{ext}"));
        for end in 0..bytes.len() {
            std::fs::write(&target, &bytes[..end]).expect("write");
            let _ = load(&target);
        }
        for i in (0..bytes.len()).step_by(7) {
            for replacement in [b'"', b'{', b'[', b':', b'\n', b'*', b'&', 0xff] {
                let mut corrupted = bytes.clone();
                corrupted[i] = replacement;
                std::fs::write(&target, &corrupted).expect("write");
                let _ = load(&target);
            }
        }
    }
    Ok(())
}

/// The key from a file or an env var is checked like one from code, and the error says where
/// it came from without showing it.
#[test]
fn a_key_that_cannot_be_a_header_names_its_source_not_its_value() {
    let file = r#"{"_type": "azureml_endpoint", "endpoint_api_key": "sk-secret\u00e9"}"#;
    let no_key_env = with_env(&[("AZUREML_ENDPOINT_URL", URL)]);
    assert_eq!(
        load_message("key.json", file, &no_key_env),
        "invalid `endpoint_api_key` (file `<file>`): the key contains a non-ASCII character at its \
         end, which cannot go in an HTTP header; keys and tokens are visible ASCII only: copy the \
         key again, without spaces or line breaks"
    );
    let bad_env = with_env(&[
        ("AZUREML_ENDPOINT_URL", URL),
        ("AZUREML_ENDPOINT_API_KEY", "sk-secret\r\n"),
    ]);
    let dir = TempDir::new("key-env");
    let path = dir.write("k.yaml", "_type: azureml_endpoint\n");
    let err = Registry::new().load_with(&path, &bad_env).unwrap_err();
    let Error::Config(e) = &err else { panic!("{err:?}") };
    assert_eq!(
        e.origin,
        azureml_endpoint::Origin::Env("AZUREML_ENDPOINT_API_KEY")
    );
    assert!(
        e.message
            .starts_with("the key contains a line break at character 10,"),
        "{err}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("secret"), "the key leaked: {text}");
    }
}

#[test]
fn extra_headers_in_a_file_cannot_replace_the_clients_own() {
    for (headers, problem) in [
        (
            r#"{"Content-Type": "text/plain"}"#,
            "`Content-Type` is set by the client on every request; remove it from the extra headers",
        ),
        (
            r#"{"host": "elsewhere.example"}"#,
            "`host` is set by the client on every request; remove it from the extra headers",
        ),
        (
            r#"{"Api-Key": "other"}"#,
            "`Api-Key` is set from the API key; do not pass it as an extra header",
        ),
        (r#"{"x:y": "v"}"#, "\"x:y\" is not a valid header name"),
    ] {
        let text = format!(r#"{{"_type": "azureml_endpoint", "extra_headers": {headers}}}"#);
        assert_eq!(
            load_message("headers.json", &text, &env()),
            format!("invalid `extra_headers` (file `<file>`): {problem}"),
            "{headers}"
        );
    }
}

/// A bad file's error keeps the line and column but never quotes the file: a key on a line with
/// its colon missing, a mistagged value, a file that is one bare string.
#[test]
fn parse_errors_never_echo_the_file() {
    const SECRET: &str = "sk-Secret0123456789";
    let hidden = "a value does not fit its type or tag (the parser's message would show the value)";
    for (name, text, kind, at, expected) in [
        (
            "colon.yaml",
            "_type: azureml_endpoint\nendpoint_api_key sk-Secret0123456789\n",
            ConfigFileErrorKind::Syntax,
            Some((3, 1)),
            "not valid YAML: could not find expected ':', while scanning a simple key at line 2 column 1",
        ),
        (
            "only-line.yaml",
            "endpoint_api_key sk-Secret0123456789\n",
            ConfigFileErrorKind::NotAMapping,
            None,
            "expected a mapping of settings such as {\"_type\": \"azureml_endpoint\", …}, found a string",
        ),
        (
            "tag.yaml",
            "_type: azureml_endpoint\nendpoint_api_key: !!int sk-Secret0123456789\n",
            ConfigFileErrorKind::Syntax,
            Some((2, 19)),
            &format!("not valid YAML: {hidden}"),
        ),
        (
            "tag-key.yaml",
            "_type: azureml_endpoint\nsk-Secret0123456789: !!float x\n",
            ConfigFileErrorKind::Syntax,
            Some((2, 22)),
            &format!("not valid YAML: {hidden}"),
        ),
        (
            "dup.yaml",
            "_type: azureml_endpoint\nsk-Secret0123456789: 1\nsk-Secret0123456789: 2\n",
            ConfigFileErrorKind::Syntax,
            Some((1, 1)),
            "not valid YAML: duplicate key",
        ),
        (
            "nested-inf.yaml",
            "_type: azureml_endpoint\nmodel_kwargs:\n  sk-Secret0123456789: .inf\n",
            ConfigFileErrorKind::Syntax,
            Some((3, 24)),
            "not valid YAML: infinite and NaN numbers are not supported",
        ),
        (
            "colon.json",
            "{\"_type\": \"azureml_endpoint\",\n\"endpoint_api_key\" \"sk-Secret0123456789\"}",
            ConfigFileErrorKind::Syntax,
            Some((2, 20)),
            "not valid JSON: expected `:`",
        ),
        (
            "unquoted.json",
            "{\"_type\": \"azureml_endpoint\",\n\"endpoint_api_key\": sk-Secret0123456789}",
            ConfigFileErrorKind::Syntax,
            Some((2, 21)),
            "not valid JSON: expected value",
        ),
        (
            "dup.json",
            "{\"_type\": \"azureml_endpoint\",\n\"sk-Secret0123456789\": 1, \"sk-Secret0123456789\": 2}",
            ConfigFileErrorKind::Syntax,
            Some((2, 51)),
            "not valid JSON: duplicate key",
        ),
        (
            "string.json",
            "\"sk-Secret0123456789\"",
            ConfigFileErrorKind::NotAMapping,
            None,
            "expected a mapping of settings such as {\"_type\": \"azureml_endpoint\", …}, found a string",
        ),
    ] {
        let dir = TempDir::new("no-echo");
        let path = dir.write(name, text);
        let err = load(&path).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(
                !shown.contains(SECRET) && !shown.contains("Secret"),
                "{name} leaked: {shown}"
            );
        }
        let Error::ConfigFile(e) = err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(
            (e.kind, e.line.zip(e.column), e.message.as_str()),
            (kind, at, expected),
            "{name}"
        );
    }
}
