//! Judging the checks (`super::check`) on a snapshot's services: which rows each check
//! reads, each statistic from the best the input has, pass / fail / no data
//! ([`evaluate`]); and the run's verdict from those outcomes ([`verdict`]) with its exit
//! code ([`CHECKS_FAILED_EXIT_CODE`]). The one place a run passes or fails.

use std::sync::Arc;

use super::baseline::{Baseline, BaselineRow};
use super::check::{Basis, Check, Compared, Field, Op, Outcome, Severity, Stat, Status};
use super::native_histogram::ZERO_THRESHOLD;
use super::percentile::Precision;
use super::regression::{compare, holm, Latencies, Resolution, ALPHA, MIN_REQUESTS};
use super::snapshot::{ServiceSnapshot, Snapshot};
use super::update::EndpointStats;

/// How long the run of `s` lasted (so far): Locust's own length where the input gives its
/// rate (`total_rps`, over the time from the run's start to its last request: its requests
/// over that rate), else the span of the input's own times (requests', batches', the
/// history's ticks). Never a file's modification time nor when the exporter read it: a
/// The run's window over all services: the earliest start and the latest data, on the
/// inputs' own clocks (what `promql:` checks ask over, what the summary and the report say).
pub fn run_window(snap: &Snapshot) -> (Option<f64>, Option<f64>) {
    let start = snap
        .services
        .iter()
        .filter_map(|s| s.started)
        .reduce(f64::min);
    let end = snap
        .services
        .iter()
        .filter_map(|s| s.span.map(|(_, e)| e))
        .reduce(f64::max);
    (start, end)
}

/// copied artefact or a late poll does not stretch a run.
pub fn run_seconds(s: &ServiceSnapshot) -> Option<f64> {
    let locust = s
        .total
        .as_ref()
        .filter(|t| t.requests > 0)
        .and_then(|t| Some(t.requests as f64 / t.total_rps.filter(|r| *r > 0.0)?));
    locust.or_else(|| s.span.map(|(first, last)| (last - first).max(0.0)))
}

/// Where a row's percentiles come from.
fn percentile_basis(s: &ServiceSnapshot, row: &EndpointStats) -> Basis {
    match s.table {
        Some(table) => Basis::Locust(table),
        None => Basis::Events(row.precision),
    }
}

/// The value of `stat` for `row` of service `s`, where it comes from, or why there is
/// none: what a check reads, and the run summary's columns.
pub fn statistic(
    stat: Stat,
    s: &ServiceSnapshot,
    row: &EndpointStats,
) -> (Result<f64, &'static str>, Basis) {
    let timed = row.requests > 0;
    let counted = |v: f64| (Ok(v), Basis::Counted);
    match stat {
        Stat::Regression | Stat::PromQl => (Err("not a statistic of one run"), Basis::Counted),
        Stat::Requests => counted(row.requests as f64),
        Stat::Failures => counted(row.failures as f64),
        Stat::FailRatio if row.requests == 0 && row.failures == 0 => {
            (Err("no request yet"), Basis::Counted)
        }
        Stat::FailRatio => counted(row.fail_ratio()),
        Stat::Avg | Stat::Min | Stat::Max if !timed => (Err("no request yet"), Basis::Counted),
        Stat::Avg => counted(row.avg_ms / 1000.0),
        Stat::Min => counted(row.min_ms / 1000.0),
        Stat::Max => counted(row.max_ms / 1000.0),
        Stat::Rps => match (row.total_rps, s.table) {
            (Some(rps), Some(table)) if rps > 0.0 || row.requests == 0 => {
                (Ok(rps), Basis::LocustRate(table))
            }
            _ => match run_seconds(s) {
                Some(t) => (Ok(row.requests as f64 / t.max(1.0)), Basis::Span),
                None => (Err("the run has not started"), Basis::Span),
            },
        },
        Stat::Quantile(q) => {
            let basis = percentile_basis(s, row);
            if !timed {
                return (Err("no request yet"), basis);
            }
            match row.quantile_ms(q).filter(|v| !v.is_nan()) {
                Some(v) => (Ok(v / 1000.0), basis),
                None if s.table.is_some() => (
                    Err("the input has no such percentile (Locust writes 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99 and 100)"),
                    basis,
                ),
                None => (Err("no timed request yet"), basis),
            }
        }
    }
}

/// The latency distribution of `row`: its native histogram where it has an exact one,
/// else its classic buckets with the served quantiles, else Locust's percentile columns.
pub fn latencies_of(row: &EndpointStats) -> Option<Latencies> {
    let timed = if row.timed > 0 {
        row.timed
    } else {
        row.requests
    } as f64;
    if let Some(n) = row
        .native
        .as_ref()
        .filter(|_| row.precision != Precision::Spread)
    {
        let buckets = n.buckets.iter().map(|&(i, c)| (i, c as f64));
        return Latencies::from_native(n.schema, ZERO_THRESHOLD, n.zero_count as f64, buckets);
    }
    let quantiles: Vec<(f64, f64)> = row
        .quantiles
        .iter()
        .filter(|(_, v)| !v.is_nan())
        .map(|&(q, ms)| (q, ms / 1000.0))
        .collect();
    let classic: Option<Vec<(f64, f64)>> = row
        .buckets
        .as_ref()
        .map(|b| b.iter().map(|&(le, c)| (le, c as f64)).collect());
    Latencies::from_summary(
        classic.as_deref(),
        &quantiles,
        Some(row.min_ms / 1000.0),
        timed,
    )
}

/// What judging one row gives.
struct Judged {
    value: Option<f64>,
    status: Status,
    missing: Option<Arc<str>>,
    compared: Option<Compared>,
}

fn judged(value: Result<f64, &str>, op: Op, threshold: Option<f64>) -> Judged {
    let (value, missing) = match value {
        Ok(v) => (Some(v), None),
        Err(why) => (None, Some(Arc::from(why))),
    };
    let status = match (value, threshold) {
        (Some(v), Some(t)) if op.holds(v, t) => Status::Pass,
        (Some(_), Some(_)) => Status::Fail,
        _ => Status::NoData,
    };
    Judged {
        value,
        status,
        missing,
        compared: None,
    }
}

/// No value, for this reason: fails at the end of the run.
fn no_data(why: &str) -> Judged {
    Judged {
        value: None,
        status: Status::NoData,
        missing: Some(Arc::from(why)),
        compared: None,
    }
}

/// A row with nothing to compare with: reported with why, and passing (a new endpoint
/// cannot be slower than one that did not exist; a gone one has no value now).
fn uncompared(why: &str) -> Judged {
    Judged {
        value: None,
        status: Status::Pass,
        missing: Some(Arc::from(why)),
        compared: None,
    }
}

/// Endpoint new in this run (no baseline row).
pub const NEW_ENDPOINT: &str = "new in this run: not in the baseline";
/// Endpoint gone from this run (a baseline row, none now).
pub const GONE_ENDPOINT: &str = "gone from this run: only in the baseline";

/// Judges every check on `services`, comparing with `baseline` where a leaf asks: one
/// outcome per (check, leaf, matching row); a leaf that matches nothing has one `no data`
/// outcome with an empty service. PromQL leaves are `no data` here: they are judged at the
/// run's end ([`with_external`]).
pub fn evaluate(
    checks: &[Check],
    services: &[ServiceSnapshot],
    baseline: Option<&Baseline>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        for (l, leaf) in check.leaves.iter().enumerate() {
            let before = out.len();
            let push = |out: &mut Vec<Outcome>,
                        s: &str,
                        method: &Arc<str>,
                        name: &Arc<str>,
                        basis: Basis,
                        j: Judged| {
                out.push(Outcome {
                    check: i,
                    leaf: l,
                    service: Arc::from(s),
                    method: method.clone(),
                    name: name.clone(),
                    value: j.value,
                    status: j.status,
                    basis,
                    missing: j.missing,
                    compared: j.compared,
                })
            };
            // One `no data` row with empty labels: the leaf has no row to judge.
            let nothing = |out: &mut Vec<Outcome>, basis: Basis, why: &str| {
                let empty: Arc<str> = Arc::from("");
                push(out, "", &empty, &empty, basis, no_data(why));
            };
            if leaf.stat == Stat::PromQl {
                nothing(&mut out, Basis::PromQl, PROMQL_PENDING);
                continue;
            }
            let wants_baseline = leaf.threshold.relative() || leaf.stat == Stat::Regression;
            if wants_baseline && baseline.is_none() {
                nothing(&mut out, Basis::Counted, "no baseline: give --baseline");
                continue;
            }
            let mut regressions: Vec<(usize, f64)> = Vec::new();
            for s in services
                .iter()
                .filter(|s| leaf.selects(Field::Service, &s.name))
            {
                let base = baseline.and_then(|b| b.service(&s.name, services.len()));
                let rows: Vec<&EndpointStats> = if leaf.per_endpoint() {
                    s.endpoints
                        .iter()
                        .filter(|e| {
                            leaf.selects(Field::Name, &e.name)
                                && leaf.selects(Field::Method, &e.method)
                        })
                        .collect()
                } else {
                    s.total.iter().collect()
                };
                for row in &rows {
                    let base_row = base.and_then(|b| b.row(&row.method, &row.name));
                    if leaf.stat == Stat::Regression {
                        let (j, p) = regression(row, base_row);
                        if let Some(p) = p {
                            regressions.push((out.len(), p));
                        }
                        push(
                            &mut out,
                            &s.name,
                            &row.method,
                            &row.name,
                            Basis::Distributions,
                            j,
                        );
                        continue;
                    }
                    let (value, basis) = statistic(leaf.stat, s, row);
                    if !wants_baseline {
                        let j = judged(value, leaf.op, leaf.threshold.resolve(None));
                        push(&mut out, &s.name, &row.method, &row.name, basis, j);
                        continue;
                    }
                    let Some(b) = base_row.and_then(|r| r.statistic(leaf.stat)) else {
                        let why = if base_row.is_none() {
                            NEW_ENDPOINT
                        } else {
                            "the baseline has no such figure"
                        };
                        let mut j = uncompared(why);
                        j.value = value.ok();
                        if base_row.is_some() {
                            j.status = Status::NoData;
                        }
                        push(&mut out, &s.name, &row.method, &row.name, basis, j);
                        continue;
                    };
                    let threshold = leaf.threshold.resolve(Some(b));
                    let mut j = judged(value, leaf.op, threshold);
                    j.compared = Some(Compared {
                        baseline: Some(b),
                        threshold,
                        ..Compared::default()
                    });
                    push(&mut out, &s.name, &row.method, &row.name, basis, j);
                }
                // Rows of the baseline this run no longer has.
                if let (Some(b), true) = (base, wants_baseline && leaf.per_endpoint()) {
                    for r in b.endpoints.iter().filter(|r| {
                        leaf.selects(Field::Name, &r.name)
                            && leaf.selects(Field::Method, &r.method)
                            && !rows
                                .iter()
                                .any(|e| e.name == r.name && e.method == r.method)
                    }) {
                        push(
                            &mut out,
                            &s.name,
                            &r.method,
                            &r.name,
                            Basis::Counted,
                            uncompared(GONE_ENDPOINT),
                        );
                    }
                }
            }
            // Holm over the endpoints this leaf compared.
            let p: Vec<f64> = regressions.iter().map(|&(_, p)| p).collect();
            for (&(at, _), adjusted) in regressions.iter().zip(holm(&p)) {
                if let Some(o) = out.get_mut(at) {
                    let threshold = leaf.threshold.resolve(None).unwrap_or(0.0);
                    let within = o.value.is_some_and(|e| leaf.op.holds(e, threshold));
                    o.status = if within || adjusted >= ALPHA {
                        Status::Pass
                    } else {
                        Status::Fail
                    };
                    if let Some(c) = &mut o.compared {
                        c.confidence = Some(1.0 - adjusted);
                        c.threshold = Some(threshold);
                    }
                }
            }
            if out.len() == before {
                let why = if leaf.per_endpoint() {
                    "no endpoint matches"
                } else {
                    "no service has data"
                };
                nothing(&mut out, Basis::Counted, why);
            }
        }
    }
    out
}

/// Why a PromQL leaf has no value before the run's end.
pub const PROMQL_PENDING: &str = "judged against --check.prometheus.url at the run's end";

/// One endpoint's regression figures against its baseline row, and its p-value when it
/// was compared (the status is set after Holm's correction).
fn regression(row: &EndpointStats, base: Option<&BaselineRow>) -> (Judged, Option<f64>) {
    let Some(base) = base else {
        return (uncompared(NEW_ENDPOINT), None);
    };
    let timed = if row.timed > 0 {
        row.timed
    } else {
        row.requests
    };
    let mut compared = Compared {
        requests: Some((base.requests, timed)),
        ..Compared::default()
    };
    let (Some(b), Some(n)) = (base.latencies.as_ref(), latencies_of(row)) else {
        let mut j = uncompared("no latency distribution on one side");
        j.compared = Some(compared);
        return (j, None);
    };
    compared.resolution = Some(coarser(b.resolution, n.resolution).describe());
    if (b.count() as u64) < MIN_REQUESTS || timed < MIN_REQUESTS {
        let mut j = uncompared("too few requests to judge (fewer than 20 on a side)");
        j.compared = Some(compared);
        return (j, None);
    }
    let c = compare(b, &n);
    compared.baseline = Some(c.baseline_median);
    compared.now = Some(c.median);
    (
        Judged {
            value: Some(c.effect),
            status: Status::Pass,
            missing: None,
            compared: Some(compared),
        },
        Some(c.p_value),
    )
}

fn coarser(a: Resolution, b: Resolution) -> Resolution {
    match (a, b) {
        (Resolution::Percentiles, _) | (_, Resolution::Percentiles) => Resolution::Percentiles,
        (Resolution::Classic, _) | (_, Resolution::Classic) => Resolution::Classic,
        (Resolution::Native(x), Resolution::Native(y)) => Resolution::Native(x.min(y)),
    }
}

/// `outcomes` with each PromQL leaf's pending outcome replaced by its result: `(check,
/// leaf, value or why not)`.
pub fn with_external(
    checks: &[Check],
    outcomes: &mut [Outcome],
    results: &[(usize, usize, Result<f64, String>)],
) {
    for (check, leaf, result) in results {
        let Some(l) = checks.get(*check).and_then(|c| c.leaves.get(*leaf)) else {
            continue;
        };
        for o in outcomes
            .iter_mut()
            .filter(|o| o.check == *check && o.leaf == *leaf)
        {
            let threshold = l.threshold.resolve(None);
            let j = match result {
                Ok(v) => judged(Ok(*v), l.op, threshold),
                Err(why) => no_data(why),
            };
            o.value = j.value;
            o.status = j.status;
            o.missing = j.missing;
        }
    }
}

/// Whether the checks of a snapshot are the run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No check was given.
    NoChecks,
    /// Every check passed.
    Passed,
    /// This many checks failed (or had no data).
    Failed(usize),
    /// The exporter stopped while the run was still live: nothing is judged.
    Interrupted,
}

/// The verdict of `snap`, the final snapshot (`finished`: the run ended, or `--once`).
pub fn verdict(snap: &Snapshot, finished: bool) -> Verdict {
    if snap.checks.is_empty() {
        return Verdict::NoChecks;
    }
    if !finished {
        return Verdict::Interrupted;
    }
    match failed_checks(snap) {
        0 => Verdict::Passed,
        n => Verdict::Failed(n),
    }
}

/// Failing checks (`--check`; `--check.warn` never fails the run).
pub fn failed_checks(snap: &Snapshot) -> usize {
    (0..snap.checks.len())
        .filter(|&i| snap.checks[i].severity == Severity::Fail && !check_passed(snap, i))
        .count()
}

/// Failing `--check.warn`s.
pub fn warned_checks(snap: &Snapshot) -> usize {
    (0..snap.checks.len())
        .filter(|&i| snap.checks[i].severity == Severity::Warn && !check_passed(snap, i))
        .count()
}

/// True when leaf `l` of check `i` has outcomes and every one passed.
pub fn leaf_passed(snap: &Snapshot, i: usize, l: usize) -> bool {
    let mut outcomes = outcomes_of(snap, i).filter(|o| o.leaf == l).peekable();
    outcomes.peek().is_some() && outcomes.all(|o| o.status == Status::Pass)
}

/// True when check `i` holds: its leaves, each passing on every row, combined as written.
pub fn check_passed(snap: &Snapshot, i: usize) -> bool {
    snap.checks
        .get(i)
        .is_some_and(|c| c.expr.holds(&|l| leaf_passed(snap, i, l)))
}

/// True when check `i` is failing now: as [`check_passed`], with a leaf failing only on a
/// row that failed (no data yet is not failing) — what `--check.abort` stops a run for.
pub fn check_failing(snap: &Snapshot, i: usize) -> bool {
    snap.checks.get(i).is_some_and(|c| {
        !c.expr
            .holds(&|l| !outcomes_of(snap, i).any(|o| o.leaf == l && o.status == Status::Fail))
    })
}

/// The outcomes of check `i`.
pub fn outcomes_of(snap: &Snapshot, i: usize) -> impl Iterator<Item = &Outcome> {
    snap.outcomes.iter().filter(move |o| o.check == i)
}

/// The exit code of a finished run whose checks failed.
pub const CHECKS_FAILED_EXIT_CODE: u8 = 99;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::check::parsed as parse;
    use crate::model::snapshot::{LocustTable, RunState};
    use crate::model::update::{Request, Update};
    use crate::model::{Model, ModelConfig};

    fn endpoint(name: &str, requests: u64, failures: u64, p95_ms: f64) -> EndpointStats {
        EndpointStats {
            method: Arc::from(if name == "Aggregated" { "" } else { "GET" }),
            name: Arc::from(name),
            requests,
            failures,
            avg_ms: p95_ms / 2.0,
            min_ms: 1.0,
            max_ms: p95_ms * 2.0,
            quantiles: vec![(0.5, p95_ms / 2.0), (0.95, p95_ms), (0.99, f64::NAN)],
            total_rps: Some(requests as f64 / 12.5),
            ..EndpointStats::default()
        }
    }

    fn service(endpoints: Vec<EndpointStats>, total: EndpointStats) -> ServiceSnapshot {
        ServiceSnapshot {
            name: Arc::from("shop"),
            state: RunState::Stopped,
            endpoints,
            total: Some(total),
            last_update: Some(1_000_000.0),
            started: Some(1000.0),
            span: Some((1000.0, 1010.0)),
            table: Some(LocustTable::StatsCsv),
            ..ServiceSnapshot::default()
        }
    }

    #[test]
    fn each_matching_endpoint_is_judged_on_its_own() {
        let s = service(
            vec![
                endpoint("/api/a", 100, 0, 200.0),
                endpoint("/api/b", 100, 5, 400.0),
                endpoint("/home", 100, 0, 900.0),
            ],
            endpoint("Aggregated", 300, 5, 800.0),
        );
        let checks = [
            parse("p95{name=~\"/api/.*\"}<300ms"),
            parse("fail_ratio<1%"),
            parse("rps>=20"),
            parse("p99<1s"),
            parse("p95{name=\"/nothing\"}<1s"),
            parse("p97{name=\"/home\"}<1s"),
        ];
        let out = evaluate(&checks, std::slice::from_ref(&s), None);
        let of = |i: usize| -> Vec<(&str, Status, Option<f64>)> {
            out.iter()
                .filter(|o| o.check == i)
                .map(|o| (&*o.name, o.status, o.value))
                .collect()
        };
        assert_eq!(
            of(0),
            [
                ("/api/a", Status::Pass, Some(0.2)),
                ("/api/b", Status::Fail, Some(0.4))
            ]
        );
        assert_eq!(of(1), [("Aggregated", Status::Fail, Some(5.0 / 300.0))]);
        // Locust's own Requests/s: 300 requests over its 12.5 s, not over the files' times.
        assert_eq!(of(2), [("Aggregated", Status::Pass, Some(24.0))]);
        assert_eq!(
            of(3),
            [("Aggregated", Status::NoData, None)],
            "N/A in the CSV"
        );
        assert_eq!(of(4), [("", Status::NoData, None)]);
        assert_eq!(of(5)[0].1, Status::NoData, "Locust writes no 97th");
        assert_eq!(out[0].basis, Basis::Locust(LocustTable::StatsCsv));
        assert_eq!(
            out.iter().find(|o| o.check == 2).map(|o| o.basis),
            Some(Basis::LocustRate(LocustTable::StatsCsv))
        );
        assert_eq!(run_seconds(&s), Some(12.5), "Locust's own length");
    }

    #[test]
    fn without_locusts_rate_the_length_is_the_inputs_own_span() {
        let mut total = endpoint("Aggregated", 300, 0, 10.0);
        total.total_rps = None;
        let mut s = service(vec![], total);
        s.table = None;
        // Files written much later (a copied artefact) change nothing.
        s.last_update = Some(5_000_000.0);
        assert_eq!(run_seconds(&s), Some(10.0));
        let out = evaluate(&[parse("rps>=29")], &[s], None);
        assert_eq!((out[0].value, out[0].basis), (Some(30.0), Basis::Span));
    }

    #[test]
    fn every_quantile_of_events_is_at_locusts_rank() {
        let config = ModelConfig {
            checks: Arc::from(vec![
                parse("p97{name=\"/a\"}<2s"),
                parse("p97<2s"),
                parse("p95<2s"),
            ]),
            ..ModelConfig::default()
        };
        let mut m = Model::new(config);
        for i in 1..=1000 {
            let r = Request {
                time: 1000.0 + f64::from(i) / 100.0,
                method: "GET".into(),
                name: "/a".into(),
                response_time_ms: Some(f64::from(i)),
                response_length: 0,
                error: None,
                trace: None,
            };
            m.apply("shop", Update::Request(r), 1100.0);
        }
        let snap = m.snapshot(1100.0);
        for (o, want) in snap.outcomes.iter().zip([971.0, 971.0, 951.0]) {
            // The 971st (p97) and 951st (p95) of 1 … 1000 ms, within half a schema-6 bucket.
            let v = o.value.unwrap_or(f64::NAN) * 1000.0;
            assert!((v - want).abs() <= want * 0.0055, "{o:?}");
            assert_eq!(o.basis, Basis::Events(Precision::Histogram(6)));
        }
        // 1000 requests from 1000.01 s to 1010.0 s.
        let rps = evaluate(&[parse("rps>0")], &snap.services, None)[0]
            .value
            .unwrap_or(0.0);
        assert!((rps - 1000.0 / 9.99).abs() < 1e-9, "{rps}");
    }

    #[test]
    fn composite_checks_combine_their_leaves_and_warnings_never_fail_the_run() {
        let s = service(
            vec![endpoint("/a", 100, 0, 200.0)],
            endpoint("Aggregated", 100, 0, 200.0),
        );
        let checks: Arc<[Check]> = Arc::from(vec![
            parse("p95<100ms or requests>=100"),
            parse("p95<100ms and requests>=100"),
            match Check::parse_warn("p95<100ms") {
                Ok(c) => c,
                Err(e) => panic!("{e}"),
            },
        ]);
        let outcomes = evaluate(&checks, std::slice::from_ref(&s), None);
        assert_eq!(outcomes.len(), 5, "{outcomes:?}");
        let snap = Snapshot {
            services: vec![s],
            sources: Vec::new(),
            seq: 1,
            closed: true,
            run: None,
            checks,
            outcomes,
            baseline: None,
            taken_at: 0.0,
        };
        assert!(check_passed(&snap, 0), "one side of the or holds");
        assert!(!check_passed(&snap, 1), "one side of the and fails");
        assert!(!check_passed(&snap, 2));
        assert_eq!((failed_checks(&snap), warned_checks(&snap)), (1, 1));
        assert_eq!(verdict(&snap, true), Verdict::Failed(1));
        assert!(check_failing(&snap, 1) && !check_failing(&snap, 0));
    }

    #[test]
    fn relative_thresholds_resolve_per_row_and_new_or_gone_rows_are_reported() {
        use crate::model::baseline::{Baseline, BaselineRow, BaselineService};
        let s = service(
            vec![endpoint("/a", 100, 0, 200.0), endpoint("/new", 50, 0, 10.0)],
            endpoint("Aggregated", 150, 0, 200.0),
        );
        let row = |name: &str, p95: f64| BaselineRow {
            method: Arc::from("GET"),
            name: Arc::from(name),
            requests: 100,
            quantiles: vec![(0.95, p95)],
            ..BaselineRow::default()
        };
        let baseline = Baseline {
            services: vec![BaselineService {
                name: Arc::from("shop"),
                endpoints: vec![row("/a", 0.19), row("/gone", 0.1)],
                ..BaselineService::default()
            }],
            ..Baseline::default()
        };
        let out = evaluate(
            &[
                parse("p95{name=~\".*\"}<1.1*baseline"),
                parse("p95{name=\"/a\"}<baseline"),
            ],
            std::slice::from_ref(&s),
            Some(&baseline),
        );
        let of = |c: usize, name: &str| {
            out.iter()
                .find(|o| o.check == c && &*o.name == name)
                .unwrap_or_else(|| panic!("no {name} in {out:?}"))
        };
        let a = of(0, "/a");
        assert_eq!(a.status, Status::Pass);
        let threshold = a.compared.as_ref().and_then(|c| c.threshold).unwrap_or(0.0);
        assert!((threshold - 0.209).abs() < 1e-12, "{a:?}");
        assert_eq!(of(1, "/a").status, Status::Fail, "0.2 is not below 0.19");
        assert_eq!(of(0, "/new").missing.as_deref(), Some(NEW_ENDPOINT));
        assert_eq!(of(0, "/new").status, Status::Pass);
        assert_eq!(of(0, "/gone").missing.as_deref(), Some(GONE_ENDPOINT));
    }
}
