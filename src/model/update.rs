//! The model's input vocabulary: what parsers produce and `Model::apply` consumes.
//!
//! These are plain values. Parsers (`crate::parse`) are adapters that turn bytes into them;
//! the model never sees bytes, files or clocks.

use std::borrow::Cow;
use std::sync::Arc;

/// Exception messages are cut to this many characters (SPEC §5), wherever they come from.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// Cuts `s` to at most `max` characters.
pub fn cut_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// One row of a Locust `_stats.csv` snapshot (cumulative since the test started).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    /// The `Type` column: request method or custom request type (empty for `Aggregated`).
    pub method: Arc<str>,
    /// The `Name` column.
    pub name: Arc<str>,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Median response time in ms (a bucket, or an exact value when clamped).
    pub median_ms: f64,
    /// Mean response time in ms.
    pub avg_ms: f64,
    /// Exact minimum response time in ms (`0` with no requests).
    pub min_ms: f64,
    /// Exact maximum response time in ms (`0` with no requests).
    pub max_ms: f64,
    /// Mean response size in bytes.
    pub avg_content_bytes: f64,
    /// Percentile columns in ms, aligned with [`StatsTable::quantiles`]; `None` for `N/A`.
    pub percentiles: Vec<Option<f64>>,
}

/// A complete, validated `_stats.csv` snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsTable {
    /// The quantiles of the percentile columns (`50%` → 0.5, `99.9%` → 0.999, `100%` → 1).
    pub quantiles: Arc<[f64]>,
    /// Per-endpoint rows, in file order.
    pub rows: Vec<StatsRow>,
    /// The final `Aggregated` row.
    pub total: StatsRow,
}

/// One row of `_stats_history.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Unix seconds on the writer's clock.
    pub timestamp: f64,
    /// Running users at that moment.
    pub user_count: u64,
    /// Request method, empty for the `Aggregated` row.
    pub method: Arc<str>,
    /// Request name, `Aggregated` for the total row.
    pub name: Arc<str>,
    /// True for the total row (empty `Type`, name `Aggregated`).
    pub aggregated: bool,
    /// Current (windowed) requests per second.
    pub current_rps: f64,
    /// Current (windowed) failures per second.
    pub current_fail_per_sec: f64,
}

/// One row of `_failures.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    /// Request method.
    pub method: Arc<str>,
    /// Request name.
    pub name: Arc<str>,
    /// The error text, as Locust wrote it.
    pub error: Arc<str>,
    /// Cumulative occurrences.
    pub occurrences: u64,
}

/// One row of `_exceptions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRow {
    /// Cumulative count.
    pub count: u64,
    /// `str(exc)`.
    pub message: Arc<str>,
    /// The formatted stack (multi-line).
    pub traceback: Arc<str>,
    /// `local`, or the worker ids.
    pub nodes: Arc<str>,
}

/// One request, as reported by Locust's `request` event hook.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    /// Unix seconds when the request was made (or arrived).
    pub time: f64,
    /// `request_type`.
    pub method: Arc<str>,
    /// Request name.
    pub name: Arc<str>,
    /// Response time in ms; `None` for Locust's "async" requests without a time.
    pub response_time_ms: Option<f64>,
    /// Response size in bytes.
    pub response_length: u64,
    /// `None` on success, else the error text.
    pub error: Option<Arc<str>>,
}

/// One request, borrowed from the line it was parsed from (the hot path: no allocation
/// unless the text had escapes).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRef<'a> {
    /// Unix seconds when the request was made (or arrived).
    pub time: f64,
    /// `request_type`.
    pub method: Cow<'a, str>,
    /// Request name.
    pub name: Cow<'a, str>,
    /// Response time in ms; `None` for requests without a time.
    pub response_time_ms: Option<f64>,
    /// Response size in bytes.
    pub response_length: u64,
    /// `None` on success, else the error text.
    pub error: Option<Cow<'a, str>>,
}

impl RequestEvent {
    /// A borrowed view.
    pub fn borrowed(&self) -> RequestRef<'_> {
        RequestRef {
            time: self.time,
            method: Cow::Borrowed(&self.method),
            name: Cow::Borrowed(&self.name),
            response_time_ms: self.response_time_ms,
            response_length: self.response_length,
            error: self.error.as_deref().map(Cow::Borrowed),
        }
    }
}

/// Everything the model can be told.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A complete `_stats.csv` snapshot.
    Stats(StatsTable),
    /// One `_stats_history.csv` row.
    History(HistoryRow),
    /// The history started over (file truncated or replaced, or the header appeared again).
    HistoryReset,
    /// A complete `_failures.csv` snapshot.
    Failures(Vec<FailureRow>),
    /// A complete `_exceptions.csv` snapshot.
    Exceptions(Vec<ExceptionRow>),
    /// One request event.
    Request(RequestEvent),
    /// A task raised an exception (event stream).
    Exception {
        /// `str(exc)`.
        message: Arc<str>,
    },
    /// A test started (event stream): a new run begins.
    TestStart,
    /// The test stopped (event stream).
    TestStop,
    /// The current user count (event stream).
    Users(u64),
    /// The current worker count (event stream, on a master).
    Workers(u64),
    /// The input ended (stdin closed, or `--once` read everything).
    EndOfInput,
}
