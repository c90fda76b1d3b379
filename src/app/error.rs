//! What stops the program, and its exit code.

use std::io;

use thiserror::Error;

use crate::config::ConfigError;
use crate::model::judge::CHECKS_FAILED_EXIT_CODE;
use crate::output::DeliveryError;
use crate::serve::web_config::WebConfigError;
use crate::source::ReadError;

/// A failure that stops the program.
#[derive(Debug, Error)]
pub enum AppError {
    /// The listen address cannot be bound. Exit code 1.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address as given.
        address: String,
        /// The OS error.
        source: io::Error,
    },
    /// `--web.config.file` is unusable. Exit code 2.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The configuration cannot be built into inputs. Exit code 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Installing signal handlers or writing `--once`'s output failed. Exit code 1.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// `--once` could not read an input. Exit code 1.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// `--exit-after-stop`: no input gave any data within `--exit-after-stop.wait`. Exit
    /// code 3.
    #[error("no input gave any data within {0:?} (--exit-after-stop.wait)")]
    NoInput(std::time::Duration),
    /// An output's delivery (`--once`'s, or the final one on exit) failed. Exit code 1.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// `--baseline` cannot be read (a file, or a store). Exit code 1.
    #[error("{0}")]
    Baseline(String),
    /// The run ended and this many `--check`s failed. Exit code 99.
    #[error("{0} check(s) failed (the summary above names them)")]
    ChecksFailed(usize),
}

impl AppError {
    /// The process exit code for this error (`docs/configuration.md`).
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::WebConfig(_) | AppError::Config(_) => 2,
            AppError::Bind { .. }
            | AppError::Io { .. }
            | AppError::Read(_)
            | AppError::Delivery(_)
            | AppError::Baseline(_) => 1,
            AppError::NoInput(_) => 3,
            AppError::ChecksFailed(_) => CHECKS_FAILED_EXIT_CODE,
        }
    }
}
