//! TLS for the tests: a self-signed certificate and a web config serving it, `curl` over
//! HTTPS, and HTTP/2 clients over TLS that stall their streams.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A self-signed certificate and key (by the `openssl` command) and a web config serving
/// TLS with them; `None` (skipped loudly) where `openssl` is missing.
pub fn tls_config(dir: &Path) -> Option<std::path::PathBuf> {
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the openssl command is needed in CI"
        );
        eprintln!("\n*** SKIPPED: needs the openssl command ***\n");
        return None;
    }
    let cfg = dir.join("web.yml");
    std::fs::write(
        &cfg,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
    )
    .unwrap();
    Some(cfg)
}

/// `/metrics` over HTTPS (`curl -k`, HTTP/1.1).
pub fn curl_metrics(addr: SocketAddr) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sk", "--http1.1", "--max-time", "10"])
        .arg(format!("https://{addr}/metrics"))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Accepts any certificate: the test talks to its own exporter's self-signed one.
#[derive(Debug)]
struct AnyCert;

mod any_cert {
    use tokio_rustls::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use tokio_rustls::rustls::{DigitallySignedStruct, Error, SignatureScheme};

    impl ServerCertVerifier for super::AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![
                SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::RSA_PKCS1_SHA256,
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::ED25519,
            ]
        }
    }
}

/// An HTTP/2 connection over TLS whose streams get a zero flow-control window: it asks
/// `streams` times for `/metrics` and never lets a byte of a body through.
pub async fn stalled_h2(
    addr: SocketAddr,
    streams: usize,
) -> Option<h2::client::SendRequest<bytes::Bytes>> {
    h2_client(addr, 0, streams).await
}

/// An HTTP/2 connection over TLS whose streams start with a `window`-byte flow-control
/// window, with `streams` requests for `/metrics` left unread.
pub async fn h2_client(
    addr: SocketAddr,
    window: u32,
    streams: usize,
) -> Option<h2::client::SendRequest<bytes::Bytes>> {
    use tokio_rustls::rustls;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
    let tls = connector.connect(name, tcp).await.ok()?;
    let (mut client, conn) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake::<_, bytes::Bytes>(tls)
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    for _ in 0..streams {
        let req = hyper::Request::get(format!("https://{addr}/metrics"))
            .body(())
            .ok()?;
        client = client.ready().await.ok()?;
        let (response, _) = client.send_request(req, true).ok()?;
        tokio::spawn(async move {
            // Headers arrive; the body never can.
            if let Ok(r) = response.await {
                let mut body = r.into_body();
                let _ = body.data().await;
            }
        });
    }
    Some(client)
}
