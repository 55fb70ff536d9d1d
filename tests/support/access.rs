//! A fake Azure on 127.0.0.1 for the access tests: an Entra token service that hands out a
//! token per audience, Azure Resource Manager (the endpoint, `listKeys`, `token`), and the
//! endpoint's scoring route, which accepts only the keys and tokens a test allows. Keep-alive
//! HTTP/1.1: it counts connections, so a test can tell a kept pool from a new one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

pub const SUBSCRIPTION: &str = "00000000-1111-2222-3333-444444444444";
pub const RESOURCE_GROUP: &str = "rg-test";
pub const WORKSPACE: &str = "ws-test";
pub const ENDPOINT: &str = "ep-test";
pub const TENANT: &str = "tenant-test";
pub const CLIENT_ID: &str = "client-test";
pub const CLIENT_SECRET: &str = "cs-SECRET-8Q~access";

/// The Entra token for Azure Resource Manager's audience.
pub const ARM_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcm0ifQ.ARM-TOKEN-SECRET";
/// The Entra token for Azure ML's audience (an `AADToken` endpoint).
pub const ML_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtbCJ9.ML-TOKEN-SECRET";
pub const PRIMARY: &str = "pk-PRIMARY-SECRET-0123456789";
pub const SECONDARY: &str = "sk-SECONDARY-SECRET-9876543210";
/// The AML tokens the token route hands out, in turn.
pub const AML_TOKENS: [&str; 3] = [
    "aml-TOKEN-SECRET-one",
    "aml-TOKEN-SECRET-two",
    "aml-TOKEN-SECRET-three",
];

/// Every secret the fakes know, none of which may show in any output.
pub const SECRETS: [&str; 9] = [
    ARM_TOKEN,
    ML_TOKEN,
    PRIMARY,
    SECONDARY,
    CLIENT_SECRET,
    AML_TOKENS[0],
    AML_TOKENS[1],
    AML_TOKENS[2],
    "TOKEN-SECRET",
];

/// Asserts no secret is in `text`.
pub fn assert_clean(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in: {text}");
    }
}

/// A status, headers and body.
pub type Reply = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// What the fakes answer; tests change it between calls.
#[derive(Clone, Debug)]
pub struct Script {
    /// `Key`, `AMLToken` or `AADToken`.
    pub auth_mode: &'static str,
    /// The scoring URI the endpoint answer gives; `None`: this server's `/score`.
    pub scoring_uri: Option<String>,
    /// `Authorization` values the scoring route accepts.
    pub accepted: Vec<String>,
    /// A status, code and message ARM answers instead, per path suffix (`""`, `/listKeys`,
    /// `/token`).
    pub arm_fails: Vec<(&'static str, u16, &'static str, &'static str)>,
    /// Seconds until each AML token expires and until it should be refreshed (may be negative).
    pub aml_lifetime: (i64, i64),
    /// The scoring route's answer.
    pub answer: String,
    /// A status, headers and body the scoring route answers instead, once the caller is let in.
    pub score_fails: Option<Reply>,
    /// The endpoint's `traffic`, as JSON.
    pub traffic: &'static str,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            auth_mode: "Key",
            scoring_uri: None,
            accepted: vec![format!("Bearer {PRIMARY}")],
            arm_fails: Vec::new(),
            aml_lifetime: (3600, 1800),
            answer: r#"[{"0": "ok"}]"#.to_owned(),
            score_fails: None,
            traffic: r#"{"blue": 100, "green": 0}"#,
        }
    }
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub head: String,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

pub struct FakeAzure {
    pub port: u16,
    pub script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    aml_issued: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// `/subscriptions/…/onlineEndpoints/ep-test`.
pub fn endpoint_path() -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}/onlineEndpoints/{ENDPOINT}"
    )
}

impl FakeAzure {
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = FakeAzure {
            port,
            script: Arc::new(Mutex::new(script)),
            seen: Arc::default(),
            connections: Arc::default(),
            aml_issued: Arc::default(),
            stop: Arc::default(),
            handle: None,
        };
        let (script, seen, connections, issued, stop) = (
            server.script.clone(),
            server.seen.clone(),
            server.connections.clone(),
            server.aml_issued.clone(),
            server.stop.clone(),
        );
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                connections.fetch_add(1, Ordering::SeqCst);
                let (script, seen, issued) = (script.clone(), seen.clone(), issued.clone());
                std::thread::spawn(move || serve(stream, port, &script, &seen, &issued));
            }
        });
        server.handle = Some(handle);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.script.lock().unwrap());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests to paths ending in `suffix`.
    pub fn seen_at(&self, suffix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path().ends_with(suffix))
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The env vars that point a client at these fakes: ARM here, and the client secret
    /// credential (the default chain's first source) signing in here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZUREML_ARM_ENDPOINT", self.url("")),
            ("AZURE_AUTHORITY_HOST", self.url("")),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn serve(
    stream: TcpStream,
    port: u16,
    script: &Mutex<Script>,
    seen: &Mutex<Vec<Seen>>,
    issued: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let first = head.lines().next().unwrap_or("").to_owned();
        let mut parts = first.split(' ');
        let request = Seen {
            method: parts.next().unwrap_or("").to_owned(),
            target: parts.next().unwrap_or("").to_owned(),
            head: head.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        seen.lock().unwrap().push(request.clone());
        let current = script.lock().unwrap().clone();
        let (status, answer) = route(&request, port, &current, issued);
        let mut extra = String::new();
        if let (true, Some((_, headers, _))) = (request.path() == "/score", &current.score_fails) {
            for (name, value) in headers {
                extra.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        let reply = format!(
            "HTTP/1.1 {status} Status\r\ncontent-type: application/json\r\nx-ms-request-id: req-{status}\r\n{extra}content-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        let stream = reader.get_mut();
        if stream.write_all(reply.as_bytes()).is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

fn form_value<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn arm_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        format!(r#"{{"error": {{"code": "{code}", "message": "{message}"}}}}"#),
    )
}

fn route(request: &Seen, port: u16, script: &Script, issued: &AtomicUsize) -> (u16, String) {
    let path = request.path();
    if path == format!("/{TENANT}/oauth2/v2.0/token") {
        let scope = form_value(&request.body, "scope").unwrap_or("");
        if form_value(&request.body, "client_secret") != Some(CLIENT_SECRET) {
            return (401, r#"{"error": "invalid_client"}"#.to_owned());
        }
        let token = if scope.contains("management.azure.com") {
            ARM_TOKEN
        } else if scope.contains("ml.azure.com") {
            ML_TOKEN
        } else {
            "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJvdGhlciJ9.OTHER-TOKEN-SECRET"
        };
        return (
            200,
            format!(r#"{{"access_token": "{token}", "expires_in": 3600, "token_type": "Bearer"}}"#),
        );
    }
    if path == "/score" {
        let authorization = request.header("authorization").unwrap_or_default();
        if script.accepted.contains(&authorization) {
            if let Some((status, _, body)) = &script.score_fails {
                return (*status, (*body).to_owned());
            }
            return (200, script.answer.clone());
        }
        // A hostile gateway that echoes what it was sent.
        return (401, format!(r#"{{"message": "rejected {authorization}"}}"#));
    }
    if let Some(rest) = path.strip_prefix("/subscriptions/") {
        let full = format!("/subscriptions/{rest}");
        if !request.target.ends_with("?api-version=2025-12-01") {
            return arm_error(400, "MissingApiVersionParameter", "api-version is required");
        }
        // Only the management audience's token is accepted: any other is the wrong audience.
        if request.header("authorization").as_deref() != Some(&format!("Bearer {ARM_TOKEN}")) {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token has an invalid audience.",
            );
        }
        let Some(suffix) = full.strip_prefix(&endpoint_path()) else {
            return arm_error(404, "ResourceNotFound", "The Resource was not found.");
        };
        if let Some((_, status, code, message)) = script.arm_fails.iter().find(|f| f.0 == suffix) {
            return arm_error(*status, code, message);
        }
        return match (request.method.as_str(), suffix) {
            ("GET", "") => {
                let uri = script
                    .scoring_uri
                    .clone()
                    .unwrap_or_else(|| format!("http://127.0.0.1:{port}/score"));
                (
                    200,
                    format!(
                        r#"{{"name": "{ENDPOINT}", "properties": {{"scoringUri": "{uri}", "authMode": "{}", "traffic": {}, "provisioningState": "Succeeded"}}}}"#,
                        script.auth_mode, script.traffic
                    ),
                )
            }
            ("POST", "/listKeys") if request.header("content-length").as_deref() == Some("0") => (
                200,
                format!(r#"{{"primaryKey": "{PRIMARY}", "secondaryKey": "{SECONDARY}"}}"#),
            ),
            ("POST", "/token") if request.header("content-length").as_deref() == Some("0") => {
                let n = issued.fetch_add(1, Ordering::SeqCst);
                let token = AML_TOKENS
                    .get(n)
                    .or(AML_TOKENS.last())
                    .copied()
                    .unwrap_or_default();
                let (expires, refresh) = script.aml_lifetime;
                (
                    200,
                    format!(
                        r#"{{"accessToken": "{token}", "tokenType": "Bearer", "expiryTimeUtc": {}, "refreshAfterTimeUtc": {}}}"#,
                        now() + expires,
                        now() + refresh
                    ),
                )
            }
            _ => arm_error(405, "MethodNotAllowed", "no such operation"),
        };
    }
    (404, r#"{"message": "no such route"}"#.to_owned())
}
