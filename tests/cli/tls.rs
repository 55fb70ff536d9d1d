//! The CLI over HTTPS: `--ca-cert`, `AZUREML_CA_BUNDLE`, and the error without them.

use std::ffi::OsStr;

use crate::support::cli::{outcome, run, run_with};
use crate::support::keepalive::Reply;
use crate::support::tls::{https_url, TestCa};
use crate::support::TempDir;

const OK: &str = r#"[{"0": "done"}]"#;

#[test]
fn ca_cert_flag_and_env_var_trust_the_ca_and_without_them_tls_fails_clearly() {
    let ca = TestCa::new();
    let server = ca.serve(|_| Reply::new(200, OK));
    let dir = TempDir::new("cli-tls");
    let pem = dir.join("corp-ca.pem");
    std::fs::write(&pem, &ca.ca_pem).unwrap();
    let url = https_url(&server, "/score");
    let call = ["complete", "--url", &url, "--formatter", "gpt2"];

    let with_flag = [&call[..], &["--ca-cert", pem.to_str().unwrap(), "x"]].concat();
    assert_eq!(
        outcome(&run(&with_flag)),
        (Some(0), "done\n".into(), String::new())
    );

    let with_env = [&call[..], &["x"]].concat();
    let env = [("AZUREML_CA_BUNDLE", pem.as_os_str())];
    assert_eq!(
        outcome(&run_with(&with_env, b"", &env)),
        (Some(0), "done\n".into(), String::new())
    );

    let (code, out, err) = outcome(&run(&with_env));
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(err.contains("TLS failed with 127.0.0.1: "), "{err}");
    assert!(
        err.contains("--ca-cert FILE, AZUREML_CA_BUNDLE, or --os-trust-store"),
        "{err}"
    );
    assert!(!err.contains("retry later"), "{err}");
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_missing_ca_file_is_named() {
    let missing = OsStr::new("/nonexistent/corp-ca.pem");
    let args = [
        OsStr::new("complete"),
        OsStr::new("--url"),
        OsStr::new("https://e.eastus2.inference.ml.azure.com/score"),
        OsStr::new("x"),
    ];
    let (code, out, err) = outcome(&run_with(&args, b"", &[("AZUREML_CA_BUNDLE", missing)]));
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(
        err.contains("cannot read CA certificate file /nonexistent/corp-ca.pem: "),
        "{err}"
    );
    assert!(err.contains("AZUREML_CA_BUNDLE"), "{err}");
}
