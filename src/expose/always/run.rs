//! The run's identity and its checks, served with every set (`docs/checks.md`):
//! `locust_run_info`, `locust_run_start_timestamp_seconds`, `locust_run_end_timestamp_seconds`,
//! and for each `--check` `locust_check_passing`, `locust_check_value` and
//! `locust_check_threshold`. The `run` label itself is on every series: the encoder adds it
//! ([`crate::expose::format::encoder::Encoder::label_every_series`]).

use crate::expose::format::encoder::{Encoder, Kind};
use crate::model::check::{Status, Threshold};
use crate::model::judge::run_seconds;
use crate::model::snapshot::{RunState, Snapshot};

/// `locust_run_info{service,locust_version,locustfile,host}`.
pub const RUN_INFO: &str = "locust_run_info";
/// `locust_run_start_timestamp_seconds{service}`.
pub const RUN_START: &str = "locust_run_start_timestamp_seconds";
/// `locust_run_end_timestamp_seconds{service}`.
pub const RUN_END: &str = "locust_run_end_timestamp_seconds";
/// `locust_run_duration_seconds{service}`.
pub const RUN_DURATION: &str = "locust_run_duration_seconds";
/// `locust_check_passing{check,service,method,name}`.
pub const CHECK_PASSING: &str = "locust_check_passing";
/// `locust_check_value{check,service,method,name}`.
pub const CHECK_VALUE: &str = "locust_check_value";
/// `locust_check_threshold{check}` (a relative threshold: per row).
pub const CHECK_THRESHOLD: &str = "locust_check_threshold";
/// `locust_check_baseline{check,service,method,name}`.
pub const CHECK_BASELINE: &str = "locust_check_baseline";
/// `locust_check_confidence{check,service,method,name}`.
pub const CHECK_CONFIDENCE: &str = "locust_check_confidence";

/// Every family written here.
pub const FAMILIES: [&str; 9] = [
    RUN_INFO,
    RUN_START,
    RUN_END,
    RUN_DURATION,
    CHECK_PASSING,
    CHECK_VALUE,
    CHECK_THRESHOLD,
    CHECK_BASELINE,
    CHECK_CONFIDENCE,
];

/// Writes the run's identity and the checks of `snap`.
pub fn write<E: Encoder>(snap: &Snapshot, out: &mut E) {
    let live = |s: &&crate::model::snapshot::ServiceSnapshot| s.state != RunState::Missing;
    let mut f = out.family(
        RUN_INFO,
        "1 per service with data, labelled with what the input says of the run (the plugin's runner line: Locust's version, locustfile, host).",
        Kind::Gauge,
    );
    for s in snap.services.iter().filter(live) {
        let i = &s.info;
        let known = [
            ("locust_version", &i.locust_version),
            ("locustfile", &i.locustfile),
            ("host", &i.host),
        ];
        let mut pairs: Vec<(&str, &str)> = vec![("service", &s.name)];
        pairs.extend(known.iter().filter_map(|(k, v)| Some((*k, v.as_deref()?))));
        f.sample(&E::labels(&pairs), 1.0);
    }
    let mut f = out
        .family(
            RUN_START,
            "Unix time of the run's start on the input's own clock (its first request's time, the history's first tick with requests, the report's first request, the first poll that found Locust running; a file's write time only when the input has no time of its own).",
            Kind::Gauge,
        )
        .unit("seconds");
    for s in &snap.services {
        if let Some(t) = s.started {
            f.sample(&E::labels(&[("service", &s.name)]), t);
        }
    }
    let mut f = out
        .family(
            RUN_END,
            "Unix time of the run's last data on the input's own clock, once it has stopped.",
            Kind::Gauge,
        )
        .unit("seconds");
    for s in snap
        .services
        .iter()
        .filter(|s| s.state == RunState::Stopped)
    {
        if let Some((_, t)) = s.span {
            f.sample(&E::labels(&[("service", &s.name)]), t);
        }
    }
    let mut f = out
        .family(
            RUN_DURATION,
            "How long the run lasted (so far): Locust's own length where the input gives its rate (requests over total_rps), else the span of the input's own times.",
            Kind::Gauge,
        )
        .unit("seconds");
    for s in &snap.services {
        if let Some(t) = run_seconds(s) {
            f.sample(&E::labels(&[("service", &s.name)]), t);
        }
    }
    if snap.checks.is_empty() {
        return;
    }
    // A composite check's rows say which comparison they are (`leaf`).
    let leaf_text = |o: &crate::model::check::Outcome| {
        snap.checks
            .get(o.check)
            .filter(|c| c.leaves.len() > 1)
            .and_then(|c| c.leaves.get(o.leaf))
            .map(|l| l.text.clone())
    };
    let rows: Vec<E::Labels> = snap
        .outcomes
        .iter()
        .map(|o| {
            let check = snap.checks.get(o.check).map_or("", |c| &*c.text);
            let leaf = leaf_text(o);
            let mut pairs = vec![("check", check)];
            if let Some(l) = &leaf {
                pairs.push(("leaf", l));
            }
            pairs.extend([
                ("service", &*o.service),
                ("method", &*o.method),
                ("name", &*o.name),
            ]);
            E::labels(&pairs)
        })
        .collect();
    let mut f = out.family(
        CHECK_PASSING,
        "1 while the check holds for the row (a service's total, or an endpoint its selector matches), 0 while it does not or has no data yet; a composite check (and, or) also has a row of its own without service, method and name.",
        Kind::Gauge,
    );
    for (o, l) in snap.outcomes.iter().zip(&rows) {
        f.sample(l, if o.status == Status::Pass { 1.0 } else { 0.0 });
    }
    for (i, c) in snap.checks.iter().enumerate() {
        if c.leaves.len() > 1 {
            let whole = crate::model::judge::check_passed(snap, i);
            f.sample(
                &E::labels(&[("check", &c.text)]),
                if whole { 1.0 } else { 0.0 },
            );
        }
    }
    let mut f = out.family(
        CHECK_VALUE,
        "The checked statistic's current value, in base units (seconds, ratio, per second, count; regression: how much slower the median is than the baseline's, a ratio).",
        Kind::Gauge,
    );
    for (o, l) in snap.outcomes.iter().zip(&rows) {
        if let Some(v) = o.value {
            f.sample(l, v);
        }
    }
    let mut f = out.family(
        CHECK_THRESHOLD,
        "The check's threshold, in the unit of locust_check_value (a threshold relative to the baseline: per row, resolved).",
        Kind::Gauge,
    );
    for c in snap.checks.iter() {
        for l in c.leaves.iter() {
            if let Threshold::Fixed(t) = l.threshold {
                let mut pairs = vec![("check", &*c.text)];
                if c.leaves.len() > 1 {
                    pairs.push(("leaf", &*l.text));
                }
                f.sample(&E::labels(&pairs), t);
            }
        }
    }
    for (o, l) in snap.outcomes.iter().zip(&rows) {
        let relative = snap
            .checks
            .get(o.check)
            .and_then(|c| c.leaves.get(o.leaf))
            .is_some_and(|leaf| leaf.threshold.relative());
        if let Some(t) = o
            .compared
            .as_ref()
            .and_then(|c| c.threshold)
            .filter(|_| relative)
        {
            f.sample(l, t);
        }
    }
    let mut f = out.family(
        CHECK_BASELINE,
        "The baseline run's value of the row's statistic (--baseline), in the unit of locust_check_value; for regression, the baseline's median in seconds.",
        Kind::Gauge,
    );
    for (o, l) in snap.outcomes.iter().zip(&rows) {
        if let Some(b) = o.compared.as_ref().and_then(|c| c.baseline) {
            f.sample(l, b);
        }
    }
    let mut f = out.family(
        CHECK_CONFIDENCE,
        "For regression: 1 minus the Holm-adjusted p-value of the one-sided rank test that the row is slower than the baseline.",
        Kind::Gauge,
    );
    for (o, l) in snap.outcomes.iter().zip(&rows) {
        if let Some(c) = o.compared.as_ref().and_then(|c| c.confidence) {
            f.sample(l, c);
        }
    }
}
