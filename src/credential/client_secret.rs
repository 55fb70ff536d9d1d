//! A service principal signing in with a client secret (`AZURE_CLIENT_SECRET`).

use super::authority::{Authority, DEFAULT_AUTHORITY_HOST};
use super::http::TokenHttp;
use super::{env_var, process_env, required_vars, AccessToken, CredentialError, Env, Token, TokenCredential};

const NAME: &str = super::AuthMode::ClientSecret.credential_name();

/// A service principal's client secret, exchanged at `{authority}/{tenant}/oauth2/v2.0/token`.
///
/// The secret is kept as a [`Token`]: it never shows in `Debug` or in errors, even when the
/// token service echoes it back.
///
/// ```
/// use azureml_endpoint::credential::ClientSecretCredential;
///
/// let credential = ClientSecretCredential::new("contoso.onmicrosoft.com", "app-id", "s3cret")?;
/// assert!(!format!("{credential:?}").contains("s3cret"));
/// # Ok::<(), azureml_endpoint::credential::CredentialError>(())
/// ```
#[derive(Debug)]
pub struct ClientSecretCredential {
    authority: Authority,
    client_id: String,
    secret: Token,
    http: TokenHttp,
}

impl ClientSecretCredential {
    /// A credential for `client_id` in `tenant_id` on the public cloud's authority.
    ///
    /// # Errors
    ///
    /// The tenant id is not a GUID or domain, or the client id or secret is empty.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        client_secret: impl Into<String>,
    ) -> Result<Self, CredentialError> {
        Self::with_host(DEFAULT_AUTHORITY_HOST, tenant_id, client_id, client_secret.into())
    }

    /// The same credential on another authority, e.g. `https://login.microsoftonline.us/`.
    ///
    /// # Errors
    ///
    /// `host` is not an https URL without a path (http is allowed only for loopback, for tests).
    pub fn with_authority_host(self, host: &str) -> Result<Self, CredentialError> {
        let tenant = self.authority.tenant().to_owned();
        Ok(ClientSecretCredential {
            authority: Authority::new(NAME, host, &tenant)?,
            ..self
        })
    }

    /// Reads `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and, if set,
    /// `AZURE_AUTHORITY_HOST` from the process environment.
    ///
    /// # Errors
    ///
    /// [`Unavailable`](super::CredentialErrorKind::Unavailable) when a variable is unset;
    /// [`Failed`](super::CredentialErrorKind::Failed) when one is invalid.
    pub fn from_env() -> Result<Self, CredentialError> {
        Self::from_env_fn(process_env)
    }

    /// [`from_env`](Self::from_env) reading variables through `env` instead (for tests and
    /// embedders).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_env_fn(env: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialError> {
        Self::read_env(&env)
    }

    pub(crate) fn read_env(env: Env<'_>) -> Result<Self, CredentialError> {
        let [tenant, client, secret] = required_vars(
            env,
            NAME,
            ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"],
        )?;
        let host = env_var(env, "AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into());
        Self::with_host(&host, &tenant, &client, secret)
    }

    fn with_host(host: &str, tenant: &str, client_id: &str, secret: String) -> Result<Self, CredentialError> {
        if client_id.trim().is_empty() || secret.is_empty() {
            return Err(CredentialError::failed(
                NAME,
                "the client id and client secret must not be empty",
            ));
        }
        Ok(ClientSecretCredential {
            authority: Authority::new(NAME, host, tenant)?,
            client_id: client_id.to_owned(),
            secret: Token::new(secret),
            http: TokenHttp::default(),
        })
    }

    /// Sends token requests on `http` (the client's agent) instead of a default one.
    pub(crate) fn with_http(self, http: TokenHttp) -> Self {
        ClientSecretCredential { http, ..self }
    }
}

impl TokenCredential for ClientSecretCredential {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        self.authority.token(
            &self.http,
            NAME,
            scope,
            &self.client_id,
            ("client_secret", self.secret.expose()),
        )
    }
}
