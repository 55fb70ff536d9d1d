//! The Entra token endpoint both service-principal flows POST to: `{authority}/{tenant}/oauth2/v2.0/token`.

use std::time::SystemTime;

use super::http::{is_local, HttpFailure, Method, TokenHttp, TokenRequest};
use super::{token_response, AccessToken, CredentialError};

/// The public cloud's authority, used when `AZURE_AUTHORITY_HOST` is unset.
pub(crate) const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";

/// A tenant's token endpoint, checked once when the credential is made.
#[derive(Clone, Debug)]
pub(crate) struct Authority {
    tenant: String,
    token_url: String,
}

impl Authority {
    /// `host` is an https URL (http only for loopback, for tests); `tenant` a GUID or domain.
    pub fn new(source: &'static str, given: &str, tenant: &str) -> Result<Self, CredentialError> {
        let host = given.trim_end_matches('/');
        let secure = host.starts_with("https://") || (host.starts_with("http://") && is_local(host));
        let bare = host
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains(['/', '?', '#', '@']));
        if !secure || !bare {
            return Err(CredentialError::failed(
                source,
                format!("authority host {given:?} is not an https URL without a path; fix AZURE_AUTHORITY_HOST (e.g. {DEFAULT_AUTHORITY_HOST})"),
            ));
        }
        let tenant_ok = !tenant.is_empty()
            && tenant.len() <= 256
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !tenant.starts_with('.');
        if !tenant_ok {
            return Err(CredentialError::failed(
                source,
                format!("tenant id {tenant:?} is not a tenant GUID or domain; fix AZURE_TENANT_ID"),
            ));
        }
        Ok(Authority {
            tenant: tenant.to_owned(),
            token_url: format!("{host}/{tenant}/oauth2/v2.0/token"),
        })
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Posts the client-credentials grant: `client_id`, `scope` and the proof in `credential`
    /// (a secret or an assertion, scrubbed from any error with everything else in `secrets`).
    pub fn token(
        &self,
        http: &TokenHttp,
        source: &'static str,
        scope: &str,
        client_id: &str,
        credential: (&str, &str),
    ) -> Result<AccessToken, CredentialError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", scope),
        ];
        if credential.0 == "client_assertion" {
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        form.push(credential);
        let request = TokenRequest {
            url: &self.token_url,
            query: &[],
            headers: &[("accept", "application/json")],
            method: Method::Form(&form),
            direct: false,
            connect_timeout: None,
        };
        let reply = http.send(&request).map_err(|failure| {
            let (HttpFailure::Connect(detail) | HttpFailure::Exchange(detail)) = failure;
            CredentialError::failed(
                source,
                format!(
                    "cannot get a token from {}: {detail}; check the network and AZURE_AUTHORITY_HOST",
                    self.token_url
                ),
            )
        })?;
        if !(200..300).contains(&reply.status) {
            let message = token_response::error_message(reply.status, &reply.body, &[credential.1]);
            return Err(CredentialError::failed(
                source,
                format!("{message}; check the tenant, client id and {}", credential.0),
            ));
        }
        token_response::parse(source, &reply.body, SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, tenant: &str) -> Result<String, String> {
        Authority::new("test", host, tenant)
            .map(|a| a.token_url)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn token_url_from_host_and_tenant() {
        assert_eq!(
            url(DEFAULT_AUTHORITY_HOST, "contoso.onmicrosoft.com"),
            Ok("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token".into())
        );
        assert_eq!(
            url("http://127.0.0.1:99", "t-1"),
            Ok("http://127.0.0.1:99/t-1/oauth2/v2.0/token".into())
        );
    }

    #[test]
    fn bad_hosts_and_tenants_are_refused() {
        for host in [
            "http://login.example.com",
            "login.microsoftonline.com",
            "https://",
            "https://a/b",
            "https://u@evil",
        ] {
            assert_eq!(
                url(host, "t"),
                Err(format!("test: authority host {host:?} is not an https URL without a path; fix AZURE_AUTHORITY_HOST (e.g. https://login.microsoftonline.com/)"))
            );
        }
        for tenant in ["", "../common", "t/x", "t?x=1", ".evil"] {
            assert_eq!(
                url(DEFAULT_AUTHORITY_HOST, tenant),
                Err(format!(
                    "test: tenant id {tenant:?} is not a tenant GUID or domain; fix AZURE_TENANT_ID"
                ))
            );
        }
    }
}
