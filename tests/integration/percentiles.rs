//! Percentiles as Locust computes them: its rank (`calculate_response_time_percentile`, the
//! `int(n·q) + 1`-th smallest of the `n` timed requests), with requests that have no response
//! time (`response_time=None`) counted as requests and left out of every percentile, as
//! Locust ≥ 2.46.2 does — from a real 2.47.0 run's events and its per-request CSV
//! (`fixtures/locust-2.47.0/report-none-times`), against that run's own `--json-file` report.

use std::collections::BTreeMap;

use crate::support::*;

/// Per (method, name) of a report: (requests, requests with no time, Locust's rounded times
/// → counts).
type Report = BTreeMap<(String, String), (f64, f64, BTreeMap<u64, u64>)>;

fn report() -> Report {
    let text =
        std::fs::read_to_string(fixture("locust-2.47.0/report-none-times/run.json")).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    entries
        .iter()
        .map(|e| {
            let times = e["response_times"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
                .collect();
            (
                (
                    e["method"].as_str().unwrap().to_owned(),
                    e["name"].as_str().unwrap().to_owned(),
                ),
                (
                    e["num_requests"].as_f64().unwrap(),
                    e["num_none_requests"].as_f64().unwrap(),
                    times,
                ),
            )
        })
        .collect()
}

/// Locust's own function over its rounded times, as written in `locust/stats.py`.
fn locust_percentile(times: &BTreeMap<u64, u64>, n: u64, q: f64) -> f64 {
    let wanted = (n as f64 * q) as u64;
    let mut processed = 0;
    for (&t, &count) in times.iter().rev() {
        processed += count;
        if n - processed <= wanted {
            return t as f64;
        }
    }
    0.0
}

/// Half the width of Locust's bucket around `ms` (its 2-significant-digit rounding).
fn half_bucket(ms: f64) -> f64 {
    (if ms < 100.0 {
        1.0
    } else if ms < 1000.0 {
        10.0
    } else if ms < 10_000.0 {
        100.0
    } else {
        1000.0
    }) / 2.0
}

/// Reads `input` (`--events`) with `--once` and checks every endpoint against the report.
fn check(input: &str) {
    let path = fixture(&format!("locust-2.47.0/report-none-times/{input}"))
        .display()
        .to_string();
    let (code, out, err) = run(&["--once", "--events", &path], None);
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    let mut none_timed = 0;
    let mut checked = 0;
    for ((method, name), (requests, none, times)) in report() {
        let l = [("method", method.as_str()), ("name", name.as_str())];
        assert_eq!(
            m.get("locust_requests_total", &l),
            Some(requests),
            "{input} {name}"
        );
        let timed = (requests - none) as u64;
        let count = m.get("locust_response_time_seconds_count", &l);
        assert_eq!(
            count,
            Some(timed as f64),
            "{input} {name}: timed requests only"
        );
        if timed == 0 {
            none_timed += 1;
            for q in ["0.5", "0.9", "0.99"] {
                let mut ql = l.to_vec();
                ql.push(("quantile", q));
                let v = m.get("locust_response_time_seconds", &ql);
                assert!(
                    v.is_none_or(f64::is_nan),
                    "{input} {name}: no time, no p{q}: {v:?}"
                );
            }
            continue;
        }
        for q in [0.5, 0.9, 0.99] {
            let locust = locust_percentile(&times, timed, q);
            let mut ql = l.to_vec();
            let qs = q.to_string();
            ql.push(("quantile", &qs));
            let ours = m.get_one("locust_response_time_seconds", &ql) * 1000.0;
            // Locust's answer is the same request's time rounded into its bucket.
            let tolerance = half_bucket(locust) + 0.0055 * locust + 1e-9;
            assert!(
                (ours - locust).abs() <= tolerance,
                "{input} {name} p{q}: ours {ours} ms, Locust's {locust} ms (n={timed})"
            );
            checked += 1;
        }
    }
    assert_eq!(none_timed, 1, "the fire-and-forget requests");
    assert!(checked >= 24, "{checked}");
}

#[test]
fn events_leave_requests_without_a_time_out_of_percentiles_as_locust() {
    check("events.jsonl");
}

#[test]
fn locusts_request_csv_with_empty_times_reads_as_locust_counts() {
    check("requests.csv");
}
