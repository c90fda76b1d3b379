//! Locust's own CSV files read independently of the exporter, and the exporter's values
//! checked against them.

use std::path::Path;

use super::*;

/// Reads a Locust CSV with the `csv` crate (independently of the exporter's parser):
/// header and rows as strings.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Column index by name.
pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// Parses a CSV number the way a reader of the file would (`N/A` → Locust's 0).
pub fn num(s: &str) -> f64 {
    if s == "N/A" {
        0.0
    } else {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
    }
}

/// Asserts that every `locust_stats_*` series of `service` equals the `_stats.csv` at
/// `stats` exactly (f64 equality of the parsed text), that there is one series per row, and
/// that `locust_fail_ratio` is the total's failures over requests.
pub fn assert_stats_match(m: &Metrics, service: &str, stats: &Path) {
    let (h, rows) = read_csv(stats);
    assert!(!rows.is_empty(), "{} has no rows", stats.display());
    let columns = [
        ("locust_stats_num_requests", "Request Count"),
        ("locust_stats_num_failures", "Failure Count"),
        ("locust_stats_median_response_time", "Median Response Time"),
        ("locust_stats_avg_response_time", "Average Response Time"),
        ("locust_stats_min_response_time", "Min Response Time"),
        ("locust_stats_max_response_time", "Max Response Time"),
        ("locust_stats_avg_content_length", "Average Content Size"),
        ("locust_stats_ninetieth_response_time", "90%"),
    ];
    let (t, n) = (col(&h, "Type"), col(&h, "Name"));
    for (i, row) in rows.iter().enumerate() {
        let total = i == rows.len() - 1 && row[t].is_empty() && row[n] == "Aggregated";
        let method = if total { "Aggregated" } else { row[t].as_str() };
        let labels = [
            ("service", service),
            ("path", row[n].as_str()),
            ("method", method),
        ];
        for (metric, column) in columns {
            let want = num(&row[col(&h, column)]);
            let got = m
                .get(metric, &labels)
                .unwrap_or_else(|| panic!("no {metric}{labels:?} in\n{}", m.text));
            assert_eq!(
                got,
                want,
                "{metric}{labels:?}: served {got}, file says {}",
                row[col(&h, column)]
            );
        }
    }
    assert_eq!(
        m.find("locust_stats_num_requests", &[("service", service)])
            .len(),
        rows.len(),
        "one series per row of {}",
        stats.display()
    );
    let total = rows.last().unwrap();
    let (req, fail) = (
        num(&total[col(&h, "Request Count")]),
        num(&total[col(&h, "Failure Count")]),
    );
    let ratio = if req > 0.0 { fail / req } else { 0.0 };
    assert_eq!(
        m.get("locust_fail_ratio", &[("service", service)]),
        Some(ratio)
    );
}

/// Asserts that `locust_errors` of `service` equals the `_failures.csv` at `failures`.
pub fn assert_failures_match(m: &Metrics, service: &str, failures: &Path) {
    let (h, rows) = read_csv(failures);
    let (me, na, er, oc) = (
        col(&h, "Method"),
        col(&h, "Name"),
        col(&h, "Error"),
        col(&h, "Occurrences"),
    );
    for row in &rows {
        let labels = [
            ("service", service),
            ("path", row[na].as_str()),
            ("method", row[me].as_str()),
            ("error", row[er].as_str()),
        ];
        assert_eq!(
            m.get("locust_errors", &labels),
            Some(num(&row[oc])),
            "locust_errors{labels:?}"
        );
        let native = [
            ("service", service),
            ("name", row[na].as_str()),
            ("method", row[me].as_str()),
            ("error", row[er].as_str()),
        ];
        assert_eq!(
            m.get("locust_failures_total", &native),
            Some(num(&row[oc])),
            "locust_failures_total{native:?}"
        );
    }
    assert_eq!(
        m.find("locust_errors", &[("service", service)]).len(),
        rows.len()
    );
}
