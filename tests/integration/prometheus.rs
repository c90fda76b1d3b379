//! A real Prometheus server (Debian's `prometheus`, installed by `test.sh --install`) scrapes
//! the exporter over loopback; PromQL over what it stored gives the fixture's values, and the
//! histogram of event input works with `histogram_quantile`. Skips loudly without the
//! binary, unless `REQUIRE_PROMETHEUS=1`.

use crate::support::*;

#[test]
fn prometheus_scrapes_and_queries() {
    let events = fixture("events/locust-2.47.0-standalone.jsonl");
    let spec = format!("shop={}", events.display());
    let ex = Exporter::spawn(&[
        "--csv",
        "fixtures/locust-2.47.0/standalone-full-history/run",
        "--events",
        &spec,
    ]);
    let Some(prometheus) = Prometheus::start(
        "prometheus_scrapes_and_queries",
        &[("locust", ex.addr, false)],
    ) else {
        return;
    };
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ));
    let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
    let promql = r#"locust_stats_num_requests{service="locust",path="Aggregated"}"#;
    prometheus.wait_query(60, promql, |v| v == Some(total));
    assert_eq!(prometheus.query(r#"up{job="locust"}"#), Some(1.0));
    let requests = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"request\""))
        .count() as f64;
    assert_eq!(
        prometheus.query(r#"sum(locust_requests_total{service="shop"})"#),
        Some(requests)
    );
    let p95 = prometheus
        .query(r#"histogram_quantile(0.95, sum by (le) (locust_request_duration_seconds_bucket{service="shop"}))"#)
        .unwrap();
    assert!(p95 > 0.0 && p95 < 1.0, "p95 from the histogram: {p95} s");
}
