//! The summary JSON (`--summary.json`, schema in `docs/baseline.md`): the format written at
//! a run's end (`crate::output::summary_json`) and read back as a `--baseline`
//! ([`parse_summary`]). Versioned: a reader refuses a format or version it does not know.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::baseline::{Baseline, BaselineRow, BaselineService};
use crate::model::regression::Latencies;

/// The `format` field.
pub const FORMAT: &str = "locust-exporter-summary";
/// The `version` this exporter writes and reads.
pub const VERSION: u32 = 1;
/// Largest summary file read as a baseline (2,000 endpoints of full histograms are ~30 MB).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryFile {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The run's identity.
    pub run: RunPart,
    /// `passed`, `failed`, `no checks` or `not judged`.
    pub verdict: String,
    /// Each service's figures.
    pub services: Vec<ServicePart>,
    /// Each check's result.
    #[serde(default)]
    pub checks: Vec<CheckPart>,
    /// What was compared with (`--baseline`), when anything was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// The run's identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RunPart {
    /// `--run.id`.
    pub id: Option<String>,
    /// The locustfile, as Locust was given it (where the input says).
    pub locustfile: Option<String>,
    /// The host under test.
    pub host: Option<String>,
    /// Locust's version.
    pub locust_version: Option<String>,
    /// Unix seconds of the first data.
    pub start: Option<f64>,
    /// Unix seconds of the last data.
    pub end: Option<f64>,
    /// How long the run lasted (the longest service's).
    pub seconds: Option<f64>,
}

/// One service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ServicePart {
    /// The service.
    pub name: String,
    /// Its state at the end: `stopped`, `running`, ….
    pub state: String,
    /// How long its run lasted.
    pub run_seconds: Option<f64>,
    /// Its total row (`Aggregated`).
    pub total: Option<RowPart>,
    /// Its endpoints.
    pub endpoints: Vec<RowPart>,
}

/// One row: a service's total or one endpoint. Times in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RowPart {
    /// Request method or type (empty for a total).
    pub method: String,
    /// Name (`Aggregated` for a total).
    pub name: String,
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Requests with a response time.
    #[serde(default)]
    pub timed: u64,
    /// Failures over requests.
    pub fail_ratio: Option<f64>,
    /// Requests per second over the run.
    pub rps: Option<f64>,
    /// Fastest response.
    pub min: Option<f64>,
    /// Mean response.
    pub avg: Option<f64>,
    /// Slowest response.
    pub max: Option<f64>,
    /// Served percentiles, `"0.95": seconds`.
    #[serde(default)]
    pub percentiles: BTreeMap<String, f64>,
    /// Where the percentiles come from: `Locust's _stats.csv percentile`, `events, …`.
    #[serde(default)]
    pub percentiles_from: String,
    /// The latency distribution as a native histogram (event and OTLP input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<HistogramPart>,
    /// Classic cumulative buckets `[le, count]` where the input had only those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classic_buckets: Option<Vec<(f64, u64)>>,
}

/// A native histogram: bucket `i` holds times in (2^((i-1)/2^schema), 2^(i/2^schema)].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HistogramPart {
    /// The schema (6: 1.09 % wide buckets).
    pub schema: i32,
    /// Times at or below this are in `zero_count`.
    pub zero_threshold: f64,
    /// Times at or below `zero_threshold`.
    pub zero_count: u64,
    /// `[index, count]` of every non-empty bucket, ascending.
    pub buckets: Vec<(i32, u64)>,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CheckPart {
    /// The check as written (whitespace removed).
    pub check: String,
    /// `fail` (`--check`) or `warn` (`--check.warn`).
    pub severity: String,
    /// Whether it held.
    pub passed: bool,
    /// Each leaf on each row.
    pub outcomes: Vec<OutcomePart>,
}

/// One leaf judged on one row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct OutcomePart {
    /// The leaf (the comparison) as written.
    pub leaf: String,
    /// The service.
    pub service: String,
    /// The method.
    pub method: String,
    /// The name.
    pub name: String,
    /// `pass`, `fail`, `no data`.
    pub status: String,
    /// The value in base units (regression: the effect, a ratio).
    pub value: Option<f64>,
    /// The threshold it was held to.
    pub threshold: Option<f64>,
    /// The baseline's value (regression: its median).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// This run's median (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    /// 1 − the Holm-adjusted p-value (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Why there is no value, or that the row is new or gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the value came from.
    pub basis: String,
}

/// Why a summary JSON cannot be a baseline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SummaryError {
    /// Not JSON of this schema (serde's message names the line and column).
    #[error("not a locust-exporter summary JSON: {0}")]
    Json(String),
    /// Another format or version.
    #[error("{0}")]
    Version(String),
}

/// Reads a summary JSON as a baseline; `origin` says where it came from.
pub fn parse_summary(bytes: &[u8], origin: &str) -> Result<Baseline, SummaryError> {
    let file: SummaryFile =
        serde_json::from_slice(bytes).map_err(|e| SummaryError::Json(e.to_string()))?;
    if file.format != FORMAT {
        return Err(SummaryError::Version(format!(
            "format is {:?}, not {FORMAT:?}",
            file.format
        )));
    }
    if file.version != VERSION {
        return Err(SummaryError::Version(format!(
            "version {} is not one this exporter reads ({VERSION}): written by a newer exporter?",
            file.version
        )));
    }
    Ok(Baseline {
        origin: origin.to_owned(),
        services: file
            .services
            .iter()
            .map(|s| BaselineService {
                name: Arc::from(s.name.as_str()),
                total: s.total.as_ref().map(row),
                endpoints: s.endpoints.iter().map(row).collect(),
            })
            .collect(),
    })
}

/// The percentiles of a row as `(quantile, seconds)`, ascending.
fn quantiles(r: &RowPart) -> Vec<(f64, f64)> {
    let mut q: Vec<(f64, f64)> = r
        .percentiles
        .iter()
        .filter_map(|(k, v)| Some((k.parse::<f64>().ok()?, *v)))
        .filter(|(k, v)| (0.0..=1.0).contains(k) && v.is_finite())
        .collect();
    q.sort_by(|a, b| a.0.total_cmp(&b.0));
    q
}

fn row(r: &RowPart) -> BaselineRow {
    let qs = quantiles(r);
    let timed = if r.timed > 0 { r.timed } else { r.requests } as f64;
    let latencies = if let Some(h) = &r.histogram {
        Latencies::from_native(
            h.schema,
            h.zero_threshold,
            h.zero_count as f64,
            h.buckets.iter().map(|&(i, n)| (i, n as f64)),
        )
    } else {
        let classic: Option<Vec<(f64, f64)>> = r
            .classic_buckets
            .as_ref()
            .map(|b| b.iter().map(|&(le, c)| (le, c as f64)).collect());
        Latencies::from_summary(classic.as_deref(), &qs, r.min, timed)
    };
    BaselineRow {
        method: Arc::from(r.method.as_str()),
        name: Arc::from(r.name.as_str()),
        requests: r.requests,
        failures: r.failures,
        rps: r.rps,
        min: r.min,
        avg: r.avg,
        max: r.max,
        quantiles: qs,
        latencies,
    }
}
