//! Real Locust (pip, in the venv `.ci/run` makes at `.venv/`, or `$LOCUST_VENV`) against the
//! local target server, writing real CSV files and real events while the exporter follows
//! them. Without the venv these tests skip with a loud message, unless `REQUIRE_LOCUST=1`
//! (set by `.ci/run`), where a missing venv fails them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// One real headless run with `--csv`, followed live by the exporter; shared by the tests
/// below (one Locust run, each test proving one thing).
struct CsvRun {
    prefix: PathBuf,
    /// Aggregated request counts scraped every 100 ms while Locust ran.
    counts: Vec<f64>,
    /// `locust_state` values seen while Locust ran.
    states: std::collections::BTreeSet<String>,
    /// The scrape once the final `_stats.csv` total was served.
    last: Metrics,
    /// A scrape once the service was `stopped`.
    stopped: Metrics,
    _dir: tempfile::TempDir,
}

static CSV_RUN: std::sync::OnceLock<CsvRun> = std::sync::OnceLock::new();

fn csv_run(test: &str) -> Option<&'static CsvRun> {
    let bin = venv_bin(test)?;
    Some(CSV_RUN.get_or_init(|| {
        let target = Target::start(&bin);
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("out").join("run");
        let spec = format!("checkout={}", prefix.display());
        let ex = Exporter::spawn(&["--csv", &spec]);
        let mut locust = locust_command(&bin, &target, 10, false)
            .args(["--csv", prefix.to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (mut counts, mut states) = (Vec::new(), std::collections::BTreeSet::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        while locust.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "locust ran too long");
            let m = ex.scrape();
            counts.extend(m.get("locust_stats_num_requests", &[("path", "Aggregated")]));
            for s in m.find("locust_state", &[("service", "checkout")]) {
                states.insert(s.labels["state"].clone());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_child(&mut locust, 30);
        let (h, rows) = read_csv(&PathBuf::from(format!("{}_stats.csv", prefix.display())));
        let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
        assert!(total > 50.0, "the run made requests ({total})");
        let last = ex.wait_for(10, "the final snapshot", |m| {
            m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(total)
        });
        let stopped = ex.wait_for(10, "stopped", |m| {
            m.get("locust_state", &[("state", "stopped")]) == Some(1.0)
        });
        CsvRun {
            prefix,
            counts,
            states,
            last,
            stopped,
            _dir: dir,
        }
    }))
}

impl CsvRun {
    fn file(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.prefix.display()))
    }
}

#[test]
fn real_csv_counters_never_go_down_mid_run() {
    let Some(run) = csv_run("real_csv_counters_never_go_down_mid_run") else {
        return;
    };
    assert!(
        run.counts.len() > 5,
        "scraped while running: {:?}",
        run.counts
    );
    for w in run.counts.windows(2) {
        assert!(w[1] >= w[0], "counter went down mid-run: {w:?}");
    }
}

#[test]
fn real_csv_state_is_running_while_locust_runs() {
    let Some(run) = csv_run("real_csv_state_is_running_while_locust_runs") else {
        return;
    };
    assert!(
        run.states.contains("running"),
        "states seen: {:?}",
        run.states
    );
}

#[test]
fn real_csv_stats_equal_the_final_file_exactly() {
    let Some(run) = csv_run("real_csv_stats_equal_the_final_file_exactly") else {
        return;
    };
    assert_stats_match(&run.last, "checkout", &run.file("_stats.csv"));
}

#[test]
fn real_csv_errors_equal_the_final_failures_file() {
    let Some(run) = csv_run("real_csv_errors_equal_the_final_failures_file") else {
        return;
    };
    assert_failures_match(&run.last, "checkout", &run.file("_failures.csv"));
}

#[test]
fn real_csv_name_with_comma_and_quotes_is_served() {
    let Some(run) = csv_run("real_csv_name_with_comma_and_quotes_is_served") else {
        return;
    };
    let weird = [("path", "/weird,name \"quoted\""), ("method", "GET")];
    assert!(run.last.get("locust_stats_num_requests", &weird).unwrap() > 0.0);
}

#[test]
fn real_csv_exposition_passes_promtool() {
    let Some(run) = csv_run("real_csv_exposition_passes_promtool") else {
        return;
    };
    assert_promtool_clean(&run.last.text);
}

#[test]
fn real_csv_final_values_stay_served_once_stopped() {
    let Some(run) = csv_run("real_csv_final_values_stay_served_once_stopped") else {
        return;
    };
    assert_stats_match(&run.stopped, "checkout", &run.file("_stats.csv"));
}

/// Locust's bucketing of a response time (2 significant digits): the width of its bucket.
fn bucket_width(ms: f64) -> f64 {
    if ms < 100.0 {
        1.0
    } else if ms < 1000.0 {
        10.0
    } else if ms < 10000.0 {
        100.0
    } else {
        1000.0
    }
}

/// One real headless run with the plugin piped into `--events -`
/// (`locust -f locustfile.py,plugin | locust-exporter --events shop=-`), with Locust's
/// `--csv` and `--json-file` beside it; shared by the tests below.
pub(crate) struct PluginRun {
    pub(crate) prefix: PathBuf,
    pub(crate) json: PathBuf,
    /// The scrape once every event was applied and the input ended.
    last: Metrics,
    /// The plugin's stream, as the exporter read it.
    pub(crate) stream: String,
    /// How long Locust ran, seconds.
    ran_secs: f64,
    _dir: tempfile::TempDir,
}

static PLUGIN_RUN: std::sync::OnceLock<PluginRun> = std::sync::OnceLock::new();

/// The plugin aggregates: its stream has `requests` lines only (no `request` line), at
/// most one per endpoint per second (plus the final flush), and they carry every request.
#[test]
fn plugin_writes_one_requests_line_per_endpoint_per_flush() {
    let Some(run) = plugin_run("plugin_writes_one_requests_line_per_endpoint_per_flush") else {
        return;
    };
    let lines: Vec<serde_json::Value> = run
        .stream
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().all(|l| l["event"] != "request"),
        "no per-request line"
    );
    let batches: Vec<_> = lines.iter().filter(|l| l["event"] == "requests").collect();
    let endpoints: std::collections::BTreeSet<_> = batches
        .iter()
        .map(|b| (b["request_type"].to_string(), b["name"].to_string()))
        .collect();
    let flushes = run.ran_secs.ceil() + 2.0;
    assert!(
        batches.len() as f64 <= endpoints.len() as f64 * flushes,
        "{} requests lines for {} endpoints over {:.1} s",
        batches.len(),
        endpoints.len(),
        run.ran_secs
    );
    let in_batches: f64 = batches
        .iter()
        .map(|b| b["requests"].as_f64().unwrap())
        .sum();
    let locust: f64 = json_totals(&run.json).values().map(|v| v.0).sum();
    assert_eq!(
        in_batches, locust,
        "the batches carry every request Locust counted"
    );
    for b in &batches {
        let in_buckets: u64 = b["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_u64().unwrap())
            .sum::<u64>()
            + b["zero_count"].as_u64().unwrap();
        assert_eq!(Some(in_buckets), b["timed"].as_u64(), "{b}");
    }
}

pub(crate) fn plugin_run(test: &str) -> Option<&'static PluginRun> {
    let bin = venv_bin(test)?;
    Some(PLUGIN_RUN.get_or_init(|| {
        let target = Target::start(&bin);
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("run");
        let json = dir.path().join("final");
        let mut ex =
            Exporter::spawn_with_stdin(&["--events", "shop=-", "--metrics", "native,seed"]);
        let mut locust = locust_command(&bin, &target, 10, true)
            .args([
                "--csv",
                prefix.to_str().unwrap(),
                "--json-file",
                json.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut from = locust.stdout.take().unwrap();
        let mut to = ex.stdin.take().unwrap();
        // Pass the stream on, and keep a copy to look at its lines.
        let pump = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match std::io::Read::read(&mut from, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        std::io::Write::write_all(&mut to, &buf[..n]).unwrap();
                        kept.extend_from_slice(&buf[..n]);
                    }
                }
            }
            String::from_utf8(kept).unwrap()
        });
        let started = std::time::Instant::now();
        wait_child(&mut locust, 60);
        let ran_secs = started.elapsed().as_secs_f64();
        let stream = pump.join().unwrap();
        let json = PathBuf::from(format!("{}.json", json.display()));
        let all: f64 = json_totals(&json).values().map(|v| v.0).sum();
        assert!(all > 50.0, "the run made requests ({all})");
        let last = ex.wait_for(10, "every event", |m| {
            m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(all)
                && m.get("locust_state", &[("state", "stopped")]) == Some(1.0)
        });
        PluginRun {
            prefix,
            json,
            last,
            stream,
            ran_secs,
            _dir: dir,
        }
    }))
}

impl PluginRun {
    pub(crate) fn file(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.prefix.display()))
    }
}

#[test]
fn plugin_counts_equal_locusts_final_totals() {
    let Some(run) = plugin_run("plugin_counts_equal_locusts_final_totals") else {
        return;
    };
    assert_totals(&run.last, &json_totals(&run.json), Key::MethodAndName);
}

/// The plugin sums response times as Locust does, per flush, and the exporter adds the
/// flushes' sums: the seed set's averages equal Locust's within 1e-12 relative (the sums
/// are associated differently), min and max to the last bit.
#[test]
fn plugin_avg_min_max_equal_locusts_exactly() {
    let Some(run) = plugin_run("plugin_avg_min_max_equal_locusts_exactly") else {
        return;
    };
    let mut compared = 0;
    for e in json_entries(&run.json) {
        let timed = e["num_requests"].as_f64().unwrap() - e["num_none_requests"].as_f64().unwrap();
        if timed == 0.0 {
            continue;
        }
        let labels = [
            ("service", "shop"),
            ("method", e["method"].as_str().unwrap()),
            ("path", e["name"].as_str().unwrap()),
        ];
        let avg = e["total_response_time"].as_f64().unwrap() / timed;
        for (metric, want) in [
            ("locust_stats_avg_response_time", avg),
            (
                "locust_stats_min_response_time",
                e["min_response_time"].as_f64().unwrap(),
            ),
            (
                "locust_stats_max_response_time",
                e["max_response_time"].as_f64().unwrap(),
            ),
        ] {
            let got = run.last.get(metric, &labels).unwrap();
            if metric == "locust_stats_avg_response_time" {
                assert!(
                    (got - want).abs() <= want.abs() * 1e-12,
                    "{metric}{labels:?}: {got} ≠ {want}"
                );
            } else {
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{metric}{labels:?}: {got} ≠ {want}"
                );
            }
        }
        compared += 1;
    }
    assert!(compared >= 3, "compared {compared} endpoints");
}

/// The final `_stats.csv` is written once a second and not at shutdown, so it can lag the
/// run's last second: served counts are at least its counts, equal where it caught up.
#[test]
fn plugin_counts_at_least_the_final_stats_csv() {
    let Some(run) = plugin_run("plugin_counts_at_least_the_final_stats_csv") else {
        return;
    };
    let (h, rows) = read_csv(&run.file("_stats.csv"));
    for row in &rows[..rows.len() - 1] {
        let (method, name) = (row[col(&h, "Type")].as_str(), row[col(&h, "Name")].as_str());
        let labels = [("service", "shop"), ("method", method), ("name", name)];
        let csv_requests = num(&row[col(&h, "Request Count")]);
        let served = run.last.get("locust_requests_total", &labels).unwrap();
        assert!(
            served >= csv_requests,
            "{labels:?}: served {served} < csv {csv_requests}"
        );
        if served == csv_requests {
            assert_eq!(
                run.last.get("locust_request_failures_total", &labels),
                Some(num(&row[col(&h, "Failure Count")]))
            );
        }
    }
}

/// Percentiles: from the same requests, Locust's own answer (its bucket histogram of
/// `--json-file`, walked as `calculate_response_time_percentile` walks it: the `int(n·q) + 1`-th
/// smallest); ours (exact times, or the native histogram, unbucketed) must be within half
/// of Locust's bucket (its 2-significant-digit rounding) plus half a schema-6 bucket.
#[test]
fn plugin_percentiles_within_locusts_buckets() {
    let Some(run) = plugin_run("plugin_percentiles_within_locusts_buckets") else {
        return;
    };
    let mut checked = 0;
    for e in &json_entries(&run.json) {
        let mut buckets: Vec<(f64, f64)> = e["response_times"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n: f64 = buckets.iter().map(|b| b.1).sum();
        if n < 20.0 {
            continue;
        }
        let labels = [
            ("service", "shop"),
            ("method", e["method"].as_str().unwrap()),
            ("name", e["name"].as_str().unwrap()),
        ];
        for q in [0.5, 0.9, 0.99] {
            let rank = ((n * q).trunc() + 1.0).min(n);
            let mut seen = 0.0;
            let locust_ms = buckets
                .iter()
                .find(|b| {
                    seen += b.1;
                    seen >= rank
                })
                .unwrap()
                .0;
            let mut ql = labels.to_vec();
            let qs = q.to_string();
            ql.push(("quantile", &qs));
            let ours_ms = run.last.get("locust_response_time_seconds", &ql).unwrap() * 1000.0;
            let tolerance = bucket_width(locust_ms) / 2.0 + 0.0055 * locust_ms + 0.02;
            assert!(
                (ours_ms - locust_ms).abs() <= tolerance,
                "{labels:?} p{q}: ours {ours_ms} ms, Locust's bucket {locust_ms} ms"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 9,
        "percentiles of at least 3 endpoints compared ({checked})"
    );
}

/// Exceptions and failures: at least what Locust's files say (they can lag the last second).
#[test]
fn plugin_exceptions_and_failures_at_least_the_files() {
    let Some(run) = plugin_run("plugin_exceptions_and_failures_at_least_the_files") else {
        return;
    };
    let (eh, erows) = read_csv(&run.file("_exceptions.csv"));
    assert!(!erows.is_empty(), "the locustfile raises exceptions");
    for row in &erows {
        let message = row[col(&eh, "Message")].as_str();
        let served = run
            .last
            .get("locust_exceptions_total", &[("message", message)])
            .unwrap();
        assert!(
            served >= num(&row[col(&eh, "Count")]),
            "{message}: served {served}"
        );
    }
    let (fh, frows) = read_csv(&run.file("_failures.csv"));
    assert!(!frows.is_empty(), "the locustfile fails requests");
    for row in &frows {
        let labels = [
            ("method", row[col(&fh, "Method")].as_str()),
            ("name", row[col(&fh, "Name")].as_str()),
            ("error", row[col(&fh, "Error")].as_str()),
        ];
        let served = run.last.get("locust_failures_total", &labels).unwrap();
        assert!(served >= num(&row[col(&fh, "Occurrences")]), "{labels:?}");
    }
}

#[test]
fn plugin_exposition_passes_promtool() {
    let Some(run) = plugin_run("plugin_exposition_passes_promtool") else {
        return;
    };
    assert_promtool_clean(&run.last.text);
}

#[test]
fn distributed_workers_each_write_a_stream_nothing_counted_twice() {
    let Some(bin) = venv_bin("distributed_workers_each_write_a_stream_nothing_counted_twice")
    else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("final");
    let stream = |name: &str| dir.path().join(name).display().to_string();
    let (mut master, mut workers) =
        start_distributed(&bin, &target, dir.path(), &json, &[], |_| Vec::new());
    let (m0, w0, w1) = (
        format!("load={}", stream("master.jsonl")),
        format!("load={}", stream("worker0.jsonl")),
        format!("load={}", stream("worker1.jsonl")),
    );
    let ex = Exporter::spawn(&["--events", &m0, "--events", &w0, "--events", &w1]);
    // While the run goes on, the master's plugin reports its workers.
    let mut most_workers = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(90);
    while master.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the master ran too long");
        if let Some(w) = ex.scrape().get("locust_workers", &[("service", "load")]) {
            most_workers = most_workers.max(w);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(most_workers, 2.0, "the master reports its workers");
    wait_child(&mut master, 90);
    for w in &mut workers {
        wait_child(w, 30);
    }
    let totals = json_totals(&PathBuf::from(format!("{}.json", json.display())));
    let all: f64 = totals.values().map(|v| v.0).sum();
    assert!(all > 30.0, "the run made requests ({all})");
    let m = ex.wait_for(10, "every worker's events", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(all)
    });
    assert_totals(&m, &totals, Key::MethodAndName);
    let m = ex.wait_for(10, "stopped", |m| {
        m.get("locust_state", &[("service", "load"), ("state", "stopped")]) == Some(1.0)
    });
    assert_eq!(
        m.get("locust_workers", &[("service", "load")]),
        Some(0.0),
        "no workers once the run stopped"
    );
    assert!(
        std::fs::read_to_string(stream("master.jsonl"))
            .unwrap()
            .lines()
            .all(|l| !l.contains("\"request\"")),
        "the master writes no requests"
    );
}

/// The plugin's runner line says what the run is: `locust_run_info` carries Locust's version,
/// the locustfile and the host under test, and the run's start and end are served.
#[test]
fn plugin_run_info_names_the_version_locustfile_and_host() {
    let Some(run) = plugin_run("plugin_run_info_names_the_version_locustfile_and_host") else {
        return;
    };
    let info = run
        .last
        .find_some("locust_run_info", &[("service", "shop")]);
    assert_eq!(info.len(), 1, "{info:?}");
    let labels = &info[0].labels;
    assert_eq!(
        labels.get("locust_version").map(String::as_str),
        Some("2.47.0")
    );
    assert!(
        labels
            .get("locustfile")
            .is_some_and(|f| f.contains("locustfile.py")),
        "{labels:?}"
    );
    assert!(
        labels
            .get("host")
            .is_some_and(|h| h.starts_with("http://127.0.0.1:")),
        "{labels:?}"
    );
    let start = run
        .last
        .get_one("locust_run_start_timestamp_seconds", &[("service", "shop")]);
    let end = run
        .last
        .get_one("locust_run_end_timestamp_seconds", &[("service", "shop")]);
    assert!(end > start, "{start} .. {end}");
    // Locust ran `ran_secs`; the run's data spans at most that (and most of it).
    assert!(
        end - start <= run.ran_secs + 1.0,
        "{} of {}",
        end - start,
        run.ran_secs
    );
    assert!(
        end - start >= run.ran_secs - 4.0,
        "{} of {}",
        end - start,
        run.ran_secs
    );
}
