//! The one way the transport waits between attempts (backoff, a server's `Retry-After`, the
//! shared 429 pause): through a [`Clock`], real by default, so tests can record the waits
//! asked for instead of taking them (`Builder::sleeper`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The time now and a sleep: what a wait between attempts needs.
trait Sleep: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, wait: Duration);
}

/// `Instant::now` and `std::thread::sleep`.
struct RealTime;

impl Sleep for RealTime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, wait: Duration) {
        std::thread::sleep(wait);
    }
}

/// A caller's sleeper: handed every wait, and the only thing that moves this clock, so a wait
/// computed from it (a pause's time left) is exactly what was asked for.
struct Handed {
    sleep: Box<dyn Fn(Duration) + Send + Sync>,
    start: Instant,
    /// The sum of the waits handed over so far, each counted once `sleep` returns.
    slept: Mutex<Duration>,
}

impl Sleep for Handed {
    fn now(&self) -> Instant {
        let slept = *self.slept.lock().unwrap_or_else(PoisonError::into_inner);
        self.start.checked_add(slept).unwrap_or(self.start)
    }

    fn sleep(&self, wait: Duration) {
        (self.sleep)(wait);
        let mut slept = self.slept.lock().unwrap_or_else(PoisonError::into_inner);
        *slept = slept.saturating_add(wait);
    }
}

/// The transport's clock, shared by every clone of a client.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Sleep>);

impl Clock {
    /// A clock that hands every wait to `sleep` instead of sleeping, and moves only by them.
    pub fn handing_to(sleep: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Clock(Arc::new(Handed {
            sleep: Box::new(sleep),
            start: Instant::now(),
            slept: Mutex::new(Duration::ZERO),
        }))
    }

    pub fn now(&self) -> Instant {
        self.0.now()
    }

    pub fn sleep(&self, wait: Duration) {
        self.0.sleep(wait);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock(Arc::new(RealTime))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_handed_clock_moves_only_by_the_waits_handed_over() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let clock = Clock::handing_to(move |wait| log.lock().unwrap().push(wait));
        let start = clock.now();
        clock.sleep(Duration::from_millis(800));
        clock.sleep(Duration::from_secs(2));
        assert_eq!(clock.now().duration_since(start), Duration::from_millis(2800));
        assert_eq!(
            *seen.lock().unwrap(),
            [Duration::from_millis(800), Duration::from_secs(2)]
        );
    }
}
