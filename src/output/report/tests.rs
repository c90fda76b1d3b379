use std::sync::Arc;

use super::*;
use crate::model::baseline::{BaselineRow, BaselineService};
use crate::model::check::{parsed, Check};
use crate::model::judge::evaluate;
use crate::model::native_histogram::NativeHistogram;
use crate::model::snapshot::{Interval, RunState};
use crate::model::timeline::{Cumulative, Timeline, TimelineConfig};

const HOSTILE: &str = "/x</script><script>alert(1)</script>";

fn snapshot(baseline: bool) -> Snapshot {
    let mut h = NativeHistogram::default();
    for ms in [5.0, 10.0, 20.0, 400.0] {
        h.observe(ms / 1000.0);
    }
    let row = |method: &str, name: &str, requests: u64, failures: u64| EndpointStats {
        method: Arc::from(method),
        name: Arc::from(name),
        requests,
        failures,
        timed: requests,
        avg_ms: 50.0,
        min_ms: 5.0,
        max_ms: 400.0,
        quantiles: vec![(0.5, 10.0), (0.95, 400.0), (0.99, 400.0)],
        native: Some(h.buckets()),
        ..EndpointStats::default()
    };
    let mut timeline = Timeline::new(TimelineConfig::default());
    for (end, n) in [(1005.0, 2u64), (1010.0, 4)] {
        let rows = [(
            (Arc::from("GET"), Arc::from(HOSTILE)),
            Cumulative {
                requests: n,
                failures: 0,
                native: &h,
            },
        )];
        timeline.record(1000.0, end, Some(3), rows.into_iter());
    }
    let intervals: Vec<Arc<Interval>> = timeline.intervals();
    let service = ServiceSnapshot {
        name: Arc::from("shop"),
        state: RunState::Stopped,
        endpoints: vec![row("GET", HOSTILE, 4, 1)],
        total: Some(row("", "Aggregated", 4, 1)),
        started: Some(1000.0),
        span: Some((1000.0, 1010.0)),
        timeline: intervals,
        timeline_shape: crate::model::snapshot::TimelineShape {
            interval_secs: 5.0,
            ..Default::default()
        },
        ..ServiceSnapshot::default()
    };
    let base = baseline.then(|| {
        Arc::new(Baseline {
            origin: "base.json".to_owned(),
            services: vec![BaselineService {
                name: Arc::from("shop"),
                total: None,
                endpoints: vec![BaselineRow {
                    method: Arc::from("GET"),
                    name: Arc::from(HOSTILE),
                    requests: 4,
                    quantiles: vec![(0.95, 0.2)],
                    ..BaselineRow::default()
                }],
            }],
        })
    });
    let checks: Vec<Check> = ["p95<1s", "fail_ratio<1%"]
        .iter()
        .map(|t| parsed(t))
        .collect();
    let outcomes = evaluate(&checks, std::slice::from_ref(&service), base.as_deref());
    Snapshot {
        services: vec![service],
        checks: Arc::from(checks),
        outcomes,
        run: Some(Arc::from("r1")),
        baseline: base,
        ..Snapshot::default()
    }
}

fn page(snap: &Snapshot, live: bool) -> String {
    html(&Report {
        snap,
        finished: true,
        live,
        now: 1020.0,
    })
}

#[test]
fn the_page_loads_nothing_from_anywhere() {
    let p = page(&snapshot(false), false);
    assert!(p.contains("Content-Security-Policy\" content=\"default-src 'none';"));
    for attr in [" src=", " href=", "<link", "@import", "url("] {
        assert!(!p.contains(attr), "{attr} in the page");
    }
    assert!(p.contains("var uPlot="), "uPlot is inlined");
    assert!(
        p.contains("Permission is hereby granted"),
        "its licence is kept"
    );
}

#[test]
fn hostile_names_stay_text() {
    let p = page(&snapshot(false), false);
    // The only closing script tags are the page's own three.
    assert_eq!(p.matches("</script>").count(), 3, "{}", &p[..200]);
    assert!(!p.contains("<script>alert"));
    assert!(p.contains("/x&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The data block reads back whole, the name intact.
    let start = p.find("id=\"report-data\">").unwrap() + 17;
    let end = start + p[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&p[start..end]).unwrap();
    let keys = &data["services"][0]["keys"];
    assert_eq!(keys[1], format!("GET {HOSTILE}"), "{keys}");
}

#[test]
fn the_verdict_checks_and_table_are_html_without_script() {
    let p = page(&snapshot(false), false);
    assert!(p.contains("class=\"verdict failed\">FAILED: 1 of 2 checks failed"));
    assert!(
        p.contains(">PASS</td><td class=\"text\">p95&lt;1s</td>"),
        "checks"
    );
    assert!(p.contains(">FAIL</td><td class=\"text\">fail_ratio&lt;1%</td>"));
    // Requests, failures, fail % as raw values for sorting and reading back.
    assert!(p.contains("<td data-v=\"4\">4</td><td data-v=\"1\">1</td><td data-v=\"25\">25%</td>"));
    assert!(p.contains("data-live=\"0\""));
    assert!(!p.contains("Baseline p95"), "no baseline, no column");
}

#[test]
fn the_chart_data_holds_each_interval_and_the_distribution() {
    let p = page(&snapshot(false), false);
    let start = p.find("id=\"report-data\">").unwrap() + 17;
    let end = start + p[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&p[start..end]).unwrap();
    let s = &data["services"][0];
    assert_eq!(s["t"], serde_json::json!([1005.0, 1010.0]));
    assert_eq!(s["users"], serde_json::json!([3, 3]));
    let total = &s["series"]["Aggregated"];
    // Two requests in each 5 s interval.
    assert_eq!(total["requests"], serde_json::json!([2, 2]));
    assert_eq!(total["rps"], serde_json::json!([0.4, 0.4]));
    let dist = &s["dist"][format!("GET {HOSTILE}")];
    let n: u64 = dist["n"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(n, 4, "{dist}");
    assert_eq!(
        s["dist"]["Aggregated"]["n"], dist["n"],
        "the total sums its endpoints"
    );
}

#[test]
fn a_baseline_is_drawn_beside_the_run() {
    let p = page(&snapshot(true), false);
    assert!(p.contains("<th>Baseline p95</th><th>p95 change</th>"));
    // 400 ms against the baseline's 200 ms.
    assert!(
        p.contains("<td data-v=\"200\">200ms</td><td class=\"worse\" data-v=\"100\">+100.0 %</td>"),
        "{}",
        &p[p.find("Baseline p95").unwrap()..][..2000]
    );
    let start = p.find("id=\"report-data\">").unwrap() + 17;
    let end = start + p[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&p[start..end]).unwrap();
    assert_eq!(
        data["services"][0]["baseline"][format!("GET {HOSTILE}")][1],
        200.0
    );
    assert!(p.contains("<dt>Baseline</dt><dd>base.json</dd>"));
}

#[test]
fn the_live_page_says_so_and_judges_nothing_yet() {
    let mut snap = snapshot(false);
    snap.closed = false;
    let p = page(&snap, true);
    assert!(p.contains("data-live=\"1\""));
    assert!(p.contains("LIVE: 1 of 2 checks failing so far"));
    snap.closed = true;
    let p = page(&snap, true);
    assert!(
        p.contains("data-live=\"0\""),
        "a closed run's page stops refreshing"
    );
}
