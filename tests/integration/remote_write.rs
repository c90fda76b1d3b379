//! Remote write (`docs/remote-write.md`) into real receivers: Prometheus 3.5 (1.0 and 2.0,
//! native histograms) and VictoriaMetrics 1.145, from Debian's `sid` suite; Prometheus 2.42
//! (1.0 only) for the 2.0 → 1.0 fallback. A real distributed Locust run; native-histogram
//! quantiles across three writers; and each receiver fault through a fault-injecting proxy
//! in front of the real Prometheus: every interval within the queue bound stored, in order,
//! or counted as dropped, nothing twice.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::*;

/// The one series every interval carries for the recorded stream's service.
const STATE: &str = r#"locust_runner_state{service="rw",locust_runner_state="stopped"}"#;

/// An exporter following the recorded plugin stream as service `rw`, remote-writing to
/// `url` every second with `extra` flags.
fn writer(url: &str, extra: &[&str]) -> Exporter {
    let events = format!(
        "rw={}",
        fixture("events/locust-2.47.0-standalone.jsonl").display()
    );
    let mut args = vec![
        "--events",
        &events,
        "--remote-write.url",
        url,
        "--remote-write.interval",
        "1s",
    ];
    args.extend_from_slice(extra);
    Exporter::spawn(&args)
}

/// A counter of the remote-write self-metrics.
fn counter(m: &Metrics, name: &str) -> f64 {
    m.find(&format!("locust_exporter_remote_write_{name}"), &[])
        .iter()
        .map(|s| s.value)
        .sum()
}

/// What the exporter said of its remote write when it left: (intervals, dropped intervals,
/// refused requests).
fn finished(log: &[String]) -> (f64, f64, f64) {
    let line = log
        .iter()
        .find(|l| l.contains("Remote write finished."))
        .unwrap_or_else(|| panic!("no final remote-write line in {log:?}"));
    let field = |name: &str| -> f64 {
        let at = line
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("{name} in {line}"));
        line[at + name.len() + 2..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        field("intervals"),
        field("dropped_intervals"),
        field("refused_requests"),
    )
}

/// Stops `ex` (exit 0) and checks the receiver on `addr` stored every interval not dropped
/// or refused, once each; returns (intervals, dropped, refused).
fn stored_exactly(ex: Exporter, addr: std::net::SocketAddr) -> (f64, f64, f64) {
    let (code, log) = ex.terminate_logged();
    assert_eq!(code, Some(0), "{log:?}");
    let (intervals, dropped, refused) = finished(&log);
    assert!(intervals >= 3.0, "{intervals} intervals");
    let want = intervals - dropped - refused;
    let query = format!("count_over_time({STATE}[1h])");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = None;
    while Instant::now() < deadline {
        got = query_all_at(addr, &query).first().map(|r| r.1);
        if got == Some(want) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        got,
        Some(want),
        "{query}: {intervals} intervals, {dropped} dropped, {refused} refused"
    );
    // The exit marked the series stale: no instant value any more.
    assert!(query_all_at(addr, STATE).is_empty(), "stale after the exit");
    (intervals, dropped, refused)
}

fn receiver(test: &str) -> Option<(PathBuf, tempfile::TempDir, Receiver)> {
    let bin = sid_bin(test)?;
    let dir = tempfile::tempdir().unwrap();
    let prom = Receiver::prometheus(&bin, free_addr(), &dir.path().join("prom"));
    Some((bin, dir, prom))
}

#[test]
fn a_receiver_down_at_the_start_and_up_20s_later_loses_nothing() {
    let Some(bin) = sid_bin("a_receiver_down_at_the_start_and_up_20s_later_loses_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let ex = writer(
        &format!("http://{addr}/api/v1/write"),
        &["--remote-write.queue-intervals", "40"],
    );
    std::thread::sleep(Duration::from_secs(20));
    let m = ex.scrape();
    assert_eq!(counter(&m, "samples_total"), 0.0);
    assert!(counter(&m, "retries_total") >= 3.0, "{}", m.text);
    assert!(counter(&m, "queue_intervals") >= 15.0, "{}", m.text);
    let _prom = Receiver::prometheus(&bin, addr, &dir.path().join("prom"));
    ex.wait_for(60, "the queue sent", |m| {
        counter(m, "queue_intervals") == 0.0 && counter(m, "samples_total") > 0.0
    });
    let (intervals, dropped, _) = stored_exactly(ex, addr);
    assert_eq!(dropped, 0.0);
    assert!(intervals >= 20.0, "{intervals}");
}

#[test]
fn five_hundreds_are_retried_with_backoff_until_the_receiver_recovers() {
    let Some((_bin, _dir, prom)) = receiver("five_hundreds_are_retried") else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    proxy.push((0..5).map(|_| Fault::Status(500, vec![])));
    let ex = writer(&proxy.write_url(), &[]);
    let m = ex.wait_for(60, "the 500s retried and the queue sent", |m| {
        proxy.pending() == 0
            && counter(m, "queue_intervals") == 0.0
            && counter(m, "samples_total") > 0.0
    });
    assert!(counter(&m, "retries_total") >= 5.0, "{}", m.text);
    let outcomes = proxy.outcomes();
    // Backoff: each retry waits longer than the one before (jitter is ±20 %).
    let gaps: Vec<f64> = outcomes
        .windows(2)
        .take(5)
        .map(|w| w[1].0.duration_since(w[0].0).as_secs_f64())
        .collect();
    assert!(
        gaps[0] >= 0.2 && gaps[4] >= 2.0 && gaps[4] > gaps[0],
        "{gaps:?}"
    );
    let (_, dropped, refused) = stored_exactly(ex, prom.addr);
    assert_eq!((dropped, refused), (0.0, 0.0));
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let Some((_bin, _dir, prom)) = receiver("a_429_waits_as_long_as_retry_after_says") else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    let retry = vec![("Retry-After".to_owned(), "2".to_owned())];
    proxy.push([Fault::Status(429, retry.clone()), Fault::Status(429, retry)]);
    let ex = writer(&proxy.write_url(), &[]);
    ex.wait_for(60, "the 429s retried", |m| {
        proxy.pending() == 0 && counter(m, "queue_intervals") == 0.0
    });
    let o = proxy.outcomes();
    assert_eq!((o[0].1.as_str(), o[1].1.as_str()), ("429", "429"));
    for w in o.windows(2).take(2) {
        let gap = w[1].0.duration_since(w[0].0);
        assert!(gap >= Duration::from_millis(1950), "{gap:?} after a 429");
    }
    let (_, dropped, refused) = stored_exactly(ex, prom.addr);
    assert_eq!((dropped, refused), (0.0, 0.0));
}

#[test]
fn a_slow_receiver_times_out_one_request_at_a_time() {
    let Some((_bin, _dir, prom)) = receiver("a_slow_receiver_times_out_one_request_at_a_time")
    else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    proxy.push((0..3).map(|_| Fault::Delay(Duration::from_secs(3))));
    let ex = writer(&proxy.write_url(), &["--remote-write.timeout", "1s"]);
    let m = ex.wait_for(60, "past the slow answers", |m| {
        proxy.pending() == 0 && counter(m, "queue_intervals") == 0.0
    });
    assert!(
        counter(&m, "retries_total") >= 3.0,
        "{}\n{:?}\n{:?}",
        m.text,
        proxy.outcomes(),
        ex.stderr()
    );
    // No pile-up: while the receiver is slow a new request starts only after the last one
    // timed out (1 s), never beside it.
    let o = proxy.outcomes();
    for w in o.windows(2).take(3) {
        let gap = w[1].0.duration_since(w[0].0);
        assert!(gap >= Duration::from_millis(990), "{gap:?}: {o:?}");
    }
    let (_, dropped, refused) = stored_exactly(ex, prom.addr);
    assert_eq!((dropped, refused), (0.0, 0.0));
}

#[test]
fn a_400_is_counted_not_retried_and_the_next_interval_goes() {
    let Some((_bin, _dir, prom)) = receiver("a_400_is_counted_not_retried") else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    proxy.push([Fault::Status(400, vec![])]);
    let ex = writer(&proxy.write_url(), &[]);
    let m = ex.wait_for(30, "the 400 and two more intervals", |m| {
        m.get(
            "locust_exporter_remote_write_requests_total",
            &[("result", "success")],
        ) >= Some(2.0)
    });
    assert_eq!(
        m.get(
            "locust_exporter_remote_write_requests_total",
            &[("result", "failure")]
        ),
        Some(1.0)
    );
    assert!(counter(&m, "failed_samples_total") > 0.0);
    assert_eq!(counter(&m, "retries_total"), 0.0, "a 400 is not retried");
    assert!(ex
        .stderr()
        .iter()
        .any(|l| l.contains("refused a request") && l.contains("HTTP 400")));
    let (_, dropped, refused) = stored_exactly(ex, prom.addr);
    assert_eq!((dropped, refused), (0.0, 1.0));
}

#[test]
fn past_the_queue_bound_the_oldest_intervals_are_dropped_and_counted() {
    let Some((_bin, _dir, prom)) = receiver("past_the_queue_bound") else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    let retry = vec![("Retry-After".to_owned(), "1".to_owned())];
    proxy.push((0..8).map(|_| Fault::Status(503, retry.clone())));
    let ex = writer(&proxy.write_url(), &["--remote-write.queue-intervals", "3"]);
    let mut most_queued = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = ex.scrape();
        most_queued = most_queued.max(counter(&m, "queue_intervals"));
        if proxy.pending() == 0 && counter(&m, "queue_intervals") == 0.0 {
            assert!(counter(&m, "dropped_samples_total") > 0.0, "{}", m.text);
            break;
        }
        assert!(Instant::now() < deadline, "{}", m.text);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        most_queued <= 3.0,
        "the queue stays within its bound: {most_queued}"
    );
    let (_, dropped, _) = stored_exactly(ex, prom.addr);
    assert!(dropped >= 2.0, "{dropped} dropped");
}

#[test]
fn a_receiver_restarted_mid_run_loses_nothing() {
    let Some(bin) = sid_bin("a_receiver_restarted_mid_run_loses_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("prom");
    let prom = Receiver::prometheus(&bin, addr, &data);
    let ex = writer(&format!("http://{addr}/api/v1/write"), &[]);
    ex.wait_for(30, "writes taken", |m| counter(m, "samples_total") > 0.0);
    std::thread::sleep(Duration::from_secs(2));
    drop(prom);
    std::thread::sleep(Duration::from_secs(4));
    let _prom = Receiver::prometheus(&bin, addr, &data);
    ex.wait_for(60, "the queue sent", |m| {
        counter(m, "queue_intervals") == 0.0 && counter(m, "retries_total") > 0.0
    });
    let (_, dropped, refused) = stored_exactly(ex, addr);
    assert_eq!((dropped, refused), (0.0, 0.0));
}

/// Prometheus 2.42 (Debian's stable, native histograms off) takes 1.0 only and answers a 2.0
/// body 204 without the written-count headers: the exporter falls back to 1.0, once, and
/// with --remote-write.no-native-histograms writes the classic series it takes.
#[test]
fn a_1_0_receiver_gets_1_0_after_one_2_0_request() {
    let Some(prom) = Prometheus::start_with(
        "a_1_0_receiver_gets_1_0_after_one_2_0_request",
        &[],
        &["--web.enable-remote-write-receiver"],
    ) else {
        return;
    };
    let ex = writer(
        &format!("http://{}/api/v1/write", prom.addr),
        &[
            "--remote-write.protocol",
            "2.0",
            "--remote-write.no-native-histograms",
        ],
    );
    ex.wait_for(30, "1.0 taken", |m| counter(m, "samples_total") > 0.0);
    let falls: Vec<String> = ex
        .stderr()
        .into_iter()
        .filter(|l| l.contains("does not take remote write 2.0"))
        .collect();
    assert_eq!(falls.len(), 1, "{falls:?}");
    prom.wait_query(20, &format!("count_over_time({STATE}[1h])"), |v| {
        v.is_some_and(|v| v >= 1.0)
    });
    let classic = prom.query(r#"count(locust_request_duration_seconds_bucket{service="rw"})"#);
    assert!(classic > Some(0.0), "classic buckets stored: {classic:?}");
    let (code, log) = ex.terminate_logged();
    assert_eq!(code, Some(0), "{log:?}");
    let last = log
        .iter()
        .find(|l| l.contains("Remote write finished."))
        .unwrap_or_else(|| panic!("{log:?}"));
    assert!(last.contains(r#"protocol="1.0""#), "{last}");
}

/// A listener beside the locustfile that writes every response time (ms) of its process to
/// `$TIMES_FILE`: the exact quantiles to check the native histograms against.
const TIMES: &str = r#"
import os
from locust import events

_out = open(os.environ["TIMES_FILE"], "a", buffering=1 << 16)

@events.request.add_listener
def _time(response_time=None, **_kwargs):
    if isinstance(response_time, (int, float)):
        _out.write(f"{response_time}\n")

@events.quitting.add_listener
def _flush(**_kwargs):
    _out.flush()
"#;

/// The exact q-quantile of `samples` (nearest rank), and its neighbours' values: Prometheus
/// ranks at q·n, so where the ranks straddle a gap between two response-time modes its
/// estimate may sit beside either.
fn exact(samples: &mut [f64], q: f64) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    (
        samples[rank.saturating_sub(2)],
        samples[rank - 1],
        samples[rank.min(n - 1)],
    )
}

/// A real run (master + 2 workers, the plugin's streams, one exporter per stream, all three
/// writing to Prometheus 3.5 and VictoriaMetrics) in `protocol`: the totals are Locust's, the
/// native-histogram quantiles within 2 % of the exact ones, and the end shows as stale.
fn a_distributed_run_written(protocol: &str) {
    let test = format!("a_distributed_run_written_{protocol}");
    let Some(locust_bin) = venv_bin(&test) else {
        return;
    };
    let Some(bin) = sid_bin(&test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prom = Receiver::prometheus(&bin, free_addr(), &dir.path().join("prom"));
    let vm = Receiver::victoria_metrics(&bin, free_addr(), &dir.path().join("vm"));
    let target = Target::start(&locust_bin);
    let json = dir.path().join("final");
    let times = dir.path().join("times.py");
    std::fs::write(&times, TIMES).unwrap();
    let stream = |name: &str| dir.path().join(name).display().to_string();
    let times_of = |name: &str| vec![("TIMES_FILE", stream(&format!("{name}.times")))];
    let (mut master, mut workers) =
        start_distributed(&locust_bin, &target, dir.path(), &json, &[&times], times_of);
    let exporters: Vec<Exporter> = ["master", "worker0", "worker1"]
        .iter()
        .map(|name| {
            let events = format!("load={}", stream(&format!("{name}.jsonl")));
            let instance = format!("instance={name}");
            Exporter::spawn(&[
                "--events",
                &events,
                "--remote-write.url",
                &prom.write_url(),
                "--remote-write.url",
                &vm.write_url(),
                "--remote-write.protocol",
                protocol,
                "--remote-write.interval",
                "1s",
                "--remote-write.label",
                &instance,
            ])
        })
        .collect();
    wait_child(&mut master, 120);
    for w in &mut workers {
        wait_child(w, 30);
    }
    let totals = json_totals(&PathBuf::from(format!("{}.json", json.display())));
    let requests: f64 = totals.values().map(|v| v.0).sum();
    let failures: f64 = totals.values().map(|v| v.1).sum();
    assert!(requests > 100.0, "{requests} requests");
    let sum = r#"sum(locust_requests_total{service="load"})"#;
    prom.wait_query(30, sum, |v| v == Some(requests));
    vm.wait_query(60, sum, |v| v == Some(requests));
    let fails = r#"sum(locust_request_failures_total{service="load"})"#;
    assert_eq!(prom.query(fails).unwrap_or(0.0), failures);
    assert_eq!(vm.query(fails).unwrap_or(0.0), failures);
    // Quantiles over the three writers' summed native histograms, against every response
    // time Locust measured.
    let mut samples: Vec<f64> = ["master", "worker0", "worker1"]
        .iter()
        .flat_map(|n| {
            std::fs::read_to_string(dir.path().join(format!("{n}.times")))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.parse::<f64>().ok())
                .map(|ms| ms / 1000.0)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        samples.len() as f64,
        requests,
        "every response time recorded"
    );
    let count = r#"histogram_count(sum(locust_request_duration_seconds{service="load"}))"#;
    assert_eq!(prom.query(count), Some(requests));
    let mut report = String::new();
    for q in [0.5, 0.9, 0.95, 0.99] {
        let (below, want, above) = exact(&mut samples, q);
        let got = prom
            .query(&format!(
                r#"histogram_quantile({q}, sum(locust_request_duration_seconds{{service="load"}}))"#
            ))
            .unwrap();
        let err = (got - want) / want;
        report.push_str(&format!(
            "q={q}: exact {want:.6} s (ranks beside: {below:.6}, {above:.6}), native {got:.6} s ({:+.2} %)\n",
            err * 100.0
        ));
        let within = |v: f64| ((got - v) / v).abs() <= 0.02;
        assert!(
            within(want) || (got >= below * 0.98 && got <= above * 1.02),
            "{report}"
        );
    }
    eprintln!("{protocol}:\n{report}");
    // The end of the run: every exporter's final write, then every series stale.
    for ex in exporters {
        let (code, log) = ex.terminate_logged();
        assert_eq!(code, Some(0), "{log:?}");
        let (_, dropped, refused) = finished(&log);
        assert_eq!((dropped, refused), (0.0, 0.0));
    }
    prom.wait_query(10, sum, |v| v.is_none());
    assert_eq!(
        prom.query(r#"sum(last_over_time(locust_requests_total{service="load"}[10m]))"#),
        Some(requests),
        "the last values stay queryable"
    );
}

#[test]
fn a_distributed_run_written_with_1_0() {
    a_distributed_run_written("1.0");
}

#[test]
fn a_distributed_run_written_with_2_0() {
    a_distributed_run_written("2.0");
}

/// A 2.0 answer with only `X-Prometheus-Remote-Write-Samples-Written: 0` (no histograms
/// header) once counted as fully written. A missing written-count header is none written
/// of that kind: the request is a partial write, its unwritten samples and histograms
/// counted as failed. And `Retry-After: 0` does not turn the backoff off.
#[test]
fn a_missing_written_count_header_is_a_partial_write() {
    let Some((_bin, _dir, prom)) = receiver("a_missing_written_count_header_is_a_partial_write")
    else {
        return;
    };
    let proxy = FaultProxy::start(prom.addr);
    let only_samples = vec![(
        "X-Prometheus-Remote-Write-Samples-Written".to_owned(),
        "0".to_owned(),
    )];
    proxy.push([Fault::Status(204, only_samples)]);
    let retry_now = vec![("Retry-After".to_owned(), "0".to_owned())];
    proxy.push((0..3).map(|_| Fault::Status(503, retry_now.clone())));
    let ex = writer(&proxy.write_url(), &["--remote-write.protocol", "2.0"]);
    let m = ex.wait_for(60, "past the faults", |m| {
        proxy.pending() == 0 && counter(m, "queue_intervals") == 0.0
    });
    assert_eq!(counter(&m, "partial_writes_total"), 1.0, "{}", m.text);
    assert!(counter(&m, "failed_samples_total") > 0.0, "{}", m.text);
    // The three 503s with Retry-After: 0 are retried no faster than the backoff's floor.
    let o = proxy.outcomes();
    let retried: Vec<Duration> = o
        .windows(2)
        .skip(1)
        .take(3)
        .map(|w| w[1].0.duration_since(w[0].0))
        .collect();
    assert!(
        retried.iter().all(|gap| *gap >= Duration::from_millis(200)),
        "{retried:?}: {o:?}"
    );
}
