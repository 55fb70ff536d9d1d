//! Entra ID credentials against fake token services on 127.0.0.1 and a fake `az`: the right
//! request for each flow, the cache's refresh rules, and no token or secret in any output.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::fault::{response, Act, FaultServer, Request};
use crate::support::{free_port, TempDir};
use azureml_endpoint::credential::{
    AccessToken, AzureCliCredential, CachedCredential, ClientSecretCredential, CredentialError,
    CredentialErrorKind, DefaultCredential, ManagedIdentityCredential, TokenCredential,
    WorkloadIdentityCredential,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A JWT-shaped token, as Entra issues them.
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtbCJ9.c2ln-TOKEN-SECRET";
const CLIENT_SECRET: &str = "cs-SECRET-8Q~x.y";
const HEADER_SECRET: &str = "hdr-SECRET-77";
const ML: &str = "https://ml.azure.com/.default";
const ML_QUERY: &str = "resource=https%3A%2F%2Fml.azure.com";

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'static {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn posix_in(secs: u64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + secs
}

fn at(posix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(posix)
}

fn ok_body(expires_on: u64) -> String {
    format!(r#"{{"access_token":"{TOKEN}","expires_on":"{expires_on}","token_type":"Bearer"}}"#)
}

fn request_line(request: &Request) -> &str {
    request.head.lines().next().unwrap_or("")
}

fn header(request: &Request, name: &str) -> Option<String> {
    request.head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn only_request(server: &FaultServer) -> Result<Request, String> {
    match server.requests().as_slice() {
        [one] => Ok(one.clone()),
        all => Err(format!("want one request, got {}", all.len())),
    }
}

/// Every rendering of `error` and `debug`, which must hold none of `secrets`.
fn assert_clean(texts: &[String], secrets: &[&str]) {
    for text in texts {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
        }
    }
}

fn renderings(error: &CredentialError) -> Vec<String> {
    vec![
        error.to_string(),
        format!("{error:?}"),
        error.message().to_owned(),
    ]
}

// ---- managed identity ----

#[test]
fn identity_endpoint_sends_its_header_and_api_version() -> TestResult {
    let expires = posix_in(3600);
    let server = FaultServer::start(vec![response(200, &[], ok_body(expires))]);
    let url = server.url("/msi/token");
    let credential = ManagedIdentityCredential::from_env_fn(env(&[
        ("IDENTITY_ENDPOINT", &url),
        ("IDENTITY_HEADER", HEADER_SECRET),
        ("MSI_ENDPOINT", "http://127.0.0.1:1/not-this-one"),
        ("MSI_SECRET", "not-this-one"),
    ]))?
    .with_client_id("uai-client-1");
    let token = credential.get_token(ML)?;
    assert_eq!(token.expires_on(), at(expires));
    let request = only_request(&server)?;
    assert_eq!(
        request_line(&request),
        format!("GET /msi/token?api-version=2019-08-01&{ML_QUERY}&client_id=uai-client-1 HTTP/1.1")
    );
    assert_eq!(
        header(&request, "x-identity-header").as_deref(),
        Some(HEADER_SECRET)
    );
    assert_eq!(header(&request, "metadata"), None);
    assert_clean(
        &[format!("{credential:?}"), format!("{token:?}")],
        &[HEADER_SECRET, TOKEN],
    );
    Ok(())
}

#[test]
fn msi_endpoint_sends_secret_header_and_clientid() -> TestResult {
    let server = FaultServer::start(vec![response(200, &[], ok_body(posix_in(600)))]);
    let url = server.url("/MSI/token/");
    let credential = ManagedIdentityCredential::from_env_fn(env(&[
        ("MSI_ENDPOINT", &url),
        ("MSI_SECRET", HEADER_SECRET),
    ]))?
    .with_client_id("uai-2");
    credential.get_token(ML)?;
    let request = only_request(&server)?;
    assert_eq!(
        request_line(&request),
        format!("GET /MSI/token/?api-version=2017-09-01&{ML_QUERY}&clientid=uai-2 HTTP/1.1")
    );
    assert_eq!(header(&request, "secret").as_deref(), Some(HEADER_SECRET));
    Ok(())
}

#[test]
fn imds_is_asked_with_metadata_header_at_the_documented_override() -> TestResult {
    let body =
        format!(r#"{{"access_token":"{TOKEN}","expires_in":"86399","expires_on":"1","refresh_in":"43200"}}"#);
    let server = FaultServer::start(vec![response(200, &[], body.clone()), response(200, &[], body)]);
    let host = server.url("/");
    let vars = [("AZURE_POD_IDENTITY_AUTHORITY_HOST", host.as_str())];
    let before = SystemTime::now();
    let system = ManagedIdentityCredential::from_env_fn(env(&vars))?.get_token(ML)?;
    assert!(
        system.expires_on() >= before + Duration::from_secs(86399),
        "expires_in wins over expires_on"
    );
    assert!(system.refresh_on() >= Some(before + Duration::from_secs(43200)));
    ManagedIdentityCredential::from_env_fn(env(&vars))?
        .with_client_id("uai-3")
        .get_token("https://cognitiveservices.azure.com/.default")?;
    let requests = server.requests();
    let lines: Vec<&str> = requests.iter().map(request_line).collect();
    assert_eq!(
        lines,
        [
            format!("GET /metadata/identity/oauth2/token?api-version=2018-02-01&{ML_QUERY} HTTP/1.1"),
            "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fcognitiveservices.azure.com&client_id=uai-3 HTTP/1.1".to_owned(),
        ]
    );
    for request in &requests {
        assert_eq!(header(request, "metadata").as_deref(), Some("true"));
    }
    Ok(())
}

#[test]
fn no_imds_means_unavailable_quickly() -> TestResult {
    let host = format!("http://127.0.0.1:{}", free_port());
    let credential =
        ManagedIdentityCredential::from_env_fn(env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)]))?;
    let error = credential.get_token(ML).err().ok_or("no managed identity here")?;
    assert_eq!(error.kind(), CredentialErrorKind::Unavailable);
    assert_eq!(
        error.to_string(),
        format!(
            "managed identity credential: no managed identity on this machine (IMDS at {host}/metadata/identity/oauth2/token: the connection was refused); use another auth mode"
        )
    );
    Ok(())
}

#[test]
fn imds_400_is_unavailable_and_other_errors_fail_without_secrets() -> TestResult {
    let echo = format!(
        r#"{{"error":"invalid_request","error_description":"bad header {HEADER_SECRET} for {TOKEN}"}}"#
    );
    let server = FaultServer::start(vec![
        response(
            400,
            &[],
            r#"{"error":"invalid_request","error_description":"Identity not found (user assigned: true)"}"#,
        ),
        response(500, &[], echo),
    ]);
    let host = server.url("");
    let imds = ManagedIdentityCredential::from_env_fn(env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)]))?
        .with_client_id("uai-4");
    let error = imds.get_token(ML).err().ok_or("400 is not a token")?;
    assert_eq!(error.kind(), CredentialErrorKind::Unavailable);
    assert_eq!(
        error.to_string(),
        "managed identity credential: no managed identity for client id \"uai-4\" on this machine (the token service answered 400: Identity not found (user assigned: true))"
    );
    let url = server.url("/msi");
    let app = ManagedIdentityCredential::from_env_fn(env(&[
        ("IDENTITY_ENDPOINT", &url),
        ("IDENTITY_HEADER", HEADER_SECRET),
    ]))?;
    let error = app.get_token(ML).err().ok_or("500 is not a token")?;
    assert_eq!(error.kind(), CredentialErrorKind::Failed);
    assert_eq!(
        error.to_string(),
        "managed identity credential: the token service answered 500: bad header *** for ***; check that the system-assigned identity is assigned to this resource"
    );
    assert_clean(&renderings(&error), &[HEADER_SECRET, TOKEN]);
    Ok(())
}

#[test]
fn redirects_are_not_followed() -> TestResult {
    let elsewhere = FaultServer::start(vec![response(200, &[], ok_body(posix_in(3600)))]);
    let target = elsewhere.url("/steal");
    let server = FaultServer::start(vec![response(307, &[("location", &target)], "")]);
    let url = server.url("/msi");
    let credential = ManagedIdentityCredential::from_env_fn(env(&[
        ("IDENTITY_ENDPOINT", &url),
        ("IDENTITY_HEADER", HEADER_SECRET),
    ]))?;
    let error = credential
        .get_token(ML)
        .err()
        .ok_or("a redirect is not a token")?;
    assert_eq!(
        error.message(),
        "the token service answered 307; check that the system-assigned identity is assigned to this resource"
    );
    assert_eq!(elsewhere.hits(), 0);
    Ok(())
}

#[test]
fn an_oversized_answer_is_refused() -> TestResult {
    let huge = format!(
        r#"{{"access_token":"{}","expires_in":3600}}"#,
        "a".repeat(300 * 1024)
    );
    let server = FaultServer::start(vec![response(200, &[], huge)]);
    let url = server.url("/msi");
    let credential = ManagedIdentityCredential::from_env_fn(env(&[
        ("IDENTITY_ENDPOINT", &url),
        ("IDENTITY_HEADER", HEADER_SECRET),
    ]))?;
    let error = credential
        .get_token(ML)
        .err()
        .ok_or("a 300 KiB answer is not a token")?;
    assert_eq!(
        error.to_string(),
        format!(
            "managed identity credential: cannot get a token from {url}: the answer is larger than 256 KiB"
        )
    );
    Ok(())
}

#[test]
fn endpoint_variables_must_be_urls() {
    let error = ManagedIdentityCredential::from_env_fn(env(&[
        ("IDENTITY_ENDPOINT", "file:///etc/passwd"),
        ("IDENTITY_HEADER", "h"),
    ]))
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("managed identity credential: IDENTITY_ENDPOINT \"file:///etc/passwd\" is not an http(s) URL")
    );
}

// ---- workload identity and client secret ----

fn form(request: &Request) -> Vec<String> {
    String::from_utf8_lossy(&request.body)
        .split('&')
        .map(str::to_owned)
        .collect()
}

#[test]
fn workload_identity_posts_the_assertion_read_fresh_each_time() -> TestResult {
    let body = format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{TOKEN}"}}"#);
    let server = FaultServer::start(vec![response(200, &[], body.clone()), response(200, &[], body)]);
    let dir = TempDir::new("workload");
    let file = dir.join("token");
    std::fs::write(&file, "assertion-ONE\n")?;
    let (file_str, host) = (file.to_string_lossy().into_owned(), server.url("/"));
    let credential = WorkloadIdentityCredential::from_env_fn(env(&[
        ("AZURE_FEDERATED_TOKEN_FILE", &file_str),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_AUTHORITY_HOST", &host),
    ]))?;
    credential.get_token(ML)?;
    std::fs::write(&file, "assertion-TWO")?;
    credential.get_token(ML)?;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for (request, assertion) in requests.iter().zip(["assertion-ONE", "assertion-TWO"]) {
        assert_eq!(request_line(request), "POST /tenant-1/oauth2/v2.0/token HTTP/1.1");
        assert_eq!(
            header(request, "content-type").as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            form(request),
            [
                "grant_type=client_credentials",
                "client_id=app-1",
                "scope=https%3A%2F%2Fml.azure.com%2F.default",
                "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
                &format!("client_assertion={assertion}"),
            ]
        );
    }
    std::fs::remove_file(&file)?;
    let error = credential
        .get_token(ML)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "workload identity credential: cannot use the federated token file `{file_str}`: "
        )) && error.ends_with("; check AZURE_FEDERATED_TOKEN_FILE"),
        "{error}"
    );
    Ok(())
}

#[test]
fn client_secret_posts_the_secret_and_never_shows_it() -> TestResult {
    let echo = format!(
        r#"{{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: '{CLIENT_SECRET}'. Trace ID: 5f1e"}}"#
    );
    let server = FaultServer::start(vec![
        response(200, &[], ok_body(posix_in(3600))),
        response(401, &[], echo),
    ]);
    let host = server.url("");
    let vars = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-2"),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
        ("AZURE_AUTHORITY_HOST", host.as_str()),
    ];
    let credential = ClientSecretCredential::from_env_fn(env(&vars))?;
    credential.get_token(ML)?;
    let request = only_request(&server)?;
    assert_eq!(
        request_line(&request),
        "POST /contoso.onmicrosoft.com/oauth2/v2.0/token HTTP/1.1"
    );
    assert_eq!(
        form(&request),
        [
            "grant_type=client_credentials",
            "client_id=app-2",
            "scope=https%3A%2F%2Fml.azure.com%2F.default",
            "client_secret=cs-SECRET-8Q~x.y",
        ]
    );
    let error = credential.get_token(ML).err().ok_or("401 is not a token")?;
    assert_eq!(
        error.to_string(),
        "client secret credential: the token service answered 401: AADSTS7000215: Invalid client secret provided: '***'. Trace ID: 5f1e; check the tenant, client id and client_secret"
    );
    assert_clean(&renderings(&error), &[CLIENT_SECRET]);
    assert_clean(&[format!("{credential:?}")], &[CLIENT_SECRET]);
    Ok(())
}

#[test]
fn a_token_with_a_bad_expiry_is_not_shown_in_the_error() -> TestResult {
    let body = format!(r#"{{"access_token":"{TOKEN}","expires_in":"soon"}}"#);
    let server = FaultServer::start(vec![response(200, &[], body)]);
    let credential =
        ClientSecretCredential::new("t", "app", CLIENT_SECRET)?.with_authority_host(&server.url("/"))?;
    let error = credential.get_token(ML).err().ok_or("no expiry, no token")?;
    assert_eq!(
        error.to_string(),
        "client secret credential: the token service's answer has an invalid `expires_in` (want whole seconds)"
    );
    assert_clean(&renderings(&error), &[TOKEN, CLIENT_SECRET]);
    Ok(())
}

#[test]
fn missing_variables_are_named() {
    let error = ClientSecretCredential::from_env_fn(env(&[("AZURE_TENANT_ID", "t")])).err();
    assert_eq!(
        error.as_ref().map(ToString::to_string).as_deref(),
        Some("client secret credential: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set")
    );
    assert_eq!(error.map(|e| e.kind()), Some(CredentialErrorKind::Unavailable));
}

// ---- the default chain ----

#[test]
fn the_chain_lists_every_source_and_why() -> TestResult {
    let imds = format!("http://127.0.0.1:{}", free_port());
    let credential = DefaultCredential::builder()
        .env_fn(env(&[
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds),
            ("AZURE_TENANT_ID", "t"),
        ]))
        .azure_cli(AzureCliCredential::new().with_program("/nonexistent/az"))
        .build();
    let error = credential.get_token(ML).err().ok_or("no source here")?;
    assert_eq!(error.kind(), CredentialErrorKind::Unavailable);
    assert_eq!(
        error.to_string(),
        format!(
            "default credential: no source gave a token (\
             environment: skipped: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set; \
             workload identity: skipped: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID not set; \
             managed identity: skipped: no managed identity on this machine (IMDS at {imds}/metadata/identity/oauth2/token: the connection was refused); use another auth mode; \
             azure cli: skipped: `az` was not found; install the Azure CLI (https://aka.ms/azure-cli) and run `az login`, or pick another auth mode)"
        )
    );
    Ok(())
}

#[test]
fn a_configured_source_that_fails_stops_the_chain() -> TestResult {
    let server = FaultServer::start(vec![response(401, &[], r#"{"error":"invalid_client"}"#)]);
    let host = server.url("");
    let credential = DefaultCredential::builder()
        .env_fn(env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
            ("AZURE_AUTHORITY_HOST", &host),
        ]))
        .azure_cli(AzureCliCredential::new().with_program("/nonexistent/az"))
        .build();
    let error = credential
        .get_token(ML)
        .err()
        .ok_or("a refused secret is not a token")?;
    assert_eq!(error.kind(), CredentialErrorKind::Failed);
    assert_eq!(
        error.to_string(),
        "default credential: no source gave a token (\
         environment: failed: the token service answered 401: invalid_client; check the tenant, client id and client_secret; \
         workload identity: not tried; managed identity: not tried; azure cli: not tried)"
    );
    assert_clean(&[error.to_string(), format!("{credential:?}")], &[CLIENT_SECRET]);
    Ok(())
}

#[test]
fn the_chain_keeps_the_source_that_worked() -> TestResult {
    let body = ok_body(posix_in(3600));
    let server = FaultServer::start(vec![response(200, &[], body.clone()), response(200, &[], body)]);
    let host = server.url("");
    let credential = DefaultCredential::builder()
        .env_fn(env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)]))
        .client_id("uai-9")
        .build();
    credential.get_token(ML)?;
    credential.get_token(ML)?;
    let lines: Vec<String> = server
        .requests()
        .iter()
        .map(|r| request_line(r).to_owned())
        .collect();
    let want = format!(
        "GET /metadata/identity/oauth2/token?api-version=2018-02-01&{ML_QUERY}&client_id=uai-9 HTTP/1.1"
    );
    assert_eq!(lines, [want.clone(), want]);
    Ok(())
}

// ---- the cache ----

#[test]
fn sixteen_threads_first_call_makes_one_token_request() -> TestResult {
    let body = ok_body(posix_in(3600));
    let mut slow = vec![Act::Wait(Duration::from_millis(300))];
    slow.extend(response(200, &[], body));
    let server = FaultServer::start(vec![slow]);
    let host = server.url("");
    let source =
        ManagedIdentityCredential::from_env_fn(env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)]))?;
    let cache = CachedCredential::new(source, ML);
    let start = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (cache, start) = (cache.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                cache.token().map(|t| t.expires_on())
            })
        })
        .collect();
    for thread in threads {
        let expires = thread.join().map_err(|_| "a thread panicked")??;
        assert!(expires > SystemTime::now());
    }
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[test]
fn debug_output_never_shows_secrets() -> TestResult {
    let token = AccessToken::new(TOKEN, SystemTime::now());
    assert_eq!(format!("{:?}", token.token()), "Token(***)");
    let credentials: Vec<Box<dyn TokenCredential>> = vec![
        Box::new(ClientSecretCredential::new("t", "app", CLIENT_SECRET)?),
        Box::new(ManagedIdentityCredential::from_env_fn(env(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/x"),
            ("IDENTITY_HEADER", HEADER_SECRET),
        ]))?),
        Box::new(ManagedIdentityCredential::from_env_fn(env(&[
            ("MSI_ENDPOINT", "http://127.0.0.1:1/x"),
            ("MSI_SECRET", HEADER_SECRET),
        ]))?),
        Box::new(
            DefaultCredential::builder()
                .env_fn(env(&[
                    ("AZURE_TENANT_ID", "t"),
                    ("AZURE_CLIENT_ID", "app"),
                    ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
                    ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/x"),
                    ("IDENTITY_HEADER", HEADER_SECRET),
                ]))
                .build(),
        ),
    ];
    let mut texts = vec![format!("{token:?}")];
    texts.extend(credentials.iter().map(|c| format!("{c:?}")));
    assert_clean(&texts, &[TOKEN, CLIENT_SECRET, HEADER_SECRET]);
    Ok(())
}

#[test]
fn credentials_are_send_sync_and_cheap_to_share() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<CachedCredential>();
    fn credential<T: TokenCredential + 'static>() {}
    credential::<DefaultCredential>();
    credential::<ManagedIdentityCredential>();
    credential::<WorkloadIdentityCredential>();
    credential::<ClientSecretCredential>();
    credential::<AzureCliCredential>();
}
