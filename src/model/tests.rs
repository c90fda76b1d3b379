//! Model tests: plain unit tests and property tests, with `now` passed in (no clock).

use std::sync::Arc;

use proptest::prelude::*;

use super::snapshot::{RunState, ServiceSnapshot};
use super::update::{EndpointStats, ExceptionCount, HistoryRow, Request, StatsTable, Update};
use super::{Model, ModelConfig};

fn request<'a>(
    time: f64,
    method: &'a str,
    name: &'a str,
    ms: Option<f64>,
    len: u64,
    error: Option<&'a str>,
) -> Update<'a> {
    Update::Request(Request {
        time,
        method: method.into(),
        name: name.into(),
        response_time_ms: ms,
        response_length: len,
        error: error.map(Into::into),
        trace: None,
    })
}

fn service(m: &Model, now: f64) -> ServiceSnapshot {
    m.snapshot(now)
        .services
        .into_iter()
        .next()
        .expect("one service")
}

fn row(method: &str, name: &str, requests: u64, failures: u64) -> EndpointStats {
    EndpointStats {
        method: Arc::from(method),
        name: Arc::from(name),
        requests,
        failures,
        median_ms: 10.0,
        avg_ms: 12.5,
        min_ms: 1.0,
        max_ms: 99.0,
        avg_content_bytes: 100.0,
        quantiles: vec![(0.5, 10.0), (0.9, 90.0)],
        ..EndpointStats::default()
    }
}

fn table(rows: Vec<EndpointStats>) -> StatsTable {
    let requests = rows.iter().map(|r| r.requests).sum();
    let failures = rows.iter().map(|r| r.failures).sum();
    StatsTable {
        window: None,
        rows,
        total: row("", "Aggregated", requests, failures),
    }
}

#[derive(Debug, Clone)]
struct Req {
    endpoint: usize,
    ms: Option<f64>,
    len: u64,
    failed: bool,
}

fn req() -> impl Strategy<Value = Req> {
    (
        0usize..4,
        proptest::option::weighted(0.9, 0.0f64..5000.0),
        0u64..10_000,
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(endpoint, ms, len, failed)| Req {
            endpoint,
            ms,
            len,
            failed,
        })
}

const NAMES: [&str; 4] = ["/a", "/b", "/c,\"d\"", "/é"];

proptest! {
    /// For any sequence of requests: counts, failures, sums and bytes equal the input, the
    /// total is the sum of the endpoints, buckets are cumulative and end at the timed count.
    #[test]
    fn counts_and_sums_equal_the_input(reqs in proptest::collection::vec(req(), 0..300)) {
        let mut m = Model::new(ModelConfig::default());
        m.declare("s");
        for (i, r) in reqs.iter().enumerate() {
            let error = r.failed.then_some("boom");
            m.apply("s", request(1000.0 + i as f64 * 0.01, "GET", NAMES[r.endpoint], r.ms, r.len, error), 1.0);
        }
        let s = service(&m, 1.0);
        let mut total_requests = 0;
        for (k, name) in NAMES.iter().enumerate() {
            let mine: Vec<&Req> = reqs.iter().filter(|r| r.endpoint == k).collect();
            let e = s.endpoints.iter().find(|e| &*e.name == *name);
            if mine.is_empty() {
                prop_assert!(e.is_none());
                continue;
            }
            let e = e.unwrap();
            prop_assert_eq!(e.requests, mine.len() as u64);
            prop_assert_eq!(e.failures, mine.iter().filter(|r| r.failed).count() as u64);
            prop_assert_eq!(e.content_bytes_total, mine.iter().map(|r| r.len).sum::<u64>() as f64);
            let sum: f64 = mine.iter().filter_map(|r| r.ms).sum();
            prop_assert!((e.duration_sum_ms - sum).abs() <= 1e-6 * sum.max(1.0));
            let timed = mine.iter().filter(|r| r.ms.is_some()).count() as u64;
            prop_assert_eq!(e.timed, timed);
            let buckets = e.buckets.as_ref().unwrap();
            prop_assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1));
            prop_assert!(buckets.last().unwrap().1 <= timed);
            for &(le, count) in buckets {
                let want = mine.iter().filter(|r| r.ms.is_some_and(|ms| ms / 1000.0 <= le)).count() as u64;
                prop_assert_eq!(count, want, "le={}", le);
            }
            total_requests += e.requests;
        }
        if !reqs.is_empty() {
            prop_assert_eq!(s.total.unwrap().requests, total_requests);
            let failures: u64 = s.errors.iter().map(|e| e.occurrences).sum();
            prop_assert_eq!(failures, reqs.iter().filter(|r| r.failed).count() as u64);
        }
    }

    /// Percentiles are the input's at Locust's rank (`⌊n·q⌋ + 1`): exactly while there are
    /// few distinct times, else within half a schema-6 bucket.
    #[test]
    fn percentiles_at_locusts_rank(times in proptest::collection::vec(0.01f64..100_000.0, 1..500)) {
        let mut m = Model::new(ModelConfig::default());
        for (i, &ms) in times.iter().enumerate() {
            m.apply("s", request(i as f64, "GET", "/", Some(ms), 0, None), 1.0);
        }
        let s = service(&m, 1.0);
        let e = &s.endpoints[0];
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        for &(q, got) in &e.quantiles {
            let rank = super::percentile::locust_rank(sorted.len() as u64, q) as usize - 1;
            let want = sorted[rank];
            prop_assert!((got - want).abs() <= want * 0.0055, "q={} got={} want={}", q, got, want);
        }
        // The top quantile is the maximum exactly.
        let top = e.quantiles.iter().find(|(q, _)| *q >= 1.0).map(|&(_, v)| v);
        prop_assert_eq!(top, sorted.last().copied());
    }

    /// The same requests sent one by one and as a producer's batches (split at random, at
    /// schema 7 as the plugin aggregates, or 6): equal counts, failures by error, bytes,
    /// min, max and native buckets; sums within 1e-12; classic buckets off only for times
    /// within half a schema-7 bucket of a bound; percentiles within 2 % plus a bucket (one
    /// is exact while the other reads the native histogram's middle).
    #[test]
    fn batches_equal_requests_one_by_one(
        reqs in proptest::collection::vec(req(), 1..300),
        cuts in proptest::collection::vec(0usize..300, 0..5),
        schema in 6i32..=8,
    ) {
        use super::native_histogram;
        use super::update::RequestBatch;
        let reqs: Vec<Req> = reqs.into_iter().map(|r| Req { endpoint: 0, ..r }).collect();
        let mut one = Model::new(ModelConfig::default());
        for (i, r) in reqs.iter().enumerate() {
            let error = r.failed.then_some("boom");
            one.apply("s", request(1000.0 + i as f64 * 0.01, "GET", "/a", r.ms, r.len, error), 1.0);
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % reqs.len()).collect();
        cuts.push(0);
        cuts.push(reqs.len());
        cuts.sort_unstable();
        cuts.dedup();
        let mut batched = Model::new(ModelConfig::default());
        for w in cuts.windows(2) {
            let part = &reqs[w[0]..w[1]];
            let timed: Vec<f64> = part.iter().filter_map(|r| r.ms).collect();
            let mut buckets: std::collections::BTreeMap<i32, u64> = Default::default();
            let mut zero = 0;
            for &ms in &timed {
                if ms / 1000.0 <= native_histogram::ZERO_THRESHOLD {
                    zero += 1;
                } else {
                    *buckets.entry(native_histogram::bucket_index(ms / 1000.0, schema)).or_default() += 1;
                }
            }
            let failures = part.iter().filter(|r| r.failed).count() as u64;
            let batch = RequestBatch {
                start: None,
                time: 1000.0 + w[1] as f64 * 0.01,
                method: "GET".into(),
                name: "/a".into(),
                requests: part.len() as u64,
                errors: if failures > 0 { vec![("boom".into(), failures)] } else { vec![] },
                timed: timed.len() as u64,
                sum_ms: timed.iter().sum(),
                min_ms: timed.iter().copied().fold(f64::INFINITY, f64::min).min(f64::MAX),
                max_ms: timed.iter().copied().fold(0.0, f64::max),
                response_bytes: part.iter().map(|r| r.len).sum(),
                schema,
                zero_count: zero,
                buckets: buckets.into_iter().collect(),
                explicit: Vec::new(),
                exemplars: Vec::new(),
            };
            batched.apply("s", Update::Requests(Box::new(batch)), 1.0);
        }
        let (a, b) = (service(&one, 1.0), service(&batched, 1.0));
        let (a, b) = (&a.endpoints[0], &b.endpoints[0]);
        prop_assert_eq!((a.requests, a.failures, a.timed), (b.requests, b.failures, b.timed));
        prop_assert_eq!(a.content_bytes_total, b.content_bytes_total);
        prop_assert_eq!((a.min_ms, a.max_ms), (b.min_ms, b.max_ms));
        prop_assert!((a.duration_sum_ms - b.duration_sum_ms).abs() <= 1e-12 * a.duration_sum_ms.max(1.0));
        prop_assert_eq!(&a.native, &b.native, "native buckets merge exactly");
        prop_assert_eq!(service(&one, 1.0).errors, service(&batched, 1.0).errors);
        // One bucket's relative width at the batch's schema.
        let width = (1.0 / f64::from(1u32 << schema)).exp2() - 1.0;
        for (&(le, x), &(_, y)) in a.buckets.as_ref().unwrap().iter().zip(b.buckets.as_ref().unwrap()) {
            let near = reqs.iter().filter_map(|r| r.ms).filter(|ms| ((ms / 1000.0) / le - 1.0).abs() <= width + 1e-12).count() as u64;
            prop_assert!(x.abs_diff(y) <= near, "le={} one by one {} batched {} near {}", le, x, y, near);
        }
        for (&(q, x), &(_, y)) in a.quantiles.iter().zip(&b.quantiles) {
            prop_assert!(x.to_bits() == y.to_bits() || (x - y).abs() <= x * (0.02 + width) + 0.02, "q={} {} {}", q, x, y);
        }
    }

    /// CSV snapshots: counters served only go down at a new run (counts lower than before),
    /// and then exactly once.
    #[test]
    fn csv_counters_reset_exactly_once_per_new_run(steps in proptest::collection::vec(0u64..50, 1..30), restart_at in 0usize..30) {
        let mut m = Model::new(ModelConfig::default());
        let (mut count, mut served, mut drops, mut restarts) = (0u64, Vec::new(), 0, 0);
        for (i, step) in steps.iter().enumerate() {
            if i == restart_at && count > 0 {
                count = 0;
                restarts += 1;
            }
            count += step;
            m.apply("s", Update::Stats(table(vec![row("GET", "/", count, 0)])), i as f64);
            served.push(service(&m, i as f64).total.unwrap().requests);
        }
        for w in served.windows(2) {
            if w[1] < w[0] {
                drops += 1;
            }
        }
        prop_assert!(drops <= restarts);
        prop_assert_eq!(*served.last().unwrap(), count);
    }
}

#[test]
fn current_rates_from_counter_deltas_and_history() {
    let mut m = Model::new(ModelConfig::default());
    for s in 0..=20u64 {
        m.apply(
            "s",
            Update::Stats(table(vec![row("GET", "/", s * 10, s)])),
            100.0 + s as f64,
        );
    }
    let e = service(&m, 120.0).endpoints[0].clone();
    assert_eq!(
        (e.current_rps, e.current_fail_per_sec),
        (10.0, 1.0),
        "deltas over the last 10 s, not the run average"
    );
    // A full-history row for the endpoint takes precedence.
    let h = HistoryRow {
        timestamp: 120.0,
        user_count: 5,
        method: Arc::from("GET"),
        name: Arc::from("/"),
        current_rps: 7.5,
        current_fail_per_sec: 0.5,
        percentiles: Vec::new(),
        total_requests: None,
        total_failures: None,
        whole_run: false,
    };
    m.apply("s", Update::History(h), 120.5);
    let s = service(&m, 120.5);
    assert_eq!(
        (
            s.endpoints[0].current_rps,
            s.endpoints[0].current_fail_per_sec
        ),
        (7.5, 0.5)
    );
    assert_eq!(s.users, Some(5));
}

#[test]
fn run_states() {
    let mut m = Model::new(ModelConfig {
        stale_after_secs: 3.0,
        ..ModelConfig::default()
    });
    m.declare("s");
    assert_eq!(service(&m, 0.0).state, RunState::Missing);
    m.apply("s", Update::Users(5), 1.0);
    assert_eq!(service(&m, 1.0).state, RunState::Spawning);
    m.apply("s", Update::Users(10), 2.0);
    assert_eq!(service(&m, 2.0).state, RunState::Spawning);
    m.apply("s", Update::Users(10), 3.0);
    assert_eq!(service(&m, 3.0).state, RunState::Running);
    assert_eq!(service(&m, 5.9).state, RunState::Running);
    assert_eq!(
        service(&m, 6.1).state,
        RunState::Stopped,
        "no update for 3 poll intervals"
    );
    m.apply("s", request(7.0, "GET", "/", Some(1.0), 0, None), 7.0);
    assert_eq!(service(&m, 7.0).state, RunState::Running);
    m.apply("s", Update::TestStop(None), 7.5);
    assert_eq!(service(&m, 7.5).state, RunState::Stopped);
    m.apply("s", Update::TestStart(None), 8.0);
    assert_eq!(service(&m, 8.0).state, RunState::Running);
    assert_eq!(
        service(&m, 8.0).endpoints[0].requests,
        1,
        "a test start does not wipe counters"
    );
}

#[test]
fn cardinality_guard_folds_into_other() {
    let mut m = Model::new(ModelConfig {
        max_endpoints: 2,
        ..ModelConfig::default()
    });
    for (i, name) in ["/a", "/b", "/c", "/d", "/c"].iter().enumerate() {
        m.apply(
            "s",
            request(i as f64, "GET", name, Some(1.0), 0, Some("e")),
            1.0,
        );
    }
    let s = service(&m, 1.0);
    let names: Vec<&str> = s.endpoints.iter().map(|e| &*e.name).collect();
    assert_eq!(names, vec!["/a", "/b", "__other__"]);
    assert_eq!(s.endpoints[2].requests, 3);
    assert_eq!(s.folded.endpoints, 2, "/c and /d, each counted once");
    assert_eq!(s.total.unwrap().requests, 5, "nothing lost");
    assert!(s
        .errors
        .iter()
        .any(|e| &*e.name == "__other__" && e.occurrences == 3));
    // CSV rows fold the same way, with sums and weighted means.
    let mut m = Model::new(ModelConfig {
        max_endpoints: 1,
        ..ModelConfig::default()
    });
    let mut second = row("GET", "/y", 30, 3);
    second.avg_ms = 20.0;
    let mut third = row("GET", "/z", 10, 1);
    third.avg_ms = 40.0;
    m.apply(
        "s",
        Update::Stats(table(vec![row("GET", "/x", 1, 0), second, third])),
        1.0,
    );
    let s = service(&m, 1.0);
    let other = s
        .endpoints
        .iter()
        .find(|e| &*e.name == "__other__")
        .unwrap();
    assert_eq!(
        (other.requests, other.failures, other.avg_ms),
        (40, 4, 25.0)
    );
}

#[test]
fn long_exception_messages_are_cut_before_grouping() {
    let long = "x".repeat(250);
    let row_of = |method: &str, name: &str, n| super::tests::row(method, name, n, 0);
    let row = |suffix: &str, count| ExceptionCount {
        count,
        message: Arc::from(format!("{long}{suffix}").as_str()),
    };
    let mut m = Model::new(ModelConfig::default());
    m.apply("s", Update::Stats(table(vec![row_of("GET", "/", 1)])), 1.0);
    m.apply("s", Update::Exceptions(vec![row("a", 2), row("b", 3)]), 1.0);
    let s = service(&m, 1.0);
    assert_eq!(
        s.exceptions.len(),
        1,
        "one series, not two with the same label"
    );
    assert_eq!(s.exceptions[0].message.chars().count(), 200);
    assert_eq!(s.exceptions[0].count, 5);
}

#[test]
fn a_stopped_service_serves_no_current_activity_but_keeps_its_totals() {
    let mut m = Model::new(ModelConfig::default());
    m.apply("s", Update::Users(20), 1.0);
    m.apply("s", Update::Workers(2), 1.0);
    for i in 0..50 {
        let t = 1.0 + f64::from(i) * 0.2;
        m.apply("s", request(t, "GET", "/", Some(5.0), 10, None), t);
    }
    let running = service(&m, 11.0);
    assert!(running.endpoints[0].current_rps > 0.0);
    assert_eq!((running.users, running.workers), (Some(20), Some(2)));
    m.apply("s", Update::TestStop(None), 11.0);
    let s = service(&m, 11.0);
    assert_eq!(s.state, RunState::Stopped);
    assert_eq!((s.users, s.workers), (Some(0), Some(0)));
    for e in s.endpoints.iter().chain(s.total.iter()) {
        assert_eq!((e.current_rps, e.current_fail_per_sec), (0.0, 0.0));
        assert_eq!(e.requests, 50, "counters stay");
        assert_eq!(e.quantile_ms(0.5), Some(5.0), "percentiles stay");
    }
}

#[test]
fn files_last_written_long_ago_are_stopped_at_once() {
    let mut m = Model::new(ModelConfig::default());
    let now = 1.7e9;
    m.apply(
        "old",
        Update::Stats(table(vec![row("GET", "/a", 10, 1)])),
        now,
    );
    m.apply("old", Update::Written(now - 600.0), now);
    m.apply(
        "new",
        Update::Stats(table(vec![row("GET", "/a", 10, 1)])),
        now,
    );
    m.apply("new", Update::Written(now - 0.2), now);
    let states = m.states(now + 0.1);
    assert_eq!(
        states,
        vec![RunState::Running, RunState::Stopped],
        "new, old"
    );
    // A write time before any data is not activity: the service stays missing.
    m.apply("empty", Update::Written(now), now);
    assert_eq!(m.states(now + 0.1)[0], RunState::Missing);
}

#[test]
fn closing_stops_every_service_and_marks_the_live_ones_interrupted() {
    let mut m = Model::new(ModelConfig::default());
    let now = 1.7e9;
    for name in ["ended", "live"] {
        m.apply(name, Update::Users(5), now);
        m.apply(name, request(now, "GET", "/a", Some(10.0), 1, None), now);
    }
    m.apply("ended", Update::TestStop(None), now);
    assert_eq!(
        m.states(now + 0.5),
        vec![RunState::Stopped, RunState::Spawning]
    );
    m.close(now + 0.5);
    let snap = m.snapshot(now + 0.6);
    let by_name = |n: &str| snap.services.iter().find(|s| &*s.name == n).expect(n);
    for name in ["ended", "live"] {
        let s = by_name(name);
        assert_eq!(s.state, RunState::Stopped, "{name}");
        assert_eq!(s.users, Some(0), "{name}");
        assert!(s.endpoints.iter().all(|e| e.current_rps == 0.0), "{name}");
        assert_eq!(s.endpoints[0].requests, 1, "{name}: counters stay");
    }
    assert!(!by_name("ended").interrupted);
    assert!(by_name("live").interrupted);
    // Data after the close does not bring a service back to life.
    m.apply(
        "live",
        request(now + 1.0, "GET", "/a", Some(10.0), 1, None),
        now + 1.0,
    );
    assert_eq!(
        m.states(now + 1.0),
        vec![RunState::Stopped, RunState::Stopped]
    );
}

#[test]
fn a_history_row_from_the_past_does_not_flap_the_state() {
    let mut m = Model::new(ModelConfig {
        stale_after_secs: 3.0,
        ..ModelConfig::default()
    });
    let row = |timestamp: f64, user_count: u64| HistoryRow {
        timestamp,
        user_count,
        method: Arc::from(""),
        name: Arc::from("Aggregated"),
        current_rps: 1.0,
        current_fail_per_sec: 0.0,
        percentiles: Vec::new(),
        total_requests: None,
        total_failures: None,
        whole_run: false,
    };
    m.apply("s", Update::History(row(100.0, 10)), 100.0);
    m.apply("s", Update::History(row(101.0, 10)), 101.0);
    assert_eq!(service(&m, 101.0).state, RunState::Running);
    // Out of order: a row of second 50, then the run goes on.
    m.apply("s", Update::History(row(50.0, 10)), 101.5);
    assert_eq!(service(&m, 101.5).state, RunState::Running, "not a new run");
    m.apply("s", Update::History(row(102.0, 10)), 102.0);
    assert_eq!(service(&m, 102.0).state, RunState::Running);
    // A truncation is a new run.
    m.apply("s", Update::HistoryReset, 103.0);
    m.apply("s", Update::History(row(10.0, 2)), 103.0);
    assert_eq!(service(&m, 103.0).state, RunState::Spawning);
}

/// Request events fill the timeline by their own times: one interval per 5 s of them,
/// every request in one, whenever they are applied (a replay keeps the run's times).
#[test]
fn events_fill_the_timeline_by_their_own_times() {
    let mut m = Model::new(ModelConfig::default());
    let updates: Vec<Update<'_>> = (0..300)
        .map(|i| {
            let t = 1000.0 + f64::from(i) * 0.1;
            request(t, "GET", "/a", Some(10.0 + f64::from(i % 7)), 1, None)
        })
        .collect();
    // All at once, long after the run: the intervals still follow the requests' times.
    m.apply_all("svc", updates, 5000.0);
    m.apply("svc", Update::EndOfInput, 5000.0);
    let s = service(&m, 5000.0);
    let ends: Vec<f64> = s.timeline.iter().map(|i| i.end).collect();
    assert_eq!(ends.len(), 6, "{ends:?}");
    assert!((ends[0] - 1005.0).abs() < 1e-9, "{ends:?}");
    let total = super::timeline::total_key();
    let requests: u64 = s
        .timeline
        .iter()
        .filter_map(|i| i.slice(&total))
        .map(|sl| sl.requests)
        .sum();
    assert_eq!(requests, 300);
    assert!(s.timeline_shape.bytes > 0);
}

/// A web UI's polls while its run goes become intervals of Locust's own current figures;
/// polls while it is stopped add none.
#[test]
fn web_ui_polls_fill_the_timeline_while_running() {
    use super::update::RunnerStatus;
    let mut m = Model::new(ModelConfig::default());
    let status = |state, users| RunnerStatus {
        state,
        user_count: users,
        workers: None,
        current_percentiles: vec![(0.5, 20.0), (0.95, 80.0), (0.99, 120.0)],
        rates: vec![((Arc::from("GET"), Arc::from("/a")), (3.0, 0.5))],
        total_rates: Some((3.0, 0.5)),
        total_rps: None,
    };
    for k in 0..12 {
        let now = 100.0 + f64::from(k) * 2.0;
        m.apply("ui", Update::Runner(status(RunState::Running, 7)), now);
    }
    for k in 0..5 {
        m.apply(
            "ui",
            Update::Runner(status(RunState::Stopped, 0)),
            130.0 + f64::from(k),
        );
    }
    let s = service(&m, 140.0);
    let total = super::timeline::total_key();
    assert!(s.timeline.len() >= 3, "{:?}", s.timeline);
    assert!(
        s.timeline.iter().all(|i| i.end <= 122.0),
        "no interval while stopped"
    );
    let last = s
        .timeline
        .last()
        .and_then(|i| i.slice(&total))
        .expect("a total");
    assert_eq!(last.rates(2.0), Some((3.0, 0.5)));
    assert_eq!(last.quantile_ms(1), Some(80.0));
    assert_eq!(s.timeline.last().and_then(|i| i.users), Some(7));
}
