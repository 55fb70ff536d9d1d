//! Azure Resource Manager, for an endpoint connected to by name: the endpoint itself (scoring
//! URI, auth mode, traffic), its two keys, and its AML tokens (docs/access.md). Every call is
//! signed with an Entra token for the management audience, which goes nowhere else.

mod aml_token;
mod answer;

use std::sync::Arc;

use crate::config::{is_loopback_host, parse_url, Origin, ParsedUrl, DEFAULT_ARM_ENDPOINT, ENV_ARM_ENDPOINT};
use crate::credential::{
    scrubbed_excerpt, AccessToken, CachedCredential, HttpFailure, Method, TokenCredential, TokenHttp,
    TokenRequest,
};
use crate::error::{Error, LookupError, LookupOperation, Result};
use crate::secret::ApiKey;

pub(crate) use aml_token::AmlTokenCredential;
pub(crate) use answer::EndpointFacts;

/// The api-version every call carries.
pub(crate) const API_VERSION: &str = "2025-12-01";
/// The audience of Azure Resource Manager in the public cloud.
pub(crate) const MANAGEMENT_SCOPE: &str = "https://management.azure.com/.default";

/// Where an endpoint is: its name and its workspace's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Coordinates {
    pub endpoint: String,
    pub workspace: String,
    pub resource_group: String,
    pub subscription: String,
}

/// One endpoint's API in Azure Resource Manager, signed in. Shared by the client's AML token
/// cache, so its sign-in token is fetched once and refreshed as needed.
pub(crate) struct Arm {
    /// `{base}/subscriptions/…/onlineEndpoints/{name}`.
    endpoint_url: String,
    coordinates: Coordinates,
    http: TokenHttp,
    sign_in: CachedCredential,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm")
            .field("endpoint_url", &self.endpoint_url)
            .field("sign_in", &self.sign_in)
            .finish_non_exhaustive()
    }
}

/// The base URL from `AZUREML_ARM_ENDPOINT` (or the public cloud's): https, or http to loopback
/// (tests), with no path; and the audience its tokens are for.
pub(crate) fn base_url(given: Option<&(String, Origin)>) -> Result<(ParsedUrl, String)> {
    let Some((text, origin)) = given else {
        let parsed =
            parse_url(DEFAULT_ARM_ENDPOINT).map_err(|e| Error::config("arm_endpoint", Origin::Default, e))?;
        return Ok((parsed, MANAGEMENT_SCOPE.to_owned()));
    };
    let bad = || {
        Error::config(
            "arm_endpoint",
            origin.clone(),
            format!(
                "{text:?} is not Azure Resource Manager's URL: give https://host with no path (http \
                 only to 127.0.0.1 or localhost), e.g. {DEFAULT_ARM_ENDPOINT}; unset \
                 {ENV_ARM_ENDPOINT} for the public cloud"
            ),
        )
    };
    let parsed = parse_url(text.trim()).map_err(|_| bad())?;
    let loopback = is_loopback_host(&parsed.host);
    let bare = !parsed.normalized.contains('?') && parsed.path.is_empty();
    if !bare || !(parsed.scheme == "https" || loopback) {
        return Err(bad());
    }
    // A sovereign cloud's audience is its own host; a test server stands in for the public one.
    let scope = if loopback {
        MANAGEMENT_SCOPE.to_owned()
    } else {
        format!("{}/.default", parsed.normalized)
    };
    Ok((parsed, scope))
}

impl Arm {
    /// Signs in with `credential` for `scope` and sends on `http`.
    pub fn new(
        base: &ParsedUrl,
        scope: String,
        coordinates: Coordinates,
        http: TokenHttp,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        let c = &coordinates;
        let endpoint_url = format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}/onlineEndpoints/{}",
            base.normalized, c.subscription, c.resource_group, c.workspace, c.endpoint
        );
        Arm {
            endpoint_url,
            coordinates,
            http,
            sign_in: CachedCredential::new(credential, scope),
        }
    }

    pub fn coordinates(&self) -> &Coordinates {
        &self.coordinates
    }

    /// The endpoint: its scoring URI, auth mode and traffic.
    ///
    /// # Errors
    /// [`Error::Lookup`] when Azure Resource Manager refuses or gives a malformed answer;
    /// [`Error::Credential`] when no sign-in token can be had.
    pub fn endpoint(&self) -> Result<EndpointFacts> {
        let op = LookupOperation::Endpoint;
        let (body, token) = self.call(op, Method::Get, "")?;
        answer::endpoint(&body).map_err(|message| self.bad_answer(op, &message, &token))
    }

    /// The endpoint's primary key and, if it has one, its secondary key.
    ///
    /// # Errors
    /// As [`endpoint`](Self::endpoint), and [`Error::Config`] for a key that cannot go in a
    /// header.
    pub fn keys(&self) -> Result<(ApiKey, Option<ApiKey>)> {
        let op = LookupOperation::ListKeys;
        let (body, token) = self.call(op, Method::Post, "/listKeys")?;
        answer::keys(&body).map_err(|message| self.bad_answer(op, &message, &token))
    }

    /// A new AML token for the endpoint.
    ///
    /// # Errors
    /// As [`endpoint`](Self::endpoint).
    pub fn aml_token(&self) -> Result<AccessToken> {
        let op = LookupOperation::Token;
        let (body, token) = self.call(op, Method::Post, "/token")?;
        answer::aml_token(&body, std::time::SystemTime::now())
            .map_err(|message| self.bad_answer(op, &message, &token))
    }

    /// One signed call; the body of a 2xx answer and the sign-in token (to scrub).
    fn call(&self, op: LookupOperation, method: Method<'_>, suffix: &str) -> Result<(Vec<u8>, AccessToken)> {
        let c = &self.coordinates;
        let token = self.sign_in.token().map_err(|e| {
            Error::from(e.context(&format!(
                "signing in to Azure Resource Manager to look up endpoint `{}` in workspace `{}`",
                c.endpoint, c.workspace
            )))
        })?;
        let authorization = format!("Bearer {}", token.token().expose());
        let url = format!("{}{suffix}", self.endpoint_url);
        let request = TokenRequest {
            url: &url,
            query: &[("api-version", API_VERSION)],
            headers: &[("authorization", &authorization), ("accept", "application/json")],
            method,
            direct: false,
            connect_timeout: None,
        };
        let reply = self.http.send(&request).map_err(|failure| {
            let (HttpFailure::Connect(detail) | HttpFailure::Exchange(detail)) = failure;
            self.error(
                op,
                None,
                None,
                format!("no answer from Azure Resource Manager: {detail}"),
                None,
            )
        })?;
        let secrets = [token.token().expose()];
        let request_id = reply
            .request_id
            .as_deref()
            .map(|id| scrubbed_excerpt(id, &secrets));
        if (200..300).contains(&reply.status) {
            return Ok((reply.body, token));
        }
        if reply.status == 401 {
            // A revoked sign-in token is fetched again next time, not kept.
            self.sign_in.invalidate(&token);
        }
        let (code, message) = answer::error(&reply.body);
        let message = message
            .map(|m| scrubbed_excerpt(&m, &secrets))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "no message".to_owned());
        let code = code.map(|code| scrubbed_excerpt(&code, &secrets));
        Err(self.error(op, Some(reply.status), code, message, request_id))
    }

    fn bad_answer(&self, op: LookupOperation, message: &str, token: &AccessToken) -> Error {
        let message = scrubbed_excerpt(message, &[token.token().expose()]);
        self.error(op, None, None, format!("the answer {message}"), None)
    }

    fn error(
        &self,
        operation: LookupOperation,
        status: Option<u16>,
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    ) -> Error {
        let c = &self.coordinates;
        Error::Lookup(Box::new(LookupError {
            operation,
            endpoint_name: c.endpoint.clone(),
            workspace_name: c.workspace.clone(),
            resource_group: c.resource_group.clone(),
            status,
            code,
            message,
            request_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(text: &str) -> std::result::Result<(String, String), String> {
        base_url(Some(&(text.to_owned(), Origin::Env(ENV_ARM_ENDPOINT))))
            .map(|(url, scope)| (url.normalized, scope))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_base_is_https_or_loopback_http_without_a_path() {
        assert_eq!(
            base("https://management.usgovcloudapi.net/"),
            Ok((
                "https://management.usgovcloudapi.net".into(),
                "https://management.usgovcloudapi.net/.default".into()
            ))
        );
        assert_eq!(
            base("http://127.0.0.1:8080"),
            Ok(("http://127.0.0.1:8080".into(), MANAGEMENT_SCOPE.into()))
        );
        for bad in [
            "http://management.example.com",
            "https://management.azure.com/x",
            "https://management.azure.com?x=1",
            "ftp://x",
            "",
        ] {
            assert_eq!(
                base(bad),
                Err(format!(
                    "invalid `arm_endpoint` (env var AZUREML_ARM_ENDPOINT): {bad:?} is not Azure \
                     Resource Manager's URL: give https://host with no path (http only to \
                     127.0.0.1 or localhost), e.g. https://management.azure.com; unset \
                     AZUREML_ARM_ENDPOINT for the public cloud"
                ))
            );
        }
        let (default, scope) = base_url(None)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (default.normalized.as_str(), scope.as_str()),
            ("https://management.azure.com", MANAGEMENT_SCOPE)
        );
    }
}
