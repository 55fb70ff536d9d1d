//! A credential backed by the user's closure: tokens from elsewhere, key rotation.

use std::fmt;

use super::{AccessToken, CredentialError, TokenCredential};

/// A credential that calls your closure; see [`from_fn`].
pub struct FnCredential<F>(F);

/// A credential that calls `f(scope)` for each new token, for tokens from a vault, another
/// process or your own sign-in code.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use azureml_endpoint::credential::{from_fn, AccessToken, TokenCredential};
///
/// let credential = from_fn(|scope: &str| {
///     assert_eq!(scope, "https://ml.azure.com/.default");
///     Ok(AccessToken::new("eyJ0eXAi", SystemTime::now() + Duration::from_secs(3600)))
/// });
/// let token = credential.get_token("https://ml.azure.com/.default")?;
/// assert!(token.expires_on() > SystemTime::now());
/// # Ok::<(), azureml_endpoint::credential::CredentialError>(())
/// ```
pub fn from_fn<F>(f: F) -> FnCredential<F>
where
    F: Fn(&str) -> Result<AccessToken, CredentialError> + Send + Sync,
{
    FnCredential(f)
}

impl<F> TokenCredential for FnCredential<F>
where
    F: Fn(&str) -> Result<AccessToken, CredentialError> + Send + Sync,
{
    fn get_token(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        (self.0)(scope)
    }
}

impl<F> fmt::Debug for FnCredential<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnCredential")
    }
}
