//! Judging the checks (`super::check`) on a snapshot's services: which rows each check
//! reads, each statistic from the best the input has, pass / fail / no data.

use std::sync::Arc;

use super::check::{Check, Field, Outcome, Source, Stat, Status};
use super::native_histogram::{upper_bound, NativeBuckets};
use super::snapshot::{RunState, ServiceSnapshot};
use super::update::EndpointStats;

/// The quantile `q` (0..=1) of native buckets in seconds: the upper bound of the bucket
/// the rank falls in (within a bucket's width, 1.1 % at schema 6), clamped to [min, max].
fn native_quantile(b: &NativeBuckets, q: f64, min_s: f64, max_s: f64) -> Option<f64> {
    let total: u64 = b.counts.iter().sum::<u64>() + b.zero_count;
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    if rank <= b.zero_count {
        return Some(min_s);
    }
    let mut seen = b.zero_count;
    for (i, &n) in b.counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let index = b
                .offset
                .saturating_add(i32::try_from(i).unwrap_or(i32::MAX));
            return Some(upper_bound(index, b.schema).clamp(min_s, max_s));
        }
    }
    Some(max_s)
}

/// The endpoints' native buckets summed (the total row has none of its own), at the
/// coarsest of their schemas.
fn merged_native(endpoints: &[EndpointStats]) -> Option<NativeBuckets> {
    let schema = endpoints
        .iter()
        .filter_map(|e| e.native.as_ref())
        .map(|b| b.schema)
        .min()?;
    let reduced: Vec<NativeBuckets> = endpoints
        .iter()
        .filter_map(|e| e.native.as_ref())
        .map(|b| b.reduced_to(schema))
        .collect();
    let natives: Vec<&NativeBuckets> = reduced.iter().collect();
    let lo = natives
        .iter()
        .filter(|b| !b.counts.is_empty())
        .map(|b| b.offset)
        .min();
    let hi = natives
        .iter()
        .filter(|b| !b.counts.is_empty())
        .map(|b| b.offset + b.counts.len() as i32)
        .max();
    let first = natives.first()?;
    let mut out = NativeBuckets {
        schema,
        zero_count: 0,
        offset: lo.unwrap_or(first.offset),
        counts: vec![0; usize::try_from(hi.unwrap_or(0) - lo.unwrap_or(0)).unwrap_or(0)],
    };
    for b in natives {
        out.zero_count += b.zero_count;
        for (i, &n) in b.counts.iter().enumerate() {
            let slot = usize::try_from(b.offset - out.offset).unwrap_or(0) + i;
            if let Some(c) = out.counts.get_mut(slot) {
                *c += n;
            }
        }
    }
    Some(out)
}

/// Where a service's percentiles come from when they are Locust's own.
fn locust_source(s: &ServiceSnapshot) -> Source {
    if s.up.is_some() {
        Source::LocustWebUi
    } else {
        Source::LocustCsv
    }
}

/// How long the run of `s` has lasted at `now`: from its start to its last data once
/// stopped, to `now` while it runs (`rps`, and the summary's run length).
pub fn run_seconds(s: &ServiceSnapshot, now: f64) -> Option<f64> {
    let end = match (s.state, s.last_update) {
        (RunState::Stopped, Some(last)) => last,
        _ => now,
    };
    Some((end - s.started?).max(0.0))
}

/// The value of `stat` for `row` of service `s` at `now` (`is_total`: the row is the
/// service's total), where it comes from, or why there is none: what a check reads, and the
/// run summary's columns.
pub fn statistic(
    stat: Stat,
    s: &ServiceSnapshot,
    row: &EndpointStats,
    is_total: bool,
    now: f64,
) -> (Result<f64, &'static str>, Source) {
    let timed = row.requests > 0;
    let counted = |v: f64| (Ok(v), Source::Counted);
    match stat {
        Stat::Requests => counted(row.requests as f64),
        Stat::Failures => counted(row.failures as f64),
        Stat::FailRatio if row.requests == 0 && row.failures == 0 => {
            (Err("no request yet"), Source::Counted)
        }
        Stat::FailRatio => counted(row.fail_ratio()),
        Stat::Avg | Stat::Min | Stat::Max if !timed => (Err("no request yet"), Source::Counted),
        Stat::Avg => counted(row.avg_ms / 1000.0),
        Stat::Min => counted(row.min_ms / 1000.0),
        Stat::Max => counted(row.max_ms / 1000.0),
        Stat::Rps => match run_seconds(s, now) {
            Some(t) => counted(row.requests as f64 / t.max(1.0)),
            None => (Err("the run has not started"), Source::Counted),
        },
        Stat::Quantile(q) => {
            let event_fed = row.native.is_some()
                || (is_total && s.endpoints.iter().any(|e| e.native.is_some()));
            if !timed {
                let source = if event_fed {
                    Source::EventsHdr
                } else {
                    locust_source(s)
                };
                return (Err("no request yet"), source);
            }
            if let Some(v) = row.quantile_ms(q).filter(|v| !v.is_nan()) {
                let source = if event_fed {
                    Source::EventsHdr
                } else {
                    locust_source(s)
                };
                return (Ok(v / 1000.0), source);
            }
            if event_fed {
                let (lo, hi) = (row.min_ms / 1000.0, row.max_ms / 1000.0);
                let native = match &row.native {
                    Some(b) => native_quantile(b, q, lo, hi),
                    None => {
                        merged_native(&s.endpoints).and_then(|b| native_quantile(&b, q, lo, hi))
                    }
                };
                return match native {
                    Some(v) => (Ok(v), Source::EventsNative),
                    None => (Err("no timed request yet"), Source::EventsNative),
                };
            }
            (
                Err("the input has no such percentile (Locust writes 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99 and 100)"),
                locust_source(s),
            )
        }
    }
}

/// Judges every check on `services` at `now`: one outcome per (check, matching row); a check
/// that matches nothing has one `no data` outcome with an empty service.
pub fn evaluate(checks: &[Check], services: &[ServiceSnapshot], now: f64) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let before = out.len();
        for s in services
            .iter()
            .filter(|s| check.selects(Field::Service, &s.name))
        {
            let rows: Vec<(&EndpointStats, bool)> = if check.per_endpoint() {
                s.endpoints
                    .iter()
                    .filter(|e| {
                        check.selects(Field::Name, &e.name)
                            && check.selects(Field::Method, &e.method)
                    })
                    .map(|e| (e, false))
                    .collect()
            } else {
                s.total.iter().map(|t| (t, true)).collect()
            };
            for (row, is_total) in rows {
                let (value, source) = statistic(check.stat, s, row, is_total, now);
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
                    source,
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
                source: Source::Counted,
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::check::parsed as parse;

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
            ..EndpointStats::default()
        }
    }

    fn service(endpoints: Vec<EndpointStats>, total: EndpointStats) -> ServiceSnapshot {
        ServiceSnapshot {
            name: Arc::from("shop"),
            state: RunState::Stopped,
            endpoints,
            total: Some(total),
            last_update: Some(1010.0),
            started: Some(1000.0),
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
            parse("rps>=30"),
            parse("p99<1s"),
            parse("p95{name=\"/nothing\"}<1s"),
            parse("p97{name=\"/home\"}<1s"),
        ];
        let out = evaluate(&checks, std::slice::from_ref(&s), 2000.0);
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
        // 300 requests over the 10 s from the run's start to its last data.
        assert_eq!(of(2), [("Aggregated", Status::Pass, Some(30.0))]);
        assert_eq!(
            of(3),
            [("Aggregated", Status::NoData, None)],
            "N/A in the CSV"
        );
        assert_eq!(of(4), [("", Status::NoData, None)]);
        assert_eq!(of(5)[0].1, Status::NoData, "Locust writes no 97th");
        assert_eq!(out[0].source, Source::LocustCsv);
    }

    #[test]
    fn unserved_quantiles_of_events_come_from_the_native_histogram() {
        let mut h = super::super::native_histogram::NativeHistogram::default();
        for i in 1..=1000 {
            h.observe(f64::from(i) / 1000.0);
        }
        let mut e = endpoint("/a", 1000, 0, 950.0);
        e.min_ms = 1.0;
        e.max_ms = 1000.0;
        e.native = Some(h.buckets());
        let mut total = endpoint("Aggregated", 1000, 0, 950.0);
        total.min_ms = 1.0;
        total.max_ms = 1000.0;
        let s = service(vec![e], total);
        let checks = [
            parse("p97{name=\"/a\"}<2s"),
            parse("p97<2s"),
            parse("p95<2s"),
        ];
        let out = evaluate(&checks, &[s], 2000.0);
        for o in &out[..2] {
            let v = o.value.unwrap_or(f64::NAN);
            assert!((v - 0.97).abs() / 0.97 < 0.011, "{o:?}");
            assert_eq!(o.source, Source::EventsNative);
        }
        assert_eq!(out[2].source, Source::EventsHdr);
        assert_eq!(out[2].value, Some(0.95));
    }
}
