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

/// What the exporter serves of each column of Locust's `_stats.csv`.
#[derive(Debug, Clone, Copy)]
enum Column {
    /// A label (`Type`, `Name`).
    Label,
    /// A seed family, equal to the column exactly.
    Seed(&'static str),
    /// `Requests/s`, Locust's rate over its run: the run's length is the total row's
    /// requests over it (`locust_run_duration_seconds`).
    RunRate,
    /// A percentile (`50%` … `100%`): the native set's quantile (endpoint rows), and the
    /// seed's `locust_stats_ninetieth_response_time` for `90%`.
    Percentile,
    /// Read but not served, and why.
    NotServed(&'static str),
}

/// Every column Locust's `_stats.csv` has had (1.6 … 2.47), and what is served of it. A
/// column not listed fails [`assert_stats_match`]: a Locust release that adds one is
/// noticed here, and someone decides where it goes.
const STATS_COLUMNS: &[(&str, Column)] = &[
    ("Type", Column::Label),
    ("Name", Column::Label),
    ("Request Count", Column::Seed("locust_stats_num_requests")),
    ("Failure Count", Column::Seed("locust_stats_num_failures")),
    (
        "Median Response Time",
        Column::Seed("locust_stats_median_response_time"),
    ),
    (
        "Average Response Time",
        Column::Seed("locust_stats_avg_response_time"),
    ),
    (
        "Min Response Time",
        Column::Seed("locust_stats_min_response_time"),
    ),
    (
        "Max Response Time",
        Column::Seed("locust_stats_max_response_time"),
    ),
    (
        "Average Content Size",
        Column::Seed("locust_stats_avg_content_length"),
    ),
    ("Requests/s", Column::RunRate),
    (
        "Failures/s",
        Column::NotServed("a whole-run rate; the current one comes from the history's last tick"),
    ),
];

/// True when Locust's `--json-file` report of the run at `stats` (`PREFIX_stats.csv`, or
/// the `PREFIX_locust_final.csv` the lifecycle tests write → `PREFIX.json`) lies beside it.
pub fn has_report(stats: &Path) -> bool {
    let name = stats
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    ["_stats.csv", "_locust_final.csv"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|prefix| stats.with_file_name(format!("{prefix}.json")).exists())
    })
}

/// What is served of the `_stats.csv` column `name` (panics for a column not in
/// [`STATS_COLUMNS`]).
fn column_kind(name: &str) -> Column {
    if let Some((_, c)) = STATS_COLUMNS.iter().find(|(n, _)| *n == name) {
        return *c;
    }
    if name
        .strip_suffix('%')
        .is_some_and(|p| p.parse::<f64>().is_ok())
    {
        return Column::Percentile;
    }
    panic!("`{name}` is a _stats.csv column the tests do not know: say in STATS_COLUMNS where the exporter serves it (or why not)")
}

/// Asserts that the exposition of `service` says what the `_stats.csv` at `stats` says,
/// column by column (every column of its header must be one [`STATS_COLUMNS`] knows): each
/// seed family equals its column exactly (f64 equality of the parsed text), each
/// percentile equals the native set's quantile where that set is served, the run's length
/// is the total's requests over its `Requests/s`; one series per row, and
/// `locust_fail_ratio` is the total's failures over requests.
pub fn assert_stats_match(m: &Metrics, service: &str, stats: &Path) {
    let (h, rows) = read_csv(stats);
    assert!(!rows.is_empty(), "{} has no rows", stats.display());
    let native = !m.find("locust_response_time_seconds", &[]).is_empty();
    let (t, n) = (col(&h, "Type"), col(&h, "Name"));
    let mut checked = 0;
    for (i, row) in rows.iter().enumerate() {
        let total = i == rows.len() - 1 && row[t].is_empty() && row[n] == "Aggregated";
        let method = if total { "Aggregated" } else { row[t].as_str() };
        let labels = [
            ("service", service),
            ("path", row[n].as_str()),
            ("method", method),
        ];
        for (c, column) in h.iter().enumerate() {
            let text = &row[c];
            match column_kind(column) {
                Column::Label | Column::NotServed(_) => {}
                Column::Seed(metric) => {
                    let got = m
                        .get(metric, &labels)
                        .unwrap_or_else(|| panic!("no {metric}{labels:?} in\n{}", m.text));
                    assert_eq!(
                        got,
                        num(text),
                        "{metric}{labels:?}: served {got}, file says {text}"
                    );
                    checked += 1;
                }
                // With Locust's report beside the CSV (`--json-file PREFIX`), the run's
                // length is the report's own window (docs/checks.md), not this rate's.
                Column::RunRate if total && num(text) > 0.0 && !has_report(stats) => {
                    let seconds = m
                        .get("locust_run_duration_seconds", &[("service", service)])
                        .unwrap_or_else(|| panic!("no run duration in\n{}", m.text));
                    let requests = num(&row[col(&h, "Request Count")]);
                    let want = requests / num(text);
                    assert!(
                        (seconds - want).abs() <= want * 1e-9,
                        "run duration {seconds} s, Locust's is {requests} / {text} = {want} s"
                    );
                    checked += 1;
                }
                Column::RunRate => {}
                Column::Percentile if native && !total && text != "N/A" => {
                    let pct: f64 = column.trim_end_matches('%').parse().unwrap();
                    let series = m.find(
                        "locust_response_time_seconds",
                        &[("service", service), ("name", &row[n]), ("method", method)],
                    );
                    let served = series
                        .iter()
                        .find(|s| {
                            s.labels
                                .get("quantile")
                                .and_then(|q| q.parse::<f64>().ok())
                                .is_some_and(|q| (q - pct / 100.0).abs() < 1e-9)
                        })
                        .unwrap_or_else(|| panic!("no {column} quantile of {labels:?}"));
                    assert_eq!(served.value, num(text) / 1000.0, "{column} of {labels:?}");
                    checked += 1;
                }
                Column::Percentile => {}
            }
        }
        if h.iter().any(|c| c == "90%") {
            let want = num(&row[col(&h, "90%")]);
            assert_eq!(
                m.get("locust_stats_ninetieth_response_time", &labels),
                Some(want),
                "90% of {labels:?}"
            );
        }
    }
    assert!(checked >= rows.len() * 7, "only {checked} values compared");
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

/// The oracle can fail: a header column it does not know is refused, by name.
#[test]
fn an_unknown_stats_column_fails_the_oracle() {
    for (name, c) in STATS_COLUMNS {
        if let Column::NotServed(why) = c {
            assert!(!why.is_empty(), "{name}: say why it is not served");
        }
    }
    let known = ["Request Count", "Requests/s", "99.9%", "100%", "Type"];
    for c in known {
        let _ = column_kind(c);
    }
    let unknown = std::panic::catch_unwind(|| column_kind("Median Content Size"));
    let message = unknown.expect_err("an unknown column is refused");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("`Median Content Size`"), "{text}");
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
