//! `--web.config.file`: the Prometheus exporter-toolkit web configuration.
//!
//! Supported: `tls_server_config` (`cert_file`, `key_file`, PEM; relative paths are taken
//! from the config file's directory, as the toolkit does) and `basic_auth_users` (user →
//! bcrypt hash), checked on every route. The file is the toolkit's YAML; this reader takes
//! the subset the toolkit documents for these settings: top-level keys, and under each one
//! `key: value` per line (quotes optional, `#` comments). Settings this build does not
//! implement (client certificates, cipher lists, …) are refused with an error naming the
//! line, never silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use thiserror::Error;

/// A web config that cannot be used. Exit code 2.
#[derive(Debug, Error, PartialEq)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("--web.config.file: cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A line is not understood.
    #[error("--web.config.file: {path}, line {line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Accepted credentials (empty: no authentication) and TLS files (none: plain HTTP).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    users: BTreeMap<String, String>,
    /// `tls_server_config`: the certificate chain and key, PEM.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsFiles {
    /// `cert_file`.
    pub cert: PathBuf,
    /// `key_file`.
    pub key: PathBuf,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

impl WebConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError::Read {
            path: name.clone(),
            message: e.to_string(),
        })?;
        let mut config =
            WebConfig::parse(&text).map_err(|(line, message)| WebConfigError::Syntax {
                path: name,
                line,
                message,
            })?;
        // Relative certificate paths are relative to the config file, as in the toolkit.
        if let (Some(tls), Some(dir)) = (config.tls.as_mut(), path.parent()) {
            tls.cert = dir.join(&tls.cert);
            tls.key = dir.join(&tls.key);
        }
        Ok(config)
    }

    /// Parses the text of a web config; errors are (line, message).
    pub fn parse(text: &str) -> Result<WebConfig, (usize, String)> {
        let mut users = BTreeMap::new();
        let mut section: Option<String> = None;
        let mut tls: Option<(usize, Option<String>, Option<String>)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split(" #").next().unwrap_or("");
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let indented = line.starts_with(' ') || line.starts_with('\t');
            let Some((key, value)) = line.trim().split_once(':') else {
                return Err((
                    line_no,
                    format!("expected `key: value`, found `{}`", line.trim()),
                ));
            };
            let (key, value) = (unquote(key), unquote(value));
            if !indented {
                match key {
                    "basic_auth_users" | "http_server_config" | "tls_server_config" if value.is_empty() => {
                        if key == "tls_server_config" {
                            tls = Some((line_no, None, None));
                        }
                        section = Some(key.to_owned());
                    }
                    other => {
                        return Err((
                            line_no,
                            format!("unknown key `{other}` (supported: tls_server_config, basic_auth_users)"),
                        ))
                    }
                }
                continue;
            }
            match section.as_deref() {
                Some("basic_auth_users") => {
                    if key.is_empty() || !value.starts_with("$2") {
                        return Err((line_no, format!("user `{key}`: the password must be a bcrypt hash ($2a$/$2b$/$2y$…)")));
                    }
                    users.insert(key.to_owned(), value.to_owned());
                }
                Some("tls_server_config") => {
                    let Some((_, cert, tls_key)) = tls.as_mut() else {
                        continue;
                    };
                    match key {
                        "cert_file" => *cert = Some(value.to_owned()),
                        "key_file" => *tls_key = Some(value.to_owned()),
                        "client_auth_type" if value == "NoClientCert" => {}
                        other => {
                            return Err((
                                line_no,
                                format!("tls_server_config: `{other}` is not supported (supported: cert_file, key_file)"),
                            ))
                        }
                    }
                }
                Some(_) => {}
                None => return Err((line_no, "indented line outside a section".into())),
            }
        }
        let tls = match tls {
            None => None,
            Some((_, Some(cert), Some(key))) => Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }),
            Some((line, _, _)) => {
                return Err((
                    line,
                    "tls_server_config needs both cert_file and key_file".into(),
                ))
            }
        };
        Ok(WebConfig { users, tls })
    }

    /// True if no authentication is configured, or `authorization` (the header's value)
    /// holds Basic credentials of a configured user.
    pub fn authorized(&self, authorization: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        self.users
            .get(user)
            .is_some_and(|hash| bcrypt::verify(password, hash).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_users() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let cfg = WebConfig::parse(&format!(
            "# comment\nbasic_auth_users:\n  alice: '{hash}'\n"
        ))
        .unwrap();
        let header = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(cfg.authorized(Some(&header("alice", "secret"))));
        assert!(!cfg.authorized(Some(&header("alice", "wrong"))));
        assert!(!cfg.authorized(Some(&header("bob", "secret"))));
        assert!(!cfg.authorized(None));
        assert!(WebConfig::default().authorized(None));
    }

    #[test]
    fn tls_files() {
        let cfg =
            WebConfig::parse("tls_server_config:\n  cert_file: c.pem\n  key_file: \"k.pem\"\n")
                .unwrap();
        assert_eq!(
            cfg.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = WebConfig::parse("tls_server_config:\n  cert_file: a\n").unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.contains("needs both"));
        let err = WebConfig::parse("tls_server_config:\n  cert_file: a\n  cipher_suites: x\n")
            .unwrap_err();
        assert_eq!(err.0, 3);
        assert!(err.1.contains("not supported"));
        let err = WebConfig::parse("basic_auth_users:\n  alice: plain\n").unwrap_err();
        assert_eq!(err.0, 2);
    }
}
