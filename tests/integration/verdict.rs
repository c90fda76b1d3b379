//! Verdicts (`docs/checks.md`) on real Locust runs, from CSV files, from events and from the
//! web UI: two exporters follow each run, one whose checks all pass (exit 0) and one whose
//! p95 and fail-ratio checks fail (exit 99, the failing checks named in the summary, the
//! Markdown file and the JUnit file, which junitparser reads). `--check.abort` stops a real
//! web-UI run within the grace period plus one poll.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Checks every run passes: enough requests, the fast endpoints fast and never failing.
const PASSING: [&str; 5] = [
    "requests>=20",
    r#"p95{name="/fast"}<2s"#,
    r#"fail_ratio{name="/fast"}<1%"#,
    r#"max{name=~"/|/fast"}<10s"#,
    "rps>=1",
];
/// A p95 that fails (`/slow` answers in 50–300 ms) and a fail ratio that fails (the
/// recording's locustfile fails about a fifth of its requests), beside one that passes.
const FAILING: [&str; 3] = [r#"p95{name="/slow"}<40ms"#, "fail_ratio<1%", "requests>=20"];

/// One exporter judging a run: its flags' files.
struct Judge {
    exporter: Exporter,
    summary: PathBuf,
    junit: PathBuf,
}

fn judge(dir: &Path, tag: &str, input: &[&str], checks: &[&str], more: &[&str]) -> Judge {
    let summary = dir.join(format!("{tag}-summary.md"));
    let junit = dir.join(format!("{tag}-junit.xml"));
    let mut args: Vec<String> = input.iter().map(|s| (*s).to_owned()).collect();
    for c in checks {
        args.extend(["--check".to_owned(), (*c).to_owned()]);
    }
    args.extend(["--summary.file".to_owned(), summary.display().to_string()]);
    args.extend(["--junit.file".to_owned(), junit.display().to_string()]);
    args.extend(more.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Judge {
        exporter: Exporter::spawn(&refs),
        summary,
        junit,
    }
}

/// What junitparser reads of a JUnit file: (tests, failures, names of the failed cases).
fn parse_junit(bin: &Path, path: &Path) -> (usize, usize, Vec<String>) {
    let script = r#"
import json, sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for suite in xml for c in suite]
failed = [c.name for c in cases if any(isinstance(r, Failure) for r in c.result)]
print(json.dumps({"tests": len(cases), "failures": len(failed), "failed": failed}))
"#;
    let out = Command::new(bin.join("python"))
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "junitparser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    (
        v["tests"].as_u64().unwrap() as usize,
        v["failures"].as_u64().unwrap() as usize,
        failed,
    )
}

/// The passing judge exits 0 and says so everywhere; the failing one exits 99 and names its
/// two failing checks everywhere. `source` is how the summary names the p95's origin.
fn assert_verdicts(bin: &Path, pass: Judge, fail: Judge, source: &str, secs: u64) {
    let (code, log) = pass.exporter.wait_exit_logged(secs);
    let log = log.join("\n");
    assert_eq!(code, Some(0), "every check passed:\n{log}");
    assert!(
        log.contains("verdict: PASSED: all 5 checks passed"),
        "{log}"
    );
    let md = std::fs::read_to_string(&pass.summary).unwrap();
    assert!(md.contains("**✅ PASSED: all 5 checks passed**"), "{md}");
    assert_eq!(parse_junit(bin, &pass.junit), (5, 0, Vec::new()));

    let (code, log) = fail.exporter.wait_exit_logged(secs);
    let log = log.join("\n");
    assert_eq!(
        code,
        Some(99),
        "a p95 and a fail-ratio check failed:\n{log}"
    );
    assert!(
        log.contains("verdict: FAILED: 2 of 3 checks failed (exit code 99)"),
        "{log}"
    );
    let slow = log
        .lines()
        .find(|l| l.contains(r#"FAIL    p95{name="/slow"}<40ms  shop GET /slow: "#))
        .unwrap_or_else(|| panic!("the p95 check is named: {log}"));
    assert!(slow.contains(source), "{slow}");
    assert!(log.contains("FAIL    fail_ratio<1%  shop total: "), "{log}");
    assert!(log.contains("PASS    requests>=20  shop total: "), "{log}");
    let md = std::fs::read_to_string(&fail.summary).unwrap();
    assert!(
        md.contains("**❌ FAILED: 2 of 3 checks failed (exit code 99)**"),
        "{md}"
    );
    assert!(
        md.contains(r#"| ❌ | `p95{name="/slow"}<40ms` | shop GET /slow |"#),
        "{md}"
    );
    assert!(md.contains("| ❌ | `fail_ratio<1%` | shop total |"), "{md}");
    assert!(md.contains("| **Aggregated** |"), "{md}");
    let (tests, failures, mut failed) = parse_junit(bin, &fail.junit);
    failed.sort();
    assert_eq!((tests, failures), (3, 2));
    assert_eq!(failed, ["fail_ratio<1%", r#"p95{name="/slow"}<40ms"#]);
}

/// The fail ratio the failing judge's summary states for the total, as a ratio.
fn stated_fail_ratio(summary: &Path) -> f64 {
    let md = std::fs::read_to_string(summary).unwrap();
    let row = md
        .lines()
        .find(|l| l.contains("`fail_ratio<1%`"))
        .unwrap_or_else(|| panic!("{md}"));
    let value = row.split('|').nth(4).unwrap().trim();
    value
        .split('%')
        .next()
        .unwrap()
        .trim()
        .parse::<f64>()
        .unwrap()
        / 100.0
}

/// A real 8 s headless run (the plugin first with `plugin`; `locust_args` added) followed by
/// a passing and a failing judge reading `flag shop=path`, each exiting 1 s after the run
/// stopped; their verdicts asserted. The failing judge's summary file.
#[allow(clippy::too_many_arguments)]
fn judge_headless_run(
    bin: &Path,
    dir: &Path,
    flag: &str,
    path: &Path,
    plugin: bool,
    locust_args: &[&str],
    source: &str,
) -> PathBuf {
    let target = Target::start(bin);
    let spec = format!("shop={}", path.display());
    let input = [flag, &spec, "--exit-after-stop", "1s"];
    let pass = judge(dir, "pass", &input, &PASSING, &[]);
    let fail = judge(dir, "fail", &input, &FAILING, &[]);
    let mut locust = locust_command(bin, &target, 8, plugin)
        .args(locust_args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_child(&mut locust, 60);
    let summary = fail.summary.clone();
    assert_verdicts(bin, pass, fail, source, 30);
    summary
}

#[test]
fn verdicts_of_a_real_csv_run() {
    let Some(bin) = venv_bin("verdicts_of_a_real_csv_run") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let summary = judge_headless_run(
        &bin,
        dir.path(),
        "--csv",
        &prefix,
        false,
        &["--csv", prefix.to_str().unwrap()],
        "Locust's _stats.csv percentile",
    );
    // The value judged is Locust's own: its final _stats.csv's total.
    let (h, rows) = read_csv(&PathBuf::from(format!("{}_stats.csv", prefix.display())));
    let total = rows.last().unwrap();
    let ratio = num(&total[col(&h, "Failure Count")]) / num(&total[col(&h, "Request Count")]);
    let stated = stated_fail_ratio(&summary);
    assert!(
        (stated - ratio).abs() < 0.00006,
        "{stated} vs Locust's {ratio}"
    );
}

#[test]
fn verdicts_of_a_real_event_run() {
    let Some(bin) = venv_bin("verdicts_of_a_real_event_run") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let json = dir.path().join("final");
    std::fs::write(&events, "").unwrap();
    let summary = judge_headless_run(
        &bin,
        dir.path(),
        "--events",
        &events,
        true,
        &[
            "--exporter-events",
            events.to_str().unwrap(),
            "--json-file",
            json.to_str().unwrap(),
        ],
        "events, native histogram at Locust's rank (within 0.54 %)",
    );
    let totals = json_totals(&PathBuf::from(format!("{}.json", json.display())));
    let (requests, failures) = totals
        .values()
        .fold((0.0, 0.0), |(r, f), t| (r + t.0, f + t.1));
    let stated = stated_fail_ratio(&summary);
    assert!(
        (stated - failures / requests).abs() < 0.00006,
        "{stated} vs Locust's {}",
        failures / requests
    );
}

/// A Locust with its web UI on `web`, started at once, running `secs` (and quitting 5 s
/// later with `autoquit`).
fn web_ui_locust(
    bin: &Path,
    target: &Target,
    web: std::net::SocketAddr,
    secs: u32,
    autoquit: bool,
) -> Child {
    let mut cmd = Command::new(bin.join("locust"));
    cmd.arg("-f")
        .arg(fixture("record/locustfile.py"))
        .args(["-u", "10", "-r", "5", "-H", &target.url, "--autostart"])
        .args(["-t", &format!("{secs}s")])
        .args([
            "--web-host",
            "127.0.0.1",
            "--web-port",
            &web.port().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if autoquit {
        // Time for every exporter's poll to see the run stopped before Locust quits.
        cmd.args(["--autoquit", "5"]);
    }
    cmd.spawn().unwrap()
}

#[test]
fn verdicts_of_a_real_web_ui_run() {
    let Some(bin) = venv_bin("verdicts_of_a_real_web_ui_run") else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let web = free_addr();
    let uri = format!("shop=http://{web}");
    let input = ["--locust.uri", &uri, "--exit-when-locust-quits", "1s"];
    let pass = judge(dir.path(), "pass", &input, &PASSING, &[]);
    let fail = judge(dir.path(), "fail", &input, &FAILING, &[]);
    let mut locust = web_ui_locust(&bin, &target, web, 8, true);
    wait_child(&mut locust, 60);
    assert_verdicts(&bin, pass, fail, "Locust's web UI percentile", 30);
}

/// Locust's runner state through its web UI, if it answers.
fn locust_state(web: std::net::SocketAddr) -> Option<String> {
    std::net::TcpStream::connect_timeout(&web, Duration::from_millis(500)).ok()?;
    let (status, _, body) = http_get(web, "/stats/requests", None);
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["state"].as_str().map(str::to_owned)
}

#[test]
fn check_abort_stops_a_real_web_ui_run_after_the_grace_period() {
    let Some(bin) = venv_bin("check_abort_stops_a_real_web_ui_run_after_the_grace_period") else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let web = free_addr();
    let uri = format!("shop=http://{web}");
    let (grace, poll) = (4.0, 1.0);
    let input = ["--locust.uri", &uri, "--poll-interval", "1s"];
    let judge = judge(
        dir.path(),
        "abort",
        &input,
        &[r#"p95{name="/slow"}<40ms"#],
        &["--check.abort", "--check.grace", "4s"],
    );
    let mut locust = web_ui_locust(&bin, &target, web, 120, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut running_at = None;
    let stopped_at = loop {
        assert!(Instant::now() < deadline, "the run was never stopped");
        match locust_state(web).as_deref() {
            Some("running" | "spawning") if running_at.is_none() => {
                running_at = Some(Instant::now())
            }
            Some("stopped") if running_at.is_some() => break Instant::now(),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let ran = (stopped_at - running_at.unwrap()).as_secs_f64();
    assert!(
        ran >= grace - 0.5,
        "stopped {ran:.1} s after the start: before the grace period"
    );
    // Within the grace period plus one poll (and a second for the poll that first saw data
    // and the stop request's own time).
    assert!(
        ran <= grace + poll + 1.5,
        "stopped {ran:.1} s after the start"
    );
    let (_, log) = judge.exporter.terminate_logged();
    let log = log.join("\n");
    assert!(
        log.contains("A check failed: stopped the Locust run (--check.abort)."),
        "{log}"
    );
    assert!(
        log.contains(r#"p95{name=\"/slow\"}<40ms"#) || log.contains(r#"p95{name="/slow"}<40ms"#),
        "{log}"
    );
    let _ = locust.kill();
    let _ = locust.wait();
}
