//! AKS workload identity: a federated token file exchanged for an Entra token.

use std::io::Read;
use std::path::PathBuf;

use super::authority::{Authority, DEFAULT_AUTHORITY_HOST};
use super::http::TokenHttp;
use super::{env_var, process_env, required_vars, AccessToken, CredentialError, Env, TokenCredential};

const NAME: &str = super::AuthMode::WorkloadIdentity.credential_name();
/// Largest federated token file read; the projected service account token is ~1 KiB.
const MAX_ASSERTION: u64 = 64 * 1024;

/// The client-assertion grant AKS workload identity sets up: `AZURE_FEDERATED_TOKEN_FILE`,
/// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and optionally `AZURE_AUTHORITY_HOST`.
///
/// The file is read again for every token, since the kubelet rotates it.
///
/// ```
/// use azureml_endpoint::credential::{CredentialErrorKind, WorkloadIdentityCredential};
///
/// let error = WorkloadIdentityCredential::from_env_fn(|_| None).unwrap_err();
/// assert_eq!(error.kind(), CredentialErrorKind::Unavailable);
/// assert_eq!(
///     error.to_string(),
///     "workload identity credential: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID not set"
/// );
/// ```
#[derive(Debug)]
pub struct WorkloadIdentityCredential {
    authority: Authority,
    client_id: String,
    token_file: PathBuf,
    http: TokenHttp,
}

impl WorkloadIdentityCredential {
    /// Reads the variables above from the process environment.
    ///
    /// # Errors
    ///
    /// [`Unavailable`](super::CredentialErrorKind::Unavailable) when a variable is unset;
    /// [`Failed`](super::CredentialErrorKind::Failed) when one is invalid.
    pub fn from_env() -> Result<Self, CredentialError> {
        Self::from_env_fn(process_env)
    }

    /// [`from_env`](Self::from_env) reading variables through `env` instead.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_env_fn(env: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialError> {
        Self::read_env(&env)
    }

    pub(crate) fn read_env(env: Env<'_>) -> Result<Self, CredentialError> {
        let [file, client_id, tenant] = required_vars(
            env,
            NAME,
            ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"],
        )?;
        let host = env_var(env, "AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into());
        Ok(WorkloadIdentityCredential {
            authority: Authority::new(NAME, &host, &tenant)?,
            client_id,
            token_file: PathBuf::from(file),
            http: TokenHttp::default(),
        })
    }

    /// Sends token requests on `http` (the client's agent) instead of a default one.
    pub(crate) fn with_http(self, http: TokenHttp) -> Self {
        WorkloadIdentityCredential { http, ..self }
    }

    fn assertion(&self) -> Result<String, CredentialError> {
        let failed = |why: String| {
            CredentialError::failed(
                NAME,
                format!(
                    "cannot use the federated token file `{}`: {why}; check AZURE_FEDERATED_TOKEN_FILE",
                    self.token_file.display()
                ),
            )
        };
        let mut text = String::new();
        std::fs::File::open(&self.token_file)
            .and_then(|file| file.take(MAX_ASSERTION + 1).read_to_string(&mut text))
            .map_err(|e| failed(e.to_string()))?;
        if text.len() as u64 > MAX_ASSERTION {
            return Err(failed(format!("it is larger than {} KiB", MAX_ASSERTION / 1024)));
        }
        let assertion = text.trim();
        if assertion.is_empty() {
            return Err(failed("it is empty".into()));
        }
        Ok(assertion.to_owned())
    }
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let assertion = self.assertion()?;
        self.authority.token(
            &self.http,
            NAME,
            scope,
            &self.client_id,
            ("client_assertion", &assertion),
        )
    }
}
