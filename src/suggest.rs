//! "Did you mean": the closest known word to a misspelt one.

/// The known word closest to a misspelt one, if any is close: the rule behind the loader's
/// "did you mean" (at most 2 edits, or a third of the word's length), for programs that want
/// their own suggestions to agree with it.
///
/// ```
/// use azureml_endpoint::config::suggest;
///
/// assert_eq!(suggest("endpoint_ulr", &["endpoint_url", "timeout"]), Some("endpoint_url"));
/// assert_eq!(suggest("temperature", &["endpoint_url", "timeout"]), None);
/// ```
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
}
