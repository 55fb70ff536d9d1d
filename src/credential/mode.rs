//! Which way a client signs in: its key, or one of the built-in Entra credentials, named by the
//! config key `auth`, `AZUREML_AUTH` or `--auth`.

use std::fmt;
use std::str::FromStr;

use super::http::TokenHttp;
use super::{
    env_var, process_env, AzureCliCredential, ClientSecretCredential, CredentialError, DefaultCredential,
    ManagedIdentityCredential, TokenCredential, WorkloadIdentityCredential,
};

/// How a client authenticates: the config key `auth`, env `AZUREML_AUTH`, CLI `--auth`.
///
/// [`Key`](Self::Key) sends the endpoint's key; [`AmlToken`](Self::AmlToken) a token from the
/// endpoint's own token route; every other mode signs in with Microsoft Entra ID (the endpoint's
/// `AADToken` mode). Tokens go as `Authorization: Bearer <token>` (never `api-key`).
///
/// ```
/// use azureml_endpoint::credential::AuthMode;
///
/// assert_eq!("managed_identity".parse::<AuthMode>(), Ok(AuthMode::ManagedIdentity));
/// assert_eq!(AuthMode::AzureCli.to_string(), "azure_cli");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMode {
    /// The endpoint key (`endpoint_api_key`, `AZUREML_ENDPOINT_API_KEY`). The default, and what
    /// a config file without `auth` (e.g. one Python saved) means.
    #[default]
    Key,
    /// The endpoint's AML token (its `AMLToken` mode, which Kubernetes endpoints offer besides
    /// keys), from Azure Resource Manager's token route for an endpoint connected to by name;
    /// refreshed when the token says. Signs in to Azure Resource Manager with
    /// [`DefaultCredential`] (`client_id` picks its identity).
    AmlToken,
    /// [`ManagedIdentityCredential`]; `client_id` picks a user-assigned identity.
    ManagedIdentity,
    /// [`WorkloadIdentityCredential`] (AKS); `client_id` overrides `AZURE_CLIENT_ID`.
    WorkloadIdentity,
    /// [`ClientSecretCredential`] from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` (or `client_id`) and
    /// `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// [`AzureCliCredential`]: the account `az login` signed in.
    AzureCli,
    /// [`DefaultCredential`]: the first of client secret, workload identity, managed identity and
    /// Azure CLI that works here.
    Default,
    /// A credential given in code with [`Builder::credential`](crate::Builder::credential). It
    /// cannot be named in a file or env var, and a saved config does not record it (it loads as
    /// [`Key`](Self::Key) unless `auth` is set again).
    Custom,
}

/// The modes a file, env var or flag may name, in the order help text lists them.
const NAMED: [AuthMode; 7] = [
    AuthMode::Key,
    AuthMode::AmlToken,
    AuthMode::ManagedIdentity,
    AuthMode::WorkloadIdentity,
    AuthMode::ClientSecret,
    AuthMode::AzureCli,
    AuthMode::Default,
];

impl AuthMode {
    /// The name a credential of this mode gives in its errors
    /// ([`CredentialError::credential`](super::CredentialError::credential)).
    pub(crate) const fn credential_name(self) -> &'static str {
        match self {
            AuthMode::Key => "key",
            AuthMode::ManagedIdentity => "managed identity credential",
            AuthMode::WorkloadIdentity => "workload identity credential",
            AuthMode::ClientSecret => "client secret credential",
            AuthMode::AzureCli => "azure cli credential",
            AuthMode::Default => "default credential",
            AuthMode::Custom => "custom credential",
            AuthMode::AmlToken => "aml token",
        }
    }

    /// The mode whose credential gives `name` in its errors.
    pub(crate) fn of_credential(name: &str) -> Option<AuthMode> {
        NAMED
            .iter()
            .chain([&AuthMode::Custom])
            .find(|mode| mode.credential_name() == name)
            .copied()
    }

    /// The name used in config files, `AZUREML_AUTH` and `--auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Key => "key",
            AuthMode::AmlToken => "aml_token",
            AuthMode::ManagedIdentity => "managed_identity",
            AuthMode::WorkloadIdentity => "workload_identity",
            AuthMode::ClientSecret => "client_secret",
            AuthMode::AzureCli => "azure_cli",
            AuthMode::Default => "default",
            AuthMode::Custom => "custom",
        }
    }

    /// Whether the client sends a token (an AML or Entra one) rather than its key.
    pub fn uses_token(self) -> bool {
        self != AuthMode::Key
    }

    /// Whether the client sends a Microsoft Entra token (for the endpoint's `AADToken` mode).
    pub fn uses_entra(self) -> bool {
        !matches!(self, AuthMode::Key | AuthMode::AmlToken)
    }

    /// Whether a `client_id` means something for this mode.
    pub(crate) fn takes_client_id(self) -> bool {
        matches!(
            self,
            AuthMode::ManagedIdentity
                | AuthMode::WorkloadIdentity
                | AuthMode::ClientSecret
                | AuthMode::Default
                | AuthMode::AmlToken
        )
    }

    /// The built-in Entra credential for this mode, reading the process environment now and
    /// sending its token requests on `http` (the client's agent). `None` for `Key`, `AmlToken`
    /// and `Custom`.
    pub(crate) fn credential(
        self,
        client_id: Option<&str>,
        http: TokenHttp,
    ) -> Option<Result<Box<dyn TokenCredential>, CredentialError>> {
        let client_id = client_id.map(str::to_owned);
        // `client_id` stands in for AZURE_CLIENT_ID, so one setting works for every source.
        let env = {
            let client_id = client_id.clone();
            move |name: &str| match (&client_id, name) {
                (Some(id), "AZURE_CLIENT_ID") => Some(id.clone()),
                _ => process_env(name),
            }
        };
        let credential: Box<dyn TokenCredential> = match self {
            AuthMode::Key | AuthMode::AmlToken | AuthMode::Custom => return None,
            AuthMode::ManagedIdentity => match ManagedIdentityCredential::read_env(&env, client_id) {
                Ok(c) => Box::new(c.with_http(http)),
                Err(e) => return Some(Err(e)),
            },
            AuthMode::WorkloadIdentity => match WorkloadIdentityCredential::read_env(&env) {
                Ok(c) => Box::new(c.with_http(http)),
                Err(e) => return Some(Err(e)),
            },
            AuthMode::ClientSecret => match ClientSecretCredential::read_env(&env) {
                Ok(c) => Box::new(c.with_http(http)),
                Err(e) => return Some(Err(e)),
            },
            AuthMode::AzureCli => Box::new(AzureCliCredential::new()),
            AuthMode::Default => {
                let mut chain = DefaultCredential::builder().http(http);
                if let Some(id) = client_id.or_else(|| env_var(&env, "AZURE_CLIENT_ID")) {
                    chain = chain.client_id(id);
                }
                Box::new(chain.env_fn(env).build())
            }
        };
        Some(Ok(credential))
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMode {
    type Err = String;

    /// Parses a mode name; the error lists the names accepted.
    fn from_str(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if let Some(mode) = NAMED.iter().find(|m| m.as_str().eq_ignore_ascii_case(name)) {
            return Ok(*mode);
        }
        let names: Vec<_> = NAMED.iter().map(|m| format!("`{m}`")).collect();
        let custom = if name.eq_ignore_ascii_case("custom") {
            " (a custom credential is set in code with Builder::credential)"
        } else {
            ""
        };
        Err(format!(
            "unknown auth mode {name:?}{custom}; use one of {}",
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_mode_round_trips_and_others_are_refused() {
        for mode in NAMED {
            assert_eq!(mode.as_str().parse::<AuthMode>(), Ok(mode));
        }
        assert_eq!(" Azure_CLI ".parse::<AuthMode>(), Ok(AuthMode::AzureCli));
        let listed = "use one of `key`, `aml_token`, `managed_identity`, `workload_identity`, \
                      `client_secret`, `azure_cli`, `default`";
        assert_eq!(
            "aad".parse::<AuthMode>(),
            Err(format!("unknown auth mode \"aad\"; {listed}"))
        );
        assert_eq!(
            "custom".parse::<AuthMode>(),
            Err(format!(
                "unknown auth mode \"custom\" (a custom credential is set in code with \
                 Builder::credential); {listed}"
            ))
        );
    }
}
