//! Paths into a response body that tell a list position from an object key.
//!
//! JSON pointers cannot: `/0` matches both `[x]` and `{"0": x}`, so a body of the wrong shape
//! would pass for text. Here `[0]` only indexes a list and `.0` only names a key, so `[0].0`
//! reads `[{"0": text}]` and nothing else.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step<'a> {
    Index(usize),
    Key(&'a str),
}

/// The steps of `path` (`name`, then `[n]` and `.name` pieces), or `None` when it is malformed.
/// A JSON pointer (`/0/0`) is malformed rather than a key, so old-style paths fail loudly.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    if path.starts_with('/') {
        return None;
    }
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(index) = rest.strip_prefix('[') {
            let (n, tail) = index.split_once(']')?;
            steps.push(Step::Index(n.parse().ok()?));
            rest = tail;
        } else {
            // Only the first key goes without a dot: `choices[0].text`.
            let key = if steps.is_empty() {
                rest
            } else {
                rest.strip_prefix('.')?
            };
            let (key, tail) = key.split_at(key.find(['.', '[']).unwrap_or(key.len()));
            if key.is_empty() {
                return None;
            }
            steps.push(Step::Key(key));
            rest = tail;
        }
    }
    Some(steps)
}

/// The value at `path` (`[0].0`, `choices[0].text`, `output`): `[n]` matches only a list item and
/// `.name` only an object key. `None` when the body has another shape or the path is malformed.
///
/// ```
/// use azureml_endpoint::formatter::value_at;
/// use serde_json::json;
///
/// assert_eq!(value_at(&json!([{"0": "hi"}]), "[0].0"), Some(&json!("hi")));
/// assert_eq!(value_at(&json!({"0": {"0": "hi"}}), "[0].0"), None, "an object is not a list");
/// ```
pub fn value_at<'v>(json: &'v Value, path: &str) -> Option<&'v Value> {
    steps(path)?.iter().try_fold(json, |value, step| match step {
        Step::Index(i) => value.as_array()?.get(*i),
        Step::Key(k) => value.as_object()?.get(*k),
    })
}

/// The body shape `path` reads, with `leaf` at its end: `[0].0` → `[{"0": string}]`. A
/// malformed path is shown as written.
pub(super) fn shape(path: &str, leaf: &str) -> String {
    let Some(steps) = steps(path) else {
        return format!("`{path}` (not a valid path: write `[0].name`, not a JSON pointer)");
    };
    steps
        .iter()
        .rev()
        .fold(leaf.to_owned(), |inner, step| match step {
            Step::Index(0) => format!("[{inner}]"),
            Step::Index(_) => format!("[…, {inner}]"),
            Step::Key(k) => format!("{{{k:?}: {inner}}}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_into_keys_and_indexes() {
        assert_eq!(
            steps("choices[0].text"),
            Some(vec![Step::Key("choices"), Step::Index(0), Step::Key("text")])
        );
        assert_eq!(steps("[0].0"), Some(vec![Step::Index(0), Step::Key("0")]));
        assert_eq!(steps(""), Some(vec![]));
        for bad in ["/0/0", "[x]", "[0", "[0]0", "a..b", "a.", ".a[0]x"] {
            assert_eq!(steps(bad), None, "{bad}");
        }
    }

    #[test]
    fn lists_and_objects_are_not_interchangeable() {
        let list = json!([{"0": "x"}]);
        assert_eq!(value_at(&list, "[0].0"), Some(&json!("x")));
        assert_eq!(value_at(&list, "[0][0]"), None);
        assert_eq!(value_at(&json!({"0": {"0": "x"}}), "[0].0"), None);
        assert_eq!(value_at(&json!([["x"]]), "[0].0"), None);
        assert_eq!(value_at(&list, "/0/0"), None);
    }

    #[test]
    fn shapes_read_like_the_body() {
        assert_eq!(shape("[0].0", "string"), r#"[{"0": string}]"#);
        assert_eq!(
            shape("choices[0].text", "string"),
            r#"{"choices": [{"text": string}]}"#
        );
        assert_eq!(shape("[2]", "string"), "[…, string]");
        assert_eq!(
            shape("/0", "string"),
            "`/0` (not a valid path: write `[0].name`, not a JSON pointer)"
        );
    }
}
