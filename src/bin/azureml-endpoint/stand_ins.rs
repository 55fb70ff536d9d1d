//! Library functions the CLI reuses that the library does not export yet. Each one behaves as
//! the library's does and goes when the library makes its own public.

use std::time::Duration;

use azureml_endpoint::credential::{AuthMode, CredentialError};

/// The known word closest to a misspelt one, if any is close: the library's
/// `config_file::suggest` (the rule its unknown-key errors use), so the CLI's "did you mean"
/// agrees with the library's.
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&word, k), *k))
        .filter(|(d, k)| *d <= 2 || *d <= k.len() / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        let mut left = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let cell = (diagonal + usize::from(ca != *cb)).min(up + 1).min(left + 1);
            diagonal = up;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = cell;
            }
            left = cell;
        }
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
    }
    row.last().copied().unwrap_or(0)
}

/// A timeout in seconds (int or float) > 0, with the library's `config::parse_timeout` messages.
/// Its range (1 ms to a day) is checked by the library when the client is built.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 || secs.is_infinite() {
        return Err(format!("must be a number of seconds > 0, got {secs}"));
    }
    // Beyond u64::MAX seconds: the library's range check refuses it at build.
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// The sign-in mode whose credential failed. The library's `CredentialError` names its source
/// only as text today; this is the one place that reads it.
pub fn credential_mode(error: &CredentialError) -> Option<AuthMode> {
    Some(match error.credential() {
        "azure cli credential" => AuthMode::AzureCli,
        "managed identity credential" => AuthMode::ManagedIdentity,
        "workload identity credential" => AuthMode::WorkloadIdentity,
        "client secret credential" => AuthMode::ClientSecret,
        "default credential" => AuthMode::Default,
        "custom credential" => AuthMode::Custom,
        "aml token" => AuthMode::AmlToken,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word() {
        assert_eq!(suggest("compelte", &["complete", "chat"]), Some("complete"));
        assert_eq!(suggest("ulr", &["url", "port"]), Some("url"));
        assert_eq!(suggest("gtp2", &["gpt2", "hf"]), Some("gpt2"));
        assert_eq!(suggest("xyz", &["complete", "chat"]), None);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(parse_timeout(" 1.5 "), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_timeout("abc"),
            Err("\"abc\" is not a number of seconds".to_owned())
        );
        assert_eq!(
            parse_timeout("0"),
            Err("must be a number of seconds > 0, got 0".to_owned())
        );
        assert_eq!(
            parse_timeout("-2"),
            Err("must be a number of seconds > 0, got -2".to_owned())
        );
        assert_eq!(
            parse_timeout("NaN"),
            Err("must be a number of seconds > 0, got NaN".to_owned())
        );
    }
}
