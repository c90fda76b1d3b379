//! The checked value types every flag shares — counts and durations — and the error that
//! names the flag.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use thiserror::Error;

use crate::support::http_client::ClientConfigError;

/// A bad flag value. Exit code 2.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// A flag's value is not acceptable.
    #[error("{flag}: {message}")]
    Invalid {
        /// The flag, as typed on the command line.
        flag: &'static str,
        /// What is wrong, naming the value.
        message: String,
    },
    /// A client settings file (`--push.config.file`, …) is unusable.
    #[error(transparent)]
    Client(#[from] ClientConfigError),
}

/// The error for `flag` with `message` (which names the value).
pub fn invalid(flag: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        message: message.into(),
    }
}

/// Longest duration any duration flag takes (`--poll-interval`, the timeouts, …).
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// A whole number ≥ 1.
pub fn count(flag: &'static str, text: &str) -> Result<usize, ConfigError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| invalid(flag, format!("`{text}` is not a whole number ≥ 1")))
}

/// `1s`, `500ms`, `2.5s`, `1m`, `1h`: a number and a unit (a bare number is refused: is
/// `5` seconds or milliseconds?).
pub fn duration(flag: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return Err(invalid(
            flag,
            format!("`{text}` has no unit: write e.g. {text}s or {text}ms"),
        ));
    };
    let secs = number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s > 0.0);
    match secs {
        Some(s)
            if Duration::from_secs_f64(s) >= Duration::from_millis(10)
                && Duration::from_secs_f64(s) <= MAX_DURATION =>
        {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(invalid(
            flag,
            format!("`{text}` is not a duration from 10ms to 1h (e.g. 1s, 500ms)"),
        )),
    }
}

/// A size: a whole number of bytes with an optional unit, `B`, `KiB`/`KB`, `MiB`/`MB`,
/// `GiB`/`GB` (binary multiples either way: `64MB` is 64 MiB), at least 1 KiB.
pub fn bytes(flag: &'static str, text: &str) -> Result<u64, ConfigError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n >= 1 << 10)
        .ok_or_else(|| {
            invalid(
                flag,
                format!("`{text}` is not a size of at least 1KiB (e.g. 64MiB, 512KiB)"),
            )
        })
}

/// An address to listen on, given to `flag` (which its error names).
pub fn listen_address_of(flag: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    if let Ok(a) = full.parse() {
        return Ok(a);
    }
    full.to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| invalid(flag, format!("`{text}` is not HOST:PORT or :PORT")))
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("--x", "64MiB").unwrap(), 64 << 20);
        assert_eq!(bytes("--x", "64MB").unwrap(), 64 << 20);
        assert_eq!(bytes("--x", "2048").unwrap(), 2048);
        assert_eq!(bytes("--x", " 1 GiB ").unwrap(), 1 << 30);
        for bad in [
            "",
            "12",
            "1.5MiB",
            "-1MiB",
            "5 parsecs",
            "99999999999999999999GiB",
        ] {
            let e = bytes("--x", bad).unwrap_err().to_string();
            assert!(e.contains("--x") && e.contains("1KiB"), "{bad}: {e}");
        }
    }
}
