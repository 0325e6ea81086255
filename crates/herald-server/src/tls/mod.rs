//! HTTPS: turns the `[server]` TLS settings into a rustls acceptor. Either
//! a PEM certificate chain and key given by the operator (`tls_cert`,
//! `tls_key`), or for local development a self-signed certificate for
//! localhost that herald makes once in its data directory
//! (`tls_self_signed`, see [`self_signed`]). The certificate's path and
//! SHA-256 fingerprint are kept for the start banner, so a user can check
//! what a client is asked to trust. Serving is [`listener`]'s job.

pub mod listener;
pub mod self_signed;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("tls_cert and tls_key go together: give both (--tls-cert FILE --tls-key FILE)")]
    Incomplete,
    #[error("give either tls_cert/tls_key or tls_self_signed, not both")]
    Conflicting,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a PEM certificate chain ({reason})")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("{path}: not a PEM private key ({reason})")]
    BadKey { path: PathBuf, reason: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What the banner says about the certificate herald serves.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// The PEM file (for a self-signed one, what clients are told to trust).
    pub path: PathBuf,
    /// SHA-256 of the leaf certificate's DER, `AB:CD:…` (as `openssl x509
    /// -fingerprint -sha256` prints it).
    pub sha256_fingerprint: String,
    pub self_signed: bool,
    /// Made by this start (not found from an earlier one).
    pub generated: bool,
}

/// A ready TLS configuration.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub certificate: CertificateInfo,
}

/// The TLS configuration `server` asks for; `None` for plain HTTP.
pub fn from_config(server: &ServerConfig) -> Result<Option<Tls>, TlsError> {
    let (cert, key, self_signed, generated) =
        match (&server.tls_cert, &server.tls_key, server.tls_self_signed) {
            (None, None, false) => return Ok(None),
            (Some(_), _, true) | (_, Some(_), true) => return Err(TlsError::Conflicting),
            (Some(cert), Some(key), false) => (cert.clone(), key.clone(), false, false),
            (None, None, true) => {
                let files = self_signed::ensure(&server.data_dir)?;
                (files.cert, files.key, true, files.generated)
            }
            _ => return Err(TlsError::Incomplete),
        };
    let chain = read_chain(&cert)?;
    let key_der = read_key(&key)?;
    let certificate = CertificateInfo {
        sha256_fingerprint: sha256_fingerprint(&chain[0]),
        path: cert,
        self_signed,
        generated,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    // herald's accept loop speaks HTTP/1.1 only (crate::accept).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        certificate,
    }))
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::BadCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no CERTIFICATE section".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|e| TlsError::BadKey {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(dir: &Path) -> ServerConfig {
        ServerConfig {
            data_dir: dir.to_path_buf(),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn plain_http_needs_nothing_and_half_a_pair_is_refused() {
        let dir = std::env::temp_dir().join(format!("herald-tls-cfg-{}", std::process::id()));
        assert!(from_config(&server(&dir)).unwrap().is_none());
        let half = ServerConfig {
            tls_cert: Some(dir.join("c.pem")),
            ..server(&dir)
        };
        assert!(matches!(from_config(&half), Err(TlsError::Incomplete)));
        let both = ServerConfig {
            tls_self_signed: true,
            ..half
        };
        assert!(matches!(from_config(&both), Err(TlsError::Conflicting)));
    }

    #[test]
    fn a_file_that_is_not_pem_is_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("herald-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), "hello").unwrap();
        std::fs::write(dir.join("k.pem"), "hello").unwrap();
        let config = ServerConfig {
            tls_cert: Some(dir.join("c.pem")),
            tls_key: Some(dir.join("k.pem")),
            ..server(&dir)
        };
        let err = from_config(&config).err().unwrap().to_string();
        assert!(
            err.contains("c.pem") && err.contains("no CERTIFICATE"),
            "{err}"
        );
    }

    #[test]
    fn the_fingerprint_is_colon_separated_sha256() {
        let f = sha256_fingerprint(b"abc");
        assert!(f.starts_with("BA:78:16:BF:"), "{f}");
        assert_eq!(f.len(), 32 * 3 - 1);
    }
}
