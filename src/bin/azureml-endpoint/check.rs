//! `check`: is this endpoint usable from here? Each step the client takes, from its settings to
//! (with `--probe`) one minimal call, and what to do about the step that fails. Never a key or
//! token: keys are shown as set, with where they came from.

use azureml_endpoint::config::ClientKind;
use std::io::{self, Write};
use std::time::Instant;

use azureml_endpoint::error::TransportErrorKind;
use azureml_endpoint::{
    AnyClient, ApiType, AuthMode, AzureMlChatOnlineEndpoint, AzureMlOnlineEndpoint, CallOptions, ChatMessage,
    EndpointConfig, Error, Origin,
};
use serde_json::{json, Map, Value};

use crate::args::Args;
use crate::client::{call_options, load, load_options};
use crate::command::Command;
use crate::failure::Failure;
use crate::remedy;
use crate::settings::settings;

/// One step: its name, whether it passed, what was found (and, failed, what to do).
struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn step(name: &'static str, ok: bool, detail: impl Into<String>) -> Step {
    Step {
        name,
        ok,
        detail: detail.into(),
    }
}

/// The client `check` looks at.
enum Client {
    Completion(AzureMlOnlineEndpoint),
    Chat(AzureMlChatOnlineEndpoint),
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    args.no_positional(Command::Check)?;
    let client = match build(args) {
        Ok(client) => client,
        Err(failure) => return unbuilt(failure, args),
    };
    let mut steps = describe(&client, args);
    if args.probe {
        steps.push(probe(&client, args));
    }
    let code = if steps.iter().all(|s| s.ok) { 0 } else { 1 };
    print(&steps, args.json)?;
    Ok(code)
}

/// The client from `--config` (whichever kind the file holds), else from the flags: a chat
/// client for `--chat`, a chat URL or a chat formatter.
fn build(args: &Args) -> Result<Client, Failure> {
    if let Some(path) = &args.config {
        let kind = if args.chat {
            ClientKind::Chat
        } else {
            ClientKind::Completion
        };
        return match load(path, &load_options(args, kind)?)? {
            AnyClient::Completion(llm) => Ok(Client::Completion(llm)),
            AnyClient::Chat(chat) => Ok(Client::Chat(chat)),
            _ => Err(Failure::usage(
                "this file's `_type` is not a built-in endpoint type",
            )),
        };
    }
    let chat = args.chat
        || args.url.as_deref().is_some_and(|u| {
            ApiType::infer_from_url(u, true).is_some() && ApiType::infer_from_url(u, false).is_none()
        })
        || args
            .formatter
            .as_deref()
            .is_some_and(|t| azureml_endpoint::formatter::chat_formatter(t).is_some());
    Ok(if chat {
        Client::Chat(
            settings(args, ClientKind::Chat, AzureMlChatOnlineEndpoint::builder())?
                .with_env()
                .build()?,
        )
    } else {
        Client::Completion(
            settings(args, ClientKind::Completion, AzureMlOnlineEndpoint::builder())?
                .with_env()
                .build()?,
        )
    })
}

/// No client: a config error is exit status 2 (in JSON, as a failed `settings` step); a lookup
/// or sign-in that failed is a failed step, status 1.
fn unbuilt(failure: Failure, args: &Args) -> Result<u8, Failure> {
    let name = match failure.error() {
        Some(Error::Lookup(_)) => "lookup",
        Some(Error::Credential(_)) => "sign-in",
        _ if failure.code == 2 && !args.json => return Err(failure),
        _ => "settings",
    };
    let failure = remedy::explain(failure, args, Command::Check);
    let detail = match &failure.hint {
        Some(hint) => format!("{}; {hint}", failure.message),
        None => failure.message.clone(),
    };
    print(&[step(name, false, detail)], args.json)?;
    Ok(failure.code)
}

impl Client {
    fn config(&self) -> &EndpointConfig {
        match self {
            Client::Completion(c) => c.config(),
            Client::Chat(c) => c.config(),
        }
    }

    fn sources(&self) -> Vec<(&'static str, Origin)> {
        match self {
            Client::Completion(c) => c.sources(),
            Client::Chat(c) => c.sources(),
        }
    }

    fn map(&self) -> Map<String, Value> {
        match self {
            Client::Completion(c) => c.to_config_map(),
            Client::Chat(c) => c.to_config_map(),
        }
    }

    fn tag(&self) -> String {
        match self {
            Client::Completion(c) => c.formatter().tag().to_owned(),
            Client::Chat(c) => c.formatter().tag().to_owned(),
        }
    }

    /// The smallest call: "Hi", answered with one token.
    fn probe(&self, options: &CallOptions) -> Result<String, Error> {
        match self {
            Client::Completion(c) => c.invoke_with("Hi", options).map(|c| c.text),
            Client::Chat(c) => c
                .invoke_with(&[ChatMessage::user("Hi")], options)
                .map(|reply| reply.message.text().to_owned()),
        }
    }
}

/// Where a setting came from; a key read through `--api-key-env`/`--secondary-key-env` names
/// that variable.
fn origin_of(client: &Client, args: &Args, key: &str) -> String {
    let named_var = match key {
        "endpoint_api_key" => args.api_key_env.as_deref(),
        "secondary_api_key" => args.secondary_key_env.as_deref(),
        _ => None,
    };
    let found = client.sources().into_iter().find(|(k, _)| *k == key);
    match (named_var, found) {
        (Some(var), Some((_, Origin::Argument))) => format!("env var {var}"),
        (_, Some((_, origin))) => origin.to_string(),
        (_, None) => "unset".to_owned(),
    }
}

/// The steps known without a call: settings, endpoint, auth, proxy, trust.
fn describe(client: &Client, args: &Args) -> Vec<Step> {
    let config = client.config();
    let map = client.map();
    let mut shown = Vec::new();
    for (key, _) in client.sources() {
        let value = match key {
            "_type" => continue,
            "endpoint_api_key" | "secondary_api_key" => "set".to_owned(),
            "endpoint_url" => config.endpoint_url.clone(),
            "auth" => config.auth.to_string(),
            "formatter" => client.tag(),
            other => match map.get(other) {
                Some(Value::String(text)) if text.is_empty() => "\"\"".to_owned(),
                Some(Value::String(text)) => text.clone(),
                Some(value) => value.to_string(),
                None => continue,
            },
        };
        shown.push(format!("{key} {value} ({})", origin_of(client, args, key)));
    }
    vec![
        step("settings", true, shown.join("; ")),
        endpoint_step(client, args),
        auth_step(client, args),
        match &config.proxy {
            Some((proxy, origin)) => step("proxy", true, format!("{proxy} ({origin})")),
            None => step("proxy", true, "none: requests go direct"),
        },
        step("trust", true, trust(config)),
    ]
}

fn endpoint_step(client: &Client, args: &Args) -> Step {
    let config = client.config();
    let mut detail = format!(
        "{} ({}), api type {} ({}), formatter {} ({})",
        config.endpoint_url,
        origin_of(client, args, "endpoint_url"),
        config.api_type,
        origin_of(client, args, "endpoint_api_type"),
        client.tag(),
        origin_of(client, args, "formatter"),
    );
    if let (Some(name), Some(ws), Some(rg), Some(sub)) = (
        &config.endpoint_name,
        &config.workspace_name,
        &config.resource_group,
        &config.subscription_id,
    ) {
        detail.push_str(&format!(
            "; endpoint `{name}` in workspace `{ws}` (resource group `{rg}`, subscription `{sub}`)"
        ));
    }
    let mut ok = true;
    if let Some(traffic) = &config.traffic {
        let split: Vec<String> = traffic.iter().map(|(d, p)| format!("{d} {p}%")).collect();
        detail.push_str(&format!("; traffic: {}", none_if_empty(&split.join(", "))));
        let takes = traffic.iter().any(|(_, percent)| *percent > 0);
        match &config.deployment_name {
            Some(pinned) if !traffic.iter().any(|(d, _)| d == pinned) => {
                ok = false;
                detail.push_str(&format!(
                    "; deployment `{pinned}` is not one of the endpoint's: check --deployment"
                ));
            }
            None if !takes => {
                ok = false;
                detail.push_str(
                    "; no deployment takes traffic: give one traffic (az ml online-endpoint update \
                     --traffic), or pin one with --deployment NAME",
                );
            }
            _ => {}
        }
    }
    if let Some(pinned) = &config.deployment_name {
        detail.push_str(&format!("; pinned to deployment `{pinned}`"));
    }
    step("endpoint", ok, detail)
}

fn none_if_empty(text: &str) -> &str {
    if text.is_empty() {
        "none"
    } else {
        text
    }
}

fn auth_step(client: &Client, args: &Args) -> Step {
    let config = client.config();
    let mode = config.auth;
    let mut detail = format!("{mode} ({})", origin_of(client, args, "auth"));
    match mode {
        AuthMode::Key => {
            let secondary = match origin_of(client, args, "secondary_api_key").as_str() {
                "unset" => "none".to_owned(),
                origin => format!("set ({origin})"),
            };
            detail.push_str(&format!(
                "; key set ({}); secondary key {secondary}",
                origin_of(client, args, "endpoint_api_key")
            ));
        }
        AuthMode::AmlToken => detail
            .push_str("; an AML token from Azure Resource Manager's token route, refreshed when it says"),
        AuthMode::Custom => detail.push_str("; a credential given in code"),
        entra => {
            let scope = config
                .token_scope
                .clone()
                .unwrap_or_else(|| "the endpoint host's scope".to_owned());
            detail.push_str(&format!("; a Microsoft Entra token ({entra}) for {scope}"));
        }
    }
    if config.endpoint_name.is_some() {
        let source = if mode.uses_entra() {
            mode.to_string()
        } else {
            "the default chain".to_owned()
        };
        detail.push_str(&format!("; Azure Resource Manager signed in with {source}"));
    }
    step("auth", true, detail)
}

fn trust(config: &EndpointConfig) -> String {
    if config.use_os_trust_store {
        return "the operating system's trust store".to_owned();
    }
    if config.ca_certificate_files.is_empty() {
        return "Mozilla's roots (the default)".to_owned();
    }
    let files: Vec<String> = config
        .ca_certificate_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    format!("the CA certificates in {}", files.join(", "))
}

/// One minimal call, and the step that failed, named and with what to do.
fn probe(client: &Client, args: &Args) -> Step {
    let config = client.config();
    // One token: the parameter HF-style scoring scripts read on dedicated endpoints, OpenAI's
    // elsewhere; a --param of the same name wins.
    let limit = match config.api_type {
        ApiType::Dedicated => "max_new_tokens",
        _ => "max_tokens",
    };
    let mut params = args.params.clone();
    params.entry(limit).or_insert(json!(1));
    let options = call_options(&Args {
        params,
        ..args.clone()
    });
    let started = Instant::now();
    let error = match client.probe(&options) {
        Ok(text) => {
            let text: String = text.chars().take(60).collect();
            return step(
                "probe",
                true,
                format!(
                    "the endpoint answered in {} ms: {text:?}",
                    started.elapsed().as_millis()
                ),
            );
        }
        Err(error) => error,
    };
    let (name, what) = classify(&error, config);
    let failure = remedy::explain(Failure::from(error), args, Command::Check);
    let mut detail = format!("{what}: {}", failure.message);
    if let Some(hint) = &failure.hint {
        detail.push_str(&format!("; {hint}"));
    }
    step(name, false, detail)
}

/// The step a failed call names, and what it means.
fn classify(error: &Error, config: &EndpointConfig) -> (&'static str, String) {
    let (name, what) = match error {
        Error::Transport(t) => match t.kind {
            TransportErrorKind::Dns => ("name resolution", "the host name does not resolve"),
            TransportErrorKind::Proxy => ("proxy", "the proxy failed"),
            TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout => {
                ("connect", "no connection to the endpoint")
            }
            TransportErrorKind::Tls => ("tls", "the TLS handshake failed"),
            TransportErrorKind::Timeout => ("timeout", "no answer in time"),
            _ => ("endpoint", "the call failed"),
        },
        Error::Credential(_) => ("sign-in", "no token"),
        Error::Lookup(_) => ("lookup", "Azure Resource Manager did not answer"),
        Error::Http(e) if e.status == 401 || e.status == 403 => {
            ("authorization", "the key or token was rejected")
        }
        Error::Http(e) if e.status == 404 => {
            let none = config
                .traffic
                .as_ref()
                .is_some_and(|t| t.iter().all(|(_, p)| *p == 0));
            let what = if none && config.deployment_name.is_none() {
                "no deployment takes traffic"
            } else {
                "no deployment takes traffic, or the URL is wrong"
            };
            ("deployment", what)
        }
        Error::Http(e) if e.status == 424 => {
            let what = format!(
                "the model container failed (status {}, reason {})",
                e.model_status.as_deref().unwrap_or("unknown"),
                e.model_reason.as_deref().unwrap_or("unknown")
            );
            return ("model container", what);
        }
        Error::Http(e) if e.status == 429 => ("throttling", "throttled"),
        Error::Response(_) => ("formatter", "the reply is not the formatter's shape"),
        _ => ("endpoint", "the call failed"),
    };
    (name, what.to_owned())
}

fn print(steps: &[Step], as_json: bool) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let ok = steps.iter().all(|s| s.ok);
    if as_json {
        let steps: Vec<Value> = steps
            .iter()
            .map(|s| json!({"name": s.name, "ok": s.ok, "detail": s.detail}))
            .collect();
        writeln!(out, "{}", json!({"steps": steps, "ok": ok}))?;
        return Ok(());
    }
    for s in steps {
        let mark = if s.ok { "ok  " } else { "FAIL" };
        writeln!(out, "{mark} {}: {}", s.name, crate::one_line(&s.detail))?;
    }
    Ok(())
}
