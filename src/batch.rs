//! Runs one call per item on up to N threads, results in input order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Applies `f` to every item, on `max_concurrency` scoped threads (1 or 0: on this thread).
/// Threads take the next item as they free up, so one slow item does not hold back the rest.
pub(crate) fn run<T: Sync, R: Send>(
    items: &[T],
    max_concurrency: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = max_concurrency.min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    // Each item's span nests under the caller's, whichever thread runs it.
    let context = crate::telemetry::Context::current();
    let mut indexed: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        done.push((index, context.in_scope(|| f(item))));
                    }
                    done
                })
            })
            .collect();
        // A panic in `f` is a bug; re-raise it rather than return a batch with holes.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    indexed.sort_unstable_by_key(|(index, _)| *index);
    indexed.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_input_order_on_many_threads() {
        let items: Vec<u64> = (0..100).collect();
        let out = super::run(&items, 8, |i| {
            std::thread::sleep(std::time::Duration::from_micros((100 - i) * 10));
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}
