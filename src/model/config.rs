//! The model's settings and the view a feed serves: what every room of the model imports,
//! kept apart from the door ([`super::Model`]) so no room imports the door.

use std::sync::Arc;

use super::baseline::Baseline;
use super::check::Check;
use super::endpoint;
use super::update::{EndpointStats, ExceptionCount, Failure};

/// The hasher of the model's hot maps (endpoint names, failures): foldhash, seeded per
/// process (names and error texts come from input). On the ingest bench it measured
/// 3.89 M events/s against 3.56 M/s with the FNV-1a it replaced.
pub type FastHash = foldhash::fast::RandomState;

/// How the timeline is sized (`--report.interval`, `--report.max-intervals`,
/// `--report.max-bytes`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineConfig {
    /// Seconds of input time per interval (0: no timeline is kept).
    pub interval_secs: f64,
    /// Intervals kept before the older half is merged (at least 4).
    pub max_intervals: usize,
    /// Bytes the intervals may hold before the older half is merged.
    pub max_bytes: usize,
}

/// The default interval: 5 s, as Prometheus scrapes a load test.
pub const DEFAULT_INTERVAL_SECS: f64 = 5.0;
/// The default number of intervals: an hour at 5 s; a longer run halves the resolution of
/// its older half.
pub const DEFAULT_MAX_INTERVALS: usize = 720;
/// The default byte budget of a service's intervals.
pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

impl Default for TimelineConfig {
    fn default() -> Self {
        TimelineConfig {
            interval_secs: DEFAULT_INTERVAL_SECS,
            max_intervals: DEFAULT_MAX_INTERVALS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Model settings, fixed at start.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// A service with no update for this long is `stopped` (3 poll intervals).
    pub stale_after_secs: f64,
    /// Cardinality guard: distinct (method, name) per service before folding (`--max-endpoints`).
    pub max_endpoints: usize,
    /// Distinct error texts per endpoint before folding (`--max-errors-per-endpoint`).
    pub max_errors_per_endpoint: usize,
    /// Distinct exception messages per service before folding (`--max-exceptions`).
    pub max_exceptions: usize,
    /// Prometheus bucket upper bounds in seconds, ascending (`--buckets`).
    pub buckets: Arc<[f64]>,
    /// The checks every snapshot judges (`--check`).
    pub checks: Arc<[Check]>,
    /// The `run` label (`--run.id`).
    pub run: RunId,
    /// The run relative thresholds and `regression` compare with (`--baseline`).
    pub baseline: Option<Arc<Baseline>>,
    /// How each service's run over time is kept (`--report.*`).
    pub timeline: TimelineConfig,
}

/// `--run.id`: none, a given id, or one made from the run's start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunId {
    /// No `run` label.
    #[default]
    None,
    /// This id.
    Fixed(Arc<str>),
    /// `auto`: the earliest start of any service, UTC, as `20261202T183647Z`.
    Auto,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            stale_after_secs: 3.0,
            max_endpoints: 2000,
            max_errors_per_endpoint: 20,
            max_exceptions: 200,
            buckets: Arc::from(&endpoint::DEFAULT_BUCKETS[..]),
            checks: Arc::from(Vec::new()),
            run: RunId::None,
            baseline: None,
            timeline: TimelineConfig::default(),
        }
    }
}

impl ModelConfig {
    /// The quantiles the checks ask for that event endpoints do not serve, ascending.
    pub fn check_quantiles(&self) -> Vec<f64> {
        let mut qs: Vec<f64> = self
            .checks
            .iter()
            .flat_map(|c| &c.leaves)
            .filter_map(|l| match l.stat {
                super::check::Stat::Quantile(q) => Some(q),
                _ => None,
            })
            .filter(|q| {
                !endpoint::EVENT_QUANTILES
                    .iter()
                    .any(|s| (s - q).abs() < 1e-9)
            })
            .collect();
        qs.sort_by(f64::total_cmp);
        qs.dedup();
        qs
    }
}

/// What one feed of a service serves.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) endpoints: Vec<EndpointStats>,
    pub(crate) total: Option<EndpointStats>,
    pub(crate) errors: Vec<Failure>,
    pub(crate) exceptions: Vec<ExceptionCount>,
}
