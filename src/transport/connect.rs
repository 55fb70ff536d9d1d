//! How ureq connects for us: names resolved without a thread per request, and socket timeouts
//! that do not change on every request.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs};
use ureq::unversioned::transport::time::Duration as IoDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport as Io};

/// Resolves IP literals and `localhost` on the calling thread; other names go to ureq's own
/// resolver, which honours the deadline by resolving on a thread of its own. ureq's resolver
/// alone spawns that thread for every request once any deadline is set, even for 127.0.0.1 and
/// even when a pooled connection is reused, which halved requests/s against a fast endpoint
/// (examples/bench.rs).
#[derive(Debug)]
pub(super) struct Resolver;

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        });
        let local: Vec<SocketAddr> = match (host.parse::<IpAddr>(), port) {
            (Ok(ip), Some(port)) => vec![SocketAddr::new(ip, port)],
            (_, Some(port)) if host.eq_ignore_ascii_case("localhost") => {
                (host, port).to_socket_addrs()?.collect()
            }
            _ => {
                return DefaultResolver::default()
                    .resolve(uri, config, timeout)
                    .map_err(unresolved)
            }
        };
        let mut out = self.empty();
        for addr in config.ip_family().keep_wanted(local.into_iter()) {
            if out.try_push(addr).is_err() {
                break;
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// A name that did not resolve, told apart from other I/O errors by its type: the system's
/// lookup error (an uncategorized `io::Error`) says only "failed to lookup address".
#[derive(Debug)]
pub(super) struct NotResolved(pub std::io::Error);

impl std::fmt::Display for NotResolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for NotResolved {}

fn unresolved(error: ureq::Error) -> ureq::Error {
    match error {
        ureq::Error::Io(io) => ureq::Error::Io(std::io::Error::new(io.kind(), NotResolved(io))),
        other => other,
    }
}

/// Rounds each I/O deadline up to a coarse grid, at most 1/64 of it later, so back-to-back
/// requests hand the socket the same timeout and ureq does not set it again: an exact, shrinking
/// per-attempt deadline costs three `setsockopt` calls per request (~4% of requests/s against a
/// fast endpoint, examples/bench.rs). An attempt still ends within the timeout plus 1/64.
#[derive(Debug)]
pub(super) struct CoarseTimeouts;

impl Connector<Box<dyn Io>> for CoarseTimeouts {
    type Out = Box<dyn Io>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<Box<dyn Io>>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| Box::new(Coarse(inner)) as Box<dyn Io>))
    }
}

#[derive(Debug)]
struct Coarse(Box<dyn Io>);

impl Io for Coarse {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.0.transmit_output(amount, coarse(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.0.await_input(coarse(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

/// `timeout` with its remaining time rounded up to a multiple of the largest power of two
/// nanoseconds at most 1/64 of it. Zero stays zero (it means the deadline has passed).
fn coarse(mut timeout: NextTimeout) -> NextTimeout {
    if let IoDuration::Exact(after) = timeout.after {
        timeout.after = IoDuration::Exact(round_up(after));
    }
    timeout
}

fn round_up(after: Duration) -> Duration {
    let nanos = after.as_nanos();
    let rounded = (nanos >> 6)
        .checked_ilog2()
        .and_then(|bits| 1u128.checked_shl(bits))
        .and_then(|grid| nanos.div_ceil(grid).checked_mul(grid));
    let Some(rounded) = rounded else {
        return after;
    };
    // Fits: at most 1/64 above a Duration's nanoseconds.
    let secs = u64::try_from(rounded / 1_000_000_000).unwrap_or(u64::MAX);
    let subsec = u32::try_from(rounded % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_by_at_most_a_64th_and_settle() {
        assert_eq!(round_up(Duration::ZERO), Duration::ZERO);
        assert_eq!(round_up(Duration::from_nanos(63)), Duration::from_nanos(63));
        assert_eq!(
            round_up(Duration::from_secs(50)),
            Duration::from_nanos(50_465_865_728)
        );
        for after in [
            Duration::from_millis(1),
            Duration::from_secs(1),
            Duration::from_secs(86_400),
            Duration::MAX / 2,
        ] {
            let rounded = round_up(after);
            assert!(
                rounded >= after && rounded - after <= after / 64,
                "{after:?} -> {rounded:?}"
            );
        }
        // A request that takes microseconds sees the same value throughout.
        let t = Duration::from_secs(50);
        assert_eq!(round_up(t - Duration::from_micros(80)), round_up(t));
    }
}
