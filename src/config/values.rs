//! The checked value types every flag shares — counts and durations — and the error that
//! names the flag.

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
    /// Nothing to follow.
    #[error(
        "no input: give at least one --csv PATH, --events PATH or --locust.uri URL (see --help)"
    )]
    NoInput,
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

/// Longest accepted `--poll-interval`.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);

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
                && Duration::from_secs_f64(s) <= MAX_POLL_INTERVAL =>
        {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(invalid(
            flag,
            format!("`{text}` is not a duration from 10ms to 1h (e.g. 1s, 500ms)"),
        )),
    }
}
