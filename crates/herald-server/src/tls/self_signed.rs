//! The self-signed certificate for local development: made once for
//! `localhost`, `127.0.0.1` and `::1` into `<data_dir>/tls/`, and reused on
//! every later start (so a client told to trust it keeps trusting it). The
//! key file is readable by its owner only. Clients trust the certificate
//! file itself (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`, curl
//! `--cacert`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair};

use super::TlsError;

/// The names the certificate is valid for.
pub const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the certificate and key are.
pub struct SelfSignedFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Made now (no earlier pair was found).
    pub generated: bool,
}

/// `<data_dir>/tls/self-signed.crt` (the one to trust).
pub fn cert_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("self-signed.crt")
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("self-signed.key")
}

/// The pair in `data_dir`, made first when either file is missing.
pub fn ensure(data_dir: &Path) -> Result<SelfSignedFiles, TlsError> {
    let cert = cert_path(data_dir);
    let key = key_path(data_dir);
    if cert.is_file() && key.is_file() {
        return Ok(SelfSignedFiles {
            cert,
            key,
            generated: false,
        });
    }
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
        path: dir.clone(),
        source,
    })?;
    let mut params = CertificateParams::new(NAMES.map(String::from).to_vec())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "herald (self-signed, localhost)");
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key_pair = KeyPair::generate()?;
    let certificate = params.self_signed(&key_pair)?;
    // The key first and the certificate last: a start that died between
    // the two leaves no certificate, so the next one makes a new pair.
    write_new(&key, key_pair.serialize_pem().as_bytes(), true)?;
    write_new(&cert, certificate.pem().as_bytes(), false)?;
    Ok(SelfSignedFiles {
        cert,
        key,
        generated: true,
    })
}

/// Write `bytes` to `path` through a temporary file renamed into place;
/// `private` makes it readable by its owner only.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    let failed = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("herald-self-signed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = ensure(&dir).unwrap();
        assert!(first.generated);
        let pem = std::fs::read_to_string(&first.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = ensure(&dir).unwrap();
        assert!(!again.generated);
        assert_eq!(std::fs::read_to_string(&again.cert).unwrap(), pem);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
