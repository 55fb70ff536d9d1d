//! `load(save(c)) == c` for every built-in configuration and user formatters, in JSON and YAML;
//! what the saved files hold (and never hold); user `_type`s.

use crate::support;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{message, with_env, TempDir, KEY};
use azureml_endpoint::formatter::{chat_formatter, completion_formatter};
use azureml_endpoint::{
    formatter::CustomOpenAiChatContentFormatter, formatter::Gpt2ContentFormatter, save_config, AnyClient,
    ApiType, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, ChatCompletion, ChatContentFormatter,
    ChatMessage, Completion, ContentFormatter, LoadOptions, Registry, Result,
};
use serde_json::{json, Map, Value};

const SCORE_URL: &str = "https://my-endpoint.eastus2.inference.ml.azure.com/score";
const COMPLETIONS_URL: &str =
    "https://my-model.eastus2.models.ai.azure.com/v1/completions?api-version=2024-05-01";
const CHAT_URL: &str = "https://my-model.eastus2.models.ai.azure.com/v1/chat/completions";

/// The keys docs/config.md's table lists, written out here rather than taken from the crate.
const CONFIG_MD_KEYS: &[&str] = &[
    "_type",
    "endpoint_url",
    "endpoint_api_type",
    "deployment_name",
    "timeout",
    "max_retries",
    "formatter",
    "content_formatter",
    "model_kwargs",
    "extra_headers",
    "endpoint_api_key",
    "auth",
    "client_id",
    "token_scope",
    "ca_certificates",
    "use_os_trust_store",
    "model",
    "batch_size",
];

/// A user completion formatter with a setting: GPT-2's wire format with a prompt prefix.
#[derive(Debug)]
struct Prefixed {
    prefix: String,
}

impl ContentFormatter for Prefixed {
    fn tag(&self) -> &str {
        "prefixed"
    }
    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated]
    }
    fn format_request(
        &self,
        prompt: &str,
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        Gpt2ContentFormatter.format_request(&format!("{}{prompt}", self.prefix), params, api_type)
    }
    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<Completion> {
        Gpt2ContentFormatter.format_response(body, api_type)
    }
    fn settings(&self) -> Map<String, Value> {
        json!({"prefix": self.prefix})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// A user chat formatter with settings of several types.
#[derive(Debug)]
struct Labelled {
    label: String,
    rounds: u64,
}

impl ChatContentFormatter for Labelled {
    fn tag(&self) -> &str {
        "labelled_chat"
    }
    fn supported_api_types(&self) -> &[ApiType] {
        &[ApiType::Dedicated, ApiType::Serverless]
    }
    fn format_messages(
        &self,
        messages: &[ChatMessage],
        params: &Map<String, Value>,
        api_type: ApiType,
    ) -> Result<Vec<u8>> {
        CustomOpenAiChatContentFormatter.format_messages(messages, params, api_type)
    }
    fn format_response(&self, body: &[u8], api_type: ApiType) -> Result<ChatCompletion> {
        CustomOpenAiChatContentFormatter.format_response(body, api_type)
    }
    fn settings(&self) -> Map<String, Value> {
        json!({"label": self.label, "rounds": self.rounds})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register_completion_formatter("prefixed", |settings| {
            let prefix = settings
                .get("prefix")
                .and_then(Value::as_str)
                .ok_or("`prefix` must be a string")?;
            Ok(Arc::new(Prefixed {
                prefix: prefix.to_owned(),
            }))
        })
        .register_chat_formatter("labelled_chat", |settings| {
            let label = settings
                .get("label")
                .and_then(Value::as_str)
                .ok_or("`label` must be a string")?;
            let rounds = settings
                .get("rounds")
                .and_then(Value::as_u64)
                .ok_or("`rounds` must be a count")?;
            Ok(Arc::new(Labelled {
                label: label.to_owned(),
                rounds,
            }))
        });
    registry
}

/// Env vars that disagree with every saved value: the file must win over each of them.
fn options() -> LoadOptions {
    with_env(&ENV)
}

const ENV: [(&str, &str); 5] = [
    ("AZUREML_ENDPOINT_API_KEY", KEY),
    (
        "AZUREML_ENDPOINT_URL",
        "https://other.eastus2.inference.ml.azure.com/score",
    ),
    ("AZUREML_ENDPOINT_API_TYPE", "serverless"),
    ("AZUREML_DEPLOYMENT_NAME", "from-env"),
    ("AZUREML_TIMEOUT", "999"),
];

/// As [`options`] for reloading `config`: a client without a deployment is saved with
/// `deployment_name: ""`, which is unset (docs/config.md), so `AZUREML_DEPLOYMENT_NAME` would
/// apply.
fn options_for(config: &azureml_endpoint::EndpointConfig) -> LoadOptions {
    let keep =
        |(name, _): &&(&str, &str)| config.deployment_name.is_some() || *name != "AZUREML_DEPLOYMENT_NAME";
    with_env(&ENV.iter().filter(keep).copied().collect::<Vec<_>>())
}

/// Optional settings, varied across the table by `i`.
struct Extras {
    deployment: Option<&'static str>,
    timeout: Duration,
    retries: u32,
    kwargs: Value,
    headers: &'static [(&'static str, &'static str)],
}

fn extras(i: usize) -> Extras {
    let kwargs = [
        json!({}),
        json!({"temperature": 0.8, "max_new_tokens": 400}),
        json!({
            "température": "très chaud 🔥",
            "stop": ["\n\n", "Human:", "ユーザー:"],
            "nested": {"a": {"b": [1, -2, 2.5, 1e-7, 1e21, null, true, {"c": []}]}, "empty": {}},
            "tricky": ["yes", "no", "on", "off", "null", "~", "1e3", "0x1F", "2024-01-01", "", " lead", "trail ",
                       "a: b", "# not a comment", "- dash", "quote\"s", "back\\slash", "tab\there", "nel\u{85}",
                       "ls\u{2028}ps\u{2029}", "bom\u{feff}", "bell\u{7}", "multi\nline\r\n", "&anchor", "*alias",
                       "!tag", "{flow}", "[flow]", "'single'", "%percent", "@at", "`tick`", "<<"],
            "big": 18446744073709551615u64,
            "neg": -9223372036854775808i64,
            "z_last": 0,
        }),
    ][i % 3]
        .clone();
    Extras {
        deployment: [None, Some("blue"), Some("déploiement-☃")][i % 3],
        timeout: [
            Duration::from_secs(50),
            Duration::from_millis(2500),
            Duration::from_nanos(1_234_567_891),
            Duration::from_millis(1),
            Duration::from_secs(86_400),
        ][i % 5],
        retries: [3, 0, 7, 4294967295][i % 4],
        kwargs,
        headers: [
            &[][..],
            &[("extra-parameters", "pass-through"), ("x-team", "ünïcödé")][..],
        ][i % 2],
    }
}

fn completion_cases() -> Result<Vec<AzureMlOnlineEndpoint>> {
    let mut formatters: Vec<(Arc<dyn ContentFormatter>, ApiType, &str)> = Vec::new();
    for tag in [
        "gpt2",
        "hf",
        "dolly",
        "custom_openai",
        "oss",
        "llama",
        "GPT2ContentFormatter",
    ] {
        let formatter = completion_formatter(tag).expect("built-in tag");
        formatters.push((formatter, ApiType::Dedicated, SCORE_URL));
    }
    formatters.push((
        completion_formatter("custom_openai").expect("tag"),
        ApiType::Serverless,
        COMPLETIONS_URL,
    ));
    formatters.push((
        Arc::new(Prefixed {
            prefix: "Ünïcode » ".into(),
        }),
        ApiType::Dedicated,
        SCORE_URL,
    ));
    let mut cases = Vec::new();
    for (i, (formatter, api_type, url)) in formatters.into_iter().enumerate() {
        for variant in 0..3 {
            let e = extras(i + variant);
            let mut builder = AzureMlOnlineEndpoint::builder()
                .endpoint_url(url)
                .api_type(api_type)
                .api_key(KEY)
                .formatter_arc(formatter.clone())
                .timeout(e.timeout)
                .max_retries(e.retries)
                .model_kwargs(e.kwargs.as_object().cloned().unwrap_or_default());
            if let Some(name) = e.deployment {
                builder = builder.deployment_name(name);
            }
            for (name, value) in e.headers {
                builder = builder.extra_header(*name, *value);
            }
            cases.push(builder.build()?);
        }
    }
    Ok(cases)
}

fn chat_cases() -> Result<Vec<AzureMlChatOnlineEndpoint>> {
    let mut formatters: Vec<Arc<dyn ChatContentFormatter>> = Vec::new();
    for tag in [
        "custom_openai_chat",
        "llama_chat",
        "mistral_chat",
        "MistralChatContentFormatter",
    ] {
        formatters.push(chat_formatter(tag).expect("built-in tag"));
    }
    formatters.push(Arc::new(Labelled {
        label: "équipe ✓".into(),
        rounds: 3,
    }));
    let mut cases = Vec::new();
    for (i, formatter) in formatters.into_iter().enumerate() {
        for (api_type, url) in [(ApiType::Dedicated, SCORE_URL), (ApiType::Serverless, CHAT_URL)] {
            let e = extras(i + usize::from(api_type == ApiType::Serverless));
            let mut builder = AzureMlChatOnlineEndpoint::builder()
                .endpoint_url(url)
                .api_type(api_type)
                .api_key(KEY)
                .formatter_arc(formatter.clone())
                .timeout(e.timeout)
                .max_retries(e.retries)
                .model_kwargs(e.kwargs.as_object().cloned().unwrap_or_default());
            if let Some(name) = e.deployment {
                builder = builder.deployment_name(name);
            }
            for (name, value) in e.headers {
                builder = builder.extra_header(*name, *value);
            }
            cases.push(builder.build()?);
        }
    }
    Ok(cases)
}

/// Saves, checks the bytes hold no key, loads back, saves again: the same bytes.
fn saved_bytes(dir: &TempDir, name: &str, save: impl Fn(&std::path::Path) -> Result<()>) -> Result<Vec<u8>> {
    let path = dir.path(name);
    save(&path)?;
    let bytes = std::fs::read(&path).expect("saved file");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(KEY), "the key leaked into {name}:\n{text}");
    assert!(!text.contains("endpoint_api_key"), "{name}:\n{text}");
    Ok(bytes)
}

#[test]
fn completion_clients_round_trip_in_json_and_yaml() -> Result<()> {
    let dir = TempDir::new("completion-round-trip");
    let registry = registry();
    for (i, llm) in completion_cases()?.iter().enumerate() {
        for ext in ["json", "yaml", "yml"] {
            let name = format!("nested/{i}/llm.{ext}");
            let bytes = saved_bytes(&dir, &name, |p| llm.save(p))?;
            let loaded = registry.load_with(dir.path(&name), &options_for(llm.config()))?;
            assert_eq!(loaded.type_name(), "azureml_endpoint");
            let again = loaded.into_completion()?;
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(again.config(), llm.config(), "{name}:\n{text}");
            assert_eq!(again.formatter().tag(), llm.formatter().tag(), "{name}");
            assert_eq!(again.formatter().settings(), llm.formatter().settings(), "{name}");
            let resaved = saved_bytes(&dir, &format!("{name}.again.{ext}"), |p| again.save(p))?;
            assert_eq!(resaved, bytes, "{name}");
        }
    }
    Ok(())
}

#[test]
fn chat_clients_round_trip_in_json_and_yaml() -> Result<()> {
    let dir = TempDir::new("chat-round-trip");
    let registry = registry();
    for (i, chat) in chat_cases()?.iter().enumerate() {
        for ext in ["json", "yaml"] {
            let name = format!("{i}/chat.{ext}");
            let bytes = saved_bytes(&dir, &name, |p| chat.save(p))?;
            let loaded = registry.load_with(dir.path(&name), &options_for(chat.config()))?;
            assert_eq!(loaded.type_name(), "azureml_chat_endpoint");
            let again = loaded.into_chat()?;
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(again.config(), chat.config(), "{name}:\n{text}");
            assert_eq!(again.formatter().tag(), chat.formatter().tag(), "{name}");
            assert_eq!(
                again.formatter().settings(),
                chat.formatter().settings(),
                "{name}"
            );
        }
    }
    Ok(())
}

fn docs_example() -> Result<AzureMlOnlineEndpoint> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(SCORE_URL)
        .api_key(KEY)
        .deployment_name("blue")
        .model_kwarg("temperature", 0.8)
        .model_kwarg("max_new_tokens", 400)
        .build()
}

#[test]
fn json_is_indented_by_four_in_config_md_key_order() -> Result<()> {
    let dir = TempDir::new("json-format");
    let bytes = saved_bytes(&dir, "llm.json", |p| docs_example()?.save(p))?;
    let expected = r#"{
    "_type": "azureml_endpoint",
    "endpoint_url": "https://my-endpoint.eastus2.inference.ml.azure.com/score",
    "endpoint_api_type": "dedicated",
    "deployment_name": "blue",
    "timeout": 50,
    "max_retries": 3,
    "formatter": {
        "_type": "custom_openai"
    },
    "model_kwargs": {
        "temperature": 0.8,
        "max_new_tokens": 400
    },
    "extra_headers": {}
}
"#;
    assert_eq!(String::from_utf8_lossy(&bytes), expected);
    Ok(())
}

#[test]
fn yaml_is_block_style_with_only_unambiguous_strings_plain() -> Result<()> {
    let dir = TempDir::new("yaml-format");
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(SCORE_URL)
        .api_key(KEY)
        .timeout(Duration::from_millis(2500))
        .model_kwarg("temperature", 1e-7)
        .model_kwarg("stop", json!(["yes", "\n\n"]))
        .model_kwarg("logit_bias", json!([{"token": 1, "bias": -2}]))
        .extra_header("extra-parameters", "pass-through")
        .build()?;
    let bytes = saved_bytes(&dir, "llm.yaml", |p| llm.save(p))?;
    let expected = r#"_type: azureml_endpoint
endpoint_url: "https://my-endpoint.eastus2.inference.ml.azure.com/score"
endpoint_api_type: dedicated
deployment_name: ""
timeout: 2.5
max_retries: 3
formatter:
  _type: custom_openai
model_kwargs:
  temperature: 1.0e-7
  stop:
    - "yes"
    - "\n\n"
  logit_bias:
    - token: 1
      bias: -2
extra_headers:
  extra-parameters: pass-through
"#;
    assert_eq!(String::from_utf8_lossy(&bytes), expected);
    Ok(())
}

#[test]
fn saved_keys_are_the_ones_config_md_lists() -> Result<()> {
    let dir = TempDir::new("key-set");
    let mut saved = 0;
    for llm in completion_cases()? {
        saved += 1;
        let path = dir.path(&format!("{saved}.json"));
        llm.save(&path)?;
        let json: Value = serde_json::from_slice(&std::fs::read(&path).expect("saved")).expect("json");
        for key in json.as_object().expect("a mapping").keys() {
            assert!(
                CONFIG_MD_KEYS.contains(&key.as_str()),
                "`{key}` is not in docs/config.md"
            );
        }
    }
    for chat in chat_cases()? {
        let map = chat.to_config_map();
        assert!(
            map.keys().all(|k| CONFIG_MD_KEYS.contains(&k.as_str())),
            "{map:?}"
        );
    }
    Ok(())
}

/// Keys LangChain Python knows (`_type`, `endpoint_url`, `endpoint_api_type`,
/// `deployment_name`, `timeout`, `max_retries`, `model_kwargs`) carry values Python reads the
/// same way; the key and `content_formatter` (Python crashes on it) are never written.
#[test]
fn saved_values_mean_the_same_in_python() -> Result<()> {
    let llm = docs_example()?;
    let map = llm.to_config_map();
    assert_eq!(map["_type"], "azureml_endpoint");
    assert_eq!(map["endpoint_url"], SCORE_URL);
    assert_eq!(map["endpoint_api_type"], "dedicated");
    assert_eq!(map["deployment_name"], "blue");
    assert!(map["timeout"].is_u64(), "Python's timeout is an int");
    assert_eq!(map["timeout"], 50);
    assert_eq!(map["max_retries"], 3);
    assert_eq!(
        map["model_kwargs"],
        json!({"temperature": 0.8, "max_new_tokens": 400})
    );
    assert!(!map.contains_key("endpoint_api_key"));
    assert!(!map.contains_key("content_formatter"));

    let no_deployment = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(CHAT_URL)
        .api_type(ApiType::Serverless)
        .api_key(KEY)
        .build()?
        .to_config_map();
    assert_eq!(no_deployment["_type"], "azureml_chat_endpoint");
    assert_eq!(
        no_deployment["deployment_name"], "",
        "Python writes \"\" for none"
    );
    assert_eq!(no_deployment["endpoint_api_type"], "serverless");
    assert_eq!(no_deployment["formatter"], json!({"_type": "custom_openai_chat"}));
    Ok(())
}

#[test]
fn user_type_saved_with_save_config_loads_through_its_registry() -> Result<()> {
    let dir = TempDir::new("user-type");
    let mut fields = docs_example()?.to_config_map();
    fields.insert("_type".into(), "my_team_llm".into());
    let path = dir.path("team.yaml");
    save_config(&path, &fields)?;

    let mut registry = registry();
    registry.register("my_team_llm", |ctx| {
        ctx.completion_client().map(AnyClient::Completion)
    });
    let loaded = registry.load_with(&path, &options())?;
    assert_eq!(loaded.type_name(), "my_team_llm");
    assert_eq!(loaded.into_completion()?.config(), docs_example()?.config());

    assert_eq!(
        message(Registry::new().load_with(&path, &options())),
        format!(
            "invalid `_type` (file `{}`): unknown `_type` \"my_team_llm\"; registered: azureml_chat_endpoint, azureml_embeddings_endpoint, azureml_endpoint",
            path.display()
        )
    );
    Ok(())
}

#[derive(Debug, PartialEq)]
struct Echo {
    greeting: String,
}

#[test]
fn user_type_may_build_its_own_value() -> Result<()> {
    let dir = TempDir::new("custom-value");
    let fields = json!({"_type": "echo_model", "greeting": "¡hola!"});
    let path = dir.path("echo.json");
    save_config(&path, fields.as_object().expect("mapping"))?;

    let mut registry = Registry::new();
    registry.register("echo_model", |ctx| {
        let greeting = ctx
            .fields()
            .get("greeting")
            .and_then(Value::as_str)
            .ok_or_else(|| ctx.invalid("greeting", "expected a string"))?;
        Ok(AnyClient::Custom(Box::new(Echo {
            greeting: greeting.to_owned(),
        })))
    });
    let echo: Echo = registry.load(&path)?.downcast()?;
    assert_eq!(
        echo,
        Echo {
            greeting: "¡hola!".into()
        }
    );

    assert_eq!(
        message(registry.load(&path)?.into_completion()),
        format!(
            "invalid `_type` (file `{}`): `echo_model` is a user type, not a completion client \
             (AzureMlOnlineEndpoint); use downcast()",
            path.display()
        )
    );
    let bad = dir.write("bad.json", r#"{"_type": "echo_model", "greeting": 3}"#);
    assert_eq!(
        message(registry.load(&bad)),
        format!("invalid `greeting` (file `{}`): expected a string", bad.display())
    );
    Ok(())
}

#[test]
fn loaded_kind_mismatch_says_which_accessor_fits() -> Result<()> {
    let dir = TempDir::new("kind");
    let chat = AzureMlChatOnlineEndpoint::builder()
        .endpoint_url(SCORE_URL)
        .api_key(KEY)
        .build()?;
    let path = dir.path("chat.json");
    chat.save(&path)?;
    assert_eq!(
        message(Registry::new().load_with(&path, &options())?.into_completion()),
        format!(
            "invalid `_type` (file `{}`): `azureml_chat_endpoint` is a chat client, not a completion client \
             (AzureMlOnlineEndpoint); use into_chat()",
            path.display()
        )
    );
    Ok(())
}

/// explicit argument > file > env var > default, setting by setting; the key too.
#[test]
fn precedence_is_argument_then_file_then_env_then_default() -> Result<()> {
    let dir = TempDir::new("precedence");
    let path = dir.write(
        "p.json",
        r#"{"_type": "azureml_endpoint", "endpoint_url": "https://file.eastus2.inference.ml.azure.com/score",
            "timeout": 7, "endpoint_api_key": "file-key"}"#,
    );
    let env = with_env(&[
        (
            "AZUREML_ENDPOINT_URL",
            "https://env.eastus2.inference.ml.azure.com/score",
        ),
        ("AZUREML_ENDPOINT_API_KEY", "env-key"),
        ("AZUREML_TIMEOUT", "8"),
        ("AZUREML_DEPLOYMENT_NAME", "env-deployment"),
    ]);
    let registry = Registry::new();

    let from_file = registry.load_with(&path, &env)?.into_completion()?;
    assert_eq!(
        from_file.config().endpoint_url,
        "https://file.eastus2.inference.ml.azure.com/score"
    );
    assert_eq!(from_file.config().timeout, Duration::from_secs(7));
    assert_eq!(
        from_file.config().deployment_name.as_deref(),
        Some("env-deployment")
    );
    assert_eq!(from_file.config().max_retries, 3);
    let file = azureml_endpoint::Origin::File(path.clone());
    assert!(from_file.sources().contains(&("endpoint_api_key", file)));

    let explicit = env
        .endpoint_url("https://arg.eastus2.inference.ml.azure.com/score")
        .timeout(Duration::from_secs(9))
        .deployment_name("arg-deployment")
        .api_key("arg-key")
        .max_retries(1);
    let from_args = registry.load_with(&path, &explicit)?.into_completion()?;
    assert_eq!(
        from_args.config().endpoint_url,
        "https://arg.eastus2.inference.ml.azure.com/score"
    );
    assert_eq!(from_args.config().timeout, Duration::from_secs(9));
    assert_eq!(
        from_args.config().deployment_name.as_deref(),
        Some("arg-deployment")
    );
    assert_eq!(from_args.config().max_retries, 1);
    assert!(from_args
        .sources()
        .contains(&("endpoint_api_key", azureml_endpoint::Origin::Argument)));

    let bare = dir.write("bare.yaml", "_type: azureml_endpoint\n");
    let from_env = registry
        .load_with(
            &bare,
            &with_env(&[
                (
                    "AZUREML_ENDPOINT_URL",
                    "https://env.eastus2.inference.ml.azure.com/score",
                ),
                ("AZUREML_ENDPOINT_API_KEY", "env-key"),
            ]),
        )?
        .into_completion()?;
    assert_eq!(
        from_env.config().endpoint_url,
        "https://env.eastus2.inference.ml.azure.com/score"
    );
    assert_eq!(from_env.config().timeout, Duration::from_secs(50));
    assert_eq!(from_env.config().api_type, ApiType::Dedicated);
    assert_eq!(from_env.formatter().tag(), "custom_openai");
    Ok(())
}

/// What docs/config.md accepts on load besides what `save` writes.
#[test]
fn load_accepts_synonyms_aliases_null_kwargs_and_realtime() -> Result<()> {
    let dir = TempDir::new("lenient");
    let env = with_env(&[("AZUREML_ENDPOINT_API_KEY", KEY)]);
    let path = dir.write(
        "python-style.yaml",
        format!(
            "_type: azureml_endpoint\nendpoint_url: {SCORE_URL}\nendpoint_api_type: realtime\n\
             content_formatter: GPT2ContentFormatter\nmodel_kwargs: null\ntimeout: 0.25\n"
        ),
    );
    let llm = Registry::new().load_with(&path, &env)?.into_completion()?;
    assert_eq!(llm.config().api_type, ApiType::Dedicated);
    assert_eq!(llm.formatter().tag(), "gpt2");
    assert!(llm.config().model_kwargs.is_empty());
    assert_eq!(llm.config().timeout, Duration::from_millis(250));

    let chat = dir.write(
        "chat.json",
        format!(r#"{{"_type": "azureml_chat_endpoint", "endpoint_url": "{SCORE_URL}", "formatter": "llama_chat"}}"#),
    );
    let chat = Registry::new().load_with(&chat, &env)?.into_chat()?;
    assert_eq!(chat.formatter().tag(), "custom_openai_chat");
    Ok(())
}

/// Every tag, alias and Python class name of docs/wire.md loads from a file, under its canonical
/// tag.
#[test]
fn formatter_tags_aliases_and_python_class_names_load_from_files() -> Result<()> {
    let dir = TempDir::new("tags");
    let env = with_env(&[
        ("AZUREML_ENDPOINT_API_KEY", KEY),
        ("AZUREML_ENDPOINT_URL", SCORE_URL),
    ]);
    for (given, tag) in [
        ("gpt2", "gpt2"),
        ("oss", "gpt2"),
        ("GPT2ContentFormatter", "gpt2"),
        ("OSSContentFormatter", "gpt2"),
        ("hf", "hf"),
        ("HFContentFormatter", "hf"),
        ("dolly", "dolly"),
        ("DollyContentFormatter", "dolly"),
        ("custom_openai", "custom_openai"),
        ("llama", "custom_openai"),
        ("CustomOpenAIContentFormatter", "custom_openai"),
        ("LlamaContentFormatter", "custom_openai"),
    ] {
        let path = dir.write(
            "c.yaml",
            format!("_type: azureml_endpoint\nformatter: {{_type: {given}}}\n"),
        );
        let llm = Registry::new().load_with(&path, &env)?.into_completion()?;
        assert_eq!(llm.formatter().tag(), tag, "{given}");
    }
    for (given, tag) in [
        ("custom_openai_chat", "custom_openai_chat"),
        ("llama_chat", "custom_openai_chat"),
        ("CustomOpenAIChatContentFormatter", "custom_openai_chat"),
        ("LlamaChatContentFormatter", "custom_openai_chat"),
        ("mistral_chat", "mistral_chat"),
        ("MistralChatContentFormatter", "mistral_chat"),
    ] {
        let path = dir.write(
            "c.json",
            format!(r#"{{"_type": "azureml_chat_endpoint", "content_formatter": "{given}"}}"#),
        );
        let chat = Registry::new().load_with(&path, &env)?.into_chat()?;
        assert_eq!(chat.formatter().tag(), tag, "{given}");
    }
    Ok(())
}

#[test]
fn debug_output_never_shows_the_key() -> Result<()> {
    let options = LoadOptions::new()
        .api_key(KEY)
        .env_vars([("AZUREML_ENDPOINT_URL", SCORE_URL)]);
    let debug = format!("{options:?}");
    assert!(!debug.contains(KEY) && debug.contains("ApiKey(***)"), "{debug}");
    assert_eq!(
        format!("{:?}", registry()),
        "Registry { types: [\"azureml_chat_endpoint\", \"azureml_embeddings_endpoint\", \"azureml_endpoint\"], \
         completion_formatters: [\"prefixed\"], chat_formatters: [\"labelled_chat\"], embeddings_formatters: [] }"
    );
    let dir = TempDir::new("debug");
    let path = dir.path("llm.json");
    docs_example()?.save(&path)?;
    let loaded = Registry::new().load_with(&path, &options)?;
    assert!(!format!("{loaded:?}").contains(KEY));
    Ok(())
}

#[test]
fn allow_insecure_http_comes_only_from_the_loader() -> Result<()> {
    let dir = TempDir::new("insecure");
    let path = dir.write(
        "plain.json",
        r#"{"_type": "azureml_endpoint", "endpoint_url": "http://gateway.internal/score"}"#,
    );
    let env = with_env(&[("AZUREML_ENDPOINT_API_KEY", KEY)]);
    let err = message(Registry::new().load_with(&path, &env));
    assert!(err.starts_with("invalid `endpoint_url` (file `"), "{err}");
    assert!(err.contains("plain http sends the key in clear text"), "{err}");
    let loaded = Registry::new().load_with(&path, &env.allow_insecure_http(true));
    // With a proxy in the environment the opt-in is not enough: the key would cross it in clear.
    if let Some(var) = support::http_proxy_in_env("gateway.internal") {
        let err = message(loaded);
        assert!(
            err.contains(&format!("the proxy set in {var}, key in clear")),
            "{err}"
        );
        return Ok(());
    }
    let llm = loaded?.into_completion()?;
    assert!(llm.config().allow_insecure_http);
    assert!(!llm.to_config_map().contains_key("allow_insecure_http"));
    Ok(())
}

/// The tags a registry accepts, for a program's own messages: built-ins first, then registered.
#[test]
fn registry_lists_built_in_then_registered_formatter_tags() {
    let mut registry = Registry::new();
    registry.register_chat_formatter("team_chat", |_| Ok(chat_formatter("mistral_chat").ok_or("none")?));
    let chat: Vec<&str> = registry.chat_formatter_tags().collect();
    assert_eq!(
        chat,
        [
            "custom_openai_chat",
            "llama_chat",
            "mistral_chat",
            "promptflow",
            "team_chat"
        ]
    );
    let completion: Vec<&str> = registry.completion_formatter_tags().collect();
    assert_eq!(
        completion,
        [
            "gpt2",
            "oss",
            "hf",
            "dolly",
            "custom_openai",
            "llama",
            "catalog",
            "promptflow"
        ]
    );
}
