//! The HTTP client of the outputs and inputs that talk to other servers (the Pushgateway,
//! a Locust web UI): hyper over rustls, HTTPS verified by default against Mozilla's roots
//! (built in, so it works in a `FROM scratch` image) plus an optional CA file.
//!
//! Its settings come from a file in the Prometheus HTTP client format (`--push.config.file`,
//! `--locust.config.file`), never from the command line:
//!
//! ```yaml
//! basic_auth:
//!   username: prometheus
//!   password_file: /run/secrets/password   # or password: ...
//! tls_config:
//!   ca_file: ca.pem
//!   cert_file: client.pem                  # client certificate, with key_file
//!   key_file: client.key
//!   insecure_skip_verify: false            # true is logged, loudly
//! authorization:                           # instead of basic_auth
//!   type: Bearer                           # the default
//!   credentials_file: /run/secrets/token   # or credentials: ...
//! headers:                                 # sent with every request
//!   X-Scope-OrgID: load-tests
//! ```
//!
//! Every request is bounded in time; a response body is bounded in size; redirects are not
//! followed (the caller sees the status and `Location`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thiserror::Error;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::{self, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Largest response body read (a Locust web UI's CSV of many endpoints stays well under).
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// A problem with a client settings file. Exit code 2.
#[derive(Debug, Error, PartialEq)]
#[error("{flag}: {path}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct ClientConfigError {
    /// The flag that named the file.
    pub flag: &'static str,
    /// The file (or the file it names).
    pub path: String,
    /// The line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// What a request can fail with.
#[derive(Debug, Error)]
pub enum RequestError {
    /// The URL is not `http(s)://host[:port]/…`.
    #[error("invalid URL `{0}`")]
    Url(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting, TLS or HTTP failed.
    #[error("{0}")]
    Transport(String),
    /// The body was larger than [`MAX_RESPONSE_BYTES`].
    #[error("the response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// Settings of a client, as read from its file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientSettings {
    /// `basic_auth`: (username, password).
    pub basic_auth: Option<(String, String)>,
    /// `tls_config.ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `tls_config.cert_file` and `key_file`.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// `tls_config.insecure_skip_verify`.
    pub insecure_skip_verify: bool,
    /// `authorization`: (type, credentials), e.g. `Bearer` and a token.
    pub authorization: Option<(String, String)>,
    /// `headers`: sent with every request.
    pub headers: Vec<(String, String)>,
}

impl ClientSettings {
    /// Reads `path` for `flag`; relative file names in it are taken from its directory.
    pub fn load(flag: &'static str, path: &Path) -> Result<ClientSettings, ClientConfigError> {
        let err = |line: Option<usize>, message: String| ClientConfigError {
            flag,
            path: path.display().to_string(),
            line,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(None, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let entries = crate::support::yaml::entries(&text).map_err(|(l, m)| err(Some(l), m))?;
        let (mut user, mut password, mut password_file) = (None, None, None);
        let (mut cert, mut key) = (None, None);
        let (mut auth_type, mut credentials, mut credentials_file) = (None, None, None);
        let mut s = ClientSettings::default();
        // A key with no value is as if absent, as Go reads it.
        for e in entries.into_iter().filter(|e| !e.is_null) {
            let at = Some(e.line);
            let flag = crate::support::yaml::boolean(&e.value);
            match (e.name().as_str(), e.value.as_str()) {
                ("basic_auth" | "tls_config" | "authorization" | "headers", _) if e.is_map => {}
                ("authorization.type", v) => auth_type = Some(v.to_owned()),
                ("authorization.credentials", v) => credentials = Some(v.to_owned()),
                ("authorization.credentials_file", v) => {
                    credentials_file = Some((dir.join(v), e.line));
                }
                (name, v) if name.starts_with("headers.") => {
                    let header = &name["headers.".len()..];
                    let valid = hyper::header::HeaderName::from_bytes(header.as_bytes()).is_ok()
                        && HeaderValue::from_str(v).is_ok();
                    let reserved = ["authorization", "content-type", "content-encoding", "content-length", "host"]
                        .iter()
                        .any(|r| header.eq_ignore_ascii_case(r))
                        || header.to_ascii_lowercase().starts_with("x-prometheus-remote-write-");
                    if !valid {
                        return Err(err(at, format!("`{header}: {v}` is not a valid HTTP header")));
                    }
                    if reserved {
                        return Err(err(at, format!("the header `{header}` is set by the exporter (authorization: for credentials)")));
                    }
                    s.headers.push((header.to_owned(), v.to_owned()));
                }
                ("basic_auth.username", v) => user = Some(v.to_owned()),
                ("basic_auth.password", v) => password = Some(v.to_owned()),
                ("basic_auth.password_file", v) => password_file = Some((dir.join(v), e.line)),
                ("tls_config.ca_file", v) => s.ca_file = Some(dir.join(v)),
                ("tls_config.cert_file", v) => cert = Some(dir.join(v)),
                ("tls_config.key_file", v) => key = Some(dir.join(v)),
                ("tls_config.insecure_skip_verify", _) if flag.is_some() => {
                    s.insecure_skip_verify = flag.unwrap_or_default();
                }
                (name, _) => {
                    return Err(err(
                        at,
                        format!("`{name}` is not supported (supported: basic_auth.username, .password, .password_file; authorization.type, .credentials, .credentials_file; tls_config.ca_file, .cert_file, .key_file, .insecure_skip_verify; headers.NAME)"),
                    ))
                }
            }
        }
        if let Some((file, line)) = password_file {
            let p = std::fs::read_to_string(&file)
                .map_err(|e| err(Some(line), format!("password_file {}: {e}", file.display())))?;
            // As Prometheus reads it (common/config: strings.TrimSpace).
            password = Some(p.trim().to_owned());
        }
        s.basic_auth = match (user, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(err(
                    None,
                    "basic_auth needs a username and a password (or password_file)".into(),
                ))
            }
        };
        if let Some((file, line)) = credentials_file {
            let c = std::fs::read_to_string(&file).map_err(|e| {
                err(
                    Some(line),
                    format!("credentials_file {}: {e}", file.display()),
                )
            })?;
            credentials = Some(c.trim().to_owned());
        }
        s.authorization = match (auth_type, credentials) {
            (_, Some(_)) if s.basic_auth.is_some() => {
                return Err(err(
                    None,
                    "basic_auth and authorization are mutually exclusive".into(),
                ));
            }
            (t, Some(c)) => Some((t.unwrap_or_else(|| "Bearer".to_owned()), c)),
            (Some(_), None) => {
                return Err(err(
                    None,
                    "authorization needs credentials (or credentials_file)".into(),
                ))
            }
            (None, None) => None,
        };
        s.client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(err(
                    None,
                    "tls_config needs both cert_file and key_file".into(),
                ))
            }
        };
        Ok(s)
    }
}

/// Accepts any server certificate (`insecure_skip_verify: true`).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// An HTTP(S) client with its credentials.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    authorization: Option<HeaderValue>,
    /// `headers` of the settings file.
    headers: Vec<(hyper::header::HeaderName, HeaderValue)>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with `settings`, each request bounded by `timeout`. `flag` names the flag
    /// in errors about the files the settings name.
    pub fn new(
        flag: &'static str,
        settings: &ClientSettings,
        timeout: Duration,
    ) -> Result<HttpClient, ClientConfigError> {
        let file_err = |path: &Path, message: String| ClientConfigError {
            flag,
            path: path.display().to_string(),
            line: None,
            message,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &settings.ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| file_err(ca, e.to_string()))?;
            if certs.is_empty() {
                return Err(file_err(ca, "no certificate in the file".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| file_err(ca, e.to_string()))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| file_err(Path::new("tls"), e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &settings.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| file_err(cert, e.to_string()))?;
                let key =
                    PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| file_err(cert, e.to_string()))?
            }
        };
        if settings.insecure_skip_verify {
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(AcceptAny(provider)));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let authorization = match (&settings.basic_auth, &settings.authorization) {
            (Some((u, p)), _) => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                HeaderValue::from_str(&format!("Basic {token}")).ok()
            }
            (None, Some((kind, credentials))) => {
                HeaderValue::from_str(&format!("{kind} {credentials}")).ok()
            }
            (None, None) => None,
        };
        let headers = settings
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    hyper::header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        Ok(HttpClient {
            inner,
            authorization,
            headers,
            timeout,
        })
    }

    /// One request: `method` to `url` with `headers` and `body`; the whole exchange within
    /// the client's timeout.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, RequestError> {
        let uri: hyper::Uri = url.parse().map_err(|_| RequestError::Url(url.to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(RequestError::Url(url.to_owned()));
        }
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(auth) = &self.authorization {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        for (k, v) in &self.headers {
            req = req.header(k, v.clone());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| RequestError::Transport(e.to_string()))?;
        let exchange = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| RequestError::Transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        RequestError::TooLarge
                    } else {
                        RequestError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RequestError::Timeout(self.timeout))?
    }
}

/// An error and its sources, joined: hyper's own message is often just "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let cfg = dir.path().join("client.yml");
        std::fs::write(
            &cfg,
            "basic_auth:\n  username: alice\n  password_file: pw\ntls_config:\n  insecure_skip_verify: true\n",
        )
        .unwrap();
        let s = ClientSettings::load("--push.config.file", &cfg).unwrap();
        assert_eq!(s.basic_auth, Some(("alice".into(), "s3cret".into())));
        assert!(s.insecure_skip_verify);
        std::fs::write(&cfg, "basic_auth:\n  username: alice\n  token: x\n").unwrap();
        let e = ClientSettings::load("--push.config.file", &cfg).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("--push.config.file: "), "{e}");
        std::fs::write(&cfg, "basic_auth:\n  username: alice\n").unwrap();
        assert!(ClientSettings::load("--push.config.file", &cfg)
            .unwrap_err()
            .message
            .contains("needs a username and a password"));
    }
}
