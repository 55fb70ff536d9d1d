//! An endpoint connected to by name: its coordinates checked, and the Azure Resource Manager
//! client that looks it up, signed in with the right Entra source.

use std::sync::Arc;

use super::{given, InCode};
use crate::arm::{base_url, Arm, Coordinates};
use crate::config::{Origin, ENV_ARM_RESOURCE_GROUP, ENV_ARM_SUBSCRIPTION, ENV_ARM_WORKSPACE_NAME};
use crate::credential::{AuthMode, TokenCredential};
use crate::error::{Error, Result};
use crate::settings::{Setting, Settings};
use crate::transport::{side_http, Trust};

/// Longest name a coordinate may have (Azure's longest, a resource group, is 90).
const MAX_NAME: usize = 90;

/// The endpoint named by `endpoint_name` and its workspace, or `None`. Without an endpoint name
/// the workspace settings mean nothing here (Azure ML sets their env vars on all its compute),
/// so they are dropped rather than saved or shown.
pub(super) fn coordinates(s: &mut Settings) -> Result<Option<Coordinates>> {
    let Some((endpoint, origin)) = given(&s.endpoint_name, "endpoint_name")? else {
        s.workspace_name = Setting::default();
        s.resource_group = Setting::default();
        s.subscription_id = Setting::default();
        return Ok(None);
    };
    check_name("endpoint_name", &endpoint, &origin)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (key, setting, env) in [
        ("workspace_name", &s.workspace_name, ENV_ARM_WORKSPACE_NAME),
        ("resource_group", &s.resource_group, ENV_ARM_RESOURCE_GROUP),
        ("subscription_id", &s.subscription_id, ENV_ARM_SUBSCRIPTION),
    ] {
        match given(setting, key)? {
            Some((value, at)) => {
                check_name(key, &value, &at)?;
                found.push(value);
            }
            None => missing.push(format!("`{key}` (or {env})")),
        }
    }
    let [workspace, resource_group, subscription] = <[String; 3]>::try_from(found).map_err(|_| {
        Error::config(
            "endpoint_name",
            origin.clone(),
            format!(
                "endpoint `{endpoint}` is looked up in its workspace: set {}",
                missing.join(", ")
            ),
        )
    })?;
    Ok(Some(Coordinates {
        endpoint,
        workspace,
        resource_group,
        subscription,
    }))
}

/// A name that can go in an Azure Resource Manager path as it is.
fn check_name(key: &str, value: &str, origin: &Origin) -> Result<()> {
    let fits = !value.is_empty()
        && value.len() <= MAX_NAME
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.()".contains(&b));
    if fits {
        return Ok(());
    }
    Err(Error::config(
        key,
        origin.clone(),
        format!(
            "{value:?} is not an Azure resource name: up to {MAX_NAME} letters, digits, `-`, `_`, \
             `.`, `(` and `)`"
        ),
    ))
}

/// The client that looks the endpoint up, signed in with the credential for Azure Resource
/// Manager given in code, else the one given for the endpoint, else the Entra source `auth`
/// names, else (keys, AML tokens, a mode still to be looked up) the default chain.
pub(super) fn arm(
    coordinates: Coordinates,
    in_code: &InCode,
    auth: Option<AuthMode>,
    client_id: Option<&str>,
    trust: &Trust,
) -> Result<Arm> {
    let (base, scope) = base_url(in_code.arm_endpoint.as_ref())?;
    let http = side_http(&base, trust)?;
    let credential: Arc<dyn TokenCredential> = match (&in_code.arm_credential, &in_code.credential) {
        (Some(credential), _) | (None, Some(credential)) => Arc::clone(credential),
        (None, None) => {
            let mode = auth.filter(|mode| mode.uses_entra()).unwrap_or(AuthMode::Default);
            match mode.credential(client_id, http.clone()) {
                Some(credential) => Arc::from(credential?),
                None => {
                    return Err(Error::config(
                        "auth",
                        Origin::Argument,
                        format!("`{mode}` cannot sign in to Azure Resource Manager"),
                    ))
                }
            }
        }
    };
    Ok(Arm::new(&base, scope, coordinates, http, credential))
}
