//! The end of a run: the `promql:` checks asked ([`judge_queries`]), the summary on stderr
//! and in `--summary.file` and `--summary.json`, the checks in `--junit.file`, and the
//! run report in `--report.file`, the verdict's exit code ([`AppError::ChecksFailed`]). And its other end: the baseline read
//! before the run starts ([`load_baseline`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::BaselineSource;
use crate::config::Config;
use crate::model::baseline::Baseline;
use crate::model::check::Stat;
use crate::model::judge::{run_window, verdict, with_external, Verdict};
use crate::model::snapshot::Snapshot;
use crate::model::utc_iso;
use crate::output::{report, summary, summary_json};
use crate::parse::summary_json::{parse_summary, MAX_BYTES};
use crate::source::prometheus::Store;
use crate::support::http_client::{ClientSettings, HttpClient};

use super::error::AppError;

/// True when `snap`'s run ended before the exporter stopped: no service was still live.
pub fn run_ended(snap: &Snapshot) -> bool {
    !snap.services.iter().any(|s| s.interrupted)
}

fn write_file(path: &Path, what: &str, body: &str) -> Result<(), AppError> {
    std::fs::write(path, body).map_err(|source| AppError::Io {
        what: format!("writing {what} {}", path.display()),
        source,
    })
}

/// Prints the summary of `snap` (the final snapshot, at `now`) to stderr, writes the
/// summary and JUnit files, and returns the verdict: [`AppError::ChecksFailed`] when the run
/// `finished` and a check failed.
pub fn finish(config: &Config, snap: &Snapshot, finished: bool, now: f64) -> Result<(), AppError> {
    eprint!("{}", summary::text(snap, finished));
    let v = &config.checks;
    if let Some(path) = &v.summary_file {
        write_file(path, "the summary", &summary::markdown(snap, finished))?;
    }
    if let Some(path) = &v.summary_json {
        let origin = v.baseline.as_ref().map(describe);
        write_file(
            path,
            "the summary JSON",
            &summary_json::json(snap, finished, origin.as_deref()),
        )?;
    }
    if let Some(path) = &v.junit_file {
        write_file(
            path,
            "the JUnit file",
            &summary::junit(snap, finished, &utc_iso(now)),
        )?;
    }
    if let Some(path) = &v.report_file {
        let page = report::html(&report::Report {
            snap,
            finished,
            live: false,
            now,
        });
        write_file(path, "the report", &page)?;
    }
    match verdict(snap, finished) {
        Verdict::Failed(n) => Err(AppError::ChecksFailed(n)),
        Verdict::Passed | Verdict::NoChecks | Verdict::Interrupted => Ok(()),
    }
}

/// Each query to a store (the baseline's, a `promql:` check's) is bounded by this.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the baseline comes from, as the summary says it.
fn describe(source: &BaselineSource) -> String {
    match source {
        BaselineSource::File(p) => p.display().to_string(),
        BaselineSource::Store { url, run } => format!("{url} run {run}"),
    }
}

fn store(flag: &'static str, url: &str) -> Result<Store, AppError> {
    let client = HttpClient::new(flag, &ClientSettings::default(), QUERY_TIMEOUT)
        .map_err(|e| AppError::Baseline(e.to_string()))?;
    Ok(Store::new(url, client))
}

/// Reads `--baseline` (a summary JSON, or a run in a store as of `now`): an error names
/// the file or the URL and what is wrong.
pub async fn load_baseline(config: &Config, now: f64) -> Result<Option<Arc<Baseline>>, AppError> {
    let Some(source) = &config.checks.baseline else {
        return Ok(None);
    };
    let baseline = match source {
        BaselineSource::File(path) => {
            let shown = path.display();
            let size = std::fs::metadata(path)
                .map_err(|e| AppError::Baseline(format!("--baseline {shown}: {e}")))?
                .len();
            if size > MAX_BYTES {
                return Err(AppError::Baseline(format!(
                    "--baseline {shown}: {size} bytes, more than a summary JSON may have ({MAX_BYTES})"
                )));
            }
            let bytes = std::fs::read(path)
                .map_err(|e| AppError::Baseline(format!("--baseline {shown}: {e}")))?;
            parse_summary(&bytes, &shown.to_string())
                .map_err(|e| AppError::Baseline(format!("--baseline {shown}: {e}")))?
        }
        BaselineSource::Store { url, run } => store("--baseline", url)?
            .baseline(run, now)
            .await
            .map_err(|e| {
                AppError::Baseline(format!("--baseline {url} --baseline.run {run}: {e}"))
            })?,
    };
    let endpoints: usize = baseline.services.iter().map(|s| s.endpoints.len()).sum();
    tracing::info!(
        baseline = %baseline.origin,
        services = baseline.services.len(),
        endpoints,
        "Baseline read."
    );
    Ok(Some(Arc::new(baseline)))
}

/// Asks `--check.prometheus.url` every `promql:` check of `snap` over the run's window
/// (its earliest start to its latest data), and puts the answers in its outcomes: a
/// store that does not answer, or refuses the query, is that check's failure.
pub async fn judge_queries(config: &Config, snap: &mut Snapshot) {
    let Some(url) = &config.checks.prometheus_url else {
        return;
    };
    let (start, end) = run_window(snap);
    let store = match store("--check.prometheus.url", url) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot ask --check.prometheus.url.");
            None
        }
    };
    let mut results = Vec::new();
    for (i, c) in snap.checks.iter().enumerate() {
        for (l, leaf) in c.leaves.iter().enumerate() {
            let Some(query) = leaf.query.as_deref().filter(|_| leaf.stat == Stat::PromQl) else {
                continue;
            };
            let result = match (&store, start, end) {
                (None, _, _) => Err(format!("{url} cannot be asked")),
                (_, None, _) | (_, _, None) => {
                    Err("the run has no window yet (no data)".to_owned())
                }
                (Some(store), Some(start), Some(end)) => {
                    store.judge(query, leaf.op, start, end).await
                }
            };
            if let Err(why) = &result {
                tracing::warn!(check = %c.text, %why, "A promql: check has no value.");
            }
            results.push((i, l, result));
        }
    }
    let checks = snap.checks.clone();
    with_external(&checks, &mut snap.outcomes, &results);
}
