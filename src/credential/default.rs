//! The default chain: env service principal, workload identity, managed identity, Azure CLI.

use std::sync::OnceLock;

use super::{
    env_var, process_env, AccessToken, AzureCliCredential, ClientSecretCredential, CredentialError,
    CredentialErrorKind, Env, EnvLookup, ManagedIdentityCredential, TokenCredential, TokenHttp,
    WorkloadIdentityCredential,
};

const NAME: &str = super::AuthMode::Default.credential_name();

/// The first source that gives a token: a service principal from `AZURE_CLIENT_SECRET`, then
/// workload identity, then managed identity, then the Azure CLI.
///
/// A source that is not set up here is skipped; a source that is set up but fails stops the
/// chain (rather than silently sign in as another identity). Either way the error lists every
/// source and why it gave no token. Once a source has given a token, it is the only one asked.
///
/// ```
/// use azureml_endpoint::credential::DefaultCredential;
///
/// let credential = DefaultCredential::builder().env_fn(|_| None).build();
/// assert!(format!("{credential:?}").starts_with("DefaultCredential"));
/// ```
#[derive(Debug)]
pub struct DefaultCredential {
    /// Each source by name, or why it was skipped.
    sources: Vec<(&'static str, Source)>,
    chosen: OnceLock<usize>,
}

/// Sets up a [`DefaultCredential`].
#[derive(Debug, Default)]
pub struct DefaultCredentialBuilder {
    env: Option<EnvFn>,
    client_id: Option<String>,
    azure_cli: Option<AzureCliCredential>,
    http: Option<TokenHttp>,
}

fn boxed<C: TokenCredential + 'static>(credential: Result<C, CredentialError>) -> Source {
    credential.map(|c| Box::new(c) as Box<dyn TokenCredential>)
}

/// A source set up from the environment, or why it was skipped.
type Source = Result<Box<dyn TokenCredential>, CredentialError>;

struct EnvFn(Box<EnvLookup>);

impl std::fmt::Debug for EnvFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvFn")
    }
}

impl DefaultCredential {
    /// The chain on the process environment and the `az` on `PATH`.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a chain with another environment, managed identity client id or `az`.
    pub fn builder() -> DefaultCredentialBuilder {
        DefaultCredentialBuilder::default()
    }
}

impl Default for DefaultCredential {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultCredentialBuilder {
    /// Reads environment variables through `env`. Defaults to the process environment.
    #[must_use]
    pub fn env_fn(mut self, env: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.env = Some(EnvFn(Box::new(env)));
        self
    }

    /// The user-assigned managed identity to use. Defaults to `AZURE_CLIENT_ID`, else the
    /// system-assigned identity.
    #[must_use]
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The Azure CLI step. Defaults to [`AzureCliCredential::new`].
    #[must_use]
    pub fn azure_cli(mut self, azure_cli: AzureCliCredential) -> Self {
        self.azure_cli = Some(azure_cli);
        self
    }

    /// Sends the HTTP sources' token requests on `http` (the client's agent).
    pub(crate) fn http(mut self, http: TokenHttp) -> Self {
        self.http = Some(http);
        self
    }

    /// Reads the environment once and sets up every source it can.
    pub fn build(self) -> DefaultCredential {
        let process: Env<'_> = &process_env;
        let env: Env<'_> = self.env.as_ref().map_or(process, |f| &*f.0);
        let client_id = self.client_id.or_else(|| env_var(env, "AZURE_CLIENT_ID"));
        let http = self.http.unwrap_or_default();
        let sources = vec![
            (
                "environment",
                boxed(ClientSecretCredential::read_env(env).map(|c| c.with_http(http.clone()))),
            ),
            (
                "workload identity",
                boxed(WorkloadIdentityCredential::read_env(env).map(|c| c.with_http(http.clone()))),
            ),
            (
                "managed identity",
                boxed(ManagedIdentityCredential::read_env(env, client_id).map(|c| c.with_http(http))),
            ),
            ("azure cli", boxed(Ok(self.azure_cli.unwrap_or_default()))),
        ];
        DefaultCredential {
            sources,
            chosen: OnceLock::new(),
        }
    }
}

impl TokenCredential for DefaultCredential {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        if let Some((_, Ok(source))) = self.chosen.get().and_then(|&i| self.sources.get(i)) {
            return source.get_token(scope);
        }
        let mut reasons = Vec::new();
        let mut stopped = false;
        for (index, (name, source)) in self.sources.iter().enumerate() {
            let error = match source {
                _ if stopped => {
                    reasons.push(format!("{name}: not tried"));
                    continue;
                }
                Err(skipped) => skipped.clone(),
                Ok(source) => match source.get_token(scope) {
                    Ok(token) => {
                        let _ = self.chosen.set(index);
                        return Ok(token);
                    }
                    Err(error) => error,
                },
            };
            stopped = error.kind() == CredentialErrorKind::Failed;
            let verdict = if stopped { "failed" } else { "skipped" };
            reasons.push(format!("{name}: {verdict}: {}", error.message()));
        }
        let message = format!("no source gave a token ({})", reasons.join("; "));
        Err(if stopped {
            CredentialError::failed(NAME, message)
        } else {
            CredentialError::unavailable(NAME, message)
        })
    }
}
