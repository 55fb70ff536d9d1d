//! `from_env()` and env var precedence, set in the process env (under `crate::ENV`).

use std::time::Duration;

use crate::support::KEY;
use azureml_endpoint::{ApiType, AzureMlOnlineEndpoint, Error, Origin};

#[test]
fn env_vars_configure_the_client_and_arguments_win() {
    let _env = crate::ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let vars = [
        (
            "AZUREML_ENDPOINT_URL",
            "https://m.models.ai.azure.com/v1/completions",
        ),
        ("AZUREML_ENDPOINT_API_KEY", KEY),
        ("AZUREML_ENDPOINT_API_TYPE", "serverless"),
        ("AZUREML_DEPLOYMENT_NAME", "green"),
        ("AZUREML_TIMEOUT", "2.5"),
    ];
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
    let llm = AzureMlOnlineEndpoint::from_env().unwrap();
    let config = llm.config();
    assert_eq!(
        config.endpoint_url,
        "https://m.models.ai.azure.com/v1/completions"
    );
    assert_eq!(config.api_type, ApiType::Serverless);
    assert_eq!(config.deployment_name.as_deref(), Some("green"));
    assert_eq!(config.timeout, Duration::from_millis(2500));
    assert!(llm
        .sources()
        .contains(&("timeout", Origin::Env("AZUREML_TIMEOUT"))));

    // Arguments win over env vars, whatever the call order.
    let llm = AzureMlOnlineEndpoint::builder()
        .timeout(Duration::from_secs(7))
        .with_env()
        .deployment_name("blue")
        .build()
        .unwrap();
    assert_eq!(llm.config().timeout, Duration::from_secs(7));
    assert_eq!(llm.config().deployment_name.as_deref(), Some("blue"));
    assert!(llm.sources().contains(&("timeout", Origin::Argument)));

    // `deployment_name("")` is unset, as in Python: the env var applies, in either call order.
    for llm in [
        AzureMlOnlineEndpoint::builder()
            .deployment_name("")
            .with_env()
            .build(),
        AzureMlOnlineEndpoint::builder()
            .with_env()
            .deployment_name("")
            .build(),
    ] {
        let llm = llm.unwrap();
        assert_eq!(llm.config().deployment_name.as_deref(), Some("green"));
        assert!(llm
            .sources()
            .contains(&("deployment_name", Origin::Env("AZUREML_DEPLOYMENT_NAME"))));
    }

    // Bad env values name the variable.
    for (name, value, expected) in [
        (
            "AZUREML_TIMEOUT",
            "0",
            "invalid `timeout` (env var AZUREML_TIMEOUT): must be a number of seconds > 0, got 0",
        ),
        (
            "AZUREML_TIMEOUT",
            "-3",
            "invalid `timeout` (env var AZUREML_TIMEOUT): must be a number of seconds > 0, got -3",
        ),
        (
            "AZUREML_TIMEOUT",
            "soon",
            "invalid `timeout` (env var AZUREML_TIMEOUT): \"soon\" is not a number of seconds",
        ),
        (
            "AZUREML_ENDPOINT_API_TYPE",
            "cloud",
            "invalid `endpoint_api_type` (env var AZUREML_ENDPOINT_API_TYPE): unknown api type \"cloud\"",
        ),
        (
            "AZUREML_ENDPOINT_URL",
            "https://m.models.ai.azure.com/v1/chat/completions",
            "invalid `endpoint_url` (env var AZUREML_ENDPOINT_URL)",
        ),
    ] {
        let saved = std::env::var(name).unwrap();
        std::env::set_var(name, value);
        let err = AzureMlOnlineEndpoint::from_env().unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().starts_with(expected), "{err}");
        // An explicit argument replaces the bad env value before it is checked.
        if name == "AZUREML_TIMEOUT" {
            assert!(AzureMlOnlineEndpoint::builder()
                .timeout(Duration::from_secs(1))
                .with_env()
                .build()
                .is_ok());
        }
        std::env::set_var(name, saved);
    }
    for (name, _) in vars {
        std::env::remove_var(name);
    }
}
