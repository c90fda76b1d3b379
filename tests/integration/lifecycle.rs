//! The first minutes and the last second: a run's end read as its end. Real Locust runs
//! with `--csv` and `--json-file`, a real Pushgateway for the Job's final push, and files
//! of a run that ended long ago.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A headless Locust run writing `--csv PREFIX --json-file PREFIX`, and Locust's own final
/// stats (`final_stats.py`) beside them.
fn start_locust(bin: &Path, target: &Target, prefix: &Path, secs: u32) -> Child {
    let final_stats = locust_final(prefix);
    let helper = root().join("tests/integration/final_stats.py");
    let mut cmd = locust_command_with(bin, target, secs, false, &[helper]);
    cmd.args([
        "--csv",
        prefix.to_str().unwrap(),
        "--json-file",
        prefix.to_str().unwrap(),
    ])
    .env("LOCUST_FINAL_STATS", &final_stats)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

/// What a Job test needs: Locust, a real Pushgateway, the target, and a prefix in a
/// scratch directory.
struct Job {
    bin: PathBuf,
    pgw: Pushgateway,
    target: Target,
    prefix: PathBuf,
    _dir: tempfile::TempDir,
}

impl Job {
    /// `None` (after saying so) where Locust or the Pushgateway is missing.
    fn start(test: &str) -> Option<Job> {
        let bin = venv_bin(test)?;
        let pgw = Pushgateway::start(test)?;
        let target = Target::start(&bin);
        let dir = tempfile::tempdir().unwrap();
        Some(Job {
            prefix: dir.path().join("run"),
            bin,
            pgw,
            target,
            _dir: dir,
        })
    }
}

/// Locust's own final stats, as `final_stats.py` wrote them beside `prefix`.
fn locust_final(prefix: &Path) -> PathBuf {
    PathBuf::from(format!("{}_locust_final.csv", prefix.display()))
}

/// The exporter following `--csv SERVICE=PREFIX` and pushing to `pgw`, with `more` flags.
fn pushing_exporter(service: &str, prefix: &Path, pgw: &Pushgateway, more: &[&str]) -> Exporter {
    let csv = format!("{service}={}", prefix.display());
    let url = pgw.url();
    let mut args = vec!["--csv", csv.as_str(), "--push.url", url.as_str()];
    args.extend_from_slice(more);
    Exporter::spawn(&args)
}

fn json_total(prefix: &Path) -> f64 {
    let path = PathBuf::from(format!("{}.json", prefix.display()));
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    entries
        .iter()
        .map(|e| e["num_requests"].as_f64().unwrap())
        .sum()
}

/// With `--json-file`, a CSV run ends equal to Locust's own final report: every column of
/// every row, which the last `_stats.csv` (written up to a second before the end) is not.
#[test]
fn a_csv_run_with_its_json_report_ends_exactly_as_locust_reports() {
    let test = "a_csv_run_with_its_json_report_ends_exactly_as_locust_reports";
    let Some(bin) = venv_bin(test) else { return };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let ex = Exporter::spawn(&["--csv", &format!("shop={}", prefix.display())]);
    let mut locust = start_locust(&bin, &target, &prefix, 6);
    wait_child(&mut locust, 60);
    let total = json_total(&prefix);
    let m = ex.wait_for(10, "the report's totals", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(total)
    });
    let (h, rows) = read_csv(&PathBuf::from(format!("{}_stats.csv", prefix.display())));
    let csv_total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
    eprintln!("{test}: last _stats.csv {csv_total} requests, Locust's report {total}");
    assert_stats_match(&m, "shop", &locust_final(&prefix));
    assert_eq!(
        m.get("locust_state", &[("state", "stopped")]),
        Some(1.0),
        "the report says the run ended"
    );
    // The run's length is the report's own window, from its first request: Locust's own
    // starts at the test's start, the time to the first request earlier.
    let (fh, frows) = read_csv(&locust_final(&prefix));
    let last = frows.last().unwrap();
    let locusts = num(&last[col(&fh, "Request Count")]) / num(&last[col(&fh, "Requests/s")]);
    let served = m.get_one("locust_run_duration_seconds", &[("service", "shop")]);
    eprintln!("{test}: run length served {served:.3} s, Locust's {locusts:.3} s");
    assert!(
        served <= locusts + 1e-9 && served > locusts - 1.0,
        "served {served} s, Locust's {locusts} s"
    );
}

/// The Job: Locust headless with `--csv` and `--json-file`, the exporter as its sidecar
/// pushing to a real Pushgateway, SIGTERM 0.5 s after Locust exits. The final group reads
/// the run as ended: `stopped`, no users, no current rate, Locust's final totals.
#[test]
fn the_jobs_final_push_says_the_run_ended() {
    let test = "the_jobs_final_push_says_the_run_ended";
    let Some(Job {
        bin,
        pgw,
        target,
        prefix,
        _dir,
    }) = Job::start(test)
    else {
        return;
    };
    let ex = pushing_exporter("job", &prefix, &pgw, &["--push.interval", "1s"]);
    let mut locust = start_locust(&bin, &target, &prefix, 6);
    wait_child(&mut locust, 60);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ex.terminate(), Some(0), "a clean stop after the final push");
    let m = pgw.metrics();
    let job = [("service", "job")];
    assert_eq!(
        m.get("locust_state", &[("service", "job"), ("state", "stopped")]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.get("locust_state", &[("service", "job"), ("state", "running")]),
        None
    );
    assert_eq!(m.get_one("locust_user_count", &job), 0.0);
    assert_eq!(m.get_one("locust_users", &job), 0.0);
    let aggregated = [("service", "job"), ("path", "Aggregated")];
    assert_eq!(m.get_one("locust_stats_current_rps", &aggregated), 0.0);
    assert_eq!(
        m.get_one("locust_stats_num_requests", &aggregated),
        json_total(&prefix),
        "Locust's final totals"
    );
    assert_stats_match(&m, "job", &locust_final(&prefix));
    assert_eq!(m.get("locust_exporter_run_interrupted", &job), None);
}

/// A pod evicted mid-test: SIGTERM while Locust still runs. The final group cannot read as
/// a live run forever: `stopped`, users 0, and `locust_exporter_run_interrupted` 1.
#[test]
fn sigterm_mid_run_pushes_an_interrupted_run() {
    let test = "sigterm_mid_run_pushes_an_interrupted_run";
    let Some(Job {
        bin,
        pgw,
        target,
        prefix,
        _dir,
    }) = Job::start(test)
    else {
        return;
    };
    let ex = pushing_exporter("evicted", &prefix, &pgw, &[]);
    let mut locust = start_locust(&bin, &target, &prefix, 30);
    ex.wait_for(30, "the run is live", |m| {
        m.get("locust_state", &[("state", "running")]) == Some(1.0)
            && m.get("locust_stats_num_requests", &[("path", "Aggregated")])
                .is_some_and(|n| n > 0.0)
    });
    assert_eq!(ex.terminate(), Some(0));
    let _ = locust.kill();
    let _ = locust.wait();
    let m = pgw.metrics();
    let svc = [("service", "evicted")];
    assert_eq!(
        m.get(
            "locust_state",
            &[("service", "evicted"), ("state", "stopped")]
        ),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(m.get_one("locust_user_count", &svc), 0.0);
    assert_eq!(m.get_one("locust_exporter_run_interrupted", &svc), 1.0);
}

/// Files of a run that ended long ago are `stopped` from the first scrape, not `running`
/// for three poll intervals.
#[test]
fn files_written_long_ago_are_stopped_at_the_first_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("locust-2.47.0/standalone-full-history");
    let old = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023
    for name in [
        "run_stats.csv",
        "run_stats_history.csv",
        "run_failures.csv",
        "run_exceptions.csv",
    ] {
        let to = dir.path().join(name);
        std::fs::copy(src.join(name), &to).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&to)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let started = Instant::now();
    let ex = Exporter::spawn(&["--csv", dir.path().join("run").to_str().unwrap()]);
    let m = ex.wait_for(10, "the files are read", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "read within a poll or two"
    );
    assert_eq!(
        m.get("locust_state", &[("state", "stopped")]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(m.get_one("locust_user_count", &[]), 0.0);
}

/// A prefix deleted from a `--csv` directory is let go after `--csv.vanished-after`: its
/// files closed, its service no longer served; the other prefix stays.
#[test]
fn a_vanished_prefix_releases_its_files_and_its_service() {
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["keep", "gone"] {
        copy_recording(dir.path(), prefix);
    }
    let ex = Exporter::spawn(&[
        "--csv",
        &format!("{}/", dir.path().display()),
        "--csv.vanished-after",
        "2s",
    ]);
    ex.wait_for(20, "both prefixes", |m| {
        m.get("locust_user_count", &[("service", "gone")]).is_some()
            && m.get("locust_user_count", &[("service", "keep")]).is_some()
    });
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("gone")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let m = ex.wait_for(20, "the gone prefix let go", |m| {
        m.get("locust_user_count", &[("service", "gone")]).is_none()
    });
    assert!(m.get("locust_user_count", &[("service", "keep")]).is_some());
    let deleted_open = std::fs::read_dir(format!("/proc/{}/fd", ex.pid()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|l| l.to_string_lossy().contains("(deleted)"))
        .count();
    assert_eq!(deleted_open, 0, "deleted files still open");
}
