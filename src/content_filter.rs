//! Azure's content filter (Azure OpenAI, Foundry, serverless models): which categories blocked
//! a request, from the 400 it answers with.
//!
//! The body is `{"error": {"code": "content_filter", …, "innererror": {"code":
//! "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": false, …},
//! "self_harm": {"filtered": true, …}, …}}}}`; some services spell the map
//! `content_filter_results`, and serverless models send no `innererror` at all.

use serde_json::Value;

use crate::secret::Scrubber;

/// At most this many categories are kept, each cut to this many characters: the names come from
/// the server.
const MAX_CATEGORIES: usize = 16;
const MAX_NAME_CHARS: usize = 64;

/// The categories the content filter blocked the request for (`filtered: true`), in the order
/// the service listed them; `Some` with an empty list when the error says it is the content
/// filter but names none, `None` when the body is not a content-filter error.
pub(crate) fn blocked_categories(body: &[u8], scrubber: &Scrubber) -> Option<Vec<String>> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?;
    let inner = error.get("innererror");
    let code = |v: Option<&Value>| {
        v.and_then(|v| v.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let is_filter = code(Some(error)).as_deref() == Some("content_filter")
        || code(inner).as_deref() == Some("ResponsibleAIPolicyViolation");
    if !is_filter {
        return None;
    }
    let results = inner
        .and_then(|i| {
            i.get("content_filter_result")
                .or_else(|| i.get("content_filter_results"))
        })
        .and_then(Value::as_object);
    let categories = results
        .into_iter()
        .flatten()
        .filter(|(_, verdict)| verdict.get("filtered").and_then(Value::as_bool) == Some(true))
        .take(MAX_CATEGORIES)
        .map(|(name, _)| scrubber.cut(name, MAX_NAME_CHARS))
        .collect();
    Some(categories)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories(body: &str) -> Option<Vec<String>> {
        blocked_categories(body.as_bytes(), &Scrubber::default())
    }

    #[test]
    fn filtered_categories_in_service_order() {
        let body = r#"{"error": {"code": "content_filter", "status": 400, "innererror": {
            "code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": {"filtered": false, "severity": "safe"}, "jailbreak": {"filtered": true, "detected": true},
            "violence": {"filtered": true, "severity": "medium"}, "odd": {"filtered": "yes"}}}}}"#;
        assert_eq!(
            categories(body),
            Some(vec!["jailbreak".into(), "violence".into()])
        );
        let plural = r#"{"error": {"code": null, "innererror": {"code": "ResponsibleAIPolicyViolation",
            "content_filter_results": {"self-harm": {"filtered": true}}}}}"#;
        assert_eq!(categories(plural), Some(vec!["self-harm".into()]));
    }

    #[test]
    fn a_filter_error_without_details_names_none() {
        let body = r#"{"error": {"message": "filtered", "code": "content_filter", "status": 400}}"#;
        assert_eq!(categories(body), Some(vec![]));
    }

    #[test]
    fn other_errors_are_not_the_filter() {
        for body in [
            r#"{"error": {"code": "429", "message": "slow down"}}"#,
            r#"{"error": "content_filter"}"#,
            r#"{"code": "content_filter"}"#,
            "content_filter",
        ] {
            assert_eq!(categories(body), None, "{body}");
        }
    }
}
