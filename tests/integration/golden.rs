//! `--once` over each fixture: compared with `fixtures/golden/<name>.prom` (regenerate with
//! `UPDATE_GOLDEN=1`), validated by `promtool check metrics`, and checked value by value
//! against the fixture's own CSV files read independently.

use crate::support::*;

/// (fixture prefix under fixtures/, golden name).
const FIXTURES: [(&str, &str); 8] = [
    (
        "locust-2.47.0/standalone-full-history/run",
        "2.47.0-standalone-full-history",
    ),
    (
        "locust-2.47.0/restart-same-prefix/run",
        "2.47.0-restart-same-prefix",
    ),
    (
        "locust-2.47.0/distributed-2workers/run",
        "2.47.0-distributed-2workers",
    ),
    (
        "locust-2.8.6/standalone-full-history/run",
        "2.8.6-standalone-full-history",
    ),
    (
        "locust-2.8.6/restart-same-prefix/run",
        "2.8.6-restart-same-prefix",
    ),
    (
        "locust-2.8.6/distributed-2workers/run",
        "2.8.6-distributed-2workers",
    ),
    (
        "locust-1.6.0/restart-same-prefix/run",
        "1.6.0-restart-same-prefix",
    ),
    (
        "locust-1.6.0/standalone-full-history/run",
        "1.6.0-standalone-full-history",
    ),
];

/// Replaces values that depend on when the test runs.
fn mask(text: &str) -> String {
    text.lines()
        .map(|l| {
            let timed = [
                "locust_last_update_timestamp_seconds{",
                "locust_run_start_timestamp_seconds{",
                "locust_run_end_timestamp_seconds{",
            ];
            if timed.iter().any(|t| l.starts_with(t)) {
                format!("{} <time>", l.rsplit_once(' ').map_or(l, |x| x.0))
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn once(prefix: &str) -> String {
    let arg = format!("fixtures/{prefix}");
    let (code, out, err) = run(&["--once", "--csv", &arg], None);
    assert_eq!(code, Some(0), "{err}");
    out
}

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (prefix, name) in FIXTURES {
        let got = mask(&once(prefix));
        let path = fixture(&format!("golden/{name}.prom"));
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        if got != want {
            let diff = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .context_radius(2)
                .header(&path.display().to_string(), "--once output")
                .to_string();
            panic!(
                "{name}: output differs from {} (UPDATE_GOLDEN=1 to accept):\n{diff}",
                path.display()
            );
        }
    }
}

#[test]
fn promtool_accepts_every_fixture() {
    for (prefix, _) in FIXTURES {
        assert_promtool_clean(&once(prefix));
    }
}

#[test]
fn values_equal_the_csv_files_exactly() {
    for (prefix, _) in FIXTURES {
        let m = Metrics::parse(&once(prefix));
        let base = fixture(prefix).display().to_string();
        assert_stats_match(&m, "locust", format!("{base}_stats.csv").as_ref());
        assert_failures_match(&m, "locust", format!("{base}_failures.csv").as_ref());
        assert_eq!(
            m.get("locust_state", &[("state", "stopped")]),
            Some(1.0),
            "{prefix}"
        );
        for up in m.find_some("locust_exporter_source_up", &[]) {
            assert_eq!(up.value, 1.0, "{prefix}: {:?}", up.labels);
        }
    }
}

/// While the run is live (here: a long poll interval keeps the copy of the recording
/// `running`), users and current rates come from the history's last tick.
#[test]
fn history_gives_users_and_current_rates() {
    // A fresh copy: files just written are a live run (their write time is now).
    let dir = tempfile::tempdir().unwrap();
    for suffix in [
        "_stats.csv",
        "_stats_history.csv",
        "_failures.csv",
        "_exceptions.csv",
    ] {
        let from = fixture(&format!("{}{suffix}", FIXTURES[0].0));
        std::fs::copy(from, dir.path().join(format!("run{suffix}"))).unwrap();
    }
    let prefix = dir.path().join("run");
    let ex = Exporter::spawn(&["--csv", prefix.to_str().unwrap(), "--poll-interval", "20s"]);
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats_history.csv",
    ));
    let last = rows.last().unwrap();
    let users = num(&last[col(&h, "User Count")]);
    let m = ex.wait_for(5, "the history read", |m| {
        m.get("locust_user_count", &[]) == Some(users)
            && m.get("locust_state", &[("state", "running")]) == Some(1.0)
    });
    assert_eq!(m.get("locust_users", &[]), Some(users));
    let ts = &last[col(&h, "Timestamp")];
    // Full history: every endpoint's current rate is its row in the last tick.
    for row in rows.iter().filter(|r| &r[col(&h, "Timestamp")] == ts) {
        let total = row[col(&h, "Type")].is_empty();
        let method = if total {
            "Aggregated"
        } else {
            row[col(&h, "Type")].as_str()
        };
        let labels = [("path", row[col(&h, "Name")].as_str()), ("method", method)];
        assert_eq!(
            m.get("locust_stats_current_rps", &labels),
            Some(num(&row[col(&h, "Requests/s")])),
            "{labels:?}"
        );
        assert_eq!(
            m.get("locust_stats_current_fail_per_sec", &labels),
            Some(num(&row[col(&h, "Failures/s")])),
            "{labels:?}"
        );
    }
}

/// After the run (`--once` reads a finished run): no current activity, totals kept.
#[test]
fn a_finished_run_serves_no_current_activity() {
    let m = Metrics::parse(&once(FIXTURES[0].0));
    assert_eq!(m.get("locust_state", &[("state", "stopped")]), Some(1.0));
    assert_eq!(m.get("locust_user_count", &[]), Some(0.0));
    assert_eq!(m.get("locust_users", &[]), Some(0.0));
    for s in m.find_some("locust_stats_current_rps", &[]) {
        assert_eq!(s.value, 0.0, "{:?}", s.labels);
    }
    assert!(
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .unwrap()
            > 0.0
    );
}

#[test]
fn native_set_mirrors_the_csv() {
    let m = Metrics::parse(&once(FIXTURES[0].0));
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ));
    for row in &rows[..rows.len() - 1] {
        let labels = [
            ("method", row[col(&h, "Type")].as_str()),
            ("name", row[col(&h, "Name")].as_str()),
        ];
        let requests = num(&row[col(&h, "Request Count")]);
        assert_eq!(m.get("locust_requests_total", &labels), Some(requests));
        assert_eq!(
            m.get("locust_request_failures_total", &labels),
            Some(num(&row[col(&h, "Failure Count")]))
        );
        assert_eq!(
            m.get("locust_response_time_seconds_count", &labels),
            Some(requests)
        );
        let mut q = labels.to_vec();
        q.push(("quantile", "0.95"));
        assert_eq!(
            m.get("locust_response_time_seconds", &q),
            Some(num(&row[col(&h, "95%")]) / 1000.0)
        );
    }
    assert!(
        m.find("locust_requests_total", &[("name", "Aggregated")])
            .is_empty(),
        "no Aggregated row in the native set"
    );
}

#[test]
fn metric_sets_select() {
    let arg = format!("fixtures/{}", FIXTURES[0].0);
    let (_, seed, _) = run(&["--once", "--metrics", "seed", "--csv", &arg], None);
    assert!(seed.contains("locust_stats_num_requests{") && !seed.contains("locust_requests_total"));
    let (_, native, _) = run(&["--once", "--metrics", "native", "--csv", &arg], None);
    assert!(
        !native.contains("locust_stats_num_requests") && native.contains("locust_requests_total{")
    );
    assert!(
        native.contains("locust_exporter_build_info"),
        "self-metrics are always served"
    );
}
