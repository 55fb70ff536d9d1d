//! The machine's managed identity: App Service style endpoint, Azure ML's MSI endpoint, or IMDS.

use std::time::{Duration, SystemTime};

use super::http::{HttpFailure, Method, TokenHttp, TokenRequest};
use super::{
    env_var, process_env, scope_to_resource, token_response, AccessToken, CredentialError, Env, Token,
    TokenCredential,
};

const NAME: &str = super::AuthMode::ManagedIdentity.credential_name();
const IMDS_HOST: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// Env var that moves IMDS elsewhere (as in the Azure SDKs), e.g. to a fake one in tests.
const IMDS_HOST_VAR: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
/// IMDS is on the local network: if it does not accept a connection by then, it is not there.
const IMDS_PROBE: Duration = Duration::from_secs(1);

/// A token from the managed identity of the machine the code runs on.
///
/// The endpoint is chosen from the environment when the credential is made:
/// - `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service, Functions, Container Apps, Azure ML
///   compute): `GET ?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER`;
/// - `MSI_ENDPOINT` + `MSI_SECRET` (older Azure ML compute): `api-version=2017-09-01` with a
///   `secret` header;
/// - otherwise IMDS at `http://169.254.169.254/metadata/identity/oauth2/token`
///   (`api-version=2018-02-01`, `Metadata: true`), given 1 s to accept the connection.
///
/// Requests never go through a proxy and never follow a redirect. Set
/// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (e.g. `http://127.0.0.1:8080`) to send the IMDS request to
/// another host, as the Azure SDKs do; tests use it to run a fake IMDS.
///
/// ```
/// use azureml_endpoint::credential::ManagedIdentityCredential;
///
/// // A user-assigned identity, read from an environment with no App Service variables: IMDS.
/// let credential = ManagedIdentityCredential::from_env_fn(|_| None)?.with_client_id("1d2c-…");
/// assert!(format!("{credential:?}").contains("Imds"));
/// # Ok::<(), azureml_endpoint::credential::CredentialError>(())
/// ```
#[derive(Debug)]
pub struct ManagedIdentityCredential {
    endpoint: Endpoint,
    client_id: Option<String>,
    http: TokenHttp,
}

#[derive(Debug)]
enum Endpoint {
    AppService { url: String, header: Token },
    Msi { url: String, secret: Token },
    Imds { url: String },
}

impl Endpoint {
    /// The URL, `api-version`, client id parameter name and identifying header of each flavour.
    fn parts(&self) -> (&str, &'static str, &'static str, (&'static str, &str)) {
        match self {
            Endpoint::AppService { url, header } => (
                url,
                "2019-08-01",
                "client_id",
                ("x-identity-header", header.expose()),
            ),
            Endpoint::Msi { url, secret } => (url, "2017-09-01", "clientid", ("secret", secret.expose())),
            Endpoint::Imds { url } => (url, "2018-02-01", "client_id", ("metadata", "true")),
        }
    }
}

impl ManagedIdentityCredential {
    /// The system-assigned identity, with the endpoint chosen from the process environment.
    ///
    /// # Errors
    ///
    /// An endpoint variable is set to something that is not an http(s) URL.
    pub fn from_env() -> Result<Self, CredentialError> {
        Self::from_env_fn(process_env)
    }

    /// [`from_env`](Self::from_env) reading variables through `env` instead.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_env_fn(env: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialError> {
        Self::read_env(&env, None)
    }

    /// Uses the user-assigned identity with this client id instead of the system-assigned one.
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub(crate) fn read_env(env: Env<'_>, client_id: Option<String>) -> Result<Self, CredentialError> {
        let url = |name: &'static str, value: String| -> Result<String, CredentialError> {
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(value)
            } else {
                Err(CredentialError::failed(
                    NAME,
                    format!("{name} {value:?} is not an http(s) URL"),
                ))
            }
        };
        let pair = |a: &str, b: &str| env_var(env, a).zip(env_var(env, b));
        let endpoint = if let Some((endpoint, header)) = pair("IDENTITY_ENDPOINT", "IDENTITY_HEADER") {
            Endpoint::AppService {
                url: url("IDENTITY_ENDPOINT", endpoint)?,
                header: Token::new(header),
            }
        } else if let Some((endpoint, secret)) = pair("MSI_ENDPOINT", "MSI_SECRET") {
            Endpoint::Msi {
                url: url("MSI_ENDPOINT", endpoint)?,
                secret: Token::new(secret),
            }
        } else {
            let host = env_var(env, IMDS_HOST_VAR).unwrap_or_else(|| IMDS_HOST.into());
            let host = url(IMDS_HOST_VAR, host)?;
            Endpoint::Imds {
                url: format!("{}{IMDS_PATH}", host.trim_end_matches('/')),
            }
        };
        Ok(ManagedIdentityCredential {
            endpoint,
            client_id: client_id.filter(|id| !id.trim().is_empty()),
            http: TokenHttp::default(),
        })
    }

    /// Sends token requests on `http` (the client's agent) instead of a default one.
    pub(crate) fn with_http(self, http: TokenHttp) -> Self {
        ManagedIdentityCredential { http, ..self }
    }
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let resource = scope_to_resource(NAME, scope)?;
        let client_id = self.client_id.as_deref();
        let (url, version, id_param, header) = self.endpoint.parts();
        let imds = matches!(self.endpoint, Endpoint::Imds { .. });
        let mut query = vec![("api-version", version), ("resource", resource.as_str())];
        if let Some(id) = client_id {
            query.push((id_param, id));
        }
        let request = TokenRequest {
            url,
            query: &query,
            headers: &[header, ("accept", "application/json")],
            method: Method::Get,
            direct: true,
            connect_timeout: imds.then_some(IMDS_PROBE),
        };
        let reply = self.http.send(&request).map_err(|failure| match failure {
            HttpFailure::Connect(detail) if imds => CredentialError::unavailable(
                NAME,
                format!(
                    "no managed identity on this machine (IMDS at {url}: {detail}); use another auth mode"
                ),
            ),
            HttpFailure::Connect(detail) | HttpFailure::Exchange(detail) => {
                CredentialError::failed(NAME, format!("cannot get a token from {url}: {detail}"))
            }
        })?;
        if !(200..300).contains(&reply.status) {
            // The identity header is a secret a broken endpoint might echo; IMDS's is not.
            let secrets: &[&str] = if imds { &[] } else { &[header.1] };
            let message = token_response::error_message(reply.status, &reply.body, secrets);
            let whose = client_id.map_or("the system-assigned identity".to_owned(), |id| {
                format!("client id {id:?}")
            });
            return Err(if imds && reply.status == 400 {
                CredentialError::unavailable(
                    NAME,
                    format!("no managed identity for {whose} on this machine ({message})"),
                )
            } else {
                CredentialError::failed(
                    NAME,
                    format!("{message}; check that {whose} is assigned to this resource"),
                )
            });
        }
        token_response::parse(NAME, &reply.body, SystemTime::now())
    }
}
