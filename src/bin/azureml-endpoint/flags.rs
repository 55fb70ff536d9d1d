//! Every flag, defined once: its names, value, help, the commands it belongs to, the library
//! setting it fills, and how it is recorded in [`Args`]. Parsing, help, "did you mean" and the
//! hints that say which flag fixes a setting all read [`FLAGS`].

use std::ffi::OsString;
use std::path::PathBuf;

use azureml_endpoint::config::{
    ENV_ARM_RESOURCE_GROUP, ENV_ARM_SUBSCRIPTION, ENV_ARM_WORKSPACE_NAME, ENV_AUTH,
};
use azureml_endpoint::{
    config::ENV_CA_BUNDLE, config::ENV_DEPLOYMENT_NAME, config::ENV_ENDPOINT_API_KEY,
    config::ENV_ENDPOINT_API_TYPE, config::ENV_ENDPOINT_URL, config::ENV_TIMEOUT, ApiType,
};
use serde_json::Value;

use crate::args::Args;
use crate::command::Command::{self, *};
use crate::failure::Failure;
use azureml_endpoint::config::{parse_timeout, suggest};

/// One flag.
#[derive(Debug)]
pub struct Flag {
    /// `--long`.
    pub long: &'static str,
    /// `-s`, if it has one.
    pub short: Option<char>,
    /// The value's name in help (`--timeout SECS`); `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
    pub commands: &'static [Command],
    /// The library setting it fills: the config key and the env var that also sets it.
    pub setting: Option<(&'static str, Option<&'static str>)>,
    /// Records the flag in the parsed arguments, checking its value.
    pub apply: fn(&mut Args, &Given) -> Result<(), Failure>,
}

/// A flag as the user gave it: as written (for messages) and its value (empty for a switch).
#[derive(Debug)]
pub struct Given {
    pub shown: String,
    pub value: OsString,
}

const ENDPOINT: &[Command] = &[Complete, Chat, Embed, Batch, ConfigNew, Check];
const CALLING: &[Command] = &[Complete, Chat, Embed, Batch, Check];
const ONE_CALL: &[Command] = &[Complete, Chat];

#[rustfmt::skip]
pub const FLAGS: &[Flag] = &[
    flag("config", Some("FILE"), CALLING, "a saved config (.json/.yaml), e.g. from LangChain's save(); flags win over it",
        |a, v| put(&mut a.config, Ok(v.path()))),
    flag("url", Some("URL"), ENDPOINT, "the scoring URL (or AZUREML_ENDPOINT_URL)",
        |a, v| put(&mut a.url, v.text())).fills("endpoint_url", Some(ENV_ENDPOINT_URL)),
    flag("endpoint-name", Some("NAME"), ENDPOINT, "connect by name: the endpoint is looked up in its workspace (with --workspace, --resource-group, --subscription); its keys or token too",
        |a, v| put(&mut a.endpoint_name, v.text())).fills("endpoint_name", None),
    flag("workspace", Some("NAME"), ENDPOINT, "the named endpoint's Azure ML workspace (or AZUREML_ARM_WORKSPACE_NAME)",
        |a, v| put(&mut a.workspace, v.text())).fills("workspace_name", Some(ENV_ARM_WORKSPACE_NAME)),
    flag("resource-group", Some("NAME"), ENDPOINT, "the workspace's resource group (or AZUREML_ARM_RESOURCEGROUP)",
        |a, v| put(&mut a.resource_group, v.text())).fills("resource_group", Some(ENV_ARM_RESOURCE_GROUP)),
    flag("subscription", Some("ID"), ENDPOINT, "the workspace's subscription id (or AZUREML_ARM_SUBSCRIPTION)",
        |a, v| put(&mut a.subscription, v.text())).fills("subscription_id", Some(ENV_ARM_SUBSCRIPTION)),
    flag("api-type", Some("TYPE"), ENDPOINT, "dedicated or serverless; default: the one the URL path fits (…/score: dedicated)",
        |a, v| put(&mut a.api_type, api_type(&v.text()?))).fills("endpoint_api_type", Some(ENV_ENDPOINT_API_TYPE)),
    flag("formatter", Some("TAG"), ENDPOINT, "the model's request/response shape: gpt2, catalog, hf, dolly, custom_openai (default), custom_openai_chat, mistral_chat, promptflow, openai_embeddings, cohere_embed, clip_text_embeddings, …",
        |a, v| put(&mut a.formatter, v.text())).fills("formatter", None),
    flag("deployment", Some("NAME"), ENDPOINT, "pin a deployment (or AZUREML_DEPLOYMENT_NAME)",
        |a, v| put(&mut a.deployment, v.text())).fills("deployment_name", Some(ENV_DEPLOYMENT_NAME)),
    flag("timeout", Some("SECS"), ENDPOINT, "per-request deadline in seconds (or AZUREML_TIMEOUT; default 50)",
        |a, v| put(&mut a.timeout, parse_timeout(&v.text()?).map_err(|e| v.bad(e)))).fills("timeout", Some(ENV_TIMEOUT)),
    flag("api-key-env", Some("NAME"), &[Complete, Chat, Embed, Batch, ConfigShow, Check], "read the key from env var NAME instead of AZUREML_ENDPOINT_API_KEY",
        |a, v| put(&mut a.api_key_env, v.text())).fills("endpoint_api_key", Some(ENV_ENDPOINT_API_KEY)),
    flag("secondary-key-env", Some("NAME"), CALLING, "read the endpoint's other key from env var NAME: a key refused with 401 switches to it once",
        |a, v| put(&mut a.secondary_key_env, v.text())).fills("secondary_api_key", None),
    flag("auth", Some("MODE"), ENDPOINT, "sign in with: key (default), aml_token, managed_identity, workload_identity, client_secret, azure_cli, default (or AZUREML_AUTH); by name: the endpoint's own mode",
        |a, v| put(&mut a.auth, v.text()?.parse().map_err(|e| v.bad(e)))).fills("auth", Some(ENV_AUTH)),
    flag("token-scope", Some("SCOPE"), ENDPOINT, "the Entra token scope; needed for hosts other than *.inference.ml.azure.com, *.openai.azure.com, *.cognitiveservices.azure.com, *.services.ai.azure.com",
        |a, v| put(&mut a.token_scope, v.text())).fills("token_scope", None),
    flag("client-id", Some("ID"), ENDPOINT, "the identity to sign in as: a user-assigned managed identity, or instead of AZURE_CLIENT_ID",
        |a, v| put(&mut a.client_id, v.text())).fills("client_id", None),
    flag("allow-insecure-http", None, ENDPOINT, "allow plain http:// to a host other than 127.0.0.1/localhost (sends the key in clear text; never saved)",
        |a, _| on(&mut a.allow_insecure_http)).fills("allow_insecure_http", None),
    flag("param", Some("KEY=VALUE"), ENDPOINT, "model parameter; VALUE is JSON, else a string (repeatable)",
        param).fills("model_kwargs", None),
    flag("stop", Some("TEXT"), &[Complete, Chat, Batch, ConfigNew], "stop sequence (repeatable)",
        |a, v| push(&mut a.stop, v.text())),
    flag("stream", None, ONE_CALL, "print the answer as it arrives (serverless endpoints and prompt flows stream; other dedicated ones answer whole)",
        |a, _| on(&mut a.stream)),
    flag("show-reasoning", None, ONE_CALL, "print a reasoning model's thinking (reasoning_content, or its <think> block) before the answer; --json always has it",
        |a, _| on(&mut a.show_reasoning)),
    flag("json", None, &[Complete, Chat, Embed, ConfigShow, Check], "print one JSON object: text or message, finish_reason, usage, request_id (embed: embeddings, usage, model; check: its steps)",
        |a, _| on(&mut a.json)),
    flag("probe", None, &[Check], "also make one minimal call and say which step fails, if one does",
        |a, _| on(&mut a.probe)),
    flag("system", Some("TEXT"), &[Chat], "a system message before the conversation",
        |a, v| put(&mut a.system, v.text())),
    flag("messages", Some("FILE"), &[Chat], "a JSON array of {\"role\", \"content\"} messages to send before MESSAGE",
        |a, v| put(&mut a.messages, Ok(v.path()))),
    flag("image", Some("FILE|URL"), &[Chat], "attach an image to MESSAGE: a PNG/JPEG/GIF/WebP file (up to 20 MiB) or an https:// or data: URL (repeatable)",
        |a, v| push(&mut a.images, v.text())),
    flag("input", Some("FILE"), &[Batch], "the JSONL input: one {\"prompt\": …} or {\"messages\": […]} per line; - reads stdin as it comes",
        |a, v| put(&mut a.input, Ok(v.path()))),
    flag("output", Some("FILE"), &[Batch, ConfigNew], "where to write the results; - writes each to stdout as it is next in order",
        |a, v| put(&mut a.output, Ok(v.path()))).short('o'),
    flag("concurrency", Some("N"), &[Embed, Batch], "requests in flight at once (default 1)",
        |a, v| put(&mut a.concurrency, whole(v, "a whole number > 0", |n| n > 0))),
    flag("batch-size", Some("N"), &[Embed, Batch, ConfigNew], "embeddings: inputs per request, 1 to 2048 (default 96: Cohere's limit; Azure OpenAI takes 2048)",
        |a, v| put(&mut a.batch_size, whole(v, "a whole number from 1 to 2048", |n| (1..=2048).contains(&n)))).fills("batch_size", None),
    flag("resume", None, &[Batch], "keep the successful results already in the output; redo failed and missing lines",
        |a, _| on(&mut a.resume)),
    flag("chat", None, &[ConfigNew, Check], "write a chat endpoint (implied by a …/chat/completions URL or a chat formatter; an embeddings endpoint by a …/embeddings or …/embed URL or an embeddings formatter)",
        |a, _| on(&mut a.chat)),
    flag("force", None, &[ConfigNew], "overwrite an existing file",
        |a, _| on(&mut a.force)),
    flag("port", Some("N"), &[Local], "the port on 127.0.0.1 (default 8765; 0 picks a free one)",
        |a, v| put(&mut a.port, whole(v, "a port number (0 to 65535)", |_| true))),
    flag("ca-cert", Some("FILE"), CALLING, "trust the CA certificates in this PEM file instead of Mozilla's roots, e.g. a TLS-inspecting proxy's (repeatable; or AZUREML_CA_BUNDLE)",
        |a, v| push(&mut a.ca_certs, Ok(v.path()))).fills("ca_certificates", Some(ENV_CA_BUNDLE)),
    flag("os-trust-store", None, CALLING, "verify TLS with the operating system's trust store instead of Mozilla's roots",
        |a, _| on(&mut a.os_trust_store)).fills("use_os_trust_store", None),
    flag("model", Some("NAME"), ENDPOINT, "the body's \"model\", for serverless gateways serving many models from one URL (--param model=… wins)",
        |a, v| put(&mut a.model, v.text())).fills("model", None),
    flag("verbose", None, CALLING, "on stderr: each attempt, wait, request id and token source; -vv adds the headers (secrets as ***)",
        |a, _| { a.verbose = a.verbose.saturating_add(1); Ok(()) }).short('v'),
];

const fn flag(
    long: &'static str,
    value: Option<&'static str>,
    commands: &'static [Command],
    help: &'static str,
    apply: fn(&mut Args, &Given) -> Result<(), Failure>,
) -> Flag {
    Flag {
        long,
        short: None,
        value,
        help,
        commands,
        setting: None,
        apply,
    }
}

impl Flag {
    const fn fills(self, key: &'static str, env: Option<&'static str>) -> Self {
        Flag {
            setting: Some((key, env)),
            ..self
        }
    }

    const fn short(self, short: char) -> Self {
        Flag {
            short: Some(short),
            ..self
        }
    }

    /// The flag as help shows it: `--timeout SECS`.
    pub fn usage(&self) -> String {
        match self.value {
            Some(value) => format!("--{} {value}", self.long),
            None => format!("--{}", self.long),
        }
    }

    /// The flag of `command` that fills the setting `key`.
    pub fn for_setting(key: &str, command: Command) -> Option<&'static Flag> {
        FLAGS
            .iter()
            .find(|f| f.commands.contains(&command) && f.setting.is_some_and(|(k, _)| k == key))
    }

    /// The flag `--name`.
    pub fn by_long(name: &str) -> Option<&'static Flag> {
        FLAGS.iter().find(|f| f.long == name)
    }

    /// The flag `-c`.
    pub fn by_short(c: char) -> Option<&'static Flag> {
        FLAGS.iter().find(|f| f.short == Some(c))
    }
}

impl Given {
    pub fn text(&self) -> Result<String, Failure> {
        self.value
            .clone()
            .into_string()
            .map_err(|_| Failure::usage(format!("the value of {} is not valid UTF-8", self.shown)))
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.value)
    }

    /// A usage error about this flag's value.
    pub fn bad(&self, why: impl std::fmt::Display) -> Failure {
        Failure::usage(format!("{}: {why}", self.shown))
    }
}

fn put<T>(slot: &mut Option<T>, value: Result<T, Failure>) -> Result<(), Failure> {
    *slot = Some(value?);
    Ok(())
}

fn push<T>(list: &mut Vec<T>, value: Result<T, Failure>) -> Result<(), Failure> {
    list.push(value?);
    Ok(())
}

fn on(switch: &mut bool) -> Result<(), Failure> {
    *switch = true;
    Ok(())
}

/// `--param KEY=VALUE`: VALUE as JSON, else as a string.
fn param(args: &mut Args, given: &Given) -> Result<(), Failure> {
    let pair = given.text()?;
    let (key, raw) = pair
        .split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| Failure::usage(format!("{} {pair:?} is not KEY=VALUE", given.shown)))?;
    let parsed = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    args.params.insert(key.to_owned(), parsed);
    Ok(())
}

/// A whole number that `fits`, else an error saying what was wanted.
fn whole<T: std::str::FromStr + Copy>(
    given: &Given,
    wanted: &str,
    fits: fn(T) -> bool,
) -> Result<T, Failure> {
    let text = given.text()?;
    text.parse()
        .ok()
        .filter(|n| fits(*n))
        .ok_or_else(|| given.bad(format!("{text:?} is not {wanted}")))
}

fn api_type(text: &str) -> Result<ApiType, Failure> {
    text.parse().map_err(|_| {
        let hint = match suggest(text, &["dedicated", "serverless"]) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "or leave --api-type out: the URL path decides".into(),
        };
        Failure::new(
            2,
            format!("unknown api type `{text}`; use `dedicated` (…/score URLs) or `serverless` (…/completions, …/chat/completions, …/embeddings URLs)"),
            hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_a_setting_has_one_flag_per_command() {
        for (i, flag) in FLAGS.iter().enumerate() {
            for other in FLAGS.get(i + 1..).unwrap_or_default() {
                assert_ne!(flag.long, other.long);
                assert!(
                    flag.short.is_none() || flag.short != other.short,
                    "-{:?}",
                    flag.short
                );
                let shared = flag.commands.iter().any(|c| other.commands.contains(c));
                let same_setting =
                    flag.setting.is_some() && flag.setting.map(|s| s.0) == other.setting.map(|s| s.0);
                assert!(!(shared && same_setting), "--{} and --{}", flag.long, other.long);
            }
        }
        assert_eq!(Flag::by_short('o').map(|f| f.long), Some("output"));
        assert_eq!(
            Flag::by_long("url").map(Flag::usage).as_deref(),
            Some("--url URL")
        );
        assert_eq!(
            Flag::for_setting("timeout", Batch).map(|f| f.long),
            Some("timeout")
        );
        assert!(Flag::for_setting("endpoint_url", ConfigShow).is_none());
    }
}
