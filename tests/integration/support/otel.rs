//! OTLP for the tests: the receiver's announced address, raw OTLP/HTTP posts, recorded
//! bodies, and a run's results (live or replayed) checked against what Locust measured.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

/// `locust --otel` exporting to `addr` with `protocol` (`grpc`, `http/protobuf`), metrics
/// every second, with the base-2 exponential aggregation when `exponential`.
pub fn otel_to(
    cmd: &mut std::process::Command,
    addr: SocketAddr,
    protocol: &str,
    exponential: bool,
) {
    cmd.arg("--otel")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_INSECURE", "true")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000");
    if exponential {
        cmd.env(
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
        );
    }
}

/// The OTLP address the exporter announced (`Receiving OTLP … address=…`).
pub fn otlp_addr(e: &Exporter) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = e.stderr().iter().find_map(|l| {
            l.contains("Receiving OTLP")
                .then(|| {
                    l.split("address=")
                        .nth(1)?
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()
                })
                .flatten()
        });
        if let Some(a) = found {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no OTLP address in {:?}",
            e.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One real run's results (live, or replayed from a recording).
pub struct OtelRun {
    pub last: Metrics,
    /// Locust's `--json-file` totals.
    pub totals: Totals,
    /// Per name: every response time Locust measured, ms, sorted.
    pub exact: BTreeMap<String, Vec<f64>>,
    /// Most users the exporter served while Locust ran.
    pub max_users: f64,
}

/// Per name, every response time of a `record/per_request.py` file, ms, sorted.
pub fn exact_times(events: &std::path::Path) -> BTreeMap<String, Vec<f64>> {
    let mut exact: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in std::fs::read_to_string(events).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(ms) = v["response_time"].as_f64() {
            exact
                .entry(v["name"].as_str().unwrap().to_owned())
                .or_default()
                .push(ms);
        }
    }
    for times in exact.values_mut() {
        times.sort_by(f64::total_cmp);
    }
    assert!(
        !exact.is_empty(),
        "no response times in {}",
        events.display()
    );
    exact
}

/// The scrape once `requests` requests in all are served (the snapshot is published a
/// moment after an export is answered).
pub fn all_served(exporter: &Exporter, requests: f64) -> Metrics {
    exporter.wait_for(20, "every request", |m| {
        m.find("locust_requests_total", &[])
            .iter()
            .map(|s| s.value)
            .sum::<f64>()
            == requests
    })
}

/// The quantile of sorted `v` at Locust's rank: the `int(n·q) + 1`-th smallest.
pub fn exact_quantile(v: &[f64], q: f64) -> f64 {
    let rank = ((v.len() as f64 * q) as usize + 1).min(v.len());
    v[rank - 1]
}

/// Per endpoint, requests and failures equal Locust's final totals exactly
/// ([`assert_totals`], by name: OTLP's metric has no method); errors by `error.type` add up
/// to the failures; the most users served is `users`.
pub fn assert_run(run: &OtelRun, users: f64) {
    assert_totals(&run.last, &run.totals, Key::Name);
    let failures: f64 = run.totals.values().map(|(_, f)| f).sum();
    let errors: f64 = run
        .last
        .find("locust_errors", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert!(failures > 0.0, "the locustfile fails some requests");
    assert_eq!(
        errors, failures,
        "errors by error.type add up to the failures"
    );
    assert_eq!(
        run.max_users, users,
        "locust.users.count served as locust_users"
    );
}

/// Every [`quantile_errors`] under 2 %.
pub fn assert_percentiles_within_2_percent(run: &OtelRun) {
    let worst = quantile_errors(run);
    assert!(
        worst < 0.02,
        "worst percentile error {:.2} %",
        worst * 100.0
    );
}

/// Served p50/p95/p99 against the exact quantile of every response time; returns the
/// largest relative error (names with at least 30 timed requests).
pub fn quantile_errors(run: &OtelRun) -> f64 {
    let mut worst: f64 = 0.0;
    for (name, times) in run.exact.iter().filter(|(_, t)| t.len() >= 30) {
        for q in [0.5, 0.95, 0.99] {
            let served = run.last.get_one(
                "locust_response_time_seconds",
                &[("name", name.as_str()), ("quantile", &q.to_string())],
            ) * 1000.0;
            let want = exact_quantile(times, q);
            let err = (served - want).abs() / want;
            eprintln!(
                "{name} p{}: served {served:.3} ms, exact {want:.3} ms, {:+.2} %",
                q * 100.0,
                (served / want - 1.0) * 100.0
            );
            worst = worst.max(err);
        }
    }
    worst
}

/// Per name, the served maximum (`quantile="1.0"`) is the slowest response time Locust
/// measured (the histogram's `max`, whatever its buckets).
pub fn assert_max_exact(run: &OtelRun) {
    for (name, times) in &run.exact {
        let max = run.last.get_one(
            "locust_response_time_seconds",
            &[("name", name.as_str()), ("quantile", "1.0")],
        ) * 1000.0;
        let want = *times.last().unwrap();
        assert!(
            (max - want).abs() <= want * 1e-6 + 1e-6,
            "{name}: max {max} ms, exact {want} ms"
        );
    }
}

/// A POST over HTTP/1.1 with `headers` and `body`: (status, head, body).
pub fn post(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer before reading everything (too large): ignore a reset write.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A recording's bodies in the order they were sent: (signal, protobuf).
pub fn bodies(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    files.sort();
    let out: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            // NNNN.<signal>.pb
            let stem = p.file_stem().unwrap().to_str().unwrap();
            let signal = stem.split('.').nth(1).unwrap().to_owned();
            (signal, std::fs::read(p).unwrap())
        })
        .collect();
    for signal in ["metrics", "traces", "logs"] {
        assert!(
            out.iter().any(|(s, _)| s == signal),
            "{}: no {signal} bodies",
            dir.display()
        );
    }
    out
}
