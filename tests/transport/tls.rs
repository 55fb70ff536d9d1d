//! HTTPS to a TLS server of our own with a self-signed CA: trusting it, and not.

use std::path::Path;

use crate::support::keepalive::Reply;
use crate::support::tls::{https_url, TestCa};
use crate::support::KEY;
use crate::support::{gpt2, TempDir};
use azureml_endpoint::{error::TransportErrorKind, Error, Result};

const OK: &str = r#"[{"0": "done"}]"#;

fn builder(url: String) -> azureml_endpoint::AzureMlOnlineEndpointBuilder {
    gpt2(url)
}

fn config_message(error: Error) -> String {
    match error {
        Error::Config(e) => {
            assert_eq!(e.key, "ca_certificates");
            e.message
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn https_with_the_ca_added_works_over_one_connection() -> Result<()> {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let llm = builder(https_url(&server, "/score"))
        .add_root_certificates_pem(ca.ca_pem.clone())
        .build()?;
    for _ in 0..3 {
        assert_eq!(llm.invoke("x")?.text, "done");
    }
    assert_eq!(server.requests(), 3);
    assert_eq!(server.accepted(), 1);
    Ok(())
}

#[test]
fn the_ca_can_come_from_a_file() -> Result<()> {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let dir = TempDir::new("tls");
    let path = dir.join("ca.pem");
    std::fs::write(&path, &ca.ca_pem).unwrap();
    let llm = builder(https_url(&server, "/score"))
        .add_root_certificates_file(&path)
        .build()?;
    assert_eq!(llm.invoke("x")?.text, "done");
    Ok(())
}

#[test]
fn without_the_ca_the_certificate_is_not_trusted_and_not_retried() -> Result<()> {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let llm = builder(https_url(&server, "/score")).max_retries(3).build()?;
    let error = llm.invoke("x").unwrap_err();
    let Error::Transport(t) = &error else {
        panic!("expected a transport error, got {error:?}");
    };
    assert_eq!(t.kind, TransportErrorKind::Tls);
    assert_eq!(t.attempts, 1);
    assert!(!t.may_have_run);
    assert!(
        error.to_string().starts_with("TLS failed with 127.0.0.1: ")
            && error.to_string().contains("UnknownIssuer"),
        "{error}"
    );
    assert_eq!(server.requests(), 0);
    Ok(())
}

#[test]
fn a_different_ca_is_not_trusted_either() -> Result<()> {
    let (ca, other) = (TestCa::new(), TestCa::new());
    let server = ca.serve(|_| Reply::new(200, OK));
    let llm = builder(https_url(&server, "/score"))
        .add_root_certificates_pem(other.ca_pem.clone())
        .build()?;
    let Err(Error::Transport(t)) = llm.invoke("x") else {
        panic!("expected a transport error");
    };
    assert_eq!(t.kind, TransportErrorKind::Tls);
    Ok(())
}

#[test]
fn a_missing_certificate_file_is_a_config_error_naming_it() {
    let path = Path::new("/nonexistent/corp-ca.pem");
    let error = builder("https://e.eastus2.inference.ml.azure.com/score".into())
        .add_root_certificates_file(path)
        .build()
        .unwrap_err();
    let message = config_message(error);
    assert!(
        message.starts_with("cannot read CA certificate file /nonexistent/corp-ca.pem: "),
        "{message}"
    );
}

#[test]
fn an_empty_or_certificate_less_bundle_is_a_config_error() {
    for pem in ["", "just some text\n"] {
        let error = builder("https://e.eastus2.inference.ml.azure.com/score".into())
            .add_root_certificates_pem(pem)
            .build()
            .unwrap_err();
        assert_eq!(
            config_message(error),
            "the PEM given in code has no certificate: give the CA certificate in PEM form \
             (-----BEGIN CERTIFICATE-----)"
        );
    }
}

#[test]
fn a_broken_pem_block_is_a_config_error() {
    let pem = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
    let error = builder("https://e.eastus2.inference.ml.azure.com/score".into())
        .add_root_certificates_pem(pem)
        .build()
        .unwrap_err();
    let message = config_message(error);
    assert!(
        message.starts_with("the PEM given in code is not valid PEM: "),
        "{message}"
    );
}

#[test]
fn extra_cas_and_the_os_store_cannot_be_combined() {
    let ca = TestCa::new();
    let error = builder("https://e.eastus2.inference.ml.azure.com/score".into())
        .add_root_certificates_pem(ca.ca_pem.clone())
        .use_os_trust_store(true)
        .build()
        .unwrap_err();
    assert!(
        config_message(error).starts_with("extra CA certificates and the OS trust store cannot be combined")
    );
}

#[test]
fn the_os_trust_store_does_not_know_the_test_ca() -> Result<()> {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let llm = builder(https_url(&server, "/score"))
        .use_os_trust_store(true)
        .build()?;
    let Err(Error::Transport(t)) = llm.invoke("x") else {
        panic!("expected a transport error");
    };
    assert_eq!(t.kind, TransportErrorKind::Tls);
    Ok(())
}

#[test]
fn a_config_file_names_ca_files_relative_to_itself_and_saves_them() -> Result<()> {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let dir = TempDir::new("tls-config");
    std::fs::write(dir.join("corp-ca.pem"), &ca.ca_pem).unwrap();
    let config = dir.join("llm.json");
    let written = serde_json::json!({
        "_type": "azureml_endpoint",
        "endpoint_url": https_url(&server, "/score"),
        "endpoint_api_key": KEY,
        "formatter": "gpt2",
        "ca_certificates": "corp-ca.pem",
    });
    std::fs::write(&config, written.to_string()).unwrap();
    let llm = azureml_endpoint::load_llm(&config)?.into_completion()?;
    assert_eq!(llm.invoke("x")?.text, "done");
    assert_eq!(llm.config().ca_certificate_files, vec![dir.join("corp-ca.pem")]);

    let saved = dir.join("saved.json");
    llm.save(&saved)?;
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(
        saved["ca_certificates"],
        serde_json::json!([dir.join("corp-ca.pem").to_str().unwrap()])
    );
    assert_eq!(saved.get("use_os_trust_store"), None);
    Ok(())
}

#[test]
fn a_default_client_saves_no_tls_keys() -> Result<()> {
    let dir = TempDir::new("tls-default");
    let path = dir.join("llm.json");
    builder("https://e.eastus2.inference.ml.azure.com/score".into())
        .build()?
        .save(&path)?;
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        (saved.get("ca_certificates"), saved.get("use_os_trust_store")),
        (None, None)
    );
    Ok(())
}
