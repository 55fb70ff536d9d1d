//! Clients that sign in with Microsoft Entra ID, against fake token services and endpoints on
//! 127.0.0.1: the token goes as `Bearer` (never `api-key`), scope by host, one token for many
//! threads, refresh before expiry, one refresh and one retry on 401, no token or secret in any
//! output, and save/load of every `auth` mode.

use crate::support;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, Once};
use std::time::{Duration, SystemTime};

use crate::support::fault::{response, FaultServer, Request};
use crate::support::TempDir;
use azureml_endpoint::credential::{
    from_fn, AccessToken, ClientSecretCredential, CredentialError, AZURE_ML_SCOPE, COGNITIVE_SERVICES_SCOPE,
};
use azureml_endpoint::{ApiType, AuthMode, AzureMlOnlineEndpoint, Error, LoadOptions, Registry};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtbCJ9.c2ln-TOKEN-SECRET";
const TOKEN_2: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtbCJ9.c2ln-TOKEN-SECOND";
const CLIENT_SECRET: &str = "cs-SECRET-8Q~x.y";
const SCOPE: &str = "api://test-endpoint/.default";
const COMPLETION: &str = r#"{"choices":[{"text":"ok"}]}"#;

fn header(request: &Request, name: &str) -> Option<String> {
    request.head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The `Authorization` header of each request the server got, in order.
fn authorizations(server: &FaultServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| header(r, "authorization"))
        .collect()
}

fn ok_scripts(n: usize) -> Vec<Vec<support::fault::Act>> {
    (0..n).map(|_| response(200, &[], COMPLETION)).collect()
}

/// A credential handing out `tokens` in turn (the last one again once they run out), each
/// valid for `valid`, counting its calls and recording the scopes asked for.
#[derive(Clone, Default)]
struct Calls {
    count: Arc<AtomicUsize>,
    scopes: Arc<Mutex<Vec<String>>>,
}

impl Calls {
    fn credential(
        &self,
        tokens: &'static [&'static str],
        valid: Duration,
        delay: Duration,
    ) -> impl azureml_endpoint::credential::TokenCredential + 'static {
        let calls = self.clone();
        from_fn(move |scope: &str| {
            let n = calls.count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut scopes) = calls.scopes.lock() {
                scopes.push(scope.to_owned());
            }
            std::thread::sleep(delay);
            let token = tokens.get(n).or(tokens.last()).copied().unwrap_or_default();
            Ok(AccessToken::new(token, SystemTime::now() + valid))
        })
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn llm(
    server: &FaultServer,
    credential: impl azureml_endpoint::credential::TokenCredential + 'static,
) -> azureml_endpoint::Result<AzureMlOnlineEndpoint> {
    AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        .credential(credential)
        .token_scope(SCOPE)
        .max_retries(0)
        .build()
}

#[test]
fn the_token_goes_as_bearer_and_never_as_api_key() -> TestResult {
    let server = FaultServer::start(ok_scripts(1));
    let calls = Calls::default();
    let llm = AzureMlOnlineEndpoint::builder()
        .endpoint_url(server.url("/v1/completions"))
        .api_type(ApiType::Serverless)
        // A key in the builder or environment is not sent when a credential is set.
        .api_key("sk-NOT-SENT-1234")
        .credential(calls.credential(&[TOKEN], HOUR, Duration::ZERO))
        .token_scope(SCOPE)
        .build()?;
    assert_eq!(llm.invoke("hi")?.text, "ok");
    let requests = server.requests();
    let [request] = requests.as_slice() else {
        return Err(format!("{} requests", requests.len()).into());
    };
    assert_eq!(header(request, "authorization"), Some(format!("Bearer {TOKEN}")));
    assert_eq!(header(request, "api-key"), None);
    assert!(!request.head.contains("sk-NOT-SENT-1234"));
    assert_eq!(calls.scopes(), [SCOPE]);
    assert_eq!(llm.config().auth, AuthMode::Custom);
    Ok(())
}

#[test]
fn the_scope_follows_the_host() -> TestResult {
    let cases = [
        (
            "https://my-ep.eastus2.inference.ml.azure.com/score",
            ApiType::Dedicated,
            AZURE_ML_SCOPE,
        ),
        (
            "https://res.openai.azure.com/openai/deployments/d/completions?api-version=2024-02-01",
            ApiType::Serverless,
            COGNITIVE_SERVICES_SCOPE,
        ),
        (
            "https://res.services.ai.azure.com/models/completions?api-version=2024-05-01-preview",
            ApiType::Serverless,
            COGNITIVE_SERVICES_SCOPE,
        ),
    ];
    for (url, api_type, scope) in cases {
        let asked = Arc::new(Mutex::new(None));
        let seen = asked.clone();
        let llm = AzureMlOnlineEndpoint::builder()
            .endpoint_url(url)
            .api_type(api_type)
            .credential(from_fn(move |scope: &str| {
                *seen.lock().map_err(|_| CredentialError::custom("poisoned"))? = Some(scope.to_owned());
                Err(CredentialError::custom("no token in this test"))
            }))
            .build()?;
        // The token is asked for before anything is sent, so no request leaves this machine.
        let error = llm.invoke("hi").err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("custom credential: no token in this test"));
        assert_eq!(
            asked.lock().map_err(|_| "poisoned")?.as_deref(),
            Some(scope),
            "{url}"
        );
    }
    Ok(())
}

#[test]
fn an_unknown_host_without_a_scope_is_refused() {
    let built = AzureMlOnlineEndpoint::builder()
        .endpoint_url("https://models.example.com/score")
        .auth(AuthMode::ManagedIdentity)
        .build();
    assert_eq!(
        built.err().map(|e| e.to_string()),
        Some(
            "invalid `token_scope` (default): no token scope is known for host `models.example.com`: \
             a token is sent only to *.inference.ml.azure.com, *.openai.azure.com, \
             *.cognitiveservices.azure.com and *.services.ai.azure.com unless `token_scope` is set \
             for this host"
                .to_owned()
        )
    );
}

#[test]
fn sixteen_threads_first_calls_make_one_token_request() -> TestResult {
    let server = FaultServer::start(ok_scripts(16));
    let calls = Calls::default();
    // The slow token service makes every thread arrive while the first fetch is in flight.
    let llm = llm(
        &server,
        calls.credential(&[TOKEN], HOUR, Duration::from_millis(200)),
    )?;
    let start = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (llm, start) = (llm.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                llm.invoke("hi").map(|c| c.text)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().map_err(|_| "thread panicked")??, "ok");
    }
    assert_eq!(calls.count(), 1);
    let bearers = authorizations(&server);
    assert_eq!(bearers, vec![Some(format!("Bearer {TOKEN}")); 16]);
    Ok(())
}

#[test]
fn a_token_about_to_expire_is_refreshed_before_use() -> TestResult {
    let server = FaultServer::start(ok_scripts(2));
    let calls = Calls::default();
    // Two minutes left is inside the five-minute refresh margin.
    let llm = llm(
        &server,
        calls.credential(&[TOKEN, TOKEN_2], Duration::from_secs(120), Duration::ZERO),
    )?;
    llm.invoke("one")?;
    llm.invoke("two")?;
    let bearers = authorizations(&server);
    assert_eq!(
        bearers,
        [Some(format!("Bearer {TOKEN}")), Some(format!("Bearer {TOKEN_2}"))]
    );
    assert_eq!(calls.count(), 2);
    Ok(())
}

#[test]
fn a_401_gets_one_new_token_and_one_retry() -> TestResult {
    let mut scripts = vec![response(401, &[], r#"{"error":{"message":"token expired"}}"#)];
    scripts.extend(ok_scripts(1));
    let server = FaultServer::start(scripts);
    let calls = Calls::default();
    let llm = llm(&server, calls.credential(&[TOKEN, TOKEN_2], HOUR, Duration::ZERO))?;
    // max_retries is 0: the retry after a 401 is not counted against it.
    assert_eq!(llm.invoke("hi")?.text, "ok");
    let bearers = authorizations(&server);
    assert_eq!(
        bearers,
        [Some(format!("Bearer {TOKEN}")), Some(format!("Bearer {TOKEN_2}"))]
    );
    assert_eq!(calls.count(), 2);
    Ok(())
}

#[test]
fn a_second_401_is_the_answer_not_a_loop() -> TestResult {
    // The endpoint echoes the token in its body and a header: neither reaches the error.
    let echo = format!(r#"{{"error":{{"message":"rejected Bearer {TOKEN}"}}}}"#);
    let scripts = (0..4)
        .map(|_| response(401, &[("x-request-id", TOKEN)], &echo))
        .collect();
    let server = FaultServer::start(scripts);
    let calls = Calls::default();
    let llm = llm(&server, calls.credential(&[TOKEN], HOUR, Duration::ZERO))?;
    let error = llm.invoke("hi").err().ok_or("a 401 twice must fail")?;
    assert_eq!(error.status(), Some(401));
    assert_eq!(server.hits(), 2);
    assert_eq!(calls.count(), 2);
    let Error::Http(http) = &error else {
        return Err(format!("{error:?}").into());
    };
    assert_eq!(http.attempts, 2);
    assert_eq!(http.message.as_deref(), Some("rejected Bearer ***"));
    assert_eq!(http.request_id.as_deref(), Some("***"));
    for shown in [error.to_string(), format!("{error:?}"), format!("{llm:?}")] {
        assert!(!shown.contains("TOKEN-SECRET"), "{shown}");
    }
    Ok(())
}

#[test]
fn a_token_service_echoing_the_secret_leaks_nothing() -> TestResult {
    // The authority answers with the client secret and a token in its error text.
    let body = format!(
        r#"{{"error":"invalid_client","error_description":"AADSTS7000215: bad secret {CLIENT_SECRET} for {TOKEN}"}}"#
    );
    let authority = FaultServer::start(vec![response(401, &[], body)]);
    let endpoint = FaultServer::start(Vec::new());
    let credential = ClientSecretCredential::new("contoso.onmicrosoft.com", "app-id", CLIENT_SECRET)?
        .with_authority_host(&authority.url("/"))?;
    let llm = llm(&endpoint, credential)?;
    let error = llm.invoke("hi").err().ok_or("the token service refused")?;
    assert!(matches!(error, Error::Credential(_)), "{error:?}");
    assert_eq!(endpoint.hits(), 0);
    for shown in [error.to_string(), format!("{error:?}"), format!("{llm:?}")] {
        for secret in [CLIENT_SECRET, "TOKEN-SECRET"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    assert!(
        error.to_string().starts_with("client secret credential: "),
        "{error}"
    );
    Ok(())
}

/// The variables the workload identity and client secret modes need to build; set once, with the
/// same values by every test that reads them.
fn azure_env(dir: &TempDir) {
    static SET: Once = Once::new();
    let token_file = dir.write("federated-token", "federated-jwt");
    SET.call_once(|| {
        std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", token_file);
        std::env::set_var("AZURE_TENANT_ID", "contoso.onmicrosoft.com");
        std::env::set_var("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000c1d0");
        std::env::set_var("AZURE_CLIENT_SECRET", CLIENT_SECRET);
    });
}

#[test]
fn every_auth_mode_saves_and_loads_in_json_and_yaml() -> TestResult {
    let dir = TempDir::new("credential-round-trip");
    azure_env(&dir);
    let modes = [
        AuthMode::Key,
        AuthMode::ManagedIdentity,
        AuthMode::WorkloadIdentity,
        AuthMode::ClientSecret,
        AuthMode::AzureCli,
        AuthMode::Default,
    ];
    for mode in modes {
        for ext in ["json", "yaml"] {
            let mut builder = AzureMlOnlineEndpoint::builder()
                .endpoint_url("https://my-ep.eastus2.inference.ml.azure.com/score")
                .api_key("sk-ROUND-TRIP-1234")
                .auth(mode);
            if mode.uses_token() {
                builder = builder.token_scope(SCOPE);
            }
            if mode != AuthMode::Key && mode != AuthMode::AzureCli {
                builder = builder.client_id("11111111-2222-3333-4444-555555555555");
            }
            let llm = builder.build()?;
            let path = dir.path(&format!("{mode}.{ext}"));
            llm.save(&path)?;
            let text = std::fs::read_to_string(&path)?;
            for secret in ["sk-ROUND-TRIP-1234", CLIENT_SECRET, "federated-jwt"] {
                assert!(!text.contains(secret), "{secret} saved in {text}");
            }
            // Key mode writes no `auth`, so the file stays what Python saves and reads.
            assert_eq!(text.contains("auth"), mode != AuthMode::Key, "{text}");
            let options = LoadOptions::new().api_key("sk-ROUND-TRIP-1234");
            let loaded = Registry::new().load_with(&path, &options)?.into_completion()?;
            assert_eq!(loaded.config(), llm.config(), "{mode} {ext}");
            assert_eq!(loaded.config().auth, mode);
        }
    }
    Ok(())
}

#[test]
fn a_custom_credential_is_not_saved() -> TestResult {
    let dir = TempDir::new("credential-custom-save");
    let server = FaultServer::start(Vec::new());
    let llm = llm(
        &server,
        Calls::default().credential(&[TOKEN], HOUR, Duration::ZERO),
    )?;
    let map = llm.to_config_map();
    assert_eq!(map.get("auth"), None);
    assert_eq!(map.get("token_scope").and_then(|v| v.as_str()), Some(SCOPE));
    llm.save(dir.path("custom.json"))?;
    let text = std::fs::read_to_string(dir.path("custom.json"))?;
    assert!(
        !text.contains("TOKEN-SECRET") && !text.contains("\"auth\""),
        "{text}"
    );
    Ok(())
}

#[test]
fn auth_settings_are_checked_at_build() {
    let base = || {
        AzureMlOnlineEndpoint::builder().endpoint_url("https://my-ep.eastus2.inference.ml.azure.com/score")
    };
    let cases = [
        (
            base().api_key("k").client_id("id").build().err(),
            "invalid `client_id` (argument): auth `key` takes no client id; it is for \
             managed_identity, workload_identity, client_secret, default and aml_token",
        ),
        (
            base().auth(AuthMode::Custom).build().err(),
            "invalid `auth` (argument): `custom` is set with Builder::credential",
        ),
        (
            base()
                .auth(AuthMode::ManagedIdentity)
                .token_scope("a\nb")
                .build()
                .err(),
            "invalid `token_scope` (argument): \"a\\nb\" is not a token scope; use a URL such as \
             \"https://ml.azure.com/.default\", without spaces",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.map(|e| e.to_string()).as_deref(), Some(expected));
    }
}
