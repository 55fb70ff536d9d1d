//! The API key or token: never printed, never saved.

use std::fmt;

/// An endpoint key or Microsoft Entra token.
///
/// Its `Debug` prints `ApiKey(***)`; it has no `Display` and no `Serialize`, so it cannot end up
/// in logs, error messages or saved configs by accident.
///
/// ```
/// let key = azureml_endpoint::ApiKey::new("s3cret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key or token.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` and `api-key` headers.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey(key.to_owned())
    }
}
