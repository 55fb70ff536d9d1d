//! The endpoint's keys: the one in use and the other one, switched once on a 401 (the switch
//! sticks for every clone and thread), and replaceable while the client runs.

use std::sync::{Arc, PoisonError, RwLock};

use ureq::http::HeaderValue;

use crate::config::Origin;
use crate::error::{Error, Result};
use crate::secret::{ApiKey, Scrubber};
use crate::validate::check_key;

/// How many replaced keys are still scrubbed from server text (a server may echo an old one).
const RETIRED_KEPT: usize = 8;
/// The names of the two slots, as errors show them.
const LABELS: [&str; 2] = ["primary key", "secondary key"];

/// The keys of one client, shared by its clones and threads.
#[derive(Clone)]
pub(crate) struct KeyRing {
    shared: Arc<RwLock<Ring>>,
}

struct Ring {
    /// The primary and the secondary key.
    slots: [Option<Slot>; 2],
    in_use: usize,
    /// Counts changes, so a 401 to a key replaced meanwhile does not switch away from the new one.
    generation: u64,
    /// Keys replaced while the client ran, newest last.
    retired: Vec<ApiKey>,
    scrubber: Scrubber,
    /// Serverless endpoints also take the key as `api-key`.
    serverless: bool,
}

/// A key and its header values, made once.
struct Slot {
    key: ApiKey,
    authorization: HeaderValue,
    api_key: HeaderValue,
}

/// The key one attempt sends.
pub(super) struct KeyUse {
    pub authorization: HeaderValue,
    pub api_key: Option<HeaderValue>,
    generation: u64,
    /// "primary key" or "secondary key" when the client holds both.
    pub label: Option<&'static str>,
}

impl KeyRing {
    pub fn new(primary: ApiKey, secondary: Option<ApiKey>, serverless: bool) -> Result<Self> {
        let mut ring = Ring {
            slots: [None, None],
            in_use: 0,
            generation: 0,
            retired: Vec::new(),
            scrubber: Scrubber::default(),
            serverless,
        };
        ring.put(0, primary, &Origin::Argument)?;
        if let Some(secondary) = secondary {
            ring.put(1, secondary, &Origin::Argument)?;
        }
        Ok(KeyRing {
            shared: Arc::new(RwLock::new(ring)),
        })
    }

    /// The key for the next attempt.
    pub fn current(&self) -> KeyUse {
        let ring = self.shared.read().unwrap_or_else(PoisonError::into_inner);
        let both = ring.slots.iter().all(Option::is_some);
        // The slot in use is always filled (`put` fills it before it is chosen).
        let slot = ring.slots.get(ring.in_use).and_then(Option::as_ref);
        let (authorization, api_key) = match slot {
            Some(slot) => (slot.authorization.clone(), Some(slot.api_key.clone())),
            None => (HeaderValue::from_static(""), None),
        };
        KeyUse {
            authorization,
            api_key: api_key.filter(|_| ring.serverless),
            generation: ring.generation,
            label: LABELS.get(ring.in_use).copied().filter(|_| both),
        }
    }

    /// The endpoint answered 401 to `used`: switches to the other key if `used` is still the
    /// one in use. Whether another attempt may help (a switch, or a key replaced meanwhile).
    pub fn rejected(&self, used: &KeyUse) -> bool {
        let mut ring = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        if used.generation != ring.generation {
            return true;
        }
        let other = usize::from(ring.in_use == 0);
        if ring.slots.get(other).is_some_and(Option::is_some) {
            let label = |slot: usize| LABELS.get(slot).copied().unwrap_or_default();
            crate::telemetry::key_switched(label(ring.in_use), label(other), 401);
            ring.in_use = other;
            ring.generation = ring.generation.wrapping_add(1);
            return true;
        }
        false
    }

    /// Replaces the primary key (`slot` 0, which is then used) or the secondary (`slot` 1).
    ///
    /// # Errors
    /// [`Error::Config`] for a key that cannot go in a header, as at build.
    pub fn set(&self, slot: usize, key: ApiKey) -> Result<()> {
        let mut ring = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        ring.put(slot, key, &Origin::Argument)?;
        if slot == 0 {
            ring.in_use = 0;
        }
        ring.generation = ring.generation.wrapping_add(1);
        Ok(())
    }

    /// Scrubs every key the client holds or held.
    pub fn scrubber(&self) -> Scrubber {
        let ring = self.shared.read().unwrap_or_else(PoisonError::into_inner);
        ring.scrubber.clone()
    }
}

impl Ring {
    fn put(&mut self, slot: usize, key: ApiKey, origin: &Origin) -> Result<()> {
        check_key(key.expose(), origin)?;
        let value = |text: &str| {
            let mut value = HeaderValue::from_str(text).map_err(|_| {
                Error::config(
                    "endpoint_api_key",
                    origin.clone(),
                    "the key is not a valid header value",
                )
            })?;
            value.set_sensitive(true);
            Ok::<_, Error>(value)
        };
        let new = Slot {
            authorization: value(&format!("Bearer {}", key.expose()))?,
            api_key: value(key.expose())?,
            key,
        };
        let Some(place) = self.slots.get_mut(slot) else {
            return Ok(());
        };
        if let Some(old) = place.replace(new) {
            self.retired.push(old.key);
            if self.retired.len() > RETIRED_KEPT {
                self.retired.remove(0);
            }
        }
        let held = self.slots.iter().flatten().map(|slot| &slot.key);
        self.scrubber = Scrubber::of(held.chain(&self.retired));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "key-A-0123456789";
    const B: &str = "key-B-0123456789";

    fn bearer(used: &KeyUse) -> &str {
        used.authorization.to_str().unwrap_or_default()
    }

    #[test]
    fn a_rejected_key_switches_once_and_the_switch_sticks() -> Result<()> {
        let ring = KeyRing::new(ApiKey::new(A), Some(ApiKey::new(B)), false)?;
        let first = ring.current();
        assert_eq!(
            (bearer(&first), first.label),
            (&*format!("Bearer {A}"), Some("primary key"))
        );
        assert!(ring.rejected(&first));
        let clone = ring.clone();
        let second = clone.current();
        assert_eq!(
            (bearer(&second), second.label),
            (&*format!("Bearer {B}"), Some("secondary key"))
        );
        // A second thread reporting the same rejected key does not switch back.
        assert!(ring.rejected(&first));
        assert_eq!(bearer(&ring.current()), format!("Bearer {B}"));
        Ok(())
    }

    #[test]
    fn one_key_alone_does_not_switch() -> Result<()> {
        let ring = KeyRing::new(ApiKey::new(A), None, true)?;
        let used = ring.current();
        assert_eq!(used.label, None);
        assert_eq!(used.api_key.as_ref().and_then(|v| v.to_str().ok()), Some(A));
        assert!(!ring.rejected(&used));
        Ok(())
    }

    #[test]
    fn a_replaced_key_is_used_and_still_scrubbed() -> Result<()> {
        let ring = KeyRing::new(ApiKey::new(A), None, false)?;
        let before = ring.current();
        ring.set(0, ApiKey::new(B))?;
        assert_eq!(bearer(&ring.current()), format!("Bearer {B}"));
        // A 401 to the old key retries with the new one.
        assert!(ring.rejected(&before));
        assert_eq!(ring.scrubber().scrub(&format!("{A} {B}")), "*** ***");
        let err = ring.set(1, ApiKey::new("bad key")).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err(
                "invalid `endpoint_api_key` (argument): the key contains a space at character 4, \
                 which cannot go in an HTTP header; keys and tokens are visible ASCII only: copy \
                 the key again, without spaces or line breaks"
                    .to_owned()
            )
        );
        Ok(())
    }
}
