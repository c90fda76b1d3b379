//! A run's length and rate come from what the input says — Locust's own `Requests/s`, the
//! history's ticks, the report's window, the requests' times — never from when its files
//! were written or read: a CI job that copies its artefacts (`cp` gives new modification
//! times) judges the run Locust ran. And a `--json-file` report is chosen by what it
//! describes, not by which file is newer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// The files of fixture directory `dir` copied (as `cp` copies: new modification times) into
/// a fresh directory; returns it and the prefix `run` in it.
fn copied(dir: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(fixture(dir)).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
            n += 1;
        }
    }
    assert!(n > 0, "nothing in {dir}");
    let prefix = tmp.path().join("run");
    (tmp, prefix)
}

/// Sets `path`'s modification time to `stamp` (`touch -d`).
fn touch(path: &Path, stamp: &str) {
    let ok = Command::new("touch")
        .args(["-d", stamp])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "touch -d {stamp} {}", path.display());
}

/// The history's total rows: (timestamp, total requests).
fn history_totals(history: &Path) -> Vec<(f64, f64)> {
    let (h, rows) = read_csv(history);
    rows.iter()
        .filter(|r| r[col(&h, "Name")] == "Aggregated")
        .map(|r| {
            (
                num(&r[col(&h, "Timestamp")]),
                num(&r[col(&h, "Total Request Count")]),
            )
        })
        .collect()
}

/// The bundled recording, copied (files 12 days newer than its data): `--once` judges
/// `rps>=1` on Locust's own rate, which equals requests over the history's span within 1 %;
/// the run lasted its 19 s, not the 12 days to its files' new times.
#[test]
fn a_copied_recording_is_judged_on_its_own_length() {
    let (_tmp, prefix) = copied("locust-2.47.0/standalone-full-history");
    let p = prefix.display().to_string();
    let (code, out, err) = run(&["--once", "--csv", &p, "--check", "rps>=1"], None);
    assert_eq!(code, Some(0), "a healthy run passes:\n{err}");
    let m = Metrics::parse(&out);
    let rps = m.get_one("locust_check_value", &[("check", "rps>=1")]);
    let totals = history_totals(&prefix.with_file_name("run_stats_history.csv"));
    let first = totals.iter().find(|t| t.1 == 0.0).unwrap().0;
    let requests = totals.last().unwrap().1;
    // Locust goes on writing rows with the final count until it quits: the run ended at the
    // first of them.
    let last = totals.iter().find(|t| t.1 == requests).unwrap().0;
    let (h, rows) = read_csv(&prefix.with_file_name("run_stats.csv"));
    let total = rows.last().unwrap();
    let csv_requests = num(&total[col(&h, "Request Count")]);
    assert!(
        requests > 1000.0 && csv_requests >= requests,
        "{requests} {csv_requests}"
    );
    let over_span = csv_requests / (last - first);
    assert!(
        (rps - over_span).abs() / over_span < 0.01,
        "rps {rps} against {csv_requests} requests over the history's {} s: {over_span}",
        last - first
    );
    // Exactly Locust's own Requests/s.
    assert_eq!(rps, num(&total[col(&h, "Requests/s")]));
    let length = m.get_one("locust_run_duration_seconds", &[("service", "locust")]);
    assert!((length - (last - first)).abs() < 1.0, "length {length}");
    assert!(err.contains("service locust (stopped, 19.0 s)"), "{err}");
    assert!(err.contains("PASS    rps>=1  locust total: "), "{err}");
    assert!(err.contains("(Locust's _stats.csv's Requests/s)"), "{err}");
    let start = m.get_one(
        "locust_run_start_timestamp_seconds",
        &[("service", "locust")],
    );
    let end = m.get_one("locust_run_end_timestamp_seconds", &[("service", "locust")]);
    assert_eq!((start, end), (first, last), "the history's own ticks");
}

/// Locust's `--json-file` report copied with an older modification time than the CSV files
/// (an artefact download does that): still the run's end-of-run report, by its content,
/// so the totals are Locust's final ones, not the last `_stats.csv`'s (which lags the end).
#[test]
fn a_report_older_than_its_csv_files_is_still_the_runs() {
    let (_tmp, prefix) = copied("locust-2.47.0/report-none-times");
    let report = prefix.with_extension("json");
    touch(&report, "2 days ago");
    let p = prefix.display().to_string();
    let (code, out, err) = run(&["--once", "--csv", &p], None);
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    let want = json_totals(&report);
    let csv = read_csv(&prefix.with_file_name("run_stats.csv"));
    let csv_total = num(&csv.1.last().unwrap()[col(&csv.0, "Request Count")]);
    let all: f64 = want.values().map(|(r, _)| r).sum();
    assert!(
        all > csv_total,
        "the report counts what the last _stats.csv missed: {all} vs {csv_total}"
    );
    for ((method, name), (requests, failures)) in &want {
        let l = [
            ("service", "locust"),
            ("method", method.as_str()),
            ("name", name.as_str()),
        ];
        assert_eq!(
            m.get("locust_requests_total", &l),
            Some(*requests),
            "{name}"
        );
        assert_eq!(
            m.get("locust_request_failures_total", &l),
            Some(*failures),
            "{name}"
        );
    }
    assert!(err.contains("service locust (stopped, "), "{err}");
}

/// A report of another run beside the CSV files (a prefix reused, the old report left) is
/// not this run's: its first request is far from the history's start, so the CSV files'
/// numbers stay — whichever file is newer.
#[test]
fn another_runs_report_beside_the_csv_files_is_not_used() {
    let (tmp, prefix) = copied("locust-2.47.0/standalone-full-history");
    let report = prefix.with_extension("json");
    std::fs::copy(fixture("locust-2.47.0/report-none-times/run.json"), &report).unwrap();
    touch(&report, "tomorrow");
    let p = prefix.display().to_string();
    let (code, out, err) = run(&["--once", "--csv", &p], None);
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    assert_stats_match(&m, "locust", &tmp.path().join("run_stats.csv"));
}
