//! Reading Azure Resource Manager's answers: the endpoint, its keys, an AML token and errors.
//! Every field is checked; an error names what is missing, never a value (keys and tokens).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::credential::{seconds, AccessToken, AuthMode};
use crate::secret::ApiKey;

/// Most deployments an endpoint's traffic lists that are kept.
const MAX_DEPLOYMENTS: usize = 64;
/// Longest deployment name kept (Azure allows 32 characters).
const MAX_NAME: usize = 255;

/// What Azure Resource Manager says about an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointFacts {
    pub scoring_uri: String,
    /// `Key`, `AmlToken`, or `Default` for the endpoint's `AADToken` mode (signed in with the
    /// default chain unless `auth` names a source).
    pub auth_mode: AuthMode,
    /// Each deployment and its percent of the traffic.
    pub traffic: Vec<(String, u32)>,
}

/// A 2xx answer that is not what was asked for: what is wrong, without values.
type Bad = String;

fn json(body: &[u8]) -> Result<Value, Bad> {
    serde_json::from_slice(body).map_err(|_| "is not JSON".to_owned())
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `GET …/onlineEndpoints/{name}`.
pub(crate) fn endpoint(body: &[u8]) -> Result<EndpointFacts, Bad> {
    let json = json(body)?;
    let state = text(&json, "/properties/provisioningState");
    let Some(scoring_uri) = text(&json, "/properties/scoringUri") else {
        return Err(match state {
            Some(state) if !state.eq_ignore_ascii_case("Succeeded") => format!(
                "has no scoring URI: the endpoint is `{}`; try again once it is `Succeeded`",
                state.chars().take(MAX_NAME).collect::<String>()
            ),
            _ => "has no `properties.scoringUri`".to_owned(),
        });
    };
    let auth_mode = match text(&json, "/properties/authMode") {
        Some(mode) if mode.eq_ignore_ascii_case("Key") => AuthMode::Key,
        Some(mode) if mode.eq_ignore_ascii_case("AMLToken") => AuthMode::AmlToken,
        Some(mode) if mode.eq_ignore_ascii_case("AADToken") => AuthMode::Default,
        Some(_) => {
            return Err("has an unknown `properties.authMode` (want Key, AMLToken or AADToken)".into())
        }
        None => return Err("has no `properties.authMode`".to_owned()),
    };
    let traffic = json
        .pointer("/properties/traffic")
        .and_then(Value::as_object)
        .map(|split| {
            split
                .iter()
                .filter_map(|(name, percent)| {
                    let percent = u32::try_from(percent.as_u64()?).ok()?;
                    Some((name.chars().take(MAX_NAME).collect(), percent))
                })
                .take(MAX_DEPLOYMENTS)
                .collect()
        })
        .unwrap_or_default();
    Ok(EndpointFacts {
        scoring_uri: scoring_uri.trim().to_owned(),
        auth_mode,
        traffic,
    })
}

/// `POST …/listKeys`: the primary key and, when set, the secondary.
pub(crate) fn keys(body: &[u8]) -> Result<(ApiKey, Option<ApiKey>), Bad> {
    let json = json(body)?;
    let primary = text(&json, "/primaryKey").ok_or("has no `primaryKey`")?;
    let secondary = text(&json, "/secondaryKey").map(ApiKey::new);
    Ok((ApiKey::new(primary), secondary))
}

/// `POST …/token`: `accessToken`, valid until `expiryTimeUtc`, refreshed at
/// `refreshAfterTimeUtc` (epoch seconds, numbers or digit strings).
pub(crate) fn aml_token(body: &[u8], now: SystemTime) -> Result<AccessToken, Bad> {
    let json = json(body)?;
    let token = text(&json, "/accessToken").ok_or("has no `accessToken`")?;
    if let Some(kind) = text(&json, "/tokenType") {
        if !kind.eq_ignore_ascii_case("Bearer") {
            return Err("has a `tokenType` other than Bearer".to_owned());
        }
    }
    let at = |name: &str| -> Result<Option<SystemTime>, Bad> {
        match json.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => seconds(value)
                .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
                .map(Some)
                .ok_or_else(|| format!("has an invalid `{name}` (want epoch seconds)")),
        }
    };
    let expires = at("expiryTimeUtc")?.ok_or("has no `expiryTimeUtc`")?;
    if expires <= now {
        return Err("has a token that has already expired (check the clock)".to_owned());
    }
    let mut access = AccessToken::new(token, expires);
    if let Some(refresh) = at("refreshAfterTimeUtc")?.filter(|r| *r < expires) {
        access = access.with_refresh_on(refresh);
    }
    Ok(access)
}

/// An error answer's `error.code` and `error.message`.
pub(crate) fn error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let field = |name: &str| text(&json, &format!("/error/{name}")).map(str::to_owned);
    (field("code"), field("message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn an_endpoint_in_every_mode() {
        let body = br#"{"name": "ep", "properties": {"scoringUri": "https://ep.eastus2.inference.ml.azure.com/score",
            "authMode": "AMLToken", "traffic": {"blue": 90, "green": 10, "bad": -1}, "provisioningState": "Succeeded"}}"#;
        assert_eq!(
            endpoint(body),
            Ok(EndpointFacts {
                scoring_uri: "https://ep.eastus2.inference.ml.azure.com/score".into(),
                auth_mode: AuthMode::AmlToken,
                traffic: vec![("blue".into(), 90), ("green".into(), 10)],
            })
        );
        for (mode, want) in [("key", AuthMode::Key), ("AADToken", AuthMode::Default)] {
            let body = format!(r#"{{"properties": {{"scoringUri": "u", "authMode": "{mode}"}}}}"#);
            assert_eq!(endpoint(body.as_bytes()).map(|f| f.auth_mode), Ok(want));
        }
    }

    #[test]
    fn bad_endpoint_answers_say_what_is_missing() {
        let cases: [(&[u8], &str); 5] = [
            (b"<html>", "is not JSON"),
            (
                br#"{"properties": {"authMode": "Key"}}"#,
                "has no `properties.scoringUri`",
            ),
            (
                br#"{"properties": {"authMode": "Key", "provisioningState": "Creating"}}"#,
                "has no scoring URI: the endpoint is `Creating`; try again once it is `Succeeded`",
            ),
            (
                br#"{"properties": {"scoringUri": "u"}}"#,
                "has no `properties.authMode`",
            ),
            (
                br#"{"properties": {"scoringUri": "u", "authMode": "Magic"}}"#,
                "has an unknown `properties.authMode` (want Key, AMLToken or AADToken)",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(endpoint(body), Err(want.to_owned()));
        }
    }

    #[test]
    fn keys_and_tokens() {
        let (primary, secondary) = keys(br#"{"primaryKey": "p-1", "secondaryKey": "s-2"}"#).unwrap();
        assert_eq!(
            (primary, secondary),
            (ApiKey::new("p-1"), Some(ApiKey::new("s-2")))
        );
        assert_eq!(
            keys(br#"{"primaryKey": "p-1", "secondaryKey": ""}"#).unwrap().1,
            None
        );
        assert_eq!(
            keys(br#"{"secondaryKey": "s"}"#).err().as_deref(),
            Some("has no `primaryKey`")
        );

        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let body = format!(
            r#"{{"accessToken": "aml-1", "tokenType": "Bearer", "expiryTimeUtc": {}, "refreshAfterTimeUtc": "{}"}}"#,
            NOW + 3600,
            NOW + 1800
        );
        let token = aml_token(body.as_bytes(), now).unwrap();
        assert_eq!(token.token().expose(), "aml-1");
        assert_eq!(token.expires_on(), now + Duration::from_secs(3600));
        assert_eq!(token.refresh_on(), Some(now + Duration::from_secs(1800)));
        let cases = [
            (r#"{"expiryTimeUtc": 1}"#.to_owned(), "has no `accessToken`"),
            (r#"{"accessToken": "a"}"#.to_owned(), "has no `expiryTimeUtc`"),
            (
                r#"{"accessToken": "a", "expiryTimeUtc": "soon"}"#.to_owned(),
                "has an invalid `expiryTimeUtc` (want epoch seconds)",
            ),
            (
                r#"{"accessToken": "a", "expiryTimeUtc": 1e300}"#.to_owned(),
                "has an invalid `expiryTimeUtc` (want epoch seconds)",
            ),
            (
                format!(r#"{{"accessToken": "a", "expiryTimeUtc": {NOW}}}"#),
                "has a token that has already expired (check the clock)",
            ),
            (
                format!(
                    r#"{{"accessToken": "a", "tokenType": "PoP", "expiryTimeUtc": {}}}"#,
                    NOW + 9
                ),
                "has a `tokenType` other than Bearer",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                aml_token(body.as_bytes(), now).err().as_deref(),
                Some(want),
                "{body}"
            );
        }
    }

    #[test]
    fn error_answers() {
        assert_eq!(
            error(br#"{"error": {"code": "AuthorizationFailed", "message": "no"}}"#),
            (Some("AuthorizationFailed".into()), Some("no".into()))
        );
        assert_eq!(error(b"oops"), (None, None));
    }
}
