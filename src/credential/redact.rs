//! Scrubbing secrets out of text a token service or `az` sent back, before any of it is kept:
//! the crate's one [`Scrubber`] for each known secret, plus a rule for JWT-shaped words.

use crate::secret::{ApiKey, Scrubber};

/// Longest piece of service text an error keeps.
const EXCERPT_CHARS: usize = 300;
/// Shortest JWT-shaped word that is redacted even when it is not a known secret: `eyJ` is
/// base64 for `{"`, how every JWT (and so every Entra access token) starts.
const MIN_JWT_LEN: usize = 16;

/// `text` with every secret (plain, JSON-escaped or base64, as [`Scrubber`] finds them) and
/// every JWT-shaped word (a token nobody told us about) replaced by `***`, then cut to
/// [`EXCERPT_CHARS`] and to its first line.
pub(crate) fn excerpt(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = Scrubber::new(&ApiKey::new(*secret)).scrub(&text).into_owned();
    }
    let text = redact_jwts(&text);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", line.get(..end).unwrap_or(line)),
        None => line.to_owned(),
    }
}

fn redact_jwts(text: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.starts_with("eyJ") && word.len() >= MIN_JWT_LEN {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_go_in_every_form() {
        let secret = "s3c\"ret/Value";
        let text = format!(
            "plain {secret} json {} b64 {} end",
            r#"s3c\"ret/Value"#, "czNjInJldC9WYWx1ZQ=="
        );
        // The padding carries no bits of the secret, so the scrubber leaves it.
        assert_eq!(excerpt(&text, &[secret]), "plain *** json *** b64 ***== end");
    }

    #[test]
    fn jwt_shaped_words_go_even_when_unknown() {
        let text = "AADSTS50000: token eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQ.sig was rejected, trace 5f1e-22";
        assert_eq!(
            excerpt(text, &[]),
            "AADSTS50000: token *** was rejected, trace 5f1e-22"
        );
    }

    #[test]
    fn kept_text_is_one_line_and_bounded() {
        assert_eq!(excerpt("\n  first line  \nsecond", &[]), "first line");
        let long = "é".repeat(EXCERPT_CHARS + 5);
        assert_eq!(excerpt(&long, &[]), format!("{}…", "é".repeat(EXCERPT_CHARS)));
    }
}
