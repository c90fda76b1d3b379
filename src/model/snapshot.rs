//! The immutable [`Snapshot`] read by scrapes: plain values, quantiles precomputed.
//!
//! It is the contract between the model (and ingest, which adds its self-stats) and
//! `crate::expose`. Nothing in it needs a lock or a clock to read.

use std::sync::Arc;

/// Run state of a service (SPEC §4), the `state` label of `locust_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// No data yet.
    Missing,
    /// Users are being added.
    Spawning,
    /// Data keeps arriving.
    Running,
    /// No data for a while, the test stopped, or the input ended.
    Stopped,
}

impl RunState {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Missing => "missing",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopped => "stopped",
        }
    }
}

/// One endpoint (or the `Aggregated` total) as served.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSnapshot {
    /// Request method (`Aggregated` is not used here: the total is [`ServiceSnapshot::total`]).
    pub method: Arc<str>,
    /// Request name.
    pub name: Arc<str>,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Mean response time, ms.
    pub avg_ms: f64,
    /// Minimum response time, ms (0 with no requests).
    pub min_ms: f64,
    /// Maximum response time, ms.
    pub max_ms: f64,
    /// Median response time, ms.
    pub median_ms: f64,
    /// Mean response size, bytes.
    pub avg_content_bytes: f64,
    /// Current requests per second.
    pub current_rps: f64,
    /// Current failures per second.
    pub current_fail_per_sec: f64,
    /// `(quantile, ms)` pairs; the value is NaN where unknown (`N/A`).
    pub quantiles: Vec<(f64, f64)>,
    /// Sum of response times, ms (exact for events; `avg × count` for CSV).
    pub duration_sum_ms: f64,
    /// Total response bytes (exact for events; `avg × count` for CSV).
    pub content_bytes_total: f64,
    /// Requests with a response time (the histogram's count; event-fed endpoints).
    pub timed: u64,
    /// Cumulative Prometheus buckets `(le seconds, count)`, event-fed endpoints only.
    pub buckets: Option<Vec<(f64, u64)>>,
}

impl EndpointSnapshot {
    /// The response time at quantile `q` in ms, if that quantile is known.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantiles
            .iter()
            .find(|(k, _)| (*k - q).abs() < 1e-9)
            .map(|(_, v)| *v)
    }

    /// Failures over requests (Locust's `fail_ratio`: 1 when there are failures but no requests).
    pub fn fail_ratio(&self) -> f64 {
        if self.requests > 0 {
            self.failures as f64 / self.requests as f64
        } else if self.failures > 0 {
            1.0
        } else {
            0.0
        }
    }
}

/// One distinct failure: (method, name, error) and how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSnapshot {
    /// Request method.
    pub method: Arc<str>,
    /// Request name.
    pub name: Arc<str>,
    /// Error text.
    pub error: Arc<str>,
    /// Occurrences.
    pub occurrences: u64,
}

/// One distinct exception message and its count.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionSnapshot {
    /// The message (`str(exc)`).
    pub message: Arc<str>,
    /// How often it was raised.
    pub count: u64,
}

/// One service (one `service` label value).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    /// The `service` label.
    pub name: Arc<str>,
    /// Run state.
    pub state: RunState,
    /// Running users, when known.
    pub users: Option<u64>,
    /// Connected workers, when known (event streams from a master).
    pub workers: Option<u64>,
    /// Endpoints, sorted by (name, method) as Locust sorts them.
    pub endpoints: Vec<EndpointSnapshot>,
    /// The `Aggregated` total, when known.
    pub total: Option<EndpointSnapshot>,
    /// Failures by (method, name, error).
    pub errors: Vec<ErrorSnapshot>,
    /// Exceptions by message.
    pub exceptions: Vec<ExceptionSnapshot>,
    /// Unix seconds of the newest data, when any.
    pub last_update: Option<f64>,
    /// Distinct endpoints folded into `__other__` by the cardinality guard.
    pub endpoints_dropped: u64,
}

/// Health and counters of one input (a file or a stream), for the self-metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceStatus {
    /// The `source` label: the file path, or `stdin`.
    pub source: String,
    /// The service it feeds.
    pub service: String,
    /// Present and its last read parsed.
    pub up: bool,
    /// Lines (CSV records or JSON lines) read and parsed.
    pub lines: u64,
    /// Rejected reads and lines by reason, sorted by reason.
    pub parse_errors: Vec<(&'static str, u64)>,
    /// Events with an `event` this version does not know, skipped.
    pub unknown_events: u64,
}

/// Everything a scrape serves, at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Services, sorted by name.
    pub services: Vec<ServiceSnapshot>,
    /// Inputs, sorted by source.
    pub sources: Vec<SourceStatus>,
    /// How many snapshots the ingest task published before this one (0: none yet).
    pub seq: u64,
}
