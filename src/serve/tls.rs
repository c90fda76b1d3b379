//! TLS for `--web.config.file`'s `tls_server_config`: rustls (ring provider). The accept
//! loop in [`super::server`] handshakes each connection with this acceptor and serves the
//! same service over it; ALPN offers HTTP/2 unless `http_server_config.http2` is false.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use super::web_config::{TlsFiles, WebConfigError};

fn invalid(path: &std::path::Path, message: impl std::fmt::Display) -> WebConfigError {
    WebConfigError::Read {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Loads the certificate chain and key and builds the acceptor (errors name the file);
/// `http2` adds `h2` to the ALPN protocols.
pub fn acceptor(files: &TlsFiles, http2: bool) -> Result<TlsAcceptor, WebConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| invalid(&files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(&files.cert, e))?;
    if certs.is_empty() {
        return Err(invalid(&files.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| invalid(&files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&files.cert, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            invalid(
                &files.key,
                format!("the key does not fit the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}
