//! The HTTP layer's own self-metrics: clients refused or dropped, by reason.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::report::{Kind, Report, SelfMetrics};

/// `locust_exporter_http_client_errors_total{reason}`.
pub const CLIENT_ERRORS: &str = "locust_exporter_http_client_errors_total";

/// Why a client was refused, dropped or denied (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientError {
    /// Over `--web.max-connections`: answered 503 and closed.
    Refused,
    /// The request head did not arrive within `--web.read-header-timeout`.
    HeaderTimeout,
    /// A kept-alive connection idle for `--web.idle-timeout`.
    IdleTimeout,
    /// The client did not read the response for `--web.send-timeout`.
    SendTimeout,
    /// Not HTTP, or an HTTP protocol error.
    Protocol,
    /// The TLS handshake failed or took too long.
    TlsHandshake,
    /// Missing or wrong credentials.
    Unauthorized,
    /// Too many uncached password checks at once.
    AuthThrottled,
    /// Still connected when the server shut down.
    Shutdown,
    /// An idle or silent connection closed to make room for a new one.
    Evicted,
}

impl ClientError {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientError::Refused => "refused",
            ClientError::HeaderTimeout => "header_timeout",
            ClientError::IdleTimeout => "idle_timeout",
            ClientError::SendTimeout => "send_timeout",
            ClientError::Protocol => "protocol",
            ClientError::TlsHandshake => "tls_handshake",
            ClientError::Unauthorized => "unauthorized",
            ClientError::AuthThrottled => "auth_throttled",
            ClientError::Shutdown => "shutdown",
            ClientError::Evicted => "evicted",
        }
    }
}

impl ClientError {
    /// Every reason, in label order.
    pub const ALL: [ClientError; 10] = [
        ClientError::Refused,
        ClientError::HeaderTimeout,
        ClientError::IdleTimeout,
        ClientError::SendTimeout,
        ClientError::Protocol,
        ClientError::TlsHandshake,
        ClientError::Unauthorized,
        ClientError::AuthThrottled,
        ClientError::Shutdown,
        ClientError::Evicted,
    ];
}

/// Counters shared by the accept loop, the connections and the handlers.
#[derive(Debug, Default)]
pub struct HttpStats {
    errors: [AtomicU64; ClientError::ALL.len()],
}

impl HttpStats {
    /// Counts one client error.
    pub fn count(&self, e: ClientError) {
        self.errors[e as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many of `e` so far.
    pub fn get(&self, e: ClientError) -> u64 {
        self.errors[e as usize].load(Ordering::Relaxed)
    }
}

impl SelfMetrics for HttpStats {
    /// Every reason, zeros included, so `rate()` sees a counter from its start.
    fn report(&self, out: &mut dyn Report) {
        out.family(
            CLIENT_ERRORS,
            "HTTP clients refused, dropped or denied, by reason.",
            Kind::Counter,
        );
        for e in ClientError::ALL {
            out.sample(&[("reason", e.as_str())], self.get(e) as f64);
        }
    }
}
