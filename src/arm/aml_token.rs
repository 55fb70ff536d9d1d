//! The endpoint's AML token as a token source, so the client's token cache refreshes it at
//! `refreshAfterTimeUtc` and fetches a new one after a 401, as it does Entra tokens.

use std::sync::{Arc, Mutex, PoisonError};

use super::Arm;
use crate::credential::{AccessToken, CredentialError, TokenCredential};
use crate::error::Error;

/// The source name errors show (`aml token: …`).
pub(crate) const NAME: &str = crate::credential::AuthMode::AmlToken.credential_name();

/// AML tokens from Azure Resource Manager's token route.
pub(crate) struct AmlTokenCredential {
    arm: Arc<Arm>,
    /// The token fetched when the client was built, handed out first.
    first: Mutex<Option<AccessToken>>,
}

impl AmlTokenCredential {
    pub fn new(arm: Arc<Arm>, first: AccessToken) -> Self {
        AmlTokenCredential {
            arm,
            first: Mutex::new(Some(first)),
        }
    }
}

impl std::fmt::Debug for AmlTokenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmlTokenCredential")
            .field("arm", &self.arm)
            .finish_non_exhaustive()
    }
}

impl TokenCredential for AmlTokenCredential {
    /// The token for this endpoint, whatever `scope` says: an AML token has one audience.
    fn get_token(&self, _scope: &str) -> Result<AccessToken, CredentialError> {
        let first = self.first.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(token) = first {
            return Ok(token);
        }
        self.arm.aml_token().map_err(|error| match error {
            Error::Credential(signing_in) => *signing_in,
            other => CredentialError::failed(NAME, other.to_string()),
        })
    }
}
