//! The OTLP recordings of `fixtures/otlp/` (real `locust --otel` runs kept body by body by
//! `fixtures/record.sh`, step 5) replayed into the real receiver over HTTP/protobuf, in the
//! order Locust sent them: no Locust needed, so these run everywhere. Each recording comes
//! with every response time Locust measured and its `--json-file` totals.

use std::collections::BTreeMap;

use crate::support::*;

/// Users of every recording (`-u 20`).
const USERS: f64 = 20.0;

/// Every request of a recording's `--json-file`, `Aggregated` and `method` left out.
fn all_requests(recording: &str, leave_out: &str) -> f64 {
    json_totals(&fixture(&format!("otlp/{recording}/final.json")))
        .iter()
        .filter(|((method, name), _)| name != "Aggregated" && method != leave_out)
        .map(|(_, (n, _))| n)
        .sum()
}

/// Replays `recording` expecting every request Locust counted.
fn replay_all(recording: &str) -> OtelRun {
    replay(recording, &[], all_requests(recording, ""))
}

/// Replays `recording` (a directory of `fixtures/otlp/`) into a fresh exporter started with
/// `args`: every body answered 200 with an empty (all accepted) export response; the users
/// gauge read after each metrics body; the last scrape once `requests` requests are served.
fn replay(recording: &str, args: &[&str], requests: f64) -> OtelRun {
    let dir = fixture(&format!("otlp/{recording}"));
    let totals = json_totals(&dir.join("final.json"));
    let exact = exact_times(&dir.join("requests.jsonl"));
    let mut all_args = vec!["--otlp.listen-address", "127.0.0.1:0"];
    all_args.extend_from_slice(args);
    let exporter = Exporter::spawn(&all_args);
    let addr = otlp_addr(&exporter);
    let mut max_users: f64 = 0.0;
    let proto = "Content-Type: application/x-protobuf\r\n";
    for (signal, body) in bodies(&dir) {
        let (status, _, answer) = post(addr, &format!("/v1/{signal}"), proto, &body);
        assert_eq!(status, 200, "{recording}: {signal} body refused");
        // An empty ExportMetricsServiceResponse: no partial success, nothing rejected.
        assert!(
            answer.is_empty(),
            "{recording}: {signal}: a partial success {answer:?}"
        );
        if signal == "metrics" {
            // Snapshots are published at most every 25 ms after data: wait past that.
            std::thread::sleep(std::time::Duration::from_millis(60));
            if let Some(u) = exporter.scrape().get("locust_users", &[]) {
                max_users = max_users.max(u);
            }
        }
    }
    let last = all_served(&exporter, requests);
    OtelRun {
        last,
        totals,
        exact,
        max_users,
    }
}

#[test]
fn recorded_otel_exponential_counts_exact_and_percentiles_within_2_percent() {
    let run = replay_all("locust-2.47.0-exponential");
    assert_run(&run, USERS);
    assert_percentiles_within_2_percent(&run);
    assert_max_exact(&run);
    // Every item accepted and counted by signal.
    let items = |signal: &str| {
        run.last.get_one(
            "locust_exporter_otlp_items_total",
            &[("signal", signal), ("outcome", "accepted")],
        )
    };
    assert!(items("metrics") > 0.0 && items("logs") > 0.0);
    assert_eq!(
        run.last.get(
            "locust_exporter_otlp_items_total",
            &[("signal", "metrics"), ("outcome", "rejected")]
        ),
        Some(0.0),
        "nothing rejected"
    );
}

#[test]
fn recorded_otel_explicit_buckets_counts_and_max_exact() {
    let run = replay_all("locust-2.47.0-explicit");
    assert_run(&run, USERS);
    assert_max_exact(&run);
    let worst = quantile_errors(&run);
    eprintln!(
        "default buckets (recorded): worst percentile error {:.1} %",
        worst * 100.0
    );
}

#[test]
fn recorded_otel_master_and_two_workers_give_locusts_totals() {
    // Three processes export: the master (users, no requests) and two workers (their own
    // requests, resources alike but start times apart): nothing counted twice.
    let run = replay_all("locust-2.47.0-distributed-exponential");
    assert_run(&run, USERS);
    assert_percentiles_within_2_percent(&run);
}

#[test]
fn recorded_otel_spans_give_the_http_requests() {
    // With --otlp.requests-from spans, the HTTP client spans (requests' instrumentation,
    // named "METHOD name" by Locust's hook) are the requests: every HTTP request Locust
    // counted, by method and name; failures where the HTTP status failed them (not the
    // catch_response check on a 200, which no span sees); the custom request type, which
    // makes no HTTP request, absent. Times are the spans' own, printed against Locust's.
    let dir = fixture("otlp/locust-2.47.0-exponential");
    let totals = json_totals(&dir.join("final.json"));
    let recording = "locust-2.47.0-exponential";
    let run = replay(
        recording,
        &["--otlp.requests-from", "spans"],
        all_requests(recording, "CUSTOM"),
    );
    let mut checked = 0;
    for ((method, name), (requests, failures)) in &totals {
        let labels = [("method", method.as_str()), ("name", name.as_str())];
        let served = run.last.get("locust_requests_total", &labels);
        if method == "CUSTOM" || name == "Aggregated" {
            assert_eq!(served, None, "{labels:?}: no span");
            continue;
        }
        assert_eq!(served, Some(*requests), "{labels:?}");
        if !name.starts_with("/weird") {
            assert_eq!(
                run.last.get("locust_request_failures_total", &labels),
                Some(*failures),
                "{labels:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} HTTP endpoints");
    let spans: BTreeMap<&str, f64> = run
        .exact
        .iter()
        .filter(|(_, t)| t.len() >= 30)
        .map(|(name, t)| {
            let p50 = run.last.get_one(
                "locust_response_time_seconds",
                &[("name", name.as_str()), ("quantile", "0.5")],
            ) * 1000.0;
            (name.as_str(), p50 / t[t.len() / 2] - 1.0)
        })
        .collect();
    assert!(!spans.is_empty());
    for (name, err) in spans {
        eprintln!("spans {name}: p50 {:+.1} % against Locust's", err * 100.0);
    }
}
