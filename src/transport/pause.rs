//! One "paused until" per client: when the endpoint answers 429 with a wait, every thread's next
//! attempt waits it out, instead of each thread finding the limit with a 429 of its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Shared by every clone of a client's transport.
#[derive(Clone, Debug, Default)]
pub(super) struct SharedPause(Arc<Mutex<Option<Instant>>>);

impl SharedPause {
    /// Pauses every attempt for `wait` from now, unless already paused longer.
    pub fn pause_for(&self, wait: Duration) {
        let Some(until) = Instant::now().checked_add(wait) else {
            return;
        };
        let mut paused = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Returns once no pause is in force, with how long it waited; a pause extended meanwhile is
    /// waited out too.
    pub fn wait(&self) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            let until = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match until.map(|until| until.saturating_duration_since(Instant::now())) {
                Some(left) if !left.is_zero() => {
                    std::thread::sleep(left);
                    waited = waited.saturating_add(left);
                }
                _ => return waited,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_waits_for_the_longest_pause() {
        let pause = SharedPause::default();
        let other = pause.clone();
        let start = Instant::now();
        pause.pause_for(Duration::from_millis(120));
        pause.pause_for(Duration::from_millis(10));
        let waited = other.wait();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(
            start.elapsed() >= Duration::from_millis(120),
            "{:?}",
            start.elapsed()
        );
    }
}
