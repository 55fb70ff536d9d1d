//! One "paused until" per client: when the endpoint answers 429 with a wait, every thread's next
//! attempt waits it out, instead of each thread finding the limit with a 429 of its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::clock::Clock;

/// Shared by every clone of a client's transport.
#[derive(Clone, Debug, Default)]
pub(super) struct SharedPause(Arc<Mutex<Option<Instant>>>);

impl SharedPause {
    /// Pauses every attempt for `wait` from now, unless already paused longer.
    pub fn pause_for(&self, wait: Duration, clock: &Clock) {
        let Some(until) = clock.now().checked_add(wait) else {
            return;
        };
        let mut paused = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Returns once no pause is in force, with how long it waited; a pause extended meanwhile is
    /// waited out too.
    pub fn wait(&self, clock: &Clock) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            let until = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match until.map(|until| until.saturating_duration_since(clock.now())) {
                Some(left) if !left.is_zero() => {
                    clock.sleep(left);
                    waited = waited.saturating_add(left);
                }
                _ => return waited,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_clone_waits_for_the_longest_pause() {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let log = waits.clone();
        let clock = Clock::handing_to(move |wait| log.lock().unwrap().push(wait));
        let pause = SharedPause::default();
        let other = pause.clone();
        pause.pause_for(Duration::from_millis(120), &clock);
        pause.pause_for(Duration::from_millis(10), &clock);
        other.wait(&clock);
        pause.wait(&clock);
        // One wait of the longest pause; once it is over nobody waits again.
        assert_eq!(*waits.lock().unwrap(), [Duration::from_millis(120)]);
    }

    #[test]
    fn a_pause_extended_during_the_wait_is_waited_out_too() {
        let pause = SharedPause::default();
        let extend = pause.clone();
        let waits = Arc::new(Mutex::new(Vec::new()));
        let log = waits.clone();
        let same_clock: Arc<std::sync::OnceLock<Clock>> = Arc::default();
        let cell = same_clock.clone();
        // Another thread's 429 asks for 400 ms while the first 100 ms wait runs.
        let clock = Clock::handing_to(move |wait| {
            let first = {
                let mut log = log.lock().unwrap();
                log.push(wait);
                log.len() == 1
            };
            if first {
                extend.pause_for(Duration::from_millis(400), cell.get().unwrap());
            }
        });
        same_clock.set(clock.clone()).unwrap();
        pause.pause_for(Duration::from_millis(100), &clock);
        pause.wait(&clock);
        assert_eq!(
            *waits.lock().unwrap(),
            [Duration::from_millis(100), Duration::from_millis(300)]
        );
    }
}
