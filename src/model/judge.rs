//! Judging the checks (`super::check`) on a snapshot's services: which rows each check
//! reads, each statistic from the best the input has, pass / fail / no data
//! ([`evaluate`]); and the run's verdict from those outcomes ([`verdict`]) with its exit
//! code ([`CHECKS_FAILED_EXIT_CODE`]). The one place a run passes or fails.

use std::sync::Arc;

use super::check::{Basis, Check, Field, Outcome, Stat, Status};
use super::snapshot::{ServiceSnapshot, Snapshot};
use super::update::EndpointStats;

/// How long the run of `s` lasted (so far): Locust's own length where the input gives its
/// rate (`total_rps`, over the time from the run's start to its last request: its requests
/// over that rate), else the span of the input's own times (requests', batches', the
/// history's ticks). Never a file's modification time nor when the exporter read it: a
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

/// Judges every check on `services` at `now`: one outcome per (check, matching row); a check
/// that matches nothing has one `no data` outcome with an empty service.
pub fn evaluate(checks: &[Check], services: &[ServiceSnapshot]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let before = out.len();
        for s in services
            .iter()
            .filter(|s| check.selects(Field::Service, &s.name))
        {
            let rows: Vec<&EndpointStats> = if check.per_endpoint() {
                s.endpoints
                    .iter()
                    .filter(|e| {
                        check.selects(Field::Name, &e.name)
                            && check.selects(Field::Method, &e.method)
                    })
                    .collect()
            } else {
                s.total.iter().collect()
            };
            for row in rows {
                let (value, basis) = statistic(check.stat, s, row);
                let (value, missing) = match value {
                    Ok(v) => (Some(v), None),
                    Err(why) => (None, Some(why)),
                };
                let status = match value {
                    Some(v) if check.op.holds(v, check.threshold) => Status::Pass,
                    Some(_) => Status::Fail,
                    None => Status::NoData,
                };
                out.push(Outcome {
                    check: i,
                    service: s.name.clone(),
                    method: row.method.clone(),
                    name: row.name.clone(),
                    value,
                    status,
                    basis,
                    missing,
                });
            }
        }
        if out.len() == before {
            out.push(Outcome {
                check: i,
                service: Arc::from(""),
                method: Arc::from(""),
                name: Arc::from(""),
                value: None,
                status: Status::NoData,
                basis: Basis::Counted,
                missing: Some(if check.per_endpoint() {
                    "no endpoint matches"
                } else {
                    "no service has data"
                }),
            });
        }
    }
    out
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

/// Checks with at least one outcome that is not a pass.
pub fn failed_checks(snap: &Snapshot) -> usize {
    (0..snap.checks.len())
        .filter(|&i| !check_passed(snap, i))
        .count()
}

/// True when check `i` has outcomes and every one passed.
pub fn check_passed(snap: &Snapshot, i: usize) -> bool {
    let mut outcomes = outcomes_of(snap, i).peekable();
    outcomes.peek().is_some() && outcomes.all(|o| o.status == Status::Pass)
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
    use crate::model::percentile::Precision;
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
        let out = evaluate(&checks, std::slice::from_ref(&s));
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
        let out = evaluate(&[parse("rps>=29")], &[s]);
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
        let rps = evaluate(&[parse("rps>0")], &snap.services)[0]
            .value
            .unwrap_or(0.0);
        assert!((rps - 1000.0 / 9.99).abs() < 1e-9, "{rps}");
    }
}
