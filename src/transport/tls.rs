//! Which certificate authorities the client trusts: Mozilla's roots (the default), CA
//! certificates the user gives (a corporate TLS-inspecting proxy's CA), or the OS trust store.

use std::io::Read;
use std::path::PathBuf;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::config::Origin;
use crate::error::{Error, Result};

/// The settings key CA errors name.
const KEY: &str = "ca_certificates";
/// A CA bundle is a few hundred KB at most (Mozilla's whole set is ~220 KB).
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// CA certificates in PEM, given in code or as a file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CaCertificates {
    Pem(Vec<u8>),
    File(PathBuf),
}

/// What the client trusts. The default is Mozilla's roots.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trust {
    /// When not empty, these CAs replace Mozilla's roots.
    pub extra: Vec<(CaCertificates, Origin)>,
    /// Verify with the operating system's verifier and trust store instead.
    pub os_store: bool,
}

impl Trust {
    /// The files among the CA certificates, as given.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let file = |(given, _): &(CaCertificates, Origin)| match given {
            CaCertificates::File(path) => Some(path.clone()),
            CaCertificates::Pem(_) => None,
        };
        self.extra.iter().filter_map(file).collect()
    }

    /// The TLS settings, with every certificate file read and parsed now, so a bad one is a
    /// config error at `build()`, not a failed request later.
    pub(super) fn tls_config(&self) -> Result<TlsConfig> {
        let roots = match (self.os_store, self.extra.as_slice()) {
            (false, []) => RootCerts::WebPki,
            (true, []) => RootCerts::PlatformVerifier,
            (true, [(_, source), ..]) => {
                return Err(Error::config(
                    KEY,
                    source.clone(),
                    "extra CA certificates and the OS trust store cannot be combined (the OS \
                     verifier only trusts its own store): install the CA in the OS store, or \
                     leave the OS trust store off",
                ))
            }
            (false, extra) => {
                let mut certs = Vec::new();
                for (given, source) in extra {
                    certs.extend(read(given, source)?);
                }
                RootCerts::new_with_certs(&certs)
            }
        };
        Ok(TlsConfig::builder().root_certs(roots).build())
    }
}

/// The certificates in one PEM bundle; an unreadable, empty or malformed one is an error naming
/// it.
fn read(given: &CaCertificates, source: &Origin) -> Result<Vec<Certificate<'static>>> {
    let fail = |message: String| Error::config(KEY, source.clone(), message);
    let (name, bytes) = match given {
        CaCertificates::Pem(pem) => ("the PEM given in code".to_owned(), pem.clone()),
        CaCertificates::File(path) => {
            let name = format!("CA certificate file {}", path.display());
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .and_then(|file| {
                    file.take(MAX_BUNDLE_BYTES.saturating_add(1))
                        .read_to_end(&mut bytes)
                })
                .map_err(|e| fail(format!("cannot read {name}: {e}")))?;
            if u64::try_from(bytes.len()).map_or(true, |len| len > MAX_BUNDLE_BYTES) {
                return Err(fail(format!(
                    "{name} is larger than {} MiB: not a CA bundle",
                    MAX_BUNDLE_BYTES / 1024 / 1024
                )));
            }
            (name, bytes)
        }
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(fail(format!("{name} is not valid PEM: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(fail(format!(
            "{name} has no certificate: give the CA certificate in PEM form \
             (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}
