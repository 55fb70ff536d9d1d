//! The retry decision (docs/reliability.md, Retries) as pure functions of a status and the values
//! of the headers a server sent, so every hostile number can be tested without a socket.
//!
//! Every number here comes from a server: it is read with checked arithmetic, an absurdly large
//! one becomes a wait longer than we take, and a negative or unreadable one is ignored.
#![deny(clippy::arithmetic_side_effects)]

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest server-requested wait we honour; beyond it the error is returned with the hint.
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);
const BACKOFF_START: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const SECS_PER_DAY: i64 = 86_400;

/// The wait-related headers of one response, as sent (`None` when absent).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RetryHeaders<'a> {
    pub retry_after_ms: Option<&'a str>,
    pub x_ms_retry_after_ms: Option<&'a str>,
    pub retry_after: Option<&'a str>,
}

/// What to do after an attempt that got an HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Sleep this long, then try again.
    Wait(Duration),
    /// Return the error.
    GiveUp,
    /// Return the error with the server's hint: it asked for more than [`MAX_SERVER_WAIT`].
    TooLong(Duration),
}

/// The statuses worth another attempt: the request did not reach a model, or it was throttled.
pub(crate) fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The decision after attempt number `attempt` (from 1) answered `status`.
pub(crate) fn after_status(
    status: u16,
    attempt: u32,
    max_retries: u32,
    headers: RetryHeaders<'_>,
    now: SystemTime,
) -> Next {
    if !is_retryable(status) || attempt > max_retries {
        return Next::GiveUp;
    }
    match server_wait(headers, now) {
        Some(wait) if wait > MAX_SERVER_WAIT => Next::TooLong(wait),
        Some(wait) => Next::Wait(wait),
        None => Next::Wait(backoff(attempt)),
    }
}

/// The wait a response asks for: `retry-after-ms`, `x-ms-retry-after-ms`, then `retry-after`
/// (seconds or an HTTP date). `None` when it asks for nothing readable (back off instead); an
/// absurdly long wait saturates at [`Duration::MAX`].
pub(crate) fn server_wait(headers: RetryHeaders<'_>, now: SystemTime) -> Option<Duration> {
    [headers.retry_after_ms, headers.x_ms_retry_after_ms]
        .into_iter()
        .flatten()
        .find_map(millis)
        .or_else(|| {
            let value = headers.retry_after?.trim();
            seconds(value).or_else(|| date_wait(value, now))
        })
}

/// Milliseconds, fractions allowed; negative, NaN or unreadable is `None`, too big is `MAX`.
fn millis(value: &str) -> Option<Duration> {
    let ms = value.trim().parse::<f64>().ok()?;
    if ms.is_nan() || ms < 0.0 {
        return None;
    }
    // Fails only when too large (infinity included): the over-60-s case.
    Some(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX))
}

/// `delay-seconds`: digits only; more than a u64 holds is `MAX`.
fn seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().map_or(Duration::MAX, Duration::from_secs))
}

/// The time from `now` until an HTTP date; zero when it is past, `MAX` when it is too far
/// ahead to count.
fn date_wait(value: &str, now: SystemTime) -> Option<Duration> {
    let at = match http_date_secs(value)? {
        Some(secs) => secs,
        None => return Some(Duration::MAX),
    };
    let Ok(at) = u64::try_from(at) else {
        return Some(Duration::ZERO); // before 1970
    };
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    Some(Duration::from_secs(at).saturating_sub(since_epoch))
}

/// Seconds since the Unix epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form
/// `Retry-After` uses. `None` when it is not such a date, `Some(None)` when its numbers are too
/// large to count (they are never negative, so an overflow is always far ahead).
fn http_date_secs(value: &str) -> Option<Option<i64>> {
    let mut parts = value.split_whitespace().skip(1);
    let day: u64 = parts.next()?.parse().ok()?;
    let month: i64 = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || parts.next() != Some("GMT") {
        return None;
    }
    Some(checked_epoch_secs(year, month, day, [h, m, s]))
}

/// Days from civil (Howard Hinnant's algorithm), then seconds, every step checked.
fn checked_epoch_secs(year: u64, month: i64, day: u64, [h, m, s]: [u64; 3]) -> Option<i64> {
    let year = i64::try_from(year).ok()?;
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    // month is 1..=12, so these cannot overflow.
    let mp = month.checked_add(9)?.rem_euclid(12);
    let doy = mp
        .checked_mul(153)?
        .checked_add(2)?
        .checked_div(5)?
        .checked_add(i64::try_from(day).ok()?)?
        .checked_sub(1)?;
    let doe = yoe
        .checked_mul(365)?
        .checked_add(yoe.div_euclid(4))?
        .checked_sub(yoe.div_euclid(100))?
        .checked_add(doy)?;
    let days = era.checked_mul(146_097)?.checked_add(doe)?.checked_sub(719_468)?;
    let time = [(h, 3600), (m, 60), (s, 1)]
        .into_iter()
        .try_fold(0i64, |sum, (n, unit)| {
            sum.checked_add(i64::try_from(n).ok()?.checked_mul(unit)?)
        })?;
    days.checked_mul(SECS_PER_DAY)?.checked_add(time)
}

/// Exponential backoff from 0.8 s, doubling to 30 s, with jitter in the upper half.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(6);
    let base = BACKOFF_START.saturating_mul(1u32 << doublings).min(BACKOFF_MAX);
    // RandomState is seeded randomly per instance: jitter without a rand dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // 500..=999 thousandths: the upper half of the base wait.
    let thousandths = 500u32.saturating_add(u32::try_from(random % 500).unwrap_or(0));
    // Cannot fail: the divisor is a non-zero constant.
    base.saturating_mul(thousandths).checked_div(1000).unwrap_or(base)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;

    /// 2024-01-01T00:00:00Z.
    const NOW: u64 = 1_704_067_200;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn wait_for(name: &str, value: &str) -> Option<Duration> {
        let mut headers = RetryHeaders::default();
        match name {
            "retry-after-ms" => headers.retry_after_ms = Some(value),
            "x-ms-retry-after-ms" => headers.x_ms_retry_after_ms = Some(value),
            _ => headers.retry_after = Some(value),
        }
        server_wait(headers, now())
    }

    #[test]
    fn milliseconds_in_both_headers() {
        for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
            assert_eq!(wait_for(name, "250"), Some(Duration::from_millis(250)), "{name}");
            assert_eq!(wait_for(name, " 0 "), Some(Duration::ZERO), "{name}");
            assert_eq!(wait_for(name, "0.5"), Some(Duration::from_micros(500)), "{name}");
            assert_eq!(wait_for(name, "1500.25"), Some(Duration::from_micros(1_500_250)));
            assert_eq!(wait_for(name, "1e30"), Some(Duration::MAX), "{name}");
            assert_eq!(wait_for(name, "inf"), Some(Duration::MAX), "{name}");
            assert_eq!(wait_for(name, "1e300"), Some(Duration::MAX), "{name}");
            for ignored in ["-1", "-0.5", "NaN", "-inf", "soon", "", "1 2"] {
                assert_eq!(wait_for(name, ignored), None, "{name}: {ignored:?}");
            }
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(wait_for("retry-after", "0"), Some(Duration::ZERO));
        assert_eq!(wait_for("retry-after", "7"), Some(Duration::from_secs(7)));
        assert_eq!(
            wait_for("retry-after", "99999999999999999999999"),
            Some(Duration::MAX)
        );
        for ignored in ["-1", "1.5", "NaN", "inf", "", "+3", "1e3"] {
            assert_eq!(wait_for("retry-after", ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn retry_after_dates() {
        let date = "Mon, 01 Jan 2024 00:00:30 GMT";
        assert_eq!(wait_for("retry-after", date), Some(Duration::from_secs(30)));
        assert_eq!(
            http_date_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Some(784_111_777))
        );
        // Past dates, even before 1970, ask for no wait.
        let past = [
            "Sun, 31 Dec 2023 23:59:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Mon, 01 Jan 0 00:00:00 GMT",
        ];
        for date in past {
            assert_eq!(wait_for("retry-after", date), Some(Duration::ZERO), "{date}");
        }
        // Huge numbers are far ahead, never a wrapped wait.
        assert_eq!(
            wait_for("retry-after", "Fri, 01 Jan 99999 00:00:00 GMT"),
            Some(Duration::from_secs(3_093_496_444_800 - NOW))
        );
        let huge = [
            "Mon, 01 Jan 2024 99999999:00:00 GMT",
            "Mon, 01 Jan 99999999999999999 00:00:00 GMT",
            "Mon, 01 Jan 18446744073709551615 00:00:00 GMT",
            "Mon, 99999999999999999 Jan 2024 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:18446744073709551615 GMT",
        ];
        for date in huge {
            let wait = wait_for("retry-after", date).unwrap();
            assert!(wait > MAX_SERVER_WAIT, "{date}: {wait:?}");
        }
        assert_eq!(wait_for("retry-after", huge[1]), Some(Duration::MAX));
        for garbage in [
            "yesterday",
            "Mon, 01 Foo 2024 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00 GMT",
            "Mon, 01 Jan -5 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00 PST",
        ] {
            assert_eq!(wait_for("retry-after", garbage), None, "{garbage}");
        }
    }

    #[test]
    fn milliseconds_win_then_fall_back_when_unreadable() {
        let headers = RetryHeaders {
            retry_after_ms: Some("NaN"),
            x_ms_retry_after_ms: Some("40"),
            retry_after: Some("30"),
        };
        assert_eq!(server_wait(headers, now()), Some(Duration::from_millis(40)));
        let headers = RetryHeaders {
            retry_after_ms: Some("-1"),
            x_ms_retry_after_ms: None,
            retry_after: Some("30"),
        };
        assert_eq!(server_wait(headers, now()), Some(Duration::from_secs(30)));
    }

    #[test]
    fn decisions() {
        let asks = |value| RetryHeaders {
            retry_after: Some(value),
            ..RetryHeaders::default()
        };
        assert_eq!(
            after_status(429, 1, 3, asks("2"), now()),
            Next::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            after_status(503, 1, 3, asks("60"), now()),
            Next::Wait(MAX_SERVER_WAIT)
        );
        assert_eq!(
            after_status(429, 1, 3, asks("61"), now()),
            Next::TooLong(Duration::from_secs(61))
        );
        let absurd = RetryHeaders {
            retry_after_ms: Some("1e30"),
            ..RetryHeaders::default()
        };
        assert_eq!(
            after_status(429, 1, 3, absurd, now()),
            Next::TooLong(Duration::MAX)
        );
        // Out of retries, or not a retryable status: the error as it is.
        assert_eq!(after_status(429, 4, 3, asks("2"), now()), Next::GiveUp);
        assert_eq!(after_status(400, 1, 3, asks("2"), now()), Next::GiveUp);
        assert_eq!(after_status(200, 1, 3, asks("2"), now()), Next::GiveUp);
        for status in [408, 429, 500, 502, 503, 504] {
            let Next::Wait(wait) = after_status(status, 1, 3, RetryHeaders::default(), now()) else {
                panic!("{status} is retried");
            };
            assert!(wait >= BACKOFF_START / 2 && wait < BACKOFF_START, "{wait:?}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(
                first >= Duration::from_millis(400) && first < BACKOFF_START,
                "{first:?}"
            );
            let third = backoff(3);
            assert!(third >= Duration::from_millis(1600) && third < Duration::from_millis(3200));
            for attempt in [20, u32::MAX] {
                let late = backoff(attempt);
                assert!(late <= BACKOFF_MAX && late >= BACKOFF_MAX / 2, "{late:?}");
            }
        }
    }
}
