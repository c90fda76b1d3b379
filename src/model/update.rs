//! The model's vocabulary: what parsers produce, what `Model::apply` consumes and, for the
//! per-endpoint statistics, what a snapshot serves.
//!
//! These are plain values. Parsers (`crate::parse`) are adapters that turn bytes into them;
//! the model never sees bytes, files or clocks. One type per concept: a `_stats.csv` row is
//! an [`EndpointStats`] from the parser to the exposition, a `_failures.csv` row is a
//! [`Failure`] all the way, and so on.

use std::borrow::Cow;
use std::sync::Arc;

use super::exemplar::{Exemplar, TraceRef};
use super::native_histogram::NativeBuckets;
use super::percentile::Precision;

/// The name (and, in the seed set, the method) of Locust's total row.
pub const AGGREGATED: &str = "Aggregated";

/// Exception messages are cut to this many characters (`docs/metrics.md`), wherever they come from.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// Cuts `s` to at most `max` characters.
pub fn cut_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// True for Locust's total row: an empty `Type` and the name `Aggregated` (a user endpoint
/// may be named `Aggregated` too, but it always has a method).
pub fn is_total(method: &str, name: &str) -> bool {
    method.is_empty() && name == AGGREGATED
}

/// Statistics of one (method, name), or of the total: a `_stats.csv` row as parsed, an
/// event-fed endpoint as computed, and what a snapshot serves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointStats {
    /// The `Type` column: request method or custom request type (empty for the total).
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
    /// `(quantile, ms)` pairs, ascending; NaN where unknown (`N/A`).
    pub quantiles: Vec<(f64, f64)>,
    /// Quantiles the checks ask for beyond the served ones (event input), ascending.
    pub more_quantiles: Vec<(f64, f64)>,
    /// How the quantiles were found.
    pub precision: Precision,
    /// Locust's own requests per second over its run (`Requests/s` of `_stats.csv`, its
    /// `total_rps`: requests over the time from the run's start to its last request), where
    /// the input gives it.
    pub total_rps: Option<f64>,
    /// Current requests per second (set by the model).
    pub current_rps: f64,
    /// Current failures per second (set by the model).
    pub current_fail_per_sec: f64,
    /// Requests with a response time (Locust leaves "async" ones out of times).
    pub timed: u64,
    /// Sum of response times, ms (exact for events; `avg × timed` for CSV).
    pub duration_sum_ms: f64,
    /// Total response bytes (exact for events; `avg × requests` for CSV).
    pub content_bytes_total: f64,
    /// Cumulative Prometheus buckets `(le seconds, count)`, event-fed endpoints only.
    pub buckets: Option<Vec<(f64, u64)>>,
    /// The native histogram of response times, event-fed endpoints only.
    pub native: Option<NativeBuckets>,
    /// Unix seconds since when the counters count (OpenMetrics `_created`), where known:
    /// an event-fed endpoint's first request.
    pub created: Option<f64>,
    /// Traced requests to show on the histogram's buckets (`super::exemplar`), by value
    /// ascending; event-fed endpoints whose input carries trace ids only.
    pub exemplars: Vec<Exemplar>,
}

impl EndpointStats {
    /// Merges `row` into this folded row (`__other__`, or rows whose labels became the
    /// same when cut): sums, weighted means, min of mins, max of maxes and of percentiles
    /// (an upper bound). Every field of the row is named, so a new field does not compile
    /// until it says how folded rows combine.
    pub fn merge_folded(&mut self, row: &EndpointStats) {
        let EndpointStats {
            // The folded row keeps its own key.
            method: _,
            name: _,
            requests,
            failures,
            median_ms,
            avg_ms,
            min_ms,
            max_ms,
            avg_content_bytes,
            quantiles,
            // Event input only: a CSV row has none.
            more_quantiles: _,
            // A Locust table's rows all have the same.
            precision: _,
            total_rps,
            // Current rates come from the folded row's own counter window, after folding.
            current_rps: _,
            current_fail_per_sec: _,
            // Recomputed from the merged counts and means by the CSV feed, after folding.
            timed: _,
            duration_sum_ms: _,
            content_bytes_total: _,
            // Event input only: a CSV row has none.
            buckets: _,
            native: _,
            created: _,
            // Event input only: a CSV row has none.
            exemplars: _,
        } = row;
        let n_acc = self.requests as f64;
        let n_row = *requests as f64;
        let n = n_acc + n_row;
        if n > 0.0 {
            self.avg_ms = (self.avg_ms * n_acc + avg_ms * n_row) / n;
            self.avg_content_bytes =
                (self.avg_content_bytes * n_acc + avg_content_bytes * n_row) / n;
        }
        self.min_ms = match (self.requests, *requests) {
            (0, _) => *min_ms,
            (_, 0) => self.min_ms,
            _ => self.min_ms.min(*min_ms),
        };
        self.max_ms = self.max_ms.max(*max_ms);
        self.median_ms = self.median_ms.max(*median_ms);
        for (a, b) in self.quantiles.iter_mut().zip(quantiles) {
            a.1 = match (a.1.is_nan(), b.1.is_nan()) {
                (false, false) => a.1.max(b.1),
                (true, _) => b.1,
                (false, true) => a.1,
            };
        }
        // Every row's rate is over the same run: rates add up.
        self.total_rps = match (self.total_rps, total_rps) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(*b),
        };
        self.requests += requests;
        self.failures += failures;
    }

    /// The response time at quantile `q` in ms, if that quantile is known.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantiles
            .iter()
            .chain(&self.more_quantiles)
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

/// A complete, validated `_stats.csv` snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsTable {
    /// Per-endpoint rows, in file order.
    pub rows: Vec<EndpointStats>,
    /// The final `Aggregated` row.
    pub total: EndpointStats,
    /// The run's own window, Unix seconds: its first request's and its last request's time
    /// (Locust's end-of-run report says them; `_stats.csv` does not).
    pub window: Option<(f64, f64)>,
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
    /// Current (windowed) requests per second.
    pub current_rps: f64,
    /// Current (windowed) failures per second.
    pub current_fail_per_sec: f64,
    /// The percentile columns `(quantile, ms)` (cumulative, or the current ≈10 s window
    /// with `--csv-full-history` in Locust 2.x); empty where the row says `N/A`.
    pub percentiles: Vec<(f64, f64)>,
    /// `Total Request Count`: requests of the run so far, where the header has it.
    pub total_requests: Option<u64>,
    /// `Total Failure Count`: failures of the run so far, where the header has it.
    pub total_failures: Option<u64>,
    /// The percentile columns are the whole run's (they equal its median and maximum as
    /// Locust rounds them), not a ≈10 s window: Locust 2.47 writes them so in a full
    /// history when its response-times cache is off.
    pub whole_run: bool,
}

impl HistoryRow {
    /// True for the total row.
    pub fn is_total(&self) -> bool {
        is_total(&self.method, &self.name)
    }
}

/// One distinct failure: (method, name, error) and how often it happened (a `_failures.csv`
/// row, or failed request events counted).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Request method.
    pub method: Arc<str>,
    /// Request name.
    pub name: Arc<str>,
    /// The error text, as Locust wrote it.
    pub error: Arc<str>,
    /// Cumulative occurrences.
    pub occurrences: u64,
}

/// One distinct exception message and how often it was raised (an `_exceptions.csv` row, or
/// exception events counted).
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionCount {
    /// `str(exc)`.
    pub message: Arc<str>,
    /// Cumulative count.
    pub count: u64,
}

/// One request, as reported by Locust's `request` event hook, borrowed from the line it was
/// parsed from (the hot path: no allocation unless the text had escapes).
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// Unix seconds when the request was made (or arrived).
    pub time: f64,
    /// `request_type`.
    pub method: Cow<'a, str>,
    /// Request name.
    pub name: Cow<'a, str>,
    /// Response time in ms; `None` for Locust's "async" requests without a time.
    pub response_time_ms: Option<f64>,
    /// Response size in bytes.
    pub response_length: u64,
    /// `None` on success, else the error text.
    pub error: Option<Cow<'a, str>>,
    /// The request's trace context, where the input carries one (an OTLP span's own ids,
    /// an event's `trace_id` and `span_id`).
    pub trace: Option<TraceRef>,
}

/// A producer's aggregate of one endpoint's requests over a flush period (the plugin's
/// `requests` line, `docs/events.md`, "Batches"). The parser checks
/// that its numbers agree with each other before it becomes one.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestBatch<'a> {
    /// Unix seconds at the end of the period.
    pub time: f64,
    /// Unix seconds at its start, where the producer says (OTLP points do).
    pub start: Option<f64>,
    /// `request_type`.
    pub method: Cow<'a, str>,
    /// Request name.
    pub name: Cow<'a, str>,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests by error text (the same text a `request` line's `exception` carries).
    pub errors: Vec<(Cow<'a, str>, u64)>,
    /// Requests with a response time.
    pub timed: u64,
    /// Sum of their response times, ms.
    pub sum_ms: f64,
    /// Smallest response time, ms (0 when `timed` is 0).
    pub min_ms: f64,
    /// Largest response time, ms (0 when `timed` is 0).
    pub max_ms: f64,
    /// Sum of response sizes, bytes.
    pub response_bytes: u64,
    /// Native histogram schema of `buckets` (6..=8).
    pub schema: i32,
    /// Response times at or below the native zero threshold.
    pub zero_count: u64,
    /// `(bucket index at schema, count)`, the rest of the timed requests.
    pub buckets: Vec<(i32, u64)>,
    /// A producer's own classic buckets instead (OTLP explicit-bucket histograms):
    /// `(upper bound in seconds, count)` per bucket, not cumulative, the last bound `+Inf`;
    /// empty for native buckets. With these, `zero_count` and `buckets` are empty.
    pub explicit: Vec<(f64, u64)>,
    /// Traced requests of the batch (OTLP point exemplars, the plugin's `exemplars`).
    pub exemplars: Vec<Exemplar>,
}

/// What a run says of itself, where the input knows (the plugin's `runner` line): the
/// labels of `locust_run_info`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunInfo {
    /// Locust's version.
    pub locust_version: Option<Arc<str>>,
    /// The locustfile(s), as given to `-f`.
    pub locustfile: Option<Arc<str>>,
    /// The host under test (`--host`).
    pub host: Option<Arc<str>>,
}

impl RunInfo {
    /// Fields `newer` knows replace this one's.
    pub fn merge(&mut self, newer: RunInfo) {
        let RunInfo {
            locust_version,
            locustfile,
            host,
        } = newer;
        self.locust_version = locust_version.or(self.locust_version.take());
        self.locustfile = locustfile.or(self.locustfile.take());
        self.host = host.or(self.host.take());
    }
}

/// Which of Locust's own tables a service's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocustTable {
    /// `_stats.csv` (`--csv`).
    StatsCsv,
    /// The end-of-run report (`--json-file`).
    Report,
    /// A web UI's stats (`--locust.uri`).
    WebUi,
}

impl LocustTable {
    /// As a person reads it.
    pub fn describe(self) -> &'static str {
        match self {
            LocustTable::StatsCsv => "Locust's _stats.csv",
            LocustTable::Report => "Locust's --json-file report",
            LocustTable::WebUi => "Locust's web UI",
        }
    }
}

/// What kind of Locust runner an input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A `MasterRunner`: it has workers (the seed serves `locust_slave_count` only then).
    Master,
    /// A `LocalRunner`: no workers at all.
    Standalone,
    /// A `WorkerRunner`.
    Worker,
}

impl Role {
    /// The role named `name` (`master`, `standalone`, `worker`).
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "master" => Some(Role::Master),
            "standalone" | "local" => Some(Role::Standalone),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

/// A run's state: a runner's as its web UI reports it, or a service's as the model derives
/// it from its input (no data yet, data arriving, gone quiet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    /// No data yet.
    #[default]
    Missing,
    /// Waiting for a test to start (web UI).
    Ready,
    /// Adding users (`hatching` before Locust 1.0).
    Spawning,
    /// Running: data keeps arriving.
    Running,
    /// Users are being stopped (web UI).
    Stopping,
    /// No data for a while, the test stopped, or the input ended.
    Stopped,
    /// Locust is shutting down (web UI).
    Cleanup,
}

impl RunState {
    /// Every state, in label order.
    pub const ALL: [RunState; 7] = [
        RunState::Missing,
        RunState::Ready,
        RunState::Spawning,
        RunState::Running,
        RunState::Stopping,
        RunState::Stopped,
        RunState::Cleanup,
    ];

    /// The state Locust's runner calls `name`, if it is one.
    pub fn from_name(name: &str) -> Option<RunState> {
        Some(match name {
            "ready" => RunState::Ready,
            "spawning" | "hatching" => RunState::Spawning,
            "running" => RunState::Running,
            "stopping" => RunState::Stopping,
            "stopped" => RunState::Stopped,
            "cleanup" | "quitting" => RunState::Cleanup,
            _ => return None,
        })
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Missing => "missing",
            RunState::Ready => "ready",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
            RunState::Cleanup => "cleanup",
        }
    }
}

/// A worker's state, as its master's web UI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// One of the runner states.
    Run(RunState),
    /// The worker stopped sending heartbeats.
    Missing,
}

impl WorkerState {
    /// The state Locust calls `name`, if it is one.
    pub fn from_name(name: &str) -> Option<WorkerState> {
        match name {
            "missing" => Some(WorkerState::Missing),
            _ => RunState::from_name(name).map(WorkerState::Run),
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Run(s) => s.as_str(),
            WorkerState::Missing => "missing",
        }
    }
}

/// One worker of a master, as its web UI reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerStatus {
    /// The worker's id (`<hostname>_<uuid>`).
    pub id: Arc<str>,
    /// Its state.
    pub state: WorkerState,
    /// Its users.
    pub user_count: u64,
}

/// Current `(requests/s, failures/s)` of a `(method, name)`.
pub type CurrentRates = ((Arc<str>, Arc<str>), (f64, f64));

/// What a running Locust's web UI says of itself (`/stats/requests`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerStatus {
    /// The runner's state.
    pub state: RunState,
    /// Running users.
    pub user_count: u64,
    /// The workers, on a master (`None`: standalone).
    pub workers: Option<Vec<WorkerStatus>>,
    /// The current (≈10 s window) percentiles of all requests: `(quantile, ms)`.
    pub current_percentiles: Vec<(f64, f64)>,
    /// Current `(requests/s, failures/s)` per (method, name).
    pub rates: Vec<CurrentRates>,
    /// Current `(requests/s, failures/s)` of all requests.
    pub total_rates: Option<(f64, f64)>,
    /// Locust's requests per second over its run (`total_rps`, Locust ≥ 2.45).
    pub total_rps: Option<f64>,
}

/// Everything the model can be told. Requests borrow from their line (`'a`); every other
/// update owns its data.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<'a> {
    /// A complete `_stats.csv` snapshot.
    Stats(StatsTable),
    /// One `_stats_history.csv` row.
    History(HistoryRow),
    /// The history started over (file truncated or replaced, or the header appeared again).
    HistoryReset,
    /// A complete `_failures.csv` snapshot.
    Failures(Vec<Failure>),
    /// A complete `_exceptions.csv` snapshot.
    Exceptions(Vec<ExceptionCount>),
    /// One request event.
    Request(Request<'a>),
    /// A producer's aggregate of one endpoint's requests.
    Requests(Box<RequestBatch<'a>>),
    /// A task raised an exception (event stream); the message is already cut.
    Exception(Arc<str>),
    /// A test started (event stream), at this time when the event says.
    TestStart(Option<f64>),
    /// The test stopped (event stream), at this time when the event says.
    TestStop(Option<f64>),
    /// The current user count (event stream).
    Users(u64),
    /// The current worker count (event stream, on a master).
    Workers(u64),
    /// What kind of Locust runner the input comes from, and what the run says of itself
    /// (event stream: the plugin's `runner` line).
    Role(Role, RunInfo),
    /// Locust's end-of-run report (`--json-file`): the run's exact final numbers, which
    /// replace the last `_stats.csv` (it lags the end by up to a second).
    Final(StatsTable),
    /// The input ended (stdin closed, or `--once` read everything).
    EndOfInput,
    /// The input's file was last written at this time (Unix seconds): the data just applied
    /// is that old, whenever it was read.
    Written(f64),
    /// A Locust web UI answered: its runner's state, users, workers and current rates.
    Runner(RunnerStatus),
    /// A Locust web UI did not answer (or not with its status): it is down.
    RunnerDown,
}
