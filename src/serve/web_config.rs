//! `--web.config.file`: the Prometheus exporter-toolkit web configuration.
//!
//! Supported: `tls_server_config` (`cert_file`, `key_file`, PEM; relative paths are taken
//! from the config file's directory, as the toolkit does), `basic_auth_users` (user → bcrypt
//! hash, each checked when the file is read: a malformed hash is refused naming the user and
//! line) and `http_server_config` (`http2: true|false`, and `headers:` with the toolkit's
//! allowed response headers and values). The file is the toolkit's YAML; this reader takes
//! the subset the toolkit documents for these settings: top-level keys, under each one
//! `key: value` per line, and under `headers:` one more level (quotes optional, `#`
//! comments). Settings this build does not implement (client certificates, cipher lists, …)
//! are refused with an error naming the line, never silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Accepted credentials (empty: no authentication), TLS files (none: plain HTTP) and the
/// HTTP server settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    /// `basic_auth_users`: user → bcrypt hash (each a valid hash).
    pub users: BTreeMap<String, String>,
    /// `tls_server_config`: the certificate chain and key, PEM.
    pub tls: Option<TlsFiles>,
    /// `http_server_config.http2` (default true): offer HTTP/2 over TLS (ALPN `h2`).
    pub http2: bool,
    /// `http_server_config.headers`: added to every response.
    pub headers: Vec<(String, String)>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            users: BTreeMap::new(),
            tls: None,
            http2: true,
            headers: Vec::new(),
        }
    }
}

/// The response headers the toolkit allows in `http_server_config.headers`, with their
/// allowed values (case-insensitive; empty: any value).
pub const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Checks one `headers:` entry against [`ALLOWED_HEADERS`].
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let Some((_, values)) = ALLOWED_HEADERS
        .iter()
        .find(|(h, _)| h.eq_ignore_ascii_case(name))
    else {
        let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(h, _)| *h).collect();
        return Err(format!(
            "http_server_config.headers: `{name}` cannot be set (allowed: {})",
            names.join(", ")
        ));
    };
    if !values.is_empty() && !values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        return Err(format!(
            "http_server_config.headers: `{name}` must be one of {}",
            values.join(", ")
        ));
    }
    Ok(())
}

/// The PEM files of `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsFiles {
    /// `cert_file`.
    pub cert: PathBuf,
    /// `key_file`.
    pub key: PathBuf,
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
        let mut config = WebConfig::default();
        let mut tls: Option<(usize, Option<String>, Option<String>)> = None;
        for e in crate::support::yaml::entries(text)? {
            let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
            let (key, value, line) = (e.key.as_str(), e.value.as_str(), e.line);
            if e.is_null {
                // A user with no hash would be a user anyone could be: refused, not skipped.
                if path.as_slice() == ["basic_auth_users"] {
                    return Err((line, format!("user `{key}` has no password hash (a user with none would let anyone in)")));
                }
                // Anything else with no value is as if absent, as Go reads it.
                continue;
            }
            match (path.as_slice(), key) {
                ([], "tls_server_config") if e.is_map => tls = Some((line, None, None)),
                ([], "basic_auth_users" | "http_server_config") if e.is_map => {}
                ([], known @ ("tls_server_config" | "basic_auth_users" | "http_server_config")) => {
                    return Err((
                        line,
                        format!("`{known}` must hold `key: value` lines, one per line; `{value}` is not one (is a space missing after a colon?)"),
                    ))
                }
                ([], other) => {
                    return Err((
                        line,
                        format!("unknown key `{other}` (supported: tls_server_config, basic_auth_users, http_server_config)"),
                    ))
                }
                (["basic_auth_users"], user) => {
                    // A hash has no whitespace: a literal block scalar's final newline
                    // (`alice: |`) is not part of it (the toolkit accepts such a file).
                    let value = value.trim_end();
                    if value.is_empty() {
                        return Err((line, format!("user `{user}` has no password hash (a user with none would let anyone in)")));
                    }
                    if value.parse::<bcrypt::HashParts>().is_err() {
                        return Err((line, format!("user `{user}`: the password is not a valid bcrypt hash ($2a$/$2b$/$2y$, cost, 53 characters of salt and hash)")));
                    }
                    config.users.insert(user.to_owned(), value.to_owned());
                }
                (["tls_server_config"], k) => {
                    let Some((_, cert, tls_key)) = tls.as_mut() else {
                        continue;
                    };
                    match k {
                        "cert_file" => *cert = Some(value.to_owned()),
                        "key_file" => *tls_key = Some(value.to_owned()),
                        "client_auth_type" if value == "NoClientCert" => {}
                        other => {
                            return Err((
                                line,
                                format!("tls_server_config: `{other}` is not supported (supported: cert_file, key_file)"),
                            ))
                        }
                    }
                }
                (["http_server_config"], "http2") => {
                    config.http2 = crate::support::yaml::boolean(value).ok_or_else(|| {
                        (line, format!("http_server_config.http2: `{value}` is not true or false"))
                    })?;
                }
                (["http_server_config"], "headers") if e.is_map => {}
                (["http_server_config", "headers"], name) => {
                    check_header(name, value).map_err(|m| (line, m))?;
                    config.headers.push((name.to_owned(), value.to_owned()));
                }
                (["http_server_config"], other) => {
                    return Err((
                        line,
                        format!("http_server_config: `{other}` is not supported (supported: http2, headers)"),
                    ))
                }
                _ => return Err((line, format!("`{}` is not supported here", e.name()))),
            }
        }
        config.tls = match tls {
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
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_users_are_checked_when_read() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let cfg = WebConfig::parse(&format!(
            "# comment\nbasic_auth_users:\n  alice: '{hash}'\n"
        ))
        .unwrap();
        assert_eq!(cfg.users.get("alice"), Some(&hash));
        let err = WebConfig::parse("basic_auth_users:\n  bob: $2y$10$tooshort\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("user `bob`"), "{}", err.1);
    }

    #[test]
    fn http_server_config() {
        let cfg = WebConfig::parse(
            "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n",
        )
        .unwrap();
        assert!(!cfg.http2);
        assert_eq!(
            cfg.headers,
            vec![
                ("X-Frame-Options".to_owned(), "deny".to_owned()),
                (
                    "Content-Security-Policy".to_owned(),
                    "default-src 'self'".to_owned()
                )
            ]
        );
        for (bad, line) in [
            ("http_server_config:\n  headers:\n    Server: mine\n", 3),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                3,
            ),
            ("http_server_config:\n  http2: maybe\n", 2),
            ("http_server_config:\n  keep_alive: 1\n", 2),
        ] {
            assert_eq!(WebConfig::parse(bad).unwrap_err().0, line, "{bad}");
        }
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
        let err = WebConfig::parse("listen: x\n").unwrap_err();
        assert_eq!(err.0, 1);
    }

    /// A user with no hash — `prom:` alone (YAML null), `prom: ~`, `prom: ""` — is refused
    /// naming its line: skipped, it would leave no user at all, and authentication off.
    #[test]
    fn a_user_without_a_hash_is_refused_not_skipped() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        for empty in ["prom:", "prom: ~", "prom: null", "prom: \"\"", "prom: ''"] {
            let text = format!("basic_auth_users:\n  alice: '{hash}'\n  {empty}\n");
            let err = WebConfig::parse(&text).unwrap_err();
            assert_eq!(err.0, 3, "{empty}");
            assert!(
                err.1.contains("user `prom` has no password hash"),
                "{empty}: {}",
                err.1
            );
        }
        // No users at all is no authentication, as in the toolkit.
        assert!(WebConfig::parse("basic_auth_users:\n")
            .unwrap()
            .users
            .is_empty());
        // `alice:$2b…` with no space after the colon is one scalar, not a user.
        let err = WebConfig::parse(&format!("basic_auth_users:\n  alice:{hash}\n")).unwrap_err();
        assert!(
            err.1.contains("is a space missing after a colon"),
            "{}",
            err.1
        );
    }

    /// Nested aliases ("a billion laughs", 906 bytes once took 5.4 GB) are refused at the
    /// alias that expands past the budget, naming its line, before anything is copied.
    #[test]
    fn an_alias_bomb_is_refused_naming_its_line() {
        let mut text =
            String::from("a: &a {x: 1, y: 1, z: 1, w: 1, v: 1, u: 1, t: 1, s: 1, r: 1}\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .enumerate()
        {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h", "i"][i];
            let nine: Vec<String> = (1..=9).map(|k| format!("k{k}: *{prev}")).collect();
            text.push_str(&format!("{name}: &{name} {{{}}}\n", nine.join(", ")));
        }
        text.push_str("basic_auth_users: *j\n");
        let started = std::time::Instant::now();
        let err = WebConfig::parse(&text).unwrap_err();
        assert!(err.1.contains("aliases expand the file past"), "{}", err.1);
        assert!((2..=11).contains(&err.0), "line {}", err.0);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
