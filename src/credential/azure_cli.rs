//! The Azure CLI's signed-in account: `az account get-access-token`.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::Value;

use super::redact::excerpt;
use super::{scope_to_resource, AccessToken, CredentialError, TokenCredential};

const NAME: &str = super::AuthMode::AzureCli.credential_name();
/// How long `az` may run before it is killed.
pub const AZURE_CLI_TIMEOUT: Duration = Duration::from_secs(10);
/// Most output read from `az`; its JSON answer is a few KiB.
const MAX_OUTPUT: u64 = 1024 * 1024;
const INSTALL: &str =
    "install the Azure CLI (https://aka.ms/azure-cli) and run `az login`, or pick another auth mode";

/// A token from the account `az login` signed in, by running
/// `az account get-access-token --resource R --output json`.
///
/// `az` runs in the temp directory (never one an attacker could plant files in via the current
/// directory) and is killed after 10 s. Its stdout is never shown; its stderr is scrubbed of
/// anything token-shaped before an error quotes it.
///
/// ```no_run
/// use azureml_endpoint::credential::{AzureCliCredential, TokenCredential};
///
/// let token = AzureCliCredential::new().get_token("https://ml.azure.com/.default")?;
/// # Ok::<(), azureml_endpoint::credential::CredentialError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AzureCliCredential {
    program: OsString,
    timeout: Duration,
}

impl Default for AzureCliCredential {
    fn default() -> Self {
        Self::new()
    }
}

impl AzureCliCredential {
    /// Runs the `az` found on `PATH`.
    pub fn new() -> Self {
        AzureCliCredential {
            program: OsString::from(if cfg!(windows) { "az.cmd" } else { "az" }),
            timeout: AZURE_CLI_TIMEOUT,
        }
    }

    /// Runs `program` instead of `az` (a path, or a name looked up on `PATH`).
    #[must_use]
    pub fn with_program(mut self, program: impl Into<OsString>) -> Self {
        self.program = program.into();
        self
    }

    /// Kills `az` after `timeout`. Defaults to [`AZURE_CLI_TIMEOUT`] (10 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `az`, returning its exit success, stdout and stderr, or an error if it could not
    /// run or overran the timeout.
    fn run(&self, resource: &str) -> Result<(bool, Vec<u8>, Vec<u8>), CredentialError> {
        let mut child = Command::new(&self.program)
            .args([
                "account",
                "get-access-token",
                "--resource",
                resource,
                "--output",
                "json",
            ])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    CredentialError::unavailable(NAME, format!("`az` was not found; {INSTALL}"))
                }
                _ => CredentialError::failed(NAME, format!("cannot run `az`: {e}")),
            })?;
        // Read both pipes on their own threads so a full pipe never stalls `az`; the threads
        // are not joined, as a grandchild of a killed `az` may hold the pipes open.
        let collect = |pipe: Option<Box<dyn Read + Send>>| {
            let (tx, rx) = mpsc::channel();
            if let Some(pipe) = pipe {
                std::thread::spawn(move || {
                    let mut out = Vec::new();
                    let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut out);
                    let _ = tx.send(out);
                });
            }
            rx
        };
        let stdout = collect(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = collect(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                outcome => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let why = match outcome {
                        Err(e) => format!("waiting for `az` failed: {e}"),
                        _ => format!(
                            "`az` did not finish within {} s and was stopped",
                            self.timeout.as_secs_f32()
                        ),
                    };
                    return Err(CredentialError::failed(NAME, why));
                }
            }
        };
        let grace = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let stdout = stdout.recv_timeout(grace).unwrap_or_default();
        let stderr = stderr
            .recv_timeout(Duration::from_millis(100))
            .unwrap_or_default();
        Ok((status.success(), stdout, stderr))
    }
}

impl TokenCredential for AzureCliCredential {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let resource = scope_to_resource(NAME, scope)?;
        let (success, stdout, stderr) = self.run(&resource)?;
        let json: Option<Value> = serde_json::from_slice(&stdout).ok();
        let token = json
            .as_ref()
            .and_then(|j| j.get("accessToken"))
            .and_then(Value::as_str);
        if !success {
            let stderr = String::from_utf8_lossy(&stderr);
            // az prints warnings first; the line that says what went wrong starts with ERROR.
            let line = stderr.lines().find(|l| l.starts_with("ERROR")).unwrap_or(&stderr);
            let said = excerpt(line, &token.into_iter().collect::<Vec<_>>());
            return Err(if stderr.contains("az login") {
                CredentialError::unavailable(NAME, format!("not signed in; run `az login` (az said: {said})"))
            } else {
                CredentialError::failed(NAME, format!("`az account get-access-token` failed: {said}"))
            });
        }
        let (Some(json), Some(token)) = (&json, token.filter(|t| !t.is_empty())) else {
            return Err(CredentialError::failed(
                NAME,
                "`az` printed no `accessToken`; update the Azure CLI",
            ));
        };
        let expires_on = match json.get("expires_on") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ if json.get("expiresOn").is_some() => {
                return Err(CredentialError::failed(
                    NAME,
                    "this Azure CLI is too old to report `expires_on`; update it (`az upgrade`)",
                ))
            }
            _ => None,
        }
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .ok_or_else(|| {
            CredentialError::failed(NAME, "`az` printed an invalid `expires_on` (want POSIX seconds)")
        })?;
        Ok(AccessToken::new(token, expires_on))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::credential::CredentialErrorKind;
    use std::path::{Path, PathBuf};

    const ML: &str = crate::credential::AZURE_ML_SCOPE;
    const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtbCJ9.c2ln-TOKEN-SECRET";

    fn temp_dir(name: &str) -> std::io::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("azml-az-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn posix_in(secs: u64) -> u64 {
        std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + secs
    }

    fn at(posix: u64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(posix)
    }

    fn assert_clean(error: &CredentialError, secrets: &[&str]) {
        for text in [error.to_string(), format!("{error:?}")] {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
            }
        }
    }

    /// Writes an executable fake `az` that runs `body` (bash) and returns its path.
    fn fake_az(dir: &Path, body: &str) -> Result<PathBuf, std::io::Error> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("az");
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{body}\n"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(path)
    }

    #[test]
    fn azure_cli_is_run_with_the_resource_in_the_temp_dir() -> Result<(), Box<dyn std::error::Error>> {
        let dir = temp_dir("az-ok")?;
        let log = dir.join("log");
        let expires = posix_in(3000);
        let az = fake_az(
            &dir,
            &format!(
                r#"echo "$PWD|$*" > '{}'
    echo '{{"accessToken":"{TOKEN}","expiresOn":"2030-01-01 00:00:00.000000","expires_on":{expires},"tokenType":"Bearer"}}'"#,
                log.display()
            ),
        )?;
        let token = AzureCliCredential::new().with_program(&az).get_token(ML)?;
        assert_eq!(token.expires_on(), at(expires));
        let temp = std::env::temp_dir().canonicalize()?;
        assert_eq!(
            std::fs::read_to_string(&log)?,
            format!(
                "{}|account get-access-token --resource https://ml.azure.com --output json\n",
                temp.display()
            )
        );
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }

    #[test]
    fn azure_cli_errors_say_what_to_do_and_hide_the_token() -> Result<(), Box<dyn std::error::Error>> {
        let dir = temp_dir("az-errors")?;
        let run = |body: &str| -> Result<CredentialError, Box<dyn std::error::Error>> {
            let az = fake_az(&dir, body)?;
            let result = AzureCliCredential::new().with_program(&az).get_token(ML);
            Ok(result.err().ok_or("the fake az gave a token")?)
        };
        let error = run(
            "echo 'WARNING: something' >&2; echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1",
        )?;
        assert_eq!(error.kind(), CredentialErrorKind::Unavailable);
        assert_eq!(
            error.to_string(),
            "azure cli credential: not signed in; run `az login` (az said: ERROR: Please run 'az login' to setup account.)"
        );
        // A failing az that printed a token (JWT-shaped or not) and echoes it on stderr.
        let plain = "plain-TOKEN-SECRET-42";
        let error = run(&format!(
            "echo '{{\"accessToken\":\"{plain}\",\"expires_on\":1}}'; echo 'ERROR: refused {plain} and {TOKEN}' >&2; exit 2"
        ))?;
        assert_eq!(error.kind(), CredentialErrorKind::Failed);
        assert_eq!(
            error.to_string(),
            "azure cli credential: `az account get-access-token` failed: ERROR: refused *** and ***"
        );
        assert_clean(&error, &[plain, TOKEN]);
        let error = run(&format!(
            "echo '{{\"accessToken\":\"{plain}\",\"expiresOn\":\"2030-01-01 00:00:00.000000\"}}'"
        ))?;
        assert_eq!(
            error.to_string(),
            "azure cli credential: this Azure CLI is too old to report `expires_on`; update it (`az upgrade`)"
        );
        let error = run(&format!(
            "echo '{{\"accessToken\":\"{plain}\",\"expires_on\":-1}}'"
        ))?;
        assert_eq!(
            error.to_string(),
            "azure cli credential: `az` printed an invalid `expires_on` (want POSIX seconds)"
        );
        assert_clean(&error, &[plain]);
        let missing = AzureCliCredential::new()
            .with_program(dir.join("no-such-az"))
            .get_token(ML)
            .err();
        assert_eq!(
            missing.as_ref().map(ToString::to_string).as_deref(),
            Some("azure cli credential: `az` was not found; install the Azure CLI (https://aka.ms/azure-cli) and run `az login`, or pick another auth mode")
        );
        assert_eq!(missing.map(|e| e.kind()), Some(CredentialErrorKind::Unavailable));
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }

    #[test]
    fn a_hanging_azure_cli_is_killed_at_the_timeout() -> Result<(), Box<dyn std::error::Error>> {
        let dir = temp_dir("az-hang")?;
        // Not `exec`: the sleeping grandchild keeps the pipes open after `az` itself is killed.
        let az = fake_az(&dir, "sleep 5")?;
        let started = Instant::now();
        let error = AzureCliCredential::new()
            .with_program(&az)
            .with_timeout(Duration::from_secs(1))
            .get_token(ML)
            .err()
            .ok_or("a hanging az gave a token")?;
        let took = started.elapsed();
        assert_eq!(
            error.to_string(),
            "azure cli credential: `az` did not finish within 1 s and was stopped"
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(2),
            "took {took:?}"
        );
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }
}
