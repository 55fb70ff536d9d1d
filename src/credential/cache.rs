//! One token per client: fetched once, refreshed ahead of expiry, one refresh at a time.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::{AccessToken, CredentialError, TokenCredential};

/// How long before expiry a token is refreshed (unless the issuer asked for earlier).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// A token this close to expiry is not handed out even while another thread refreshes it.
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(30);
/// After a refresh fails while the old token still works, how long the old one is used before
/// trying again (so a down token service is not called on every request).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
const NAME: &str = "token cache";

/// A credential's token for one scope, shared by clones and threads.
///
/// A token is fetched on first use and refreshed [`REFRESH_MARGIN`] before it expires, or at
/// the issuer's `refresh_on` if earlier. Only one thread refreshes at a time: the others keep
/// using the old token while it is still valid, or wait for the new one (and share its error).
/// [`invalidate`](Self::invalidate) drops a token the endpoint rejected, so the next call fetches
/// one new token; nothing here ever retries in a loop.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::{Duration, SystemTime};
/// use azureml_endpoint::credential::{from_fn, AccessToken, CachedCredential};
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
/// let cache = CachedCredential::new(
///     from_fn(|_: &str| {
///         CALLS.fetch_add(1, Ordering::SeqCst);
///         Ok(AccessToken::new("eyJ0eXAi", SystemTime::now() + Duration::from_secs(3600)))
///     }),
///     "https://ml.azure.com/.default",
/// );
/// let first = cache.token()?;
/// assert_eq!(cache.clone().token()?, first);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 1);
/// # Ok::<(), azureml_endpoint::credential::CredentialError>(())
/// ```
#[derive(Clone)]
pub struct CachedCredential {
    shared: Arc<Shared>,
}

struct Shared {
    credential: Box<dyn TokenCredential>,
    scope: String,
    state: Mutex<State>,
    refreshed: Condvar,
}

#[derive(Default)]
struct State {
    token: Option<AccessToken>,
    refreshing: bool,
    /// Counts finished refreshes, so a waiter can tell its refresh from a later one.
    generation: u64,
    /// The last refresh's error, for the threads that waited on it.
    error: Option<CredentialError>,
    /// No refresh before this after a failure while the old token was still valid.
    quiet_until: Option<SystemTime>,
}

impl CachedCredential {
    /// Caches tokens for `scope` from `credential`.
    pub fn new(credential: impl TokenCredential + 'static, scope: impl Into<String>) -> Self {
        CachedCredential {
            shared: Arc::new(Shared {
                credential: Box::new(credential),
                scope: scope.into(),
                state: Mutex::new(State::default()),
                refreshed: Condvar::new(),
            }),
        }
    }

    /// The scope tokens are fetched for.
    pub fn scope(&self) -> &str {
        &self.shared.scope
    }

    /// A token valid for at least a while: the cached one, or a fresh one.
    ///
    /// # Errors
    ///
    /// The credential's error when a new token is needed and it cannot give one, or when it
    /// gives a token that is not a header-safe string.
    pub fn token(&self) -> Result<AccessToken, CredentialError> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        let mut waited_for = None;
        loop {
            let now = SystemTime::now();
            if let Some(token) = &state.token {
                let quiet = state.quiet_until.is_some_and(|until| now < until);
                if now < refresh_at(token) || (quiet && usable(token, now)) {
                    return Ok(token.clone());
                }
                if state.refreshing && usable(token, now) {
                    return Ok(token.clone());
                }
            }
            if let Some(generation) = waited_for {
                if state.generation != generation {
                    if let Some(error) = &state.error {
                        return Err(error.clone());
                    }
                }
            }
            if !state.refreshing {
                break;
            }
            waited_for = Some(state.generation);
            state = shared
                .refreshed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.refreshing = true;
        drop(state);
        // Wakes the waiters when dropped (after `state` unlocks), even if the credential panics.
        let mut guard = Refreshing { shared, done: false };
        let result = shared.credential.get_token(&shared.scope).and_then(check);
        let mut state = shared.lock();
        guard.done = true;
        state.refreshing = false;
        state.generation = state.generation.wrapping_add(1);
        match result {
            Ok(token) => {
                state.token = Some(token.clone());
                state.error = None;
                state.quiet_until = None;
                Ok(token)
            }
            Err(error) => {
                let now = SystemTime::now();
                state.error = Some(error.clone());
                match state.token.clone() {
                    Some(old) if usable(&old, now) => {
                        state.quiet_until = now.checked_add(RETRY_AFTER_FAILURE);
                        Ok(old)
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// Drops `rejected` if it is still the cached token (the endpoint answered 401 to it), so
    /// the next [`token`](Self::token) fetches a new one. Several threads invalidating the same
    /// token cause one refresh, not one each.
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut state = self.shared.lock();
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.token() == rejected.token())
        {
            state.token = None;
            state.quiet_until = None;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Refreshing<'a> {
    shared: &'a Shared,
    /// Set once the outcome is recorded; unset only when the credential panicked.
    done: bool,
}

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut state = self.shared.lock();
            state.refreshing = false;
            state.generation = state.generation.wrapping_add(1);
            state.error = Some(CredentialError::failed(NAME, "the credential panicked"));
        }
        self.shared.refreshed.notify_all();
    }
}

fn refresh_at(token: &AccessToken) -> SystemTime {
    let margin = token
        .expires_on()
        .checked_sub(REFRESH_MARGIN)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    token.refresh_on().map_or(margin, |on| on.min(margin))
}

fn usable(token: &AccessToken, now: SystemTime) -> bool {
    now.checked_add(IN_FLIGHT_MARGIN)
        .is_some_and(|soon| soon < token.expires_on())
}

/// A token goes into a header: visible ASCII only, nothing that could split it.
fn check(token: AccessToken) -> Result<AccessToken, CredentialError> {
    let text = token.token().expose();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialError::failed(
            NAME,
            "the credential gave a token that is not a header-safe visible-ASCII string",
        ));
    }
    Ok(token)
}

impl fmt::Debug for CachedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCredential")
            .field("credential", &self.shared.credential)
            .field("scope", &self.shared.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::from_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    const ML: &str = crate::credential::AZURE_ML_SCOPE;

    /// A closure credential that counts calls and hands out tokens living `lifetime`.
    fn counting(lifetime: Duration, delay: Duration) -> (Arc<AtomicUsize>, impl TokenCredential + 'static) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let credential = from_fn(move |scope: &str| {
            assert_eq!(scope, ML);
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(delay);
            Ok(AccessToken::new(
                format!("token-{n}"),
                SystemTime::now() + lifetime,
            ))
        });
        (calls, credential)
    }

    #[test]
    fn a_token_about_to_expire_is_refreshed_before_use() -> Result<(), CredentialError> {
        let (calls, credential) = counting(Duration::from_secs(4 * 60), Duration::ZERO);
        let cache = CachedCredential::new(credential, ML);
        let first = cache.token()?;
        let second = cache.token()?;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "4 minutes left is inside the 5-minute margin"
        );
        assert_ne!(first, second);
        let (calls, credential) = counting(Duration::from_secs(6 * 60), Duration::ZERO);
        let cache = CachedCredential::new(credential, ML);
        assert_eq!(cache.token()?, cache.token()?);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[test]
    fn refresh_on_comes_before_the_margin() -> Result<(), CredentialError> {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let cache = CachedCredential::new(
            from_fn(move |_: &str| {
                counter.fetch_add(1, Ordering::SeqCst);
                let now = SystemTime::now();
                Ok(AccessToken::new("t", now + Duration::from_secs(3600))
                    .with_refresh_on(now - Duration::from_secs(1)))
            }),
            ML,
        );
        cache.token()?;
        cache.token()?;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        Ok(())
    }

    #[test]
    fn invalidate_refreshes_once() -> Result<(), CredentialError> {
        let (calls, credential) = counting(Duration::from_secs(3600), Duration::ZERO);
        let cache = CachedCredential::new(credential, ML);
        let rejected = cache.token()?;
        cache.invalidate(&rejected);
        let fresh = cache.token()?;
        assert_ne!(fresh, rejected);
        // A second thread reporting the same rejected token does not drop the new one.
        cache.invalidate(&rejected);
        assert_eq!(cache.token()?, fresh);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        Ok(())
    }

    #[test]
    fn waiters_share_the_refresh_error_instead_of_retrying() -> Result<(), CredentialError> {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let cache = CachedCredential::new(
            from_fn(move |_: &str| {
                counter.fetch_add(1, Ordering::SeqCst);
                // Long enough for all eight threads to be waiting when it fails.
                std::thread::sleep(Duration::from_secs(1));
                Err(CredentialError::custom("the vault is sealed"))
            }),
            ML,
        );
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, start) = (cache.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    cache.token().err().map(|e| e.to_string())
                })
            })
            .collect();
        for thread in threads {
            let error = thread
                .join()
                .map_err(|_| CredentialError::custom("a thread panicked"))?;
            assert_eq!(error.as_deref(), Some("custom credential: the vault is sealed"));
        }
        // Threads arriving after the failed refresh start their own, so allow a few, never one each.
        assert!(
            calls.load(Ordering::SeqCst) < 8,
            "calls: {}",
            calls.load(Ordering::SeqCst)
        );
        Ok(())
    }

    #[test]
    fn a_token_that_is_not_header_safe_is_refused() {
        let cache = CachedCredential::new(
            from_fn(|_: &str| {
                Ok(AccessToken::new(
                    "evil\r\nx-injected: 1",
                    SystemTime::now() + Duration::from_secs(3600),
                ))
            }),
            ML,
        );
        assert_eq!(
            cache.token().err().map(|e| e.to_string()).as_deref(),
            Some("token cache: the credential gave a token that is not a header-safe visible-ASCII string")
        );
    }
}
