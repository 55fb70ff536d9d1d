//! How a client authenticates: its key's fixed headers, or an `Authorization: Bearer` header per
//! attempt from the per-client token cache, with a scrubber for the token in use.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ureq::http::HeaderValue;

use crate::config::{ApiType, EndpointConfig, Origin};
use crate::credential::{AccessToken, AuthMode, CachedCredential, TokenCredential, TokenHttp};
use crate::error::{Error, Result};
use crate::secret::{ApiKey, Scrubber};
use crate::telemetry;

/// How a client authenticates.
pub(crate) enum Auth<'a> {
    /// The key, as `Authorization: Bearer` (and `api-key` for serverless).
    Key(&'a ApiKey),
    /// A credential given in code, for this token scope.
    Credential(Arc<dyn TokenCredential>, String),
    /// A built-in credential with an optional client id, for this token scope; made here so its
    /// token requests go out on this client's agent.
    Mode(AuthMode, Option<&'a str>, String),
}

/// A fixed header: name, value, whether it is secret.
pub(super) type Fixed<'a> = (&'a str, String, bool);

impl Auth<'_> {
    /// The key's fixed headers and scrubber, or the token source (made on `agent`, so token
    /// requests share the client's pool and proxy rules).
    pub(super) fn headers(
        self,
        config: &EndpointConfig,
        agent: &ureq::Agent,
    ) -> Result<(Vec<Fixed<'static>>, Scrubber, Option<Bearer>)> {
        match self {
            Auth::Key(key) => {
                let mut fixed = vec![("authorization", format!("Bearer {}", key.expose()), true)];
                if config.api_type == ApiType::Serverless {
                    fixed.push(("api-key", key.expose().to_owned(), true));
                }
                Ok((fixed, Scrubber::new(key), None))
            }
            Auth::Credential(credential, scope) => Ok((
                Vec::new(),
                Scrubber::default(),
                Some(Bearer::new(
                    CachedCredential::new(credential, scope),
                    AuthMode::Custom.as_str(),
                )),
            )),
            Auth::Mode(mode, client_id, scope) => {
                let http = TokenHttp::with_agent(agent.clone());
                let Some(credential) = mode.credential(client_id, http) else {
                    return Err(Error::config(
                        "auth",
                        Origin::Argument,
                        format!("`{mode}` is not a built-in credential"),
                    ));
                };
                let cache = CachedCredential::new(credential?, scope);
                Ok((
                    Vec::new(),
                    Scrubber::default(),
                    Some(Bearer::new(cache, mode.as_str())),
                ))
            }
        }
    }
}

/// A token for each attempt, shared by the client's clones and threads.
#[derive(Clone)]
pub(super) struct Bearer {
    cache: CachedCredential,
    /// Where tokens come from (the auth mode's name), for telemetry.
    source: &'static str,
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
    pub fn new(cache: CachedCredential, source: &'static str) -> Self {
        Bearer {
            cache,
            source,
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// The token for the next attempt and its `Authorization` header value.
    ///
    /// # Errors
    ///
    /// [`Error::Credential`](crate::Error::Credential) when no token can be had.
    pub fn token(&self) -> Result<(AccessToken, HeaderValue)> {
        let started = Instant::now();
        let token = self.cache.token().inspect_err(|_| {
            telemetry::token_failed(self.source, started.elapsed());
        })?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = current.as_ref().filter(|c| c.token.token() == token.token()) {
            return Ok((token, c.header.clone()));
        }
        // A token this client has not used yet: the cache fetched it.
        telemetry::token_fetched(self.source, current.is_some(), started.elapsed());
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
