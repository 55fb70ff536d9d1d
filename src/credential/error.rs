//! The error a credential returns: which source, what happened, what to do; never a secret.

use std::fmt;

/// Whether a source is missing here or was there and failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialErrorKind {
    /// The source is not set up on this machine (env vars unset, no managed identity, `az` not
    /// installed or not logged in); a chain tries the next source.
    Unavailable,
    /// The source is set up but did not give a token (refused, unreachable, malformed answer);
    /// a chain stops here rather than sign in as someone else.
    Failed,
}

/// A credential that did not give a token.
///
/// The message names the source and what to do. It never contains a token or a secret: text a
/// token service or `az` sent back is scrubbed of both before it is kept.
///
/// ```
/// use azureml_endpoint::credential::{CredentialError, CredentialErrorKind};
///
/// let error = CredentialError::custom("the vault is sealed");
/// assert_eq!(error.to_string(), "custom credential: the vault is sealed");
/// assert_eq!(error.kind(), CredentialErrorKind::Failed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialError {
    credential: &'static str,
    kind: CredentialErrorKind,
    message: String,
}

impl CredentialError {
    /// An error from a credential of your own (e.g. a [`from_fn`](super::from_fn) closure).
    ///
    /// Keep secrets out of `message`: it is shown to users.
    pub fn custom(message: impl Into<String>) -> Self {
        Self::failed(super::AuthMode::Custom.credential_name(), message)
    }

    pub(crate) fn unavailable(credential: &'static str, message: impl Into<String>) -> Self {
        CredentialError {
            credential,
            kind: CredentialErrorKind::Unavailable,
            message: message.into(),
        }
    }

    pub(crate) fn failed(credential: &'static str, message: impl Into<String>) -> Self {
        CredentialError {
            credential,
            kind: CredentialErrorKind::Failed,
            message: message.into(),
        }
    }

    /// The same error, with what the token was for before its message.
    pub(crate) fn context(self, doing: &str) -> Self {
        CredentialError {
            message: format!("{doing}: {}", self.message),
            ..self
        }
    }

    /// The source that failed, e.g. `"azure cli"` or `"managed identity"`.
    pub fn credential(&self) -> &'static str {
        self.credential
    }

    /// The sign-in mode whose credential failed, when it is one of the built-in modes (or
    /// [`AuthMode::Custom`](super::AuthMode::Custom) for [`custom`](Self::custom) errors).
    pub fn mode(&self) -> Option<super::AuthMode> {
        super::AuthMode::of_credential(self.credential)
    }

    /// Whether the source is missing here or failed.
    pub fn kind(&self) -> CredentialErrorKind {
        self.kind
    }

    /// What happened and what to do, without the source's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.credential, self.message)
    }
}

impl std::error::Error for CredentialError {}
