//! The `Authorization: Bearer` header of a client that signs in with Microsoft Entra ID: the
//! per-client token cache, and a scrubber for the token in use.

use std::sync::{Arc, Mutex, PoisonError};

use ureq::http::HeaderValue;

use crate::credential::{AccessToken, CachedCredential};
use crate::error::Result;
use crate::secret::{ApiKey, Scrubber};

/// A token for each attempt, shared by the client's clones and threads.
#[derive(Clone)]
pub(super) struct Bearer {
    cache: CachedCredential,
    /// The last token handed out, its header and its scrubber: rebuilt only when the token
    /// changes (about once an hour), so a call with a cached token costs two short locks.
    current: Arc<Mutex<Option<Current>>>,
}

struct Current {
    token: AccessToken,
    header: HeaderValue,
    scrubber: Scrubber,
}

impl Bearer {
    pub fn new(cache: CachedCredential) -> Self {
        Bearer {
            cache,
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// The token for the next attempt and its `Authorization` header value.
    ///
    /// # Errors
    ///
    /// [`Error::Credential`](crate::Error::Credential) when no token can be had.
    pub fn token(&self) -> Result<(AccessToken, HeaderValue)> {
        let token = self.cache.token()?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = current.as_ref().filter(|c| c.token.token() == token.token()) {
            return Ok((token, c.header.clone()));
        }
        let exposed = token.token().expose();
        // The cache checked the token is header-safe; a failure here would be a bug, reported
        // as the credential's error rather than a panic.
        let mut header = HeaderValue::from_str(&format!("Bearer {exposed}")).map_err(|_| {
            crate::credential::CredentialError::custom("the token is not a valid header value")
        })?;
        header.set_sensitive(true);
        *current = Some(Current {
            token: token.clone(),
            header: header.clone(),
            scrubber: Scrubber::new(&ApiKey::new(exposed)),
        });
        Ok((token, header))
    }

    /// Drops `rejected` (the endpoint answered 401 to it) so the next attempt gets a new one.
    pub fn invalidate(&self, rejected: &AccessToken) {
        self.cache.invalidate(rejected);
    }

    /// Scrubs the token last handed out (the one a server could echo back).
    pub fn scrubber(&self) -> Scrubber {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|c| c.scrubber.clone()).unwrap_or_default()
    }
}
