//! A config file's unknown key as an error may show it: a pasted secret is cut, not echoed.
//!
//! A key pasted where a name belongs (`{"sk-…": …}`, a token as a YAML key) is the one unknown
//! key that must not be printed whole: error messages land in terminals, CI logs and tickets.

use std::borrow::Cow;

/// Characters of a secret-looking key that are still shown, so the user can find the line.
const SHOWN: usize = 3;
/// Config keys are short words joined by `_`; a longer run of mixed letters and digits is a secret.
const RANDOM_LEN: usize = 20;

/// `key` as it may appear in an error: whole, or its first characters and `…` when it looks like
/// a secret (starts with `sk-`, or is long, mixes letters and digits and has no `_`).
pub(crate) fn redact_key(key: &str) -> Cow<'_, str> {
    if !looks_secret(key) {
        return Cow::Borrowed(key);
    }
    let shown: String = key.chars().take(SHOWN).collect();
    Cow::Owned(format!("{shown}…"))
}

fn looks_secret(key: &str) -> bool {
    let random = key.chars().count() >= RANDOM_LEN
        && !key.contains('_')
        && key.chars().any(|c| c.is_ascii_digit())
        && key.chars().any(|c| c.is_alphabetic());
    key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("sk-")) || random
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_cut_and_names_kept() {
        for (key, shown) in [
            ("sk-proj-4f9a27c1d3", "sk-…"),
            ("SK-live", "SK-…"),
            ("a8Kx02LmQ7pZ9vT4wE1r", "a8K…"),
            ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQi", "eyJ…"),
            ("endpoint_ulr", "endpoint_ulr"),
            ("temperature", "temperature"),
            // Long, but a name: words joined by `_`, or no digit at all.
            (
                "azureml_endpoint_api_key_2024_rotation",
                "azureml_endpoint_api_key_2024_rotation",
            ),
            (
                "averyveryverylongnamewithoutdigits",
                "averyveryverylongnamewithoutdigits",
            ),
            ("a8Kx02LmQ7pZ9vT4wE1", "a8Kx02LmQ7pZ9vT4wE1"),
            ("sk", "sk"),
            ("é", "é"),
        ] {
            assert_eq!(redact_key(key), shown, "{key}");
        }
    }
}
