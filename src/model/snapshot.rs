//! The immutable [`Snapshot`] read by scrapes: plain values, quantiles precomputed.
//!
//! It is the contract between the model (and ingest, which adds its self-stats) and
//! `crate::expose`. Nothing in it needs a lock or a clock to read. Endpoints, failures and
//! exceptions are served as the model's own vocabulary types ([`EndpointStats`],
//! [`Failure`], [`ExceptionCount`]).

use std::sync::Arc;

pub use super::baseline::Baseline;
pub use super::cardinality::Folded;
pub use super::check::{Check, Outcome};
pub use super::timeline::{Interval, TimelineShape};
pub use super::update::{EndpointStats, ExceptionCount, Failure, LocustTable, Role, RunInfo};

/// Run state of a service, the `state` label of `locust_state`: inferred from files and
/// events (`missing`, `spawning`, `running`, `stopped`), or Locust's own runner state
/// through its web UI (all of them).
pub use super::update::RunState;
/// Workers of a master as its web UI lists them.
pub use super::update::{WorkerState, WorkerStatus};

/// One service (one `service` label value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceSnapshot {
    /// The `service` label.
    pub name: Arc<str>,
    /// Run state.
    pub state: RunState,
    /// Running users, when known.
    pub users: Option<u64>,
    /// Connected workers, when known (event streams from a master, or its web UI: workers
    /// Locust marks missing are not counted).
    pub workers: Option<u64>,
    /// Each worker of a master, from its web UI.
    pub worker_list: Vec<WorkerStatus>,
    /// The kind of runner, when the input says (a web UI, the plugin's `runner` event).
    pub role: Option<Role>,
    /// Whether the last poll of a Locust web UI worked (`None`: not fed by a web UI).
    pub up: Option<bool>,
    /// The current (≈10 s) percentiles of all requests, `(quantile, ms)`, where an input
    /// gives them (a web UI, or a full-history `_stats_history.csv`).
    pub current_percentiles: Vec<(f64, f64)>,
    /// Endpoints, sorted by (name, method) as Locust sorts them.
    pub endpoints: Vec<EndpointStats>,
    /// The `Aggregated` total (method empty, name `Aggregated`), when known.
    pub total: Option<EndpointStats>,
    /// Failures by (method, name, error), sorted.
    pub errors: Vec<Failure>,
    /// Exceptions by message (cut to 200 characters), sorted.
    pub exceptions: Vec<ExceptionCount>,
    /// Unix seconds of the newest data, when any.
    pub last_update: Option<f64>,
    /// Distinct endpoints, error texts and exception messages folded into `__other__`.
    pub folded: Folded,
    /// The exporter stopped while this run was still live: its last values are partial.
    pub interrupted: bool,
    /// Unix seconds of the run's start: its first data on the input's own clock, else (a
    /// `_stats.csv` alone) its files' first write.
    pub started: Option<f64>,
    /// The run's first and last data on the input's own clock: requests' and batches'
    /// times, the CSV history's ticks with requests, the report's window, a web UI's polls
    /// while Locust said it was running. Never file write times.
    pub span: Option<(f64, f64)>,
    /// Which of Locust's own tables the numbers come from (`None`: request events).
    pub table: Option<LocustTable>,
    /// What the run says of itself (`locust_run_info`).
    pub info: RunInfo,
    /// The run over time, oldest interval first (shared with the model: a snapshot copies
    /// no interval).
    pub timeline: Vec<Arc<Interval>>,
    /// The timeline's interval, budgets bitten and bytes held.
    pub timeline_shape: TimelineShape,
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
    /// Times the input started over: an appended file truncated, replaced or rewritten.
    pub resets: u64,
    /// Events whose time was too far in the future, taken as their arrival time.
    pub clamped: u64,
    /// Lines before the stream's first event that were no event, skipped.
    pub preamble: u64,
    /// The stream ended (stdin closed).
    pub ended: bool,
}

impl Snapshot {
    /// Only `service` and its sources (a Pushgateway group).
    pub fn for_service(&self, service: &str) -> Snapshot {
        Snapshot {
            services: self
                .services
                .iter()
                .filter(|s| &*s.name == service)
                .cloned()
                .collect(),
            sources: self
                .sources
                .iter()
                .filter(|s| s.service == service)
                .cloned()
                .collect(),
            seq: self.seq,
            closed: self.closed,
            run: self.run.clone(),
            checks: self.checks.clone(),
            outcomes: self
                .outcomes
                .iter()
                .filter(|o| &*o.service == service)
                .cloned()
                .collect(),
            baseline: self.baseline.clone(),
            taken_at: self.taken_at,
        }
    }
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
    /// The exporter is stopping: every service is closed (the snapshot final deliveries
    /// send).
    pub closed: bool,
    /// The `run` label every series carries (`--run.id`), once known.
    pub run: Option<Arc<str>>,
    /// The checks (`--check`), in the order given.
    pub checks: Arc<[Check]>,
    /// Each check judged on this snapshot ([`super::judge::evaluate`]).
    pub outcomes: Vec<Outcome>,
    /// The run the checks compare with (`--baseline`), shared.
    pub baseline: Option<Arc<Baseline>>,
    /// Unix seconds (the exporter's clock) at which it was made.
    pub taken_at: f64,
}
