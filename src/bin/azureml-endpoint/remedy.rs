//! How to fix what the library reported, in the CLI's words: the library's error says what went
//! wrong; its kind, setting and origin choose the flag, env var or command to change here.

use azureml_endpoint::credential::AuthMode;
use azureml_endpoint::{
    config::ENV_ENDPOINT_API_KEY, error::ConfigError, error::TransportErrorKind, Error, Origin,
};

use crate::args::Args;
use crate::command::Command;
use crate::failure::Failure;
use crate::flags::Flag;
use crate::settings::other_command;
use azureml_endpoint::config::ClientKind;

/// What a signed-in identity needs for a 401 or 403.
const ROLE: &str = "check that the identity has a role that may score on the endpoint (see the README)";

/// `failure` with a hint, when it has none yet and came from the library.
pub fn explain(mut failure: Failure, args: &Args, command: Command) -> Failure {
    if failure.hint.is_none() {
        failure.hint = failure.error().map(|error| remedy(error, args, command));
    }
    failure
}

fn remedy(error: &Error, args: &Args, command: Command) -> String {
    match error {
        Error::Config(e) => match e.key.as_str() {
            "endpoint_api_key" => key_remedy(e, args),
            "endpoint_url" => url_remedy(e, args, command).unwrap_or_else(|| setting_remedy(e, command)),
            _ => setting_remedy(e, command),
        },
        Error::ConfigFile(_) => "fix the file named above".into(),
        Error::Io(_) => "check the path and that it can be read (or written)".into(),
        Error::Input(_) => "check the prompt, the messages, the texts and the --param values".into(),
        Error::Http(e) if e.status == 401 || e.status == 403 => match args.auth {
            Some(AuthMode::AmlToken) => {
                "check that the endpoint's auth mode is AMLToken and that the identity may get its \
                 token (Microsoft.MachineLearningServices/workspaces/onlineEndpoints/token/action)"
                    .into()
            }
            Some(mode) if mode.uses_token() => ROLE.into(),
            None if args.endpoint_name.is_some() && args.api_key_env.is_none() => {
                match std::env::var_os(args.key_var()) {
                    Some(_) => format!(
                        "a key in {} wins over the endpoint's own keys: unset it to use them",
                        args.key_var()
                    ),
                    None => "the endpoint refused its own keys: if they were just regenerated, run \
                             again to look them up; else check the endpoint's auth mode"
                        .into(),
                }
            }
            _ => format!("check the key in {}; with --auth, {ROLE}", args.key_var()),
        },
        Error::Http(e) if e.status == 404 => "check the URL and that a deployment takes traffic".into(),
        Error::Http(e) if e.content_filter.is_some() => {
            "Azure's content filter refused the prompt: rephrase it, or review the deployment's content filter".into()
        }
        Error::Http(e) if e.status == 400 || e.status == 422 => {
            "the endpoint refused the request: check --param values and --formatter".into()
        }
        Error::Http(e) if e.status == 429 => "throttled: retry later, or lower --concurrency".into(),
        Error::Http(e) if e.status == 408 || e.status >= 500 => "retry later".into(),
        Error::Response(_) => "check --formatter: it must match the model's request/response shape".into(),
        Error::Stream(_) => "the answer is incomplete; retry the call".into(),
        Error::Transport(e) => transport_remedy(e.kind).into(),
        Error::Credential(e) => credential_remedy(e.mode()).into(),
        Error::Lookup(e) => lookup_remedy(e.status).into(),
        _ => "see the message above".into(),
    }
}

/// A setting to fix where it came from, naming the flag of `command` that sets it and its env var.
fn setting_remedy(e: &ConfigError, command: Command) -> String {
    let flag = Flag::for_setting(&e.key, command);
    let over = flag.map_or_else(String::new, |f| format!(", or give {} over it", f.usage()));
    match (&e.origin, flag) {
        (Origin::Argument, Some(flag)) => format!("check {}", flag.usage()),
        (Origin::Env(var), _) => format!("fix or unset env var {var}{over}"),
        (Origin::File(path), _) => format!("fix `{}` in {}{over}", e.key, path.display()),
        (Origin::Default, Some(flag)) => {
            let env = flag
                .setting
                .and_then(|(_, env)| env)
                .filter(|_| command.reads_env());
            match env {
                Some(env) => format!("give {} (or set {env})", flag.usage()),
                None => format!("give {}", flag.usage()),
            }
        }
        _ => format!("see `azureml-endpoint {} --help`", command.name()),
    }
}

/// The key: where to export it, or how to export it again.
fn key_remedy(e: &ConfigError, args: &Args) -> String {
    match &e.origin {
        Origin::Default => {
            format!("export {ENV_ENDPOINT_API_KEY}=... (or name another variable with --api-key-env NAME)")
        }
        Origin::File(path) => format!(
            "fix `endpoint_api_key` in {}, or remove it to use {ENV_ENDPOINT_API_KEY}",
            path.display()
        ),
        // From its env var, or the one `--api-key-env` names.
        _ => {
            let var = args.key_var();
            format!("export {var} again with the key alone, e.g. {var}=\"$(tr -d '\\r\\n' < key.txt)\"")
        }
    }
}

/// A URL the CLI can tell more about: one for the other command, or plain http to a remote host.
fn url_remedy(e: &ConfigError, args: &Args, command: Command) -> Option<String> {
    let url = match e.origin {
        Origin::Argument => args.url.clone()?,
        Origin::Env(var) => std::env::var(var).ok()?,
        _ => return None,
    };
    let kind = match command {
        Command::Complete => ClientKind::Completion,
        Command::Chat => ClientKind::Chat,
        Command::Embed => ClientKind::Embeddings,
        _ => return None,
    };
    if let Some(other) = other_command(&url, kind) {
        return Some(format!("use `azureml-endpoint {other}` for this URL"));
    }
    let insecure_allowed = Flag::for_setting("allow_insecure_http", command).is_some();
    if is_remote_http(&url) && !args.allow_insecure_http && insecure_allowed {
        return Some(
            "use https://, or pass --allow-insecure-http to send the key in clear text anyway".into(),
        );
    }
    None
}

/// `http://` to a host other than 127.0.0.1, localhost or [::1].
fn is_remote_http(url: &str) -> bool {
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .and(url.get(7..))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    !(host == "127.0.0.1" || host == "::1" || host.eq_ignore_ascii_case("localhost"))
}

fn transport_remedy(kind: TransportErrorKind) -> &'static str {
    match kind {
        TransportErrorKind::Connect => {
            "check that the endpoint is up and reachable from here (a firewall? a private network?), and HTTPS_PROXY if you need one"
        }
        TransportErrorKind::Dns => {
            "check the host name in the URL (a typo? a deleted endpoint?) and this machine's DNS; a private endpoint's name resolves only inside its virtual network"
        }
        TransportErrorKind::Proxy => {
            "check HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY): the proxy must be reachable from here; list hosts to reach directly in NO_PROXY"
        }
        TransportErrorKind::ConnectTimeout => "check the network path to the host (firewall, proxy), then retry",
        TransportErrorKind::Timeout => "the model is slow: raise --timeout, or ask for fewer tokens",
        TransportErrorKind::TooLarge => "ask for a shorter answer (max_tokens / max_new_tokens)",
        TransportErrorKind::Redirect => "use the URL the endpoint redirects to",
        TransportErrorKind::Tls => {
            "behind a TLS-inspecting proxy, trust its CA: --ca-cert FILE, AZUREML_CA_BUNDLE, or --os-trust-store"
        }
        _ => "retry later",
    }
}

/// What to do when Azure Resource Manager refused or did not answer a lookup.
fn lookup_remedy(status: Option<u16>) -> &'static str {
    match status {
        Some(401 | 403) => {
            "sign in as an identity with that role: --auth picks the Entra source; keys and AML \
             tokens sign in with the default chain (AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, \
             workload or managed identity, then az login)"
        }
        Some(404) => {
            "check --endpoint-name, --workspace, --resource-group and --subscription (or \
             AZUREML_ARM_WORKSPACE_NAME, AZUREML_ARM_RESOURCEGROUP, AZUREML_ARM_SUBSCRIPTION)"
        }
        None => {
            "check the network path to Azure Resource Manager (AZUREML_ARM_ENDPOINT, HTTPS_PROXY), then retry"
        }
        Some(_) => "retry later; if it persists, quote the request id to Azure support",
    }
}

/// What to do when a credential gave no token, by sign-in mode.
fn credential_remedy(mode: Option<AuthMode>) -> &'static str {
    match mode {
        Some(AuthMode::AzureCli) => {
            "run `az login` (and `az account set` for the right subscription), or choose another --auth"
        }
        Some(AuthMode::ManagedIdentity) => {
            "run on Azure with a managed identity assigned (--client-id for a user-assigned one), or choose another --auth"
        }
        Some(AuthMode::WorkloadIdentity) => {
            "check the pod's workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID"
        }
        Some(AuthMode::ClientSecret) => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        Some(AuthMode::AmlToken) => {
            "check that the identity may get the endpoint's token (the AzureML Data Scientist role), or choose another --auth"
        }
        _ => "set up one of the sources listed above, or choose another --auth (key, aml_token, managed_identity, workload_identity, client_secret, azure_cli)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_http_is_told_from_loopback_and_https() {
        for (url, remote) in [
            ("http://example.com/score", true),
            ("HTTP://user@example.com:80/score", true),
            ("http://127.0.0.1:8765/score", false),
            ("http://localhost/score", false),
            ("http://[::1]:1/score", false),
            ("https://example.com/score", false),
            ("ftp", false),
        ] {
            assert_eq!(is_remote_http(url), remote, "{url}");
        }
    }
}
