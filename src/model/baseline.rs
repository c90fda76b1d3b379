//! The run a check compares with (`--baseline`, `docs/baseline.md`): per service and
//! endpoint the figures a summary JSON holds, read from a file
//! (`crate::parse::summary_json`) or from a Prometheus-compatible store
//! (`crate::source::prometheus`) — the same figures either way.

use std::sync::Arc;

use super::check::Stat;
use super::regression::Latencies;

/// An earlier run's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    /// Where it was read (a path, or a store's URL and run id), as the summary says it.
    pub origin: String,
    /// Its services.
    pub services: Vec<BaselineService>,
}

/// One service of the baseline run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaselineService {
    /// The service.
    pub name: Arc<str>,
    /// Its total row (Locust's `Aggregated`).
    pub total: Option<BaselineRow>,
    /// Its endpoints.
    pub endpoints: Vec<BaselineRow>,
}

/// One row of the baseline run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaselineRow {
    /// The request method or type.
    pub method: Arc<str>,
    /// The name.
    pub name: Arc<str>,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Requests per second over the run.
    pub rps: Option<f64>,
    /// Fastest response, seconds.
    pub min: Option<f64>,
    /// Mean response, seconds.
    pub avg: Option<f64>,
    /// Slowest response, seconds.
    pub max: Option<f64>,
    /// `(quantile, seconds)` served, ascending.
    pub quantiles: Vec<(f64, f64)>,
    /// The latency distribution, where the run had one.
    pub latencies: Option<Latencies>,
}

impl Baseline {
    /// The baseline's service `name`; when neither run has more than one service, the
    /// baseline's only one (a service renamed between runs still compares).
    pub fn service(&self, name: &str, services_now: usize) -> Option<&BaselineService> {
        self.services.iter().find(|s| &*s.name == name).or_else(|| {
            match (&self.services[..], services_now) {
                ([only], 1) => Some(only),
                _ => None,
            }
        })
    }
}

impl BaselineService {
    /// The endpoint `method name`, or the total row for `Aggregated` with an empty method.
    pub fn row(&self, method: &str, name: &str) -> Option<&BaselineRow> {
        if method.is_empty() && name == "Aggregated" {
            if let Some(t) = &self.total {
                return Some(t);
            }
        }
        self.endpoints
            .iter()
            .find(|r| &*r.method == method && &*r.name == name)
    }
}

impl BaselineRow {
    /// The value of `stat` in the baseline run, in base units.
    pub fn statistic(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::Requests => Some(self.requests as f64),
            Stat::Failures => Some(self.failures as f64),
            Stat::FailRatio => {
                (self.requests > 0).then(|| self.failures as f64 / self.requests as f64)
            }
            Stat::Rps => self.rps,
            Stat::Avg => self.avg,
            Stat::Min => self.min,
            Stat::Max => self.max,
            Stat::Quantile(q) => self
                .quantiles
                .iter()
                .find(|(k, v)| (k - q).abs() < 1e-9 && !v.is_nan())
                .map(|&(_, v)| v)
                .or_else(|| self.latencies.as_ref().map(|l| l.quantile(q))),
            Stat::Regression | Stat::PromQl => None,
        }
    }
}
