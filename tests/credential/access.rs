//! Every way Azure ML lets a client in, against fake Entra, Azure Resource Manager and endpoint
//! servers on 127.0.0.1 (tests/support/access.rs): connecting by endpoint name in each auth mode,
//! AML tokens refreshed when they say and after a 401, both keys with failover and rotation,
//! the audience of every token, ARM's refusals naming the endpoint, and no secret anywhere.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::support::access::*;
use azureml_endpoint::credential::{from_fn, AccessToken, TokenCredential, AZURE_ML_SCOPE};
use azureml_endpoint::error::{LookupOperation, TransportErrorKind};
use azureml_endpoint::formatter::Gpt2ContentFormatter;
use azureml_endpoint::{AuthMode, AzureMlOnlineEndpoint, AzureMlOnlineEndpointBuilder, Error, Origin};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MANAGEMENT: &str = "https://management.azure.com/.default";

/// An Entra source handing out the token of each audience, recording the scopes asked for.
fn entra(scopes: Arc<Mutex<Vec<String>>>) -> impl TokenCredential + 'static {
    from_fn(move |scope: &str| {
        scopes.lock().unwrap().push(scope.to_owned());
        let token = match scope {
            MANAGEMENT => ARM_TOKEN,
            AZURE_ML_SCOPE => ML_TOKEN,
            _ => "eyJhbGciOiJub25lIn0.e30.UNKNOWN-TOKEN-SECRET",
        };
        Ok(AccessToken::new(
            token,
            SystemTime::now() + Duration::from_secs(3600),
        ))
    })
}

/// A client for the fake endpoint by name, signing in to the fake ARM with `entra`.
fn named(server: &FakeAzure) -> AzureMlOnlineEndpointBuilder {
    unsigned(server).arm_credential(entra(Arc::default()))
}

/// A client for the fake endpoint by name, with no credential for ARM yet.
fn unsigned(server: &FakeAzure) -> AzureMlOnlineEndpointBuilder {
    AzureMlOnlineEndpoint::builder()
        .endpoint_name(ENDPOINT)
        .workspace_name(WORKSPACE)
        .resource_group(RESOURCE_GROUP)
        .subscription_id(SUBSCRIPTION)
        .formatter(Gpt2ContentFormatter)
        .max_retries(0)
        .env_vars([("AZUREML_ARM_ENDPOINT", server.url(""))])
}

fn authorizations(server: &FakeAzure, suffix: &str) -> Vec<String> {
    server
        .seen_at(suffix)
        .iter()
        .map(|s| s.header("authorization").unwrap_or_default())
        .collect()
}

#[test]
fn by_name_with_keys_looks_up_once_and_scores_with_the_primary_key() -> TestResult {
    let server = FakeAzure::start(Script::default());
    let scopes = Arc::new(Mutex::new(Vec::new()));
    let llm = named(&server).arm_credential(entra(scopes.clone())).build()?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    assert_eq!(llm.invoke("again")?.text, "ok");

    let config = llm.config();
    assert_eq!(config.endpoint_url, server.url("/score"));
    assert_eq!(config.auth, AuthMode::Key);
    assert_eq!(
        config.traffic,
        Some(vec![("blue".into(), 100), ("green".into(), 0)])
    );
    assert_eq!(config.endpoint_name.as_deref(), Some(ENDPOINT));
    let paths: Vec<(String, String)> = server
        .seen()
        .iter()
        .map(|s| (s.method.clone(), s.target.clone()))
        .collect();
    let arm = endpoint_path();
    assert_eq!(
        paths,
        [
            ("GET".into(), format!("{arm}?api-version=2025-12-01")),
            ("POST".into(), format!("{arm}/listKeys?api-version=2025-12-01")),
            ("POST".into(), "/score".into()),
            ("POST".into(), "/score".into()),
        ]
    );
    // The ARM token went only to ARM, for its audience; the key only to the endpoint.
    assert_eq!(
        authorizations(&server, ENDPOINT).first().cloned(),
        Some(format!("Bearer {ARM_TOKEN}"))
    );
    assert_eq!(
        authorizations(&server, "/score"),
        vec![format!("Bearer {PRIMARY}"); 2]
    );
    assert_eq!(*scopes.lock().unwrap(), [MANAGEMENT]);

    let sources = llm.sources();
    let origin = |key: &str| sources.iter().find(|(k, _)| *k == key).map(|(_, o)| o.clone());
    assert_eq!(origin("endpoint_url"), Some(Origin::Lookup));
    assert_eq!(origin("auth"), Some(Origin::Lookup));
    assert_eq!(origin("endpoint_name"), Some(Origin::Argument));
    // A saved config keeps the coordinates and nothing looked up.
    let saved = serde_json::Value::Object(llm.to_config_map()).to_string();
    assert_eq!(
        saved,
        format!(
            r#"{{"_type":"azureml_endpoint","endpoint_name":"{ENDPOINT}","workspace_name":"{WORKSPACE}","resource_group":"{RESOURCE_GROUP}","subscription_id":"{SUBSCRIPTION}","endpoint_api_type":"dedicated","deployment_name":"","timeout":50,"max_retries":0,"formatter":{{"_type":"gpt2"}},"model_kwargs":{{}},"extra_headers":{{}}}}"#
        )
    );
    assert_clean(&format!("{llm:?} {saved}"));
    Ok(())
}

#[test]
fn an_explicit_url_and_key_win_over_the_lookup() -> TestResult {
    let server = FakeAzure::start(Script::default());
    let llm = named(&server)
        .endpoint_url(server.url("/score"))
        .auth(AuthMode::Key)
        .api_key(PRIMARY)
        .build()?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    // Nothing to look up: the one request is the call.
    assert_eq!(server.seen().len(), 1);
    assert_eq!(llm.config().traffic, None);
    Ok(())
}

#[test]
fn aml_tokens_are_refreshed_when_they_say_and_once_after_a_401() -> TestResult {
    let server = FakeAzure::start(Script {
        auth_mode: "AMLToken",
        accepted: AML_TOKENS.iter().map(|t| format!("Bearer {t}")).collect(),
        // Due for refresh at once, valid for an hour.
        aml_lifetime: (3600, -1),
        ..Script::default()
    });
    let llm = named(&server).build()?;
    assert_eq!(llm.config().auth, AuthMode::AmlToken);
    // The first token was fetched at build, so a bad permission shows there.
    assert_eq!(server.seen_at("/token").len(), 1);
    assert_eq!(llm.invoke("one")?.text, "ok");
    // The next token is not due for half an hour.
    server.set(|s| s.aml_lifetime = (3600, 1800));
    assert_eq!(llm.invoke("two")?.text, "ok");
    assert_eq!(
        authorizations(&server, "/score"),
        [
            format!("Bearer {}", AML_TOKENS[0]),
            format!("Bearer {}", AML_TOKENS[1])
        ]
    );
    // Each token route call was signed for ARM, never with an AML token.
    assert_eq!(
        authorizations(&server, "/token"),
        vec![format!("Bearer {ARM_TOKEN}"); 2]
    );
    assert_eq!(server.seen_at("/listKeys").len(), 0);

    // The endpoint stops taking the second token: one new token, one retry.
    server.set(|s| s.accepted = vec![format!("Bearer {}", AML_TOKENS[2])]);
    assert_eq!(llm.invoke("three")?.text, "ok");
    assert_eq!(
        authorizations(&server, "/score")[2..],
        [
            format!("Bearer {}", AML_TOKENS[1]),
            format!("Bearer {}", AML_TOKENS[2])
        ]
    );
    assert_eq!(server.seen_at("/token").len(), 3);
    // Not due: the next call reuses it.
    assert_eq!(llm.invoke("four")?.text, "ok");
    assert_eq!(server.seen_at("/token").len(), 3);
    Ok(())
}

#[test]
fn a_rejected_aml_token_is_an_http_401_after_one_refresh() -> TestResult {
    let server = FakeAzure::start(Script {
        auth_mode: "AMLToken",
        accepted: Vec::new(),
        ..Script::default()
    });
    let err = named(&server).build()?.invoke("hi").unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(server.seen_at("/token").len(), 2);
    assert_eq!(server.seen_at("/score").len(), 2);
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("rejected Bearer ***"), "{shown}");
    assert_clean(&shown);
    Ok(())
}

#[test]
fn an_entra_endpoint_gets_the_ml_token_and_arm_the_management_one() -> TestResult {
    let server = FakeAzure::start(Script {
        auth_mode: "AADToken",
        accepted: vec![format!("Bearer {ML_TOKEN}")],
        ..Script::default()
    });
    let scopes = Arc::new(Mutex::new(Vec::new()));
    // One credential for both: each audience gets its own token, cached apart.
    let llm = unsigned(&server).credential(entra(scopes.clone())).build()?;
    assert_eq!(llm.config().auth, AuthMode::Custom);
    assert_eq!(llm.invoke("hi")?.text, "ok");
    assert_eq!(*scopes.lock().unwrap(), [MANAGEMENT, AZURE_ML_SCOPE]);
    assert_eq!(authorizations(&server, "/score"), [format!("Bearer {ML_TOKEN}")]);
    assert_eq!(authorizations(&server, ENDPOINT), [format!("Bearer {ARM_TOKEN}")]);
    Ok(())
}

#[test]
fn a_token_for_the_wrong_audience_is_refused_by_arm_and_named() -> TestResult {
    let server = FakeAzure::start(Script::default());
    // A source that ignores the scope: the endpoint's token is not ARM's.
    let wrong = from_fn(|_: &str| {
        Ok(AccessToken::new(
            ML_TOKEN,
            SystemTime::now() + Duration::from_secs(3600),
        ))
    });
    let err = named(&server).arm_credential(wrong).build().unwrap_err();
    let Error::Lookup(lookup) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(lookup.operation, LookupOperation::Endpoint);
    assert_eq!(lookup.status, Some(401));
    assert_eq!(
        err.to_string(),
        "cannot get endpoint `ep-test` in workspace `ws-test` (resource group `rg-test`): Azure \
         Resource Manager answered 401 InvalidAuthenticationToken: The access token has an \
         invalid audience.; the signed-in identity needs \
         Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read on the endpoint (the \
         AzureML Data Scientist role has it); request id req-401"
    );
    assert_eq!(server.seen_at("/score").len(), 0);
    assert_clean(&format!("{err} {err:?}"));
    Ok(())
}

#[test]
fn arm_refusals_name_the_endpoint_the_workspace_and_the_permission() -> TestResult {
    let cases = [
        (
            "/listKeys",
            403,
            "AuthorizationFailed",
            "cannot list the keys of endpoint `ep-test` in workspace `ws-test` (resource group \
             `rg-test`): Azure Resource Manager answered 403 AuthorizationFailed: denied; the \
             signed-in identity needs \
             Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listkeys/action on the \
             endpoint (the AzureML Data Scientist role has it); request id req-403",
        ),
        (
            "",
            404,
            "ResourceNotFound",
            "cannot get endpoint `ep-test` in workspace `ws-test` (resource group `rg-test`): \
             Azure Resource Manager answered 404 ResourceNotFound: denied; check the endpoint \
             name, workspace, resource group and subscription; request id req-404",
        ),
    ];
    for (suffix, status, code, want) in cases {
        let server = FakeAzure::start(Script {
            arm_fails: vec![(suffix, status, code, "denied")],
            ..Script::default()
        });
        let err = named(&server).build().unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    // The token route, when the mode needs it.
    let server = FakeAzure::start(Script {
        auth_mode: "AMLToken",
        arm_fails: vec![("/token", 403, "AuthorizationFailed", "denied")],
        ..Script::default()
    });
    let err = named(&server).build().unwrap_err().to_string();
    assert!(
        err.starts_with("cannot get an AML token for endpoint `ep-test` in workspace `ws-test`")
            && err.contains("onlineEndpoints/token/action"),
        "{err}"
    );
    // A wrong workspace is ARM's 404, named.
    let server = FakeAzure::start(Script::default());
    let err = named(&server)
        .workspace_name("other-ws")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot get endpoint `ep-test` in workspace `other-ws` (resource group `rg-test`): Azure Resource Manager answered 404 ResourceNotFound"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_rejected_primary_key_fails_over_to_the_secondary_and_stays_there() -> TestResult {
    let server = FakeAzure::start(Script {
        accepted: vec![format!("Bearer {SECONDARY}")],
        ..Script::default()
    });
    let llm = named(&server).build()?;
    let clone = llm.clone();
    assert_eq!(llm.invoke("one")?.text, "ok");
    let other_thread = std::thread::spawn(move || clone.invoke("two").map(|c| c.text));
    assert_eq!(other_thread.join().unwrap()?, "ok");
    assert_eq!(
        authorizations(&server, "/score"),
        [
            format!("Bearer {PRIMARY}"),
            format!("Bearer {SECONDARY}"),
            format!("Bearer {SECONDARY}"),
        ]
    );
    // Both refused: one switch back, then the error says which key it sent.
    server.set(|s| s.accepted.clear());
    let err = llm.invoke("three").unwrap_err();
    assert_eq!(err.status(), Some(401));
    let shown = err.to_string();
    assert!(
        shown.ends_with("rejected Bearer ***; request id req-401; sent the primary key; after 2 attempts"),
        "{shown}"
    );
    assert_clean(&format!("{shown} {err:?}"));
    Ok(())
}

#[test]
fn keys_given_in_code_fail_over_too() -> TestResult {
    let server = FakeAzure::start(Script {
        accepted: vec![format!("Bearer {SECONDARY}")],
        ..Script::default()
    });
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(PRIMARY)
        .secondary_api_key(SECONDARY)
        .formatter(Gpt2ContentFormatter)
        .build()?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    assert_eq!(server.seen_at("/score").len(), 2);
    // With one key there is nothing to fail over to.
    let single = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(PRIMARY)
        .formatter(Gpt2ContentFormatter)
        .build()?;
    let err = single.invoke("hi").unwrap_err().to_string();
    assert!(err.ends_with("rejected Bearer ***; request id req-401"), "{err}");
    let err = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .secondary_api_key(SECONDARY)
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid `secondary_api_key` (argument): a secondary key is the other key of the one in \
         use: give the primary key too"
    );
    Ok(())
}

#[test]
fn a_running_client_takes_a_new_key_on_the_same_connection() -> TestResult {
    let server = FakeAzure::start(Script::default());
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(PRIMARY)
        .formatter(Gpt2ContentFormatter)
        .build()?;
    let clone = llm.clone();
    assert_eq!(llm.invoke("hi")?.text, "ok");
    server.set(|s| s.accepted = vec![format!("Bearer {SECONDARY}")]);
    clone.set_api_key(SECONDARY)?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    assert_eq!(
        authorizations(&server, "/score"),
        [format!("Bearer {PRIMARY}"), format!("Bearer {SECONDARY}")]
    );
    assert_eq!(server.connections(), 1, "the pool was kept");
    // A bad key is refused as at build, and the old one stays in use.
    let err = llm.set_api_key("two words").unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid `endpoint_api_key` (argument): the key contains a space at character 4, which \
         cannot go in an HTTP header; keys and tokens are visible ASCII only: copy the key again, \
         without spaces or line breaks"
    );
    assert_eq!(llm.invoke("hi")?.text, "ok");
    // The replaced key is still scrubbed from what servers send back.
    server.set(|s| s.accepted.clear());
    let err = llm.invoke("hi").unwrap_err();
    assert_clean(&format!("{err} {err:?} {llm:?}"));
    // A token client has no key to set.
    let token_client = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .credential(entra(Arc::default()))
        .token_scope(AZURE_ML_SCOPE)
        .build()?;
    assert_eq!(
        token_client.set_api_key(PRIMARY).unwrap_err().to_string(),
        "invalid `endpoint_api_key` (argument): this client signs in with a token, not a key; \
         build one with auth `key` to use keys"
    );
    Ok(())
}

#[test]
fn settings_for_a_named_endpoint_are_checked_before_any_call() -> TestResult {
    let base = || AzureMlOnlineEndpoint::builder().formatter(Gpt2ContentFormatter);
    let cases = [
        (
            base()
                .endpoint_name(ENDPOINT)
                .workspace_name(WORKSPACE)
                .build()
                .err(),
            "invalid `endpoint_name` (argument): endpoint `ep-test` is looked up in its \
             workspace: set `resource_group` (or AZUREML_ARM_RESOURCEGROUP), `subscription_id` \
             (or AZUREML_ARM_SUBSCRIPTION)",
        ),
        (
            base()
                .endpoint_url("https://e.eastus2.inference.ml.azure.com/score")
                .auth(AuthMode::AmlToken)
                .build()
                .err(),
            "invalid `auth` (argument): `aml_token` gets the endpoint's token from Azure Resource \
             Manager: connect by name with `endpoint_name`, `workspace_name`, `resource_group` \
             and `subscription_id`",
        ),
        (
            base()
                .endpoint_name("ep/../../x")
                .workspace_name(WORKSPACE)
                .resource_group(RESOURCE_GROUP)
                .subscription_id(SUBSCRIPTION)
                .build()
                .err(),
            "invalid `endpoint_name` (argument): \"ep/../../x\" is not an Azure resource name: up \
             to 90 letters, digits, `-`, `_`, `.`, `(` and `)`",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(want));
    }
    let server = FakeAzure::start(Script::default());
    let err = named(&server)
        .env_vars([("AZUREML_ARM_ENDPOINT", "http://management.example.com")])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid `arm_endpoint` (env var AZUREML_ARM_ENDPOINT): \"http://management.example.com\" is not Azure Resource Manager's URL"),
        "{err}"
    );
    // A scoring URI in plain http to another host is refused like any URL.
    server.set(|s| s.scoring_uri = Some("http://ep.example.com/score".into()));
    let err = named(&server).build().unwrap_err().to_string();
    assert!(
        err.starts_with("invalid `endpoint_url` (looked up by endpoint name): \"http://ep.example.com/score\": plain http"),
        "{err}"
    );
    Ok(())
}

#[test]
fn workspace_env_vars_apply_only_to_a_named_endpoint() -> TestResult {
    let server = FakeAzure::start(Script::default());
    let vars = [
        ("AZUREML_ARM_ENDPOINT", server.url("")),
        ("AZUREML_ARM_WORKSPACE_NAME", WORKSPACE.to_owned()),
        ("AZUREML_ARM_RESOURCEGROUP", RESOURCE_GROUP.to_owned()),
        ("AZUREML_ARM_SUBSCRIPTION", SUBSCRIPTION.to_owned()),
    ];
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_name(ENDPOINT)
        .formatter(Gpt2ContentFormatter)
        .env_vars(vars.clone())
        .arm_credential(entra(Arc::default()))
        .build()?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    let origin = llm.sources().into_iter().find(|(k, _)| *k == "workspace_name");
    assert_eq!(
        origin,
        Some(("workspace_name", Origin::Env("AZUREML_ARM_WORKSPACE_NAME")))
    );
    // On Azure ML compute without an endpoint name, they are neither used nor saved.
    let by_url = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/score"))
        .api_key(PRIMARY)
        .env_vars(vars)
        .build()?;
    assert!(!by_url.to_config_map().contains_key("workspace_name"));
    assert_eq!(by_url.config().workspace_name, None);
    Ok(())
}

#[test]
fn a_name_that_does_not_resolve_is_its_own_kind() -> TestResult {
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url("https://no-such-endpoint.invalid/score")
        .api_key(PRIMARY)
        .max_retries(3)
        .build()?;
    let err = llm.invoke("hi").unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("{err:?}")
    };
    let proxied = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()));
    if proxied {
        // Through a proxy the name is the proxy's to resolve; an unreachable one is its own kind.
        assert_eq!(t.kind, TransportErrorKind::Proxy, "{err}");
    } else {
        assert_eq!(t.kind, TransportErrorKind::Dns, "{err}");
        assert!(
            err.to_string()
                .starts_with("cannot resolve the host name no-such-endpoint.invalid: "),
            "{err}"
        );
    }
    // Neither is retried: the next attempt would fail the same way.
    assert_eq!(t.attempts, 1);
    Ok(())
}

#[test]
fn a_chat_client_connects_by_name_too() -> TestResult {
    let server = FakeAzure::start(Script {
        answer: r#"{"output": "hello"}"#.to_owned(),
        ..Script::default()
    });
    let chat = azureml_endpoint::AzureMlChatOnlineEndpoint::builder()
        .endpoint_name(ENDPOINT)
        .workspace_name(WORKSPACE)
        .resource_group(RESOURCE_GROUP)
        .subscription_id(SUBSCRIPTION)
        .env_vars([("AZUREML_ARM_ENDPOINT", server.url(""))])
        .arm_credential(entra(Arc::default()))
        .build()?;
    let reply = chat.invoke(&[azureml_endpoint::ChatMessage::user("hi")])?;
    assert_eq!(reply.message.text(), "hello");
    assert_eq!(authorizations(&server, "/score"), [format!("Bearer {PRIMARY}")]);
    Ok(())
}
