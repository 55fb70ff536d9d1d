//! A concurrent map that hands its results on in input order as soon as each is next, over an
//! input of any length (a file or a pipe).

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, PoisonError};

/// What the workers share: the input and how far ahead of the output they may read.
struct Intake<I> {
    input: I,
    /// Items taken from the input so far.
    taken: usize,
    /// Results handed to `emit` so far.
    emitted: usize,
    /// `emit` failed: take nothing more.
    stop: bool,
}

/// Runs `work` on every item of `input` on `workers` threads and passes the results to `emit` in
/// input order, each as soon as it and every earlier one are done.
///
/// Memory is bounded whatever the input's length or the slowest item: a worker takes item `n`
/// only once `n < emitted + window`, so at most `window` items are in flight or waiting in the
/// reordering buffer. A slow item stalls the output (order is kept) and, once the window is full,
/// the input, but never grows memory. An error from `emit` stops the intake and is returned once
/// the items in flight finish.
pub fn ordered_map<I, T, R, E>(
    input: I,
    workers: usize,
    window: usize,
    work: impl Fn(T) -> R + Sync,
    mut emit: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    I: Iterator<Item = T> + Send,
    T: Send,
    R: Send,
{
    let window = window.max(workers).max(1);
    let intake = Mutex::new(Intake {
        input,
        taken: 0,
        emitted: 0,
        stop: false,
    });
    let room = Condvar::new();
    let lock = || intake.lock().unwrap_or_else(PoisonError::into_inner);
    std::thread::scope(|scope| {
        let (done, results) = mpsc::channel::<(usize, R)>();
        for _ in 0..workers.max(1) {
            let done = done.clone();
            let (work, room, lock) = (&work, &room, &lock);
            scope.spawn(move || loop {
                let mut state = lock();
                while !state.stop && state.taken >= state.emitted.saturating_add(window) {
                    state = room.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
                if state.stop {
                    return;
                }
                let Some(item) = state.input.next() else { return };
                let index = state.taken;
                state.taken = index.saturating_add(1);
                drop(state);
                if done.send((index, work(item))).is_err() {
                    return;
                }
            });
        }
        drop(done);
        let mut waiting = BTreeMap::new();
        let mut next = 0usize;
        let mut outcome = Ok(());
        for (index, result) in results {
            waiting.insert(index, result);
            while let Some(result) = waiting.remove(&next) {
                next = next.saturating_add(1);
                if outcome.is_ok() {
                    outcome = emit(result);
                }
                let mut state = lock();
                state.emitted = next;
                state.stop |= outcome.is_err();
                room.notify_all();
            }
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_come_in_input_order_and_never_more_than_the_window_ahead() {
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let mut out = Vec::new();
        let emitted = AtomicUsize::new(0);
        let result: Result<(), ()> = ordered_map(
            0..200u64,
            8,
            16,
            |i| {
                // Taken items not yet emitted never exceed the window.
                let ahead = i as usize - emitted.load(Ordering::SeqCst);
                most.fetch_max(ahead, Ordering::SeqCst);
                in_flight.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros((i % 7) * 300));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i * 2
            },
            |r| {
                out.push(r);
                emitted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        );
        assert_eq!(result, Ok(()));
        assert_eq!(out, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        assert!(
            most.load(Ordering::SeqCst) < 16,
            "{}",
            most.load(Ordering::SeqCst)
        );
    }

    #[test]
    fn an_emit_error_stops_the_intake() {
        let taken = AtomicUsize::new(0);
        let result = ordered_map(
            0..1_000_000u64,
            4,
            8,
            |i| {
                taken.fetch_add(1, Ordering::SeqCst);
                i
            },
            |i| if i == 3 { Err("broken pipe") } else { Ok(()) },
        );
        assert_eq!(result, Err("broken pipe"));
        assert!(
            taken.load(Ordering::SeqCst) <= 4 + 8,
            "{}",
            taken.load(Ordering::SeqCst)
        );
    }
}
