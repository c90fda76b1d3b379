//! `--summary.json`: the run's summary as JSON at its end (schema:
//! [`crate::parse::summary_json`], `docs/baseline.md`), which a later run reads as its
//! `--baseline`. Pure: the wiring writes the file.

use std::collections::BTreeMap;

use crate::model::check::{Severity, Stat};
use crate::model::judge::{
    check_passed, outcomes_of, run_seconds, run_window, statistic, verdict, Verdict,
};
use crate::model::native_histogram::ZERO_THRESHOLD;
use crate::model::percentile::Precision;
use crate::model::snapshot::{EndpointStats, ServiceSnapshot, Snapshot};
use crate::parse::summary_json::{
    CheckPart, HistogramPart, OutcomePart, RowPart, RunPart, ServicePart, SummaryFile, FORMAT,
    VERSION,
};

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn row(s: &ServiceSnapshot, e: &EndpointStats) -> RowPart {
    let timed = e.requests > 0;
    let stat = |st: Stat| statistic(st, s, e).0.ok().and_then(finite);
    let basis = statistic(Stat::Quantile(0.5), s, e).1.describe();
    let percentiles: BTreeMap<String, f64> = e
        .quantiles
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|&(q, ms)| (format!("{q}"), ms / 1000.0))
        .collect();
    let histogram = e
        .native
        .as_ref()
        .filter(|_| e.precision != Precision::Spread)
        .map(|n| HistogramPart {
            schema: n.schema,
            zero_threshold: ZERO_THRESHOLD,
            zero_count: n.zero_count,
            buckets: n.buckets.iter().copied().filter(|&(_, c)| c > 0).collect(),
        });
    let classic_buckets = if histogram.is_none() {
        e.buckets.clone()
    } else {
        None
    };
    RowPart {
        method: e.method.to_string(),
        name: e.name.to_string(),
        requests: e.requests,
        failures: e.failures,
        timed: e.timed,
        fail_ratio: (e.requests > 0).then(|| e.fail_ratio()),
        rps: stat(Stat::Rps),
        min: timed.then(|| e.min_ms / 1000.0).and_then(finite),
        avg: timed.then(|| e.avg_ms / 1000.0).and_then(finite),
        max: timed.then(|| e.max_ms / 1000.0).and_then(finite),
        percentiles,
        percentiles_from: basis,
        histogram,
        classic_buckets,
    }
}

/// The summary of `snap` (the final snapshot) as the JSON document; `baseline` names what
/// it was compared with.
pub fn summary(snap: &Snapshot, finished: bool, baseline: Option<&str>) -> SummaryFile {
    let first_info = |f: fn(&ServiceSnapshot) -> Option<String>| snap.services.iter().find_map(f);
    let run = RunPart {
        id: snap.run.as_deref().map(str::to_owned),
        locustfile: first_info(|s| s.info.locustfile.as_deref().map(str::to_owned)),
        host: first_info(|s| s.info.host.as_deref().map(str::to_owned)),
        locust_version: first_info(|s| s.info.locust_version.as_deref().map(str::to_owned)),
        start: run_window(snap).0,
        end: run_window(snap).1,
        seconds: snap
            .services
            .iter()
            .filter_map(run_seconds)
            .reduce(f64::max),
    };
    let services = snap
        .services
        .iter()
        .map(|s| ServicePart {
            name: s.name.to_string(),
            state: s.state.as_str().to_owned(),
            run_seconds: run_seconds(s),
            total: s.total.as_ref().map(|t| row(s, t)),
            endpoints: s.endpoints.iter().map(|e| row(s, e)).collect(),
        })
        .collect();
    let checks = snap
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| CheckPart {
            check: c.text.to_string(),
            severity: match c.severity {
                Severity::Fail => "fail",
                Severity::Warn => "warn",
            }
            .to_owned(),
            passed: check_passed(snap, i),
            outcomes: outcomes_of(snap, i)
                .map(|o| {
                    let leaf = c.leaves.get(o.leaf);
                    let compared = o.compared.clone().unwrap_or_default();
                    OutcomePart {
                        leaf: leaf.map(|l| l.text.to_string()).unwrap_or_default(),
                        service: o.service.to_string(),
                        method: o.method.to_string(),
                        name: o.name.to_string(),
                        status: o.status.as_str().to_owned(),
                        value: o.value.and_then(finite),
                        threshold: compared
                            .threshold
                            .or_else(|| leaf.and_then(|l| l.threshold.resolve(None))),
                        baseline: compared.baseline,
                        median: compared.now,
                        confidence: compared.confidence,
                        note: o.missing.as_deref().map(str::to_owned),
                        basis: o.basis.describe(),
                    }
                })
                .collect(),
        })
        .collect();
    SummaryFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        run,
        verdict: match verdict(snap, finished) {
            Verdict::NoChecks => "no checks",
            Verdict::Passed => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::Interrupted => "not judged",
        }
        .to_owned(),
        services,
        checks,
        baseline: baseline.map(str::to_owned),
    }
}

/// The summary of `snap` as pretty-printed JSON text.
pub fn json(snap: &Snapshot, finished: bool, baseline: Option<&str>) -> String {
    let mut text = serde_json::to_string_pretty(&summary(snap, finished, baseline))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
