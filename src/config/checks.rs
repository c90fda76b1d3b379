//! The checks' flags (`docs/checks.md`, `docs/baseline.md`): `--check`, `--check.warn`,
//! `--check.abort`, `--check.grace`, `--check.prometheus.url`, `--baseline`,
//! `--baseline.run`, `--summary.file`, `--summary.json`, `--junit.file`, `--run.id`,
//! `--report.file` and the report's history (`--report.interval`, `--report.max-intervals`,
//! `--report.max-bytes`),
//! checked (every error names its flag and, for a check, the position of the mistake).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::values::{bytes, count, duration, invalid, ConfigError};
use crate::model::check::Check;
use crate::model::timeline::TimelineConfig;
use crate::model::RunId;

/// The checks' flags, as typed (flattened into [`super::cli::Args`]).
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// A check the run must pass (repeatable): a statistic (pNN, median, avg, min, max,
    /// fail_ratio, rps, requests, failures), an optional selector on name, method or service,
    /// a comparison and a threshold: `p95<500ms`, `fail_ratio<1%`, `p99{name="/cart"}<1s`,
    /// `p95{name=~"/api/.*"}<300ms` (each matching endpoint on its own). At the end of the run
    /// a failed check makes the exit code 99. From the variable: checks separated by commas
    /// outside braces.
    #[arg(long = "check", env = "LOCUST_EXPORTER_CHECK", value_name = "EXPR")]
    pub checks: Vec<String>,

    /// A soft check (repeatable): written as --check, reported everywhere (summary, JUnit,
    /// locust_check_*), never failing the run.
    #[arg(
        long = "check.warn",
        env = "LOCUST_EXPORTER_CHECK_WARN",
        value_name = "EXPR"
    )]
    pub warn_checks: Vec<String>,

    /// The run relative thresholds (`p95<1.1*baseline`) and `regression<5%` compare with:
    /// the --summary.json of an earlier run, or the URL of a Prometheus-compatible query API
    /// (Prometheus, VictoriaMetrics, Mimir, Thanos) with --baseline.run.
    #[arg(
        long = "baseline",
        env = "LOCUST_EXPORTER_BASELINE",
        value_name = "PATH|URL"
    )]
    pub baseline: Option<String>,

    /// With a --baseline URL: the --run.id of the baseline run in that store.
    #[arg(
        long = "baseline.run",
        env = "LOCUST_EXPORTER_BASELINE_RUN",
        value_name = "ID"
    )]
    pub baseline_run: Option<String>,

    /// The Prometheus-compatible query API `promql:` checks ask, over the run's own window.
    #[arg(
        long = "check.prometheus.url",
        env = "LOCUST_EXPORTER_CHECK_PROMETHEUS_URL",
        value_name = "URL"
    )]
    pub prometheus_url: Option<String>,

    /// At the end of the run, write its summary here as JSON (schema: docs/baseline.md):
    /// the run, every endpoint's figures and latency distribution, every check. A later
    /// run's --baseline.
    #[arg(
        long = "summary.json",
        env = "LOCUST_EXPORTER_SUMMARY_JSON",
        value_name = "PATH"
    )]
    pub summary_json: Option<PathBuf>,

    /// Stop the Locust run (through the first --locust.uri) when a check fails after
    /// --check.grace.
    #[arg(
        long = "check.abort",
        env = "LOCUST_EXPORTER_CHECK_ABORT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub abort: bool,

    /// With --check.abort: instead of stopping the run through a web UI, print `abort:
    /// CHECK` as one line on standard output, for the process that started the exporter to
    /// stop its run (the plugin's --exporter-check-abort).
    #[arg(
        long = "check.abort.stdout",
        env = "LOCUST_EXPORTER_CHECK_ABORT_STDOUT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub abort_stdout: bool,

    /// With --check.abort: how long after the run's start a failing check does not stop it.
    #[arg(
        long = "check.grace",
        env = "LOCUST_EXPORTER_CHECK_GRACE",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub grace: String,

    /// At the end of the run, write its summary (endpoints, checks) here as Markdown (for a
    /// CI job summary); the summary always goes to stderr.
    #[arg(
        long = "summary.file",
        env = "LOCUST_EXPORTER_SUMMARY_FILE",
        value_name = "PATH"
    )]
    pub summary_file: Option<PathBuf>,

    /// At the end of the run, write the checks here as JUnit XML (one test case per check).
    #[arg(
        long = "junit.file",
        env = "LOCUST_EXPORTER_JUNIT_FILE",
        value_name = "PATH"
    )]
    pub junit_file: Option<PathBuf>,

    /// A `run` label on every series, so runs stay apart in long-term storage: an id, or
    /// `auto` (the run's start, UTC: 20261202T183647Z).
    #[arg(long = "run.id", env = "LOCUST_EXPORTER_RUN_ID", value_name = "ID")]
    pub run_id: Option<String>,

    /// At the end of the run, write its report here: one self-contained HTML file (the
    /// verdict and checks, every endpoint's figures, charts over time, latency
    /// distributions, errors) that opens offline. The same page is served live at /report.
    #[arg(
        long = "report.file",
        env = "LOCUST_EXPORTER_REPORT_FILE",
        value_name = "PATH"
    )]
    pub report_file: Option<PathBuf>,

    /// The report's resolution over time: one interval per this much of the run's own
    /// time (0: keep no history; the report then has no charts over time).
    #[arg(
        long = "report.interval",
        env = "LOCUST_EXPORTER_REPORT_INTERVAL",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub report_interval: String,

    /// Intervals of history kept per service; past it the older half is merged pair by pair
    /// (an hour at 5 s, then any run length at a resolution halving with age).
    #[arg(
        long = "report.max-intervals",
        env = "LOCUST_EXPORTER_REPORT_MAX_INTERVALS",
        value_name = "N",
        default_value = "720"
    )]
    pub report_max_intervals: String,

    /// Bytes of history kept per service; past it the older half is merged, then the oldest
    /// intervals keep only their totals.
    #[arg(
        long = "report.max-bytes",
        env = "LOCUST_EXPORTER_REPORT_MAX_BYTES",
        value_name = "SIZE",
        default_value = "32MiB"
    )]
    pub report_max_bytes: String,
}

/// The checks' settings, checked.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// `--check`, parsed.
    pub list: Arc<[Check]>,
    /// `--check.abort`.
    pub abort: bool,
    /// `--check.abort.stdout`.
    pub abort_stdout: bool,
    /// `--check.grace`.
    pub grace: Duration,
    /// `--summary.file`.
    pub summary_file: Option<PathBuf>,
    /// `--junit.file`.
    pub junit_file: Option<PathBuf>,
    /// `--run.id`.
    pub run: RunId,
    /// `--baseline` (with `--baseline.run`).
    pub baseline: Option<BaselineSource>,
    /// `--report.file`.
    pub report_file: Option<PathBuf>,
    /// `--report.interval`, `--report.max-intervals`, `--report.max-bytes`.
    pub timeline: TimelineConfig,
    /// `--check.prometheus.url`.
    pub prometheus_url: Option<String>,
    /// `--summary.json`.
    pub summary_json: Option<PathBuf>,
}

/// Where the baseline is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineSource {
    /// A summary JSON file.
    File(PathBuf),
    /// A Prometheus-compatible query API and the baseline's run id.
    Store {
        /// The API's base URL (`http://prometheus:9090`).
        url: String,
        /// `--baseline.run`.
        run: String,
    },
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Longest `--run.id` (a label value).
pub const MAX_RUN_ID_BYTES: usize = 128;

impl Checks {
    /// Checks `args`; `has_web_ui` says whether a `--locust.uri` is given (`--check.abort`
    /// needs one).
    pub fn from_args(args: &CheckArgs, has_web_ui: bool) -> Result<Checks, ConfigError> {
        let mut checks = Vec::new();
        let given = args
            .checks
            .iter()
            .map(|t| ("--check", t))
            .chain(args.warn_checks.iter().map(|t| ("--check.warn", t)));
        for (flag, text) in given {
            let check = if flag == "--check" {
                Check::parse(text)
            } else {
                Check::parse_warn(text)
            }
            .map_err(|e| invalid(flag, e.to_string()))?;
            if checks.iter().any(|c: &Check| c.text == check.text) {
                return Err(invalid(flag, format!("`{text}` is given twice")));
            }
            if check.needs_baseline() && args.baseline.is_none() {
                return Err(invalid(
                    flag,
                    format!("`{text}` compares with a baseline: give --baseline PATH|URL"),
                ));
            }
            if check.needs_prometheus() && args.prometheus_url.is_none() {
                return Err(invalid(
                    flag,
                    format!("`{text}` asks PromQL: give --check.prometheus.url URL"),
                ));
            }
            checks.push(check);
        }
        let baseline = match (args.baseline.as_deref().map(str::trim), &args.baseline_run) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(invalid(
                    "--baseline.run",
                    "names a run in a store: give --baseline URL too",
                ))
            }
            (Some(""), _) => return Err(invalid("--baseline", "give a path or a URL")),
            (Some(url), Some(run)) if is_url(url) && !run.trim().is_empty() => {
                Some(BaselineSource::Store {
                    url: url.trim_end_matches('/').to_owned(),
                    run: run.trim().to_owned(),
                })
            }
            (Some(url), _) if is_url(url) => {
                return Err(invalid(
                    "--baseline",
                    format!("`{url}` is a store: give the baseline's run id with --baseline.run"),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "--baseline.run",
                    "names a run in a store: --baseline is a file here",
                ))
            }
            (Some(path), None) => Some(BaselineSource::File(PathBuf::from(path))),
        };
        let prometheus_url = match args.prometheus_url.as_deref().map(str::trim) {
            None => None,
            Some(u) if is_url(u) => Some(u.trim_end_matches('/').to_owned()),
            Some(u) => {
                return Err(invalid(
                    "--check.prometheus.url",
                    format!("`{u}` is not an http:// or https:// URL"),
                ))
            }
        };
        if args.abort && checks.is_empty() {
            return Err(invalid(
                "--check.abort",
                "give at least one --check to abort on",
            ));
        }
        if args.abort && !has_web_ui && !args.abort_stdout {
            return Err(invalid(
                "--check.abort",
                "stops the run through Locust's web UI: give --locust.uri (or --check.abort.stdout)",
            ));
        }
        if args.abort_stdout && !args.abort {
            return Err(invalid(
                "--check.abort.stdout",
                "says how --check.abort stops the run: give --check.abort",
            ));
        }
        let run = match args.run_id.as_deref().map(str::trim) {
            None => RunId::None,
            Some("auto") => RunId::Auto,
            Some("") => return Err(invalid("--run.id", "give an id, or auto")),
            Some(id) if id.len() > MAX_RUN_ID_BYTES => {
                return Err(invalid(
                    "--run.id",
                    format!("`{id}` is longer than {MAX_RUN_ID_BYTES} bytes"),
                ))
            }
            Some(id) if id.chars().any(char::is_control) => {
                return Err(invalid(
                    "--run.id",
                    format!("{id:?} has a control character"),
                ))
            }
            Some(id) => RunId::Fixed(Arc::from(id)),
        };
        Ok(Checks {
            list: Arc::from(checks),
            abort: args.abort,
            abort_stdout: args.abort_stdout,
            grace: match args.grace.trim() {
                "0" | "0s" | "0ms" => Duration::ZERO,
                text => duration("--check.grace", text)?,
            },
            summary_file: args.summary_file.clone(),
            junit_file: args.junit_file.clone(),
            run,
            baseline,
            prometheus_url,
            summary_json: args.summary_json.clone(),
            report_file: args.report_file.clone(),
            timeline: TimelineConfig {
                interval_secs: match args.report_interval.trim() {
                    "0" | "0s" | "0ms" => 0.0,
                    text => duration("--report.interval", text)?.as_secs_f64(),
                },
                max_intervals: match count("--report.max-intervals", &args.report_max_intervals)? {
                    n if n >= 4 => n,
                    n => {
                        return Err(invalid(
                            "--report.max-intervals",
                            format!("{n}: at least 4 intervals are kept"),
                        ))
                    }
                },
                max_bytes: usize::try_from(bytes("--report.max-bytes", &args.report_max_bytes)?)
                    .unwrap_or(usize::MAX),
            },
        })
    }
}
