//! Microsoft Entra ID credentials: where a bearer token comes from, and the cache that keeps one.
//!
//! A [`TokenCredential`] turns a scope such as `https://ml.azure.com/.default` into an
//! [`AccessToken`]. The built-in sources each make one HTTP call or run one subprocess, blocking:
//!
//! | credential | where the token comes from |
//! |---|---|
//! | [`ManagedIdentityCredential`] | the machine's managed identity (App Service, Azure ML compute, VMs) |
//! | [`WorkloadIdentityCredential`] | a federated token file (AKS workload identity) |
//! | [`ClientSecretCredential`] | a service principal's client secret |
//! | [`AzureCliCredential`] | `az account get-access-token` |
//! | [`DefaultCredential`] | the first of the above that works |
//! | [`from_fn`] | your own closure |
//!
//! Wrap any of them in a [`CachedCredential`] so a token is fetched once and refreshed ahead of
//! its expiry, however many threads share it.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use azureml_endpoint::credential::{self, AccessToken, CachedCredential};
//!
//! let source = credential::from_fn(|_scope: &str| {
//!     Ok(AccessToken::new("eyJ0eXAi", SystemTime::now() + Duration::from_secs(3600)))
//! });
//! let cache = CachedCredential::new(source, "https://ml.azure.com/.default");
//! let token = cache.token()?;
//! assert_eq!(format!("{:?}", token.token()), "Token(***)");
//! # Ok::<(), azureml_endpoint::credential::CredentialError>(())
//! ```

use std::fmt;
use std::time::SystemTime;

mod authority;
mod azure_cli;
mod cache;
mod client_secret;
mod default;
mod error;
mod from_fn;
mod http;
mod managed_identity;
mod mode;
mod redact;
mod token_response;
mod workload_identity;

pub use azure_cli::{AzureCliCredential, AZURE_CLI_TIMEOUT};
pub use cache::{CachedCredential, REFRESH_MARGIN};
pub use client_secret::ClientSecretCredential;
pub use default::{DefaultCredential, DefaultCredentialBuilder};
pub use error::{CredentialError, CredentialErrorKind};
pub use from_fn::{from_fn, FnCredential};
pub(crate) use http::{HttpFailure, Method, TokenHttp, TokenRequest};
pub use managed_identity::ManagedIdentityCredential;
pub use mode::AuthMode;
pub(crate) use redact::excerpt as scrubbed_excerpt;
pub(crate) use token_response::seconds;
pub use workload_identity::WorkloadIdentityCredential;

/// The scope for Azure ML online endpoints (`*.inference.ml.azure.com`).
pub const AZURE_ML_SCOPE: &str = "https://ml.azure.com/.default";
/// The scope for Azure OpenAI, Cognitive Services and Foundry hosts.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// A source of Microsoft Entra access tokens.
///
/// Implementations block; they are called rarely because [`CachedCredential`] keeps the token
/// until shortly before it expires.
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A fresh token for `scope` (e.g. `https://ml.azure.com/.default`).
    ///
    /// # Errors
    ///
    /// A [`CredentialError`] naming the source and what to do; it never contains a token or a
    /// secret. [`CredentialErrorKind::Unavailable`] means this source is not set up here, so a
    /// chain may try the next one.
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError>;
}

impl<C: TokenCredential + ?Sized> TokenCredential for std::sync::Arc<C> {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        (**self).get_token(scope)
    }
}

impl<C: TokenCredential + ?Sized> TokenCredential for Box<C> {
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        (**self).get_token(scope)
    }
}

/// A bearer token: never printed, never saved.
///
/// Its `Debug` prints `Token(***)`; it has no `Display` and no `Serialize`.
///
/// ```
/// let token = azureml_endpoint::credential::Token::new("eyJ0eXAi");
/// assert_eq!(format!("{token:?}"), "Token(***)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    /// The token itself, e.g. for an `Authorization: Bearer` header of your own. Named so that
    /// each place that reads the secret is easy to find; `Debug` never shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A token with the time it expires and, optionally, the time the issuer asks it be refreshed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    token: Token,
    expires_on: SystemTime,
    refresh_on: Option<SystemTime>,
}

impl AccessToken {
    /// A token valid until `expires_on`.
    pub fn new(token: impl Into<String>, expires_on: SystemTime) -> Self {
        AccessToken {
            token: Token::new(token),
            expires_on,
            refresh_on: None,
        }
    }

    /// Asks caches to refresh at `refresh_on` (if that is before their own margin).
    #[must_use]
    pub fn with_refresh_on(mut self, refresh_on: SystemTime) -> Self {
        self.refresh_on = Some(refresh_on);
        self
    }

    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// When the token stops being accepted.
    pub fn expires_on(&self) -> SystemTime {
        self.expires_on
    }

    /// When the issuer asked for the token to be refreshed, if it did.
    pub fn refresh_on(&self) -> Option<SystemTime> {
        self.refresh_on
    }
}

/// The token scope for an endpoint host, for the hosts whose scope is known.
///
/// Any other host needs an explicit scope: a token is never sent to a host nobody vouched for.
pub(crate) fn scope_for_host(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let under = |suffix: &str| {
        host.strip_suffix(suffix)
            .is_some_and(|name| name.len() > 1 && name.ends_with('.') && !name.starts_with('.'))
    };
    if under("inference.ml.azure.com") {
        Some(AZURE_ML_SCOPE)
    } else if under("openai.azure.com")
        || under("cognitiveservices.azure.com")
        || under("services.ai.azure.com")
    {
        Some(COGNITIVE_SERVICES_SCOPE)
    } else {
        None
    }
}

/// How the sources read environment variables; injectable so tests need not touch the process.
pub(crate) type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + 'a);
/// An owned env lookup, for builders that keep one.
pub(crate) type EnvLookup = dyn Fn(&str) -> Option<String>;

/// The process environment; an empty value counts as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// An env lookup where an empty value counts as unset.
pub(crate) fn env_var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// The variables `source` needs, in order, or its "not set up" error naming every one missing.
pub(crate) fn required_vars<const N: usize>(
    env: Env<'_>,
    source: &'static str,
    names: [&str; N],
) -> Result<[String; N], CredentialError> {
    let values = names.map(|name| env_var(env, name));
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter_map(|(name, value)| value.is_none().then_some(*name))
        .collect();
    if !missing.is_empty() {
        return Err(CredentialError::unavailable(
            source,
            format!("{} not set", missing.join(", ")),
        ));
    }
    Ok(values.map(Option::unwrap_or_default))
}

/// The resource the managed identity endpoints and `az` take: the scope less `/.default`.
pub(crate) fn scope_to_resource(source: &'static str, scope: &str) -> Result<String, CredentialError> {
    let resource = scope.strip_suffix("/.default").unwrap_or(scope);
    let valid = !resource.is_empty()
        && !resource.starts_with('-')
        && resource
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/".contains(&b));
    if valid {
        Ok(resource.to_owned())
    } else {
        Err(CredentialError::failed(
            source,
            format!("scope {scope:?} is not a valid scope; use a URL such as {AZURE_ML_SCOPE:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_by_host() {
        let cases = [
            ("my-ep.eastus.inference.ml.azure.com", Some(AZURE_ML_SCOPE)),
            ("My-Ep.EastUS.Inference.ML.Azure.com.", Some(AZURE_ML_SCOPE)),
            ("res.openai.azure.com", Some(COGNITIVE_SERVICES_SCOPE)),
            ("res.cognitiveservices.azure.com", Some(COGNITIVE_SERVICES_SCOPE)),
            ("res.services.ai.azure.com", Some(COGNITIVE_SERVICES_SCOPE)),
            ("inference.ml.azure.com", None),
            (".inference.ml.azure.com", None),
            ("evilinference.ml.azure.com", None),
            ("inference.ml.azure.com.evil.example", None),
            ("openai.azure.com", None),
            ("models.ai.azure.com", None),
            ("127.0.0.1", None),
            ("", None),
        ];
        for (host, scope) in cases {
            assert_eq!(scope_for_host(host), scope, "{host}");
        }
    }

    #[test]
    fn resource_from_scope() {
        assert_eq!(
            scope_to_resource("test", AZURE_ML_SCOPE).ok().as_deref(),
            Some("https://ml.azure.com")
        );
        assert_eq!(
            scope_to_resource("test", "api://my-app").ok().as_deref(),
            Some("api://my-app")
        );
        for bad in ["", "/.default", "--output=tsv", "https://x y", "https://x\n"] {
            let message = scope_to_resource("test", bad).err().map(|e| e.to_string());
            assert_eq!(
                message,
                Some(format!(
                    "test: scope {bad:?} is not a valid scope; use a URL such as \"https://ml.azure.com/.default\""
                ))
            );
        }
    }
}
