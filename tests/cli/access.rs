//! The CLI's ways in, against fake Entra, Azure Resource Manager and endpoint servers on
//! 127.0.0.1 (tests/support/access.rs): `--endpoint-name` in each auth mode, key failover, a config
//! file that keeps the coordinates and no key, and `check` naming the step that fails.

use std::process::{Command, Output, Stdio};

use crate::support::access::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_azureml-endpoint");

/// Runs the binary with only `env` (and a dead proxy, which loopback never uses), asserting no
/// secret reaches its output. Exit code, stdout, stderr.
fn run(args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let output: Output = command.output().unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_clean(&format!("{out}{err}"));
    (output.status.code(), out, err)
}

/// `--endpoint-name` and the workspace flags for the fake endpoint.
fn by_name<'a>(command: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        command,
        "--endpoint-name",
        ENDPOINT,
        "--workspace",
        WORKSPACE,
        "--resource-group",
        RESOURCE_GROUP,
        "--subscription",
        SUBSCRIPTION,
        "--formatter",
        "gpt2",
    ];
    args.extend_from_slice(rest);
    args
}

fn authorizations(server: &FakeAzure, suffix: &str) -> Vec<String> {
    server
        .seen_at(suffix)
        .iter()
        .map(|s| s.header("authorization").unwrap_or_default())
        .collect()
}

#[test]
fn complete_by_endpoint_name_works_in_every_auth_mode() {
    let cases = [
        ("Key", format!("Bearer {PRIMARY}")),
        ("AMLToken", format!("Bearer {}", AML_TOKENS[0])),
        ("AADToken", format!("Bearer {ML_TOKEN}")),
    ];
    for (mode, sent) in cases {
        let server = FakeAzure::start(Script {
            auth_mode: mode,
            accepted: vec![sent.clone()],
            ..Script::default()
        });
        let (code, out, err) = run(&by_name("complete", &["hi"]), &server.env());
        assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "{mode}: {err}");
        assert_eq!(authorizations(&server, "/score"), [sent], "{mode}");
        // Every ARM call carried the management audience's token, and nothing else did.
        let arm: Vec<String> = server
            .seen()
            .iter()
            .filter(|s| s.path().starts_with("/subscriptions/"))
            .map(|s| s.header("authorization").unwrap_or_default())
            .collect();
        assert!(
            !arm.is_empty() && arm.iter().all(|a| *a == format!("Bearer {ARM_TOKEN}")),
            "{mode}: {arm:?}"
        );
        // The client secret signed in for ARM (and, for AADToken, for the endpoint).
        let scopes: Vec<String> = server
            .seen_at("/oauth2/v2.0/token")
            .iter()
            .filter_map(|s| {
                s.body
                    .split('&')
                    .find_map(|p| p.strip_prefix("scope=").map(str::to_owned))
            })
            .collect();
        let mut want = vec!["https%3A%2F%2Fmanagement.azure.com%2F.default".to_owned()];
        if mode == "AADToken" {
            want.push("https%3A%2F%2Fml.azure.com%2F.default".to_owned());
        }
        assert_eq!(scopes, want, "{mode}");
    }
}

#[test]
fn auth_aml_token_on_the_command_line_wins_over_the_endpoints_mode() {
    let server = FakeAzure::start(Script {
        auth_mode: "Key",
        accepted: vec![format!("Bearer {}", AML_TOKENS[0])],
        ..Script::default()
    });
    let (code, out, err) = run(
        &by_name("complete", &["--auth", "aml_token", "hi"]),
        &server.env(),
    );
    assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "{err}");
    assert_eq!(server.seen_at("/listKeys").len(), 0);
    assert_eq!(server.seen_at(&format!("{ENDPOINT}/token")).len(), 1);
}

#[test]
fn a_rejected_primary_key_fails_over_to_the_secondary() {
    let server = FakeAzure::start(Script {
        accepted: vec![format!("Bearer {SECONDARY}")],
        ..Script::default()
    });
    let (code, out, err) = run(&by_name("complete", &["hi"]), &server.env());
    assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "{err}");
    assert_eq!(
        authorizations(&server, "/score"),
        [format!("Bearer {PRIMARY}"), format!("Bearer {SECONDARY}")]
    );
    // Keys given in env vars fail over the same way, with no lookup at all.
    let direct = FakeAzure::start(Script {
        accepted: vec![format!("Bearer {SECONDARY}")],
        ..Script::default()
    });
    let url = direct.url("/score");
    let (code, out, err) = run(
        &[
            "complete",
            "--url",
            &url,
            "--formatter",
            "gpt2",
            "--secondary-key-env",
            "OTHER_KEY",
            "hi",
        ],
        &[
            ("AZUREML_ENDPOINT_API_KEY", PRIMARY.to_owned()),
            ("OTHER_KEY", SECONDARY.to_owned()),
        ],
    );
    assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "{err}");
    assert_eq!(direct.seen().len(), 2);
}

#[test]
fn config_new_by_name_saves_the_coordinates_and_no_key_and_loads_again() {
    let server = FakeAzure::start(Script::default());
    let dir = std::env::temp_dir().join(format!("access-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f.json");
    let file = file.to_str().unwrap();
    // `config new` makes no call: the fake sees nothing.
    let (code, _, err) = run(&by_name("config", &["new", "-o", file]), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err,
        format!("wrote {file} (no key is saved: the endpoint's keys or token are looked up by name when it is used)\n")
    );
    assert_eq!(server.seen().len(), 0);
    let saved = std::fs::read_to_string(file).unwrap();
    let json: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "_type": "azureml_endpoint",
            "endpoint_name": ENDPOINT,
            "workspace_name": WORKSPACE,
            "resource_group": RESOURCE_GROUP,
            "subscription_id": SUBSCRIPTION,
            "endpoint_api_type": "dedicated",
            "deployment_name": "",
            "timeout": 50,
            "max_retries": 3,
            "formatter": {"_type": "gpt2"},
            "model_kwargs": {},
            "extra_headers": {}
        })
    );
    assert_clean(&saved);
    let (code, out, err) = run(&["complete", "--config", file, "hi"], &server.env());
    assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "{err}");
    assert_eq!(authorizations(&server, "/score"), [format!("Bearer {PRIMARY}")]);
    // `config show` names where each came from: the URL and mode were looked up.
    let (code, out, err) = run(&["config", "show", file], &server.env());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("endpoint_name      ep-test  (file `"), "{out}");
    assert!(
        out.contains("endpoint_api_key   set (looked up by endpoint name)"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_probe_on_a_401_exits_1_and_says_the_key_was_rejected() {
    let server = FakeAzure::start(Script {
        accepted: Vec::new(),
        ..Script::default()
    });
    let url = server.url("/score");
    let env = [("AZUREML_ENDPOINT_API_KEY", PRIMARY.to_owned())];
    let args = ["check", "--url", &url, "--formatter", "gpt2", "--probe"];
    let (code, out, err) = run(&args, &env);
    assert_eq!((code, err.as_str()), (Some(1), ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[0].starts_with("ok   settings: endpoint_url "), "{out}");
    assert_eq!(
        lines[1],
        format!("ok   endpoint: {url} (argument), api type dedicated (argument), formatter gpt2 (argument)")
    );
    assert_eq!(
        lines[2],
        "ok   auth: key (default); key set (env var AZUREML_ENDPOINT_API_KEY); secondary key none"
    );
    assert_eq!(lines[3], "ok   proxy: none: requests go direct");
    assert_eq!(lines[4], "ok   trust: Mozilla's roots (the default)");
    assert_eq!(
        lines[5],
        "FAIL authorization: the key or token was rejected: endpoint answered HTTP 401 (key or \
         token rejected: check AZUREML_ENDPOINT_API_KEY): rejected Bearer ***; request id \
         req-401; check the key in AZUREML_ENDPOINT_API_KEY; with --auth, check that the identity \
         has a role that may score on the endpoint (see the README)"
    );
    // The same as one JSON object.
    let (code, out, _) = run(&[&args[..], &["--json"]].concat(), &env);
    assert_eq!(code, Some(1));
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], false);
    let names: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["settings", "endpoint", "auth", "proxy", "trust", "authorization"]
    );
    assert_eq!(json["steps"][5]["ok"], false);
    assert_eq!(json["steps"][2]["ok"], true);
}

#[test]
fn check_by_name_shows_where_everything_came_from_and_probes_ok() {
    let server = FakeAzure::start(Script {
        auth_mode: "AMLToken",
        accepted: vec![format!("Bearer {}", AML_TOKENS[0])],
        ..Script::default()
    });
    let (code, out, err) = run(&by_name("check", &["--probe", "--json"]), &server.env());
    assert_eq!(code, Some(0), "{out}{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], true);
    let detail = |i: usize| json["steps"][i]["detail"].as_str().unwrap().to_owned();
    assert_eq!(
        detail(1),
        format!(
            "{} (looked up by endpoint name), api type dedicated (default), formatter gpt2 \
             (argument); endpoint `ep-test` in workspace `ws-test` (resource group `rg-test`, \
             subscription `{SUBSCRIPTION}`); traffic: blue 100%, green 0%",
            server.url("/score")
        )
    );
    assert_eq!(
        detail(2),
        "aml_token (looked up by endpoint name); an AML token from Azure Resource Manager's token \
         route, refreshed when it says; Azure Resource Manager signed in with the default chain"
    );
    assert_eq!(json["steps"][5]["name"], "probe");
    assert!(
        detail(5).starts_with("the endpoint answered in "),
        "{}",
        detail(5)
    );
    // The probe asked for one token.
    let probe = server.seen_at("/score");
    assert_eq!(probe.len(), 1);
    assert!(
        probe[0].body.contains(r#""max_new_tokens":1"#),
        "{}",
        probe[0].body
    );
}

#[test]
fn check_probe_names_the_failing_step_and_what_to_do() {
    let cases: [(Option<Reply>, &str, &str); 4] = [
        (
            Some((429, vec![("retry-after", "120")], r#"{"message": "slow down"}"#)),
            "FAIL throttling: throttled: endpoint answered HTTP 429",
            "lower --concurrency",
        ),
        (
            Some((
                424,
                vec![
                    ("ms-azureml-model-error-statuscode", "500"),
                    ("ms-azureml-model-error-reason", "model crashed"),
                ],
                r#"{"message": "upstream failed"}"#,
            )),
            "FAIL model container: the model container failed (status 500, reason model crashed): ",
            "",
        ),
        (
            Some((404, Vec::new(), r#"{"message": "no deployment"}"#)),
            "FAIL deployment: no deployment takes traffic, or the URL is wrong: ",
            "check the URL and that a deployment takes traffic",
        ),
        (
            None,
            "FAIL formatter: the reply is not the formatter's shape: ",
            "check --formatter",
        ),
    ];
    for (fails, start, hint) in cases {
        let server = FakeAzure::start(Script {
            score_fails: fails,
            answer: r#"{"unexpected": true}"#.to_owned(),
            ..Script::default()
        });
        let url = server.url("/score");
        let env = [("AZUREML_ENDPOINT_API_KEY", PRIMARY.to_owned())];
        let args = ["check", "--url", &url, "--formatter", "gpt2", "--probe"];
        let (code, out, _) = run(&args, &env);
        assert_eq!(code, Some(1), "{out}");
        let last = out.lines().last().unwrap();
        assert!(last.starts_with(start) && last.contains(hint), "{last}");
    }
}

#[test]
fn check_says_what_fails_before_any_call() {
    // A name that does not resolve.
    let (code, out, _) = run(
        &[
            "check",
            "--url",
            "https://no-such-endpoint.invalid/score",
            "--probe",
        ],
        &[
            ("AZUREML_ENDPOINT_API_KEY", PRIMARY.to_owned()),
            ("NO_PROXY", "*".to_owned()),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("FAIL name resolution: the host name does not resolve: cannot resolve the host name no-such-endpoint.invalid")
            && last.ends_with("a private endpoint's name resolves only inside its virtual network"),
        "{last}"
    );
    // Through the (dead) proxy, the proxy is the step that fails.
    let (code, out, _) = run(
        &[
            "check",
            "--url",
            "https://no-such-endpoint.invalid/score",
            "--probe",
        ],
        &[("AZUREML_ENDPOINT_API_KEY", PRIMARY.to_owned())],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("ok   proxy: http://127.0.0.1:9 (env var HTTPS_PROXY)"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("FAIL proxy: the proxy failed: "),
        "{out}"
    );
    // A sign-in source that is not set up.
    let (code, out, _) = run(
        &[
            "check",
            "--url",
            "https://my-ep.eastus2.inference.ml.azure.com/score",
            "--auth",
            "client_secret",
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "FAIL sign-in: client secret credential: AZURE_TENANT_ID, AZURE_CLIENT_ID, \
         AZURE_CLIENT_SECRET not set; check AZURE_TENANT_ID, AZURE_CLIENT_ID and \
         AZURE_CLIENT_SECRET\n"
    );
    // ARM refusing the lookup: a failed step, status 1.
    let server = FakeAzure::start(Script {
        arm_fails: vec![("", 403, "AuthorizationFailed", "denied")],
        ..Script::default()
    });
    let (code, out, _) = run(&by_name("check", &[]), &server.env());
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("FAIL lookup: cannot get endpoint `ep-test` in workspace `ws-test` (resource group `rg-test`): Azure Resource Manager answered 403 AuthorizationFailed: denied; the signed-in identity needs Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("then az login)"), "{out}");
    // A config error: status 2, as usual on stderr (or as JSON).
    let (code, out, err) = run(&["check", "--endpoint-name", ENDPOINT], &[]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(
        err.starts_with("error: invalid `endpoint_name` (argument): endpoint `ep-test` is looked up in its workspace: set `workspace_name` (or AZUREML_ARM_WORKSPACE_NAME)"),
        "{err}"
    );
    let (code, out, _) = run(&["check", "--endpoint-name", ENDPOINT, "--json"], &[]);
    assert_eq!(code, Some(2));
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["steps"][0]["name"], "settings");
    assert_eq!(json["ok"], false);
}

#[test]
fn complete_names_the_endpoint_and_role_when_arm_refuses() {
    let server = FakeAzure::start(Script {
        arm_fails: vec![(
            "/listKeys",
            403,
            "AuthorizationFailed",
            "The client does not have authorization",
        )],
        ..Script::default()
    });
    let (code, out, err) = run(&by_name("complete", &["hi"]), &server.env());
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(
        err,
        "error: cannot list the keys of endpoint `ep-test` in workspace `ws-test` (resource group \
         `rg-test`): Azure Resource Manager answered 403 AuthorizationFailed: The client does not \
         have authorization; the signed-in identity needs \
         Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listkeys/action on the \
         endpoint (the AzureML Data Scientist role has it); request id req-403\n\
         hint: sign in as an identity with that role: --auth picks the Entra source; keys and AML \
         tokens sign in with the default chain (AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, workload \
         or managed identity, then az login)\n"
    );
}

#[test]
fn check_says_when_no_deployment_takes_traffic() {
    let server = FakeAzure::start(Script {
        traffic: r#"{"blue": 0}"#,
        score_fails: Some((
            404,
            Vec::new(),
            r#"{"message": "No valid deployments to route to."}"#,
        )),
        ..Script::default()
    });
    let (code, out, _) = run(&by_name("check", &[]), &server.env());
    assert_eq!(code, Some(1), "{out}");
    let endpoint = out.lines().nth(1).unwrap();
    assert!(
        endpoint.starts_with("FAIL endpoint: ")
            && endpoint.ends_with(
                "; traffic: blue 0%; no deployment takes traffic: give one traffic (az ml \
                 online-endpoint update --traffic), or pin one with --deployment NAME"
            ),
        "{endpoint}"
    );
    let (code, out, _) = run(&by_name("check", &["--probe"]), &server.env());
    assert_eq!(code, Some(1));
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("FAIL deployment: no deployment takes traffic: endpoint answered HTTP 404"),
        "{last}"
    );
    // Pinned to a deployment the endpoint has, the step passes.
    let (code, out, _) = run(&by_name("check", &["--deployment", "blue"]), &server.env());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("; pinned to deployment `blue`"), "{out}");
}
