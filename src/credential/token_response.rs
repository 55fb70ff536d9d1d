//! Reading a token endpoint's JSON: `access_token` and its lifetime, every number checked.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::redact::excerpt;
use super::{AccessToken, CredentialError};

/// Reads a 2xx body from an Entra, IMDS or App Service token endpoint.
///
/// The lifetime comes from `expires_in` (seconds from `now`, immune to clock skew) or else
/// `expires_on` (POSIX seconds); each may be a number or a string of digits, as the services
/// differ. `refresh_in`, when present and sane, sets the refresh time.
pub(crate) fn parse(
    source: &'static str,
    body: &[u8],
    now: SystemTime,
) -> Result<AccessToken, CredentialError> {
    let bad = |what: &str| CredentialError::failed(source, format!("the token service's answer {what}"));
    let json: Value = serde_json::from_slice(body).map_err(|_| bad("is not JSON"))?;
    let token = match json.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token.as_str(),
        _ => return Err(bad("has no `access_token`")),
    };
    let field = |name: &str| -> Result<Option<u64>, CredentialError> {
        match json.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => seconds(value)
                .map(Some)
                .ok_or_else(|| bad(&format!("has an invalid `{name}` (want whole seconds)"))),
        }
    };
    let later = |secs: u64| now.checked_add(Duration::from_secs(secs));
    let expires_on = match (field("expires_in")?, field("expires_on")?) {
        (Some(secs), _) => later(secs),
        (None, Some(posix)) => UNIX_EPOCH.checked_add(Duration::from_secs(posix)),
        (None, None) => return Err(bad("has neither `expires_in` nor `expires_on`")),
    }
    .ok_or_else(|| bad("has an expiry out of range"))?;
    let mut access = AccessToken::new(token, expires_on);
    if let Some(refresh_on) = field("refresh_in")?.and_then(later) {
        if refresh_on < expires_on {
            access = access.with_refresh_on(refresh_on);
        }
    }
    Ok(access)
}

/// Reads a 4xx/5xx body for its message: only the fields meant for people, scrubbed of
/// `secrets` and of anything JWT-shaped; never the raw body.
pub(crate) fn error_message(status: u16, body: &[u8], secrets: &[&str]) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let message = json.as_ref().and_then(|json| {
        text(json.get("error_description"))
            .or_else(|| text(json.get("message")))
            .or_else(|| text(json.pointer("/error/message")))
            .or_else(|| text(json.get("error")))
    });
    match message.map(|m| excerpt(&m, secrets)).filter(|m| !m.is_empty()) {
        Some(message) => format!("the token service answered {status}: {message}"),
        None => format!("the token service answered {status}"),
    }
}

pub(crate) fn seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn read(body: &str) -> Result<AccessToken, String> {
        parse("test", body.as_bytes(), UNIX_EPOCH + NOW).map_err(|e| e.to_string())
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn lifetimes_in_every_shape() -> Result<(), String> {
        let token = read(r#"{"access_token":"t","expires_in":3599,"refresh_in":1800}"#)?;
        assert_eq!(token.expires_on(), at(1_700_003_599));
        assert_eq!(token.refresh_on(), Some(at(1_700_001_800)));
        assert_eq!(token.token().expose(), "t");
        let token = read(r#"{"access_token":"t","expires_in":"86399","expires_on":"1"}"#)?;
        assert_eq!(token.expires_on(), at(1_700_086_399));
        let token = read(r#"{"access_token":"t","expires_on":"1700000600"}"#)?;
        assert_eq!(token.expires_on(), at(1_700_000_600));
        assert_eq!(token.refresh_on(), None);
        let token = read(r#"{"access_token":"t","expires_on":1700000600,"refresh_in":9999}"#)?;
        assert_eq!(token.refresh_on(), None, "a refresh after expiry is ignored");
        Ok(())
    }

    #[test]
    fn hostile_answers_are_errors() {
        let cases = [
            ("not json", "is not JSON"),
            (r#"{"expires_in":1}"#, "has no `access_token`"),
            (r#"{"access_token":"","expires_in":1}"#, "has no `access_token`"),
            (r#"{"access_token":7,"expires_in":1}"#, "has no `access_token`"),
            (
                r#"{"access_token":"t"}"#,
                "has neither `expires_in` nor `expires_on`",
            ),
            (
                r#"{"access_token":"t","expires_in":-5}"#,
                "has an invalid `expires_in` (want whole seconds)",
            ),
            (
                r#"{"access_token":"t","expires_in":1.5}"#,
                "has an invalid `expires_in` (want whole seconds)",
            ),
            (
                r#"{"access_token":"t","expires_in":1e300}"#,
                "has an invalid `expires_in` (want whole seconds)",
            ),
            (
                r#"{"access_token":"t","expires_in":"99999999999999999999999"}"#,
                "has an invalid `expires_in` (want whole seconds)",
            ),
            (
                r#"{"access_token":"t","expires_on":"10/14/2025 00:00:00 PM +00:00"}"#,
                "has an invalid `expires_on` (want whole seconds)",
            ),
            (
                r#"{"access_token":"t","expires_in":18446744073709551615}"#,
                "has an expiry out of range",
            ),
            (
                r#"{"access_token":"t","expires_in":1,"refresh_in":"soon"}"#,
                "has an invalid `refresh_in` (want whole seconds)",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                read(body).err(),
                Some(format!("test: the token service's answer {want}")),
                "{body}"
            );
        }
    }

    #[test]
    fn error_bodies_keep_only_scrubbed_messages() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret 'hunter2hunter2' for eyJ0eXAiOiJKV1QiLCJhbGci.x"}"#;
        assert_eq!(
            error_message(401, body, &["hunter2hunter2"]),
            "the token service answered 401: AADSTS7000215: Invalid client secret '***' for ***"
        );
        assert_eq!(
            error_message(
                400,
                br#"{"error":{"code":"x","message":"Identity not found"}}"#,
                &[]
            ),
            "the token service answered 400: Identity not found"
        );
        assert_eq!(
            error_message(502, b"<html>hunter2hunter2</html>", &[]),
            "the token service answered 502"
        );
    }
}
