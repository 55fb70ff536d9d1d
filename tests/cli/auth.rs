//! `--auth`, `--token-scope` and `--client-id`: the CLI signs in with a fake identity endpoint
//! or a fake `az`, saves and shows the auth mode, and never prints a token or secret.

use std::ffi::OsStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::cli::{outcome, run_with};
use crate::support::fault::{response, FaultServer, Request};
use crate::support::TempDir;

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjbGkifQ.c2ln-CLI-TOKEN-SECRET";
const IDENTITY_HEADER: &str = "idh-SECRET-5150";
const SCOPE: &str = "api://cli-test/.default";
const CLIENT_ID: &str = "0b7e6f2a-0000-4000-8000-00000000a11d";

fn header(request: &Request, name: &str) -> Option<String> {
    request.head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn assert_clean(all: &str) {
    for secret in [TOKEN, "CLI-TOKEN-SECRET", IDENTITY_HEADER] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

#[test]
fn complete_signs_in_with_the_managed_identity() {
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3600;
    let identity = FaultServer::start(vec![response(
        200,
        &[],
        format!(r#"{{"access_token":"{TOKEN}","expires_on":"{expires}"}}"#),
    )]);
    let endpoint = FaultServer::start(vec![response(200, &[], r#"{"choices":[{"text":"ok"}]}"#)]);
    let identity_url = identity.url("/msi/token");
    let url = endpoint.url("/v1/completions");
    let output = run_with(
        &[
            "complete",
            "--url",
            &url,
            "--auth",
            "managed_identity",
            "--client-id",
            CLIENT_ID,
            "--token-scope",
            SCOPE,
            "hi",
        ],
        b"",
        &[
            ("IDENTITY_ENDPOINT", OsStr::new(&identity_url)),
            ("IDENTITY_HEADER", OsStr::new(IDENTITY_HEADER)),
            // Loopback (the identity endpoint, the endpoint) never goes through a proxy.
            ("HTTP_PROXY", OsStr::new("http://127.0.0.1:9")),
        ],
    );
    let (code, stdout, stderr) = outcome(&output);
    assert_eq!((code, stdout.as_str()), (Some(0), "ok\n"), "{stderr}");
    assert_clean(&format!("{stdout}{stderr}"));
    let token_requests = identity.requests();
    let [token_request] = token_requests.as_slice() else {
        panic!("{} token requests", token_requests.len());
    };
    assert_eq!(
        token_request.head.lines().next(),
        Some(
            format!(
                "GET /msi/token?api-version=2019-08-01&resource=api%3A%2F%2Fcli-test&client_id={CLIENT_ID} HTTP/1.1"
            )
            .as_str()
        )
    );
    assert_eq!(
        header(token_request, "x-identity-header").as_deref(),
        Some(IDENTITY_HEADER)
    );
    let calls = endpoint.requests();
    let [call] = calls.as_slice() else {
        panic!("{} calls", calls.len());
    };
    assert_eq!(header(call, "authorization"), Some(format!("Bearer {TOKEN}")));
    // The test key in AZUREML_ENDPOINT_API_KEY is not sent when signing in with a token.
    assert_eq!(header(call, "api-key"), None);
    assert_eq!(
        header(call, "authorization").map(|h| h.contains("sk-test")),
        Some(false)
    );
}

#[cfg(unix)]
#[test]
fn a_signed_out_az_says_run_az_login_and_leaks_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("cli-auth-az");
    let az = dir.join("az");
    // A failing az that echoes a token on stderr.
    std::fs::write(
        &az,
        format!("#!/bin/sh\necho \"ERROR: token {TOKEN} expired. Please run 'az login' to setup account.\" >&2\nexit 1\n"),
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = run_with(
        &[
            "complete",
            "--url",
            "https://my-ep.eastus2.inference.ml.azure.com/score",
            "--auth",
            "azure_cli",
            "hi",
        ],
        b"",
        &[("PATH", dir.as_os_str())],
    );
    let (code, stdout, stderr) = outcome(&output);
    assert_clean(&format!("{stdout}{stderr}"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("azure cli credential: not signed in; run `az login`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `az login` (and `az account set`"),
        "{stderr}"
    );
}

#[test]
fn config_new_saves_the_mode_and_config_show_shows_where_it_came_from() {
    let dir = TempDir::new("cli-auth-config");
    let file = dir.join("wi.yaml");
    let file_arg = file.to_string_lossy().into_owned();
    let url = "https://my-ep.eastus2.inference.ml.azure.com/score";
    let output = run_with(
        &[
            "config",
            "new",
            "--url",
            url,
            "--auth",
            "workload_identity",
            "--client-id",
            CLIENT_ID,
            "-o",
            &file_arg,
        ],
        b"",
        &[],
    );
    let (code, _, stderr) = outcome(&output);
    assert_eq!(code, Some(0), "{stderr}");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("auth: workload_identity\n"), "{saved}");
    assert!(
        saved.contains(&format!("client_id: \"{CLIENT_ID}\"\n")),
        "{saved}"
    );
    assert!(
        !saved.contains("sk-test") && !saved.contains("token_scope"),
        "{saved}"
    );

    let token_file = dir.join("federated-token");
    std::fs::write(&token_file, "federated-jwt").unwrap();
    let output = run_with(
        &["config", "show", &file_arg],
        b"",
        &[
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.as_os_str()),
            ("AZURE_TENANT_ID", OsStr::new("contoso.onmicrosoft.com")),
        ],
    );
    let (code, stdout, stderr) = outcome(&output);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.starts_with("auth ") || l.starts_with("client_id ") || l.starts_with("endpoint_api_key ")
        })
        .collect();
    let shown_file = format!("file `{}`", file.display());
    assert_eq!(
        lines,
        [
            format!("auth               workload_identity  ({shown_file})"),
            format!("client_id          {CLIENT_ID}  ({shown_file})"),
            "endpoint_api_key   not used (auth workload_identity)".to_owned(),
        ]
    );
}

#[test]
fn an_unknown_mode_is_a_usage_error() {
    let output = run_with(&["complete", "--auth", "aad", "hi"], b"", &[]);
    let (code, _, stderr) = outcome(&output);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "--auth: unknown auth mode \"aad\"; use one of `key`, `aml_token`, \
             `managed_identity`, `workload_identity`, `client_secret`, `azure_cli`, `default`"
        ),
        "{stderr}"
    );
}

#[test]
fn a_source_that_is_not_set_up_gets_the_hint_of_its_mode() {
    let url = "https://my-ep.eastus2.inference.ml.azure.com/score";
    for (mode, message, hint) in [
        (
            "workload_identity",
            "workload identity credential: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID not set",
            "check the pod's workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID",
        ),
        (
            "client_secret",
            "client secret credential: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set",
            "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        ),
    ] {
        let output = run_with(&["complete", "--url", url, "--auth", mode, "hi"], b"", &[]);
        assert_eq!(
            outcome(&output),
            (Some(1), String::new(), format!("error: {message}\nhint: {hint}\n")),
            "{mode}"
        );
    }
}
