//! A TLS test server of our own: a CA made for this test run issues a certificate for
//! 127.0.0.1 and localhost, and the keep-alive server speaks HTTPS with it.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::keepalive::{Conn, KeepAliveServer, Reply};

/// A self-signed CA and the server certificate it issued.
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    config: Arc<ServerConfig>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "azureml-endpoint test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA");

        let leaf_key = KeyPair::generate().expect("server key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params")
            .signed_by(&leaf_key, &ca)
            .expect("server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        TestCa {
            ca_pem: ca.pem(),
            config: Arc::new(config),
        }
    }

    /// An HTTPS keep-alive server answering with `respond`.
    pub fn serve(&self, respond: impl Fn(usize) -> Reply + Send + Sync + 'static) -> KeepAliveServer {
        let config = self.config.clone();
        KeepAliveServer::start_with(
            move |tcp| {
                let conn = ServerConnection::new(config.clone()).ok()?;
                Some(Box::new(StreamOwned::new(conn, tcp)) as Box<dyn Conn>)
            },
            move |n, _: &[u8]| respond(n),
        )
    }
}

/// `https://127.0.0.1:port{path}` for a server from [`TestCa::serve`].
pub fn https_url(server: &KeepAliveServer, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", server.port)
}
