//! The rate-limit state a response reports in Azure's (and OpenAI's) `x-ratelimit-*` headers.

use std::time::Duration;

/// What the endpoint said about its rate limits, on every result
/// ([`Completion`](crate::Completion), [`ChatCompletion`](crate::ChatCompletion),
/// [`HttpError`](crate::error::HttpError)). A header that is absent or not a number is `None`.
///
/// ```
/// use azureml_endpoint::RateLimits;
/// let limits = RateLimits::default();
/// assert_eq!(limits.remaining_requests, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// `x-ratelimit-remaining-requests`: requests left in the current window. Can be negative
    /// (over the limit) or `-1` (Azure's "no limit reported"), as sent.
    pub remaining_requests: Option<i64>,
    /// `x-ratelimit-remaining-tokens`: tokens left in the current window, as sent.
    pub remaining_tokens: Option<i64>,
    /// `x-ratelimit-reset-requests`: until the request budget refills (seconds, or a duration
    /// such as `6m0s` or `20ms`); a negative value is `None`.
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-reset-tokens`: until the token budget refills.
    pub reset_tokens: Option<Duration>,
}

impl RateLimits {
    /// Reads the four headers through `header` (a name to its value).
    pub(crate) fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        RateLimits {
            remaining_requests: header("x-ratelimit-remaining-requests").and_then(count),
            remaining_tokens: header("x-ratelimit-remaining-tokens").and_then(count),
            reset_requests: header("x-ratelimit-reset-requests").and_then(reset),
            reset_tokens: header("x-ratelimit-reset-tokens").and_then(reset),
        }
    }
}

/// A whole number, sign kept.
fn count(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// Seconds (`"1"`, `"0.5"`) or a Go-style duration (`"1h2m3.5s"`, `"20ms"`), as OpenAI-shaped
/// services send; negative, non-finite or out-of-range values are `None`.
fn reset(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        let part = Duration::try_from_secs_f64(number.parse::<f64>().ok()? * scale).ok()?;
        total = total.checked_add(part)?;
        rest = next;
    }
    (!text.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(headers: &[(&str, &str)]) -> RateLimits {
        RateLimits::from_headers(|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn all_four_headers_are_read() {
        let limits = parsed(&[
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-remaining-tokens", " 149000 "),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0.5s"),
        ]);
        assert_eq!(
            limits,
            RateLimits {
                remaining_requests: Some(59),
                remaining_tokens: Some(149_000),
                reset_requests: Some(Duration::from_secs(1)),
                reset_tokens: Some(Duration::from_millis(360_500)),
            }
        );
    }

    #[test]
    fn negative_counts_are_kept_and_negative_resets_are_none() {
        let limits = parsed(&[
            ("x-ratelimit-remaining-requests", "-1"),
            ("x-ratelimit-remaining-tokens", "-250"),
            ("x-ratelimit-reset-requests", "-1"),
            ("x-ratelimit-reset-tokens", "-3s"),
        ]);
        assert_eq!(limits.remaining_requests, Some(-1));
        assert_eq!(limits.remaining_tokens, Some(-250));
        assert_eq!((limits.reset_requests, limits.reset_tokens), (None, None));
    }

    #[test]
    fn garbage_is_none_never_a_panic() {
        for bad in [
            "",
            " ",
            "lots",
            "1e400",
            "NaN",
            "inf",
            "12abc",
            "99999999999999999999",
            "1.5.5s",
            "s",
            "5x",
            "1h-2m",
            "18446744073709551616s",
            "9e18h",
            "٣",
            "1s2",
        ] {
            let limits = parsed(&[
                ("x-ratelimit-remaining-requests", bad),
                ("x-ratelimit-remaining-tokens", bad),
                ("x-ratelimit-reset-requests", bad),
                ("x-ratelimit-reset-tokens", bad),
            ]);
            assert_eq!(limits, RateLimits::default(), "{bad:?}");
        }
        assert_eq!(parsed(&[]), RateLimits::default());
    }

    #[test]
    fn plain_seconds_and_sub_second_units() {
        assert_eq!(reset("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(reset("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(reset("7us"), Some(Duration::from_micros(7)));
    }
}
