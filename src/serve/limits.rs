//! A listener's connection limits and timeouts (the `--web.*` flags).

use std::time::Duration;

/// Connection limits and timeouts (`--web.*` flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `--web.max-connections`.
    pub max_connections: usize,
    /// `--web.read-header-timeout`.
    pub read_header_timeout: Duration,
    /// `--web.idle-timeout`.
    pub idle_timeout: Duration,
    /// `--web.send-timeout`.
    pub send_timeout: Duration,
    /// `--web.shutdown-timeout`.
    pub shutdown_timeout: Duration,
    /// `--web.max-response-bytes`.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(3),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Default `--web.max-response-bytes`: bytes of rendered bodies that unsent responses may
/// hold in all.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 << 20;
