//! How a client authenticates: an `Authorization: Bearer` header per attempt, with its key (of
//! the two it may hold) or a token from the per-client cache, and a scrubber for what it sent.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ureq::http::HeaderValue;

use crate::config::{ApiType, EndpointConfig, Origin};
use crate::credential::{AccessToken, AuthMode, CachedCredential, TokenCredential, TokenHttp};
use crate::error::{Error, Result};
use crate::secret::{ApiKey, Scrubber};
use crate::telemetry;

use super::keys::{KeyRing, KeyUse};

/// How a client authenticates, as resolved.
pub(crate) enum Auth<'a> {
    /// The key and, when known, the endpoint's other key: `Authorization: Bearer` (and
    /// `api-key` for serverless).
    Keys(ApiKey, Option<ApiKey>),
    /// A credential given in code (or the AML token route), for this token scope.
    Credential(Arc<dyn TokenCredential>, String),
    /// A built-in credential with an optional client id, for this token scope; made here so its
    /// token requests go out on this client's agent.
    Mode(AuthMode, Option<&'a str>, String),
}

impl Auth<'_> {
    /// The signer: the keys, or the token source (made on `agent`, so token requests share the
    /// client's pool and proxy rules).
    pub(super) fn signer(self, config: &EndpointConfig, agent: &ureq::Agent) -> Result<Signer> {
        match self {
            Auth::Keys(primary, secondary) => Ok(Signer::Keys(KeyRing::new(
                primary,
                secondary,
                config.api_type == ApiType::Serverless,
            )?)),
            Auth::Credential(credential, scope) => Ok(Signer::Token(Bearer::new(
                CachedCredential::new(credential, scope),
                AuthMode::Custom.as_str(),
            ))),
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
                Ok(Signer::Token(Bearer::new(cache, mode.as_str())))
            }
        }
    }
}

/// What signs each attempt: the keys, or a token cache.
#[derive(Clone)]
pub(super) enum Signer {
    Keys(KeyRing),
    Token(Bearer),
}

/// What one attempt was signed with.
pub(super) enum Signature {
    Key(KeyUse),
    Token(AccessToken, HeaderValue),
}

impl Signature {
    /// Whether a token signs the request (not a key).
    pub fn is_token(&self) -> bool {
        matches!(self, Signature::Token(..))
    }

    pub fn authorization(&self) -> &HeaderValue {
        match self {
            Signature::Key(used) => &used.authorization,
            Signature::Token(_, header) => header,
        }
    }

    pub fn api_key(&self) -> Option<&HeaderValue> {
        match self {
            Signature::Key(used) => used.api_key.as_ref(),
            Signature::Token(..) => None,
        }
    }

    /// Which key, when the client holds two.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            Signature::Key(used) => used.label,
            Signature::Token(..) => None,
        }
    }
}

impl Signer {
    /// The key or token for the next attempt.
    ///
    /// # Errors
    /// [`Error::Credential`](crate::Error::Credential) when no token can be had.
    pub fn sign(&self) -> Result<Signature> {
        Ok(match self {
            Signer::Keys(ring) => Signature::Key(ring.current()),
            Signer::Token(bearer) => {
                let (token, header) = bearer.token()?;
                Signature::Token(token, header)
            }
        })
    }

    /// The endpoint answered 401 to `signature`: drops the token or switches keys. Whether one
    /// more attempt may succeed.
    pub fn rejected(&self, signature: &Signature) -> bool {
        match (self, signature) {
            (Signer::Keys(ring), Signature::Key(used)) => ring.rejected(used),
            (Signer::Token(bearer), Signature::Token(token, _)) => {
                bearer.invalidate(token);
                true
            }
            _ => false,
        }
    }

    /// Scrubs the keys, or the token last handed out.
    pub fn scrubber(&self) -> Scrubber {
        match self {
            Signer::Keys(ring) => ring.scrubber(),
            Signer::Token(bearer) => bearer.scrubber(),
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
