//! `--web.config.file`: the Prometheus exporter-toolkit web configuration.
//!
//! Supported: `basic_auth_users` (user → bcrypt hash), checked on every route. The file is
//! the toolkit's YAML; this reader takes the subset the toolkit documents for it: top-level
//! keys, and under `basic_auth_users` one `user: hash` pair per line (quotes optional,
//! `#` comments). `tls_server_config` is recognised and refused with a clear error: this
//! build serves plain HTTP (warp 0.4 has no TLS); terminate TLS in front of it.

use std::collections::BTreeMap;
use std::path::Path;

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

/// Accepted credentials; empty means no authentication.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    users: BTreeMap<String, String>,
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
        WebConfig::parse(&text).map_err(|(line, message)| WebConfigError::Syntax {
            path: name,
            line,
            message,
        })
    }

    /// Parses the text of a web config; errors are (line, message).
    pub fn parse(text: &str) -> Result<WebConfig, (usize, String)> {
        let mut users = BTreeMap::new();
        let mut section: Option<String> = None;
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
                    "basic_auth_users" | "http_server_config" if value.is_empty() => section = Some(key.to_owned()),
                    "tls_server_config" => {
                        return Err((line_no, "tls_server_config is not supported: this build serves plain HTTP; terminate TLS in front of it (basic_auth_users is supported)".into()))
                    }
                    other => return Err((line_no, format!("unknown key `{other}` (supported: basic_auth_users)"))),
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
                Some(_) => {}
                None => return Err((line_no, "indented line outside a section".into())),
            }
        }
        Ok(WebConfig { users })
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
    fn errors_name_the_line() {
        let err = WebConfig::parse("tls_server_config:\n  cert_file: a\n").unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.contains("not supported"));
        let err = WebConfig::parse("basic_auth_users:\n  alice: plain\n").unwrap_err();
        assert_eq!(err.0, 2);
    }
}
