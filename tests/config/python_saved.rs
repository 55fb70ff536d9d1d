//! Files LangChain Python's `save()` wrote load as-is, and the rebuilt client sends the request
//! they describe (URL and key from the env, formatter defaulted).

use crate::support::{python_saved, with_env, KEY};
use azureml_endpoint::{ApiType, Origin, Registry, Result};
use httpmock::prelude::*;
use std::time::Duration;

/// Loads a Python-saved completion config with URL and key from the (injected) env and checks
/// the request its client sends to a local mock.
fn check(file: &str, deployment: Option<&str>, parameters: &str) -> Result<()> {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        let when = when
            .method(POST)
            .path("/score")
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"input_data":{{"input_string":["Tell me a joke"],"parameters":{parameters}}}}}"#
            ));
        match deployment {
            Some(name) => when.header("azureml-model-deployment", name),
            None => when.header_missing("azureml-model-deployment"),
        };
        then.status(200).body(r#"[{"0": "Why did the chicken…"}]"#);
    });
    let url = server.url("/score");
    let options = with_env(&[("AZUREML_ENDPOINT_URL", &url), ("AZUREML_ENDPOINT_API_KEY", KEY)]);
    let loaded = Registry::new().load_with(python_saved(file), &options)?;
    assert_eq!(loaded.type_name(), "azureml_endpoint");
    let llm = loaded.into_completion()?;

    let config = llm.config();
    assert_eq!(config.endpoint_url, url);
    assert_eq!(config.api_type, ApiType::Dedicated);
    assert_eq!(config.deployment_name.as_deref(), deployment);
    assert_eq!(config.timeout, Duration::from_secs(50));
    assert_eq!(config.max_retries, 3);
    assert_eq!(llm.formatter().tag(), "custom_openai");
    let sources = llm.sources();
    assert!(sources.contains(&("endpoint_url", Origin::Env("AZUREML_ENDPOINT_URL"))));
    assert!(sources.contains(&("endpoint_api_key", Origin::Env("AZUREML_ENDPOINT_API_KEY"))));

    assert_eq!(llm.invoke("Tell me a joke")?.text, "Why did the chicken…");
    mock.assert();
    Ok(())
}

const DOCS_KWARGS_IN_PYTHON_ORDER: &str =
    r#"{"temperature":0.2,"max_tokens":150,"top_p":0.8,"frequency_penalty":0.32,"presence_penalty":0.072}"#;
const DOCS_KWARGS_SORTED: &str =
    r#"{"frequency_penalty":0.32,"max_tokens":150,"presence_penalty":0.072,"temperature":0.2,"top_p":0.8}"#;

#[test]
fn azureml_json() -> Result<()> {
    check(
        "azureml.json",
        Some("databricks-dolly-v2-12b-4"),
        DOCS_KWARGS_IN_PYTHON_ORDER,
    )
}

#[test]
fn azureml_yaml_keeps_the_files_sorted_key_order() -> Result<()> {
    check(
        "azureml.yaml",
        Some("databricks-dolly-v2-12b-4"),
        DOCS_KWARGS_SORTED,
    )
}

#[test]
fn azureml_yml_with_empty_deployment_sends_no_deployment_header() -> Result<()> {
    check("azureml.yml", None, r#"{"temperature":0.5}"#)
}

#[test]
fn model_kwargs_none_json() -> Result<()> {
    check("model_kwargs_none.json", None, "{}")
}

#[test]
fn model_kwargs_none_yaml() -> Result<()> {
    check("model_kwargs_none.yaml", None, "{}")
}

#[test]
fn after_call_kwargs_json_sends_the_leaked_stop_python_saved() -> Result<()> {
    check(
        "after_call_kwargs.json",
        None,
        r#"{"temperature":0.5,"max_new_tokens":3,"stop":["END"]}"#,
    )
}

/// Python's `save()` writes `deployment_name: ''` for none: that is unset, so the env var applies.
#[test]
fn empty_deployment_in_the_file_lets_the_env_var_apply() -> Result<()> {
    let options = with_env(&[
        (
            "AZUREML_ENDPOINT_URL",
            "https://e.eastus2.inference.ml.azure.com/score",
        ),
        ("AZUREML_ENDPOINT_API_KEY", KEY),
        ("AZUREML_DEPLOYMENT_NAME", "green"),
    ]);
    let llm = Registry::new()
        .load_with(python_saved("azureml.yml"), &options)?
        .into_completion()?;
    assert_eq!(llm.config().deployment_name.as_deref(), Some("green"));
    assert!(llm
        .sources()
        .contains(&("deployment_name", Origin::Env("AZUREML_DEPLOYMENT_NAME"))));

    // An empty explicit argument is unset too; a non-empty file value still beats the env var.
    let llm = Registry::new()
        .load_with(python_saved("azureml.yml"), &options.clone().deployment_name(""))?
        .into_completion()?;
    assert_eq!(llm.config().deployment_name.as_deref(), Some("green"));
    let llm = Registry::new()
        .load_with(python_saved("azureml.yaml"), &options)?
        .into_completion()?;
    assert_eq!(
        llm.config().deployment_name.as_deref(),
        Some("databricks-dolly-v2-12b-4")
    );

    // Without the env var, `""` is no deployment: no header is sent.
    let options = with_env(&[
        (
            "AZUREML_ENDPOINT_URL",
            "https://e.eastus2.inference.ml.azure.com/score",
        ),
        ("AZUREML_ENDPOINT_API_KEY", KEY),
    ]);
    let llm = Registry::new()
        .load_with(python_saved("azureml.yml"), &options)?
        .into_completion()?;
    assert_eq!(llm.config().deployment_name, None);
    Ok(())
}

/// The hand-written file carries its own key, api type, deployment and timeout; only the URL
/// is given explicitly (the file's port is not ours), and the explicit URL wins over the file.
#[test]
fn handwritten_full_json_uses_the_files_key_and_serverless_shape() -> Result<()> {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(POST)
            .path("/completions")
            .header("authorization", "Bearer test-key")
            .header("api-key", "test-key")
            .header("azureml-model-deployment", "dep-hand")
            .body(r#"{"prompt":"Hi","temperature":0.3}"#);
        then.status(200)
            .body(r#"{"choices": [{"text": "Hello!", "finish_reason": "stop"}]}"#);
    });
    let options =
        with_env(&[("AZUREML_ENDPOINT_API_KEY", "env-key-loses")]).endpoint_url(server.url("/completions"));
    let llm = Registry::new()
        .load_with(python_saved("handwritten_full.json"), &options)?
        .into_completion()?;

    let config = llm.config();
    assert_eq!(config.api_type, ApiType::Serverless);
    assert_eq!(config.timeout, Duration::from_secs(9));
    let file = Origin::File(python_saved("handwritten_full.json"));
    let sources = llm.sources();
    assert!(sources.contains(&("endpoint_url", Origin::Argument)));
    assert!(sources.contains(&("endpoint_api_key", file.clone())));
    assert!(sources.contains(&("timeout", file)));

    let completion = llm.invoke("Hi")?;
    assert_eq!(completion.text, "Hello!");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    mock.assert();
    Ok(())
}
