//! Baseline verdicts (`docs/baseline.md`): the recorded A/A and A/B pairs of
//! `fixtures/baseline/` judged with `regression<5%` (false alarms and power), a run against
//! its own summary JSON, a baseline read back from Prometheus 3.5 and VictoriaMetrics, and
//! `promql:` checks against a real Prometheus scraping the target during real Locust runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::support::*;

const PAIRS: &str = "baseline/locust-2.47.0";

/// The rounds recorded: `NN` of `NN-a.jsonl`, `NN-aa.jsonl`, `NN-b.jsonl`.
fn rounds() -> Vec<String> {
    let dir = fixture(PAIRS);
    let mut r: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix("-a.jsonl").map(str::to_owned)
        })
        .collect();
    r.sort();
    assert!(
        r.len() >= 20,
        "{}: {} rounds recorded, want 20",
        dir.display(),
        r.len()
    );
    r
}

fn events(round: &str, kind: &str) -> String {
    fixture(&format!("{PAIRS}/{round}-{kind}.jsonl"))
        .display()
        .to_string()
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `--once` over `args` writing `--summary.json` to `out`: the exit code and the summary.
fn summarize(args: &[&str], out: &Path) -> (Option<i32>, serde_json::Value, String) {
    let out_s = out.display().to_string();
    let mut all: Vec<&str> = vec!["--once", "--summary.json", &out_s];
    all.extend_from_slice(args);
    let (code, _, stderr) = run(&all, None);
    assert!(out.exists(), "no summary JSON: {stderr}");
    (code, read_json(out), stderr)
}

/// One regression row of a summary: (name, effect, status, confidence).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    effect: f64,
    status: String,
    confidence: f64,
    baseline_median: f64,
}

fn regression_rows(summary: &serde_json::Value) -> Vec<Row> {
    let check = summary["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "regression<5%"))
        .unwrap_or_else(|| panic!("no regression check in {summary}"));
    let rows: Vec<Row> = check["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| Row {
            name: o["name"].as_str().unwrap_or("").to_owned(),
            effect: o["value"].as_f64().unwrap_or(f64::NAN),
            status: o["status"].as_str().unwrap_or("").to_owned(),
            confidence: o["confidence"].as_f64().unwrap_or(f64::NAN),
            baseline_median: o["baseline"].as_f64().unwrap_or(f64::NAN),
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["/cart", "/home", "/login", "/search"],
        "{summary}"
    );
    rows
}

#[test]
fn recorded_pairs_flag_the_slowed_endpoint_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (mut aa_clean, mut b_found, mut b_others) = (0, 0, 0);
    let mut table = Vec::new();
    let rounds = rounds();
    for r in &rounds {
        let base = dir.path().join(format!("{r}-a.json"));
        let (code, first, err) = summarize(&["--events", &events(r, "a")], &base);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            first["services"][0]["total"]["failures"].as_u64(),
            Some(0),
            "{r}-a"
        );
        let base_s = base.display().to_string();
        let mut line = format!("{r}:");
        for kind in ["aa", "b"] {
            let out = dir.path().join(format!("{r}-{kind}.json"));
            let (code, summary, err) = summarize(
                &[
                    "--events",
                    &events(r, kind),
                    "--baseline",
                    &base_s,
                    "--check",
                    "regression<5%",
                ],
                &out,
            );
            // A recording of a healthy run: no failed request (a target that did not
            // start would read as a run 95 % faster).
            assert_eq!(
                summary["services"][0]["total"]["failures"].as_u64(),
                Some(0),
                "{r}-{kind}"
            );
            let rows = regression_rows(&summary);
            let flagged: Vec<&Row> = rows.iter().filter(|x| x.status == "fail").collect();
            assert_eq!(code, Some(if flagged.is_empty() { 0 } else { 99 }), "{err}");
            for x in &rows {
                assert!(x.effect.is_finite() && x.confidence.is_finite(), "{x:?}");
                line.push_str(&format!(
                    " {kind}{}{:+.1}%{}",
                    x.name,
                    x.effect * 100.0,
                    if x.status == "fail" { "!" } else { "" }
                ));
            }
            match kind {
                "aa" => aa_clean += usize::from(flagged.is_empty()),
                _ => {
                    b_found += usize::from(flagged.iter().any(|x| x.name == "/cart"));
                    b_others += flagged.iter().filter(|x| x.name != "/cart").count();
                }
            }
        }
        table.push(line);
    }
    eprintln!("{}", table.join("\n"));
    eprintln!(
        "A/A pairs with no endpoint flagged: {aa_clean}/{}; A/B pairs with /cart flagged: {b_found}/{}; other endpoints flagged in A/B pairs: {b_others}",
        rounds.len(),
        rounds.len()
    );
    let n = rounds.len();
    assert!(aa_clean * 20 >= n * 19, "A/A: {aa_clean}/{n} clean");
    assert!(b_found * 20 >= n * 19, "A/B: {b_found}/{n} found");
    assert_eq!(b_others, 0, "an endpoint that was not slowed was flagged");
}

#[test]
fn a_run_against_its_own_summary_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture("locust-2.47.0/standalone-full-history/run")
        .display()
        .to_string();
    let inputs: [(&str, &[&str]); 2] = [
        ("events", &["--events", &events("01", "a")]),
        ("csv", &["--csv", &csv]),
    ];
    for (what, input) in inputs {
        let base = dir.path().join(format!("{what}-base.json"));
        let (code, first, err) = summarize(input, &base);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(first["format"], "locust-exporter-summary");
        assert_eq!(first["version"], 1);
        let endpoints = first["services"][0]["endpoints"].as_array().unwrap();
        assert!(endpoints.len() >= 4, "{first}");
        for e in endpoints {
            // Events carry the native histogram; CSV rows say their percentiles are Locust's.
            match what {
                "events" => assert!(
                    e["histogram"]["buckets"]
                        .as_array()
                        .is_some_and(|b| b.len() > 10),
                    "{e}"
                ),
                _ => {
                    assert!(e["histogram"].is_null(), "{e}");
                    assert!(
                        e["percentiles_from"]
                            .as_str()
                            .unwrap_or("")
                            .contains("Locust"),
                        "{e}"
                    );
                }
            }
            assert!(e["percentiles"]["0.95"].as_f64().is_some(), "{e}");
        }
        let base_s = base.display().to_string();
        let mut args: Vec<&str> = input.to_vec();
        args.extend([
            "--baseline",
            &base_s,
            "--check",
            "regression<5%",
            "--check",
            "p95<=baseline and p(99)<=1.0*baseline",
            "--check",
            "rps>=baseline",
            "--check",
            "fail_ratio<=baseline+0.5%",
            "--check",
            "requests{name=~\".*\"}>=baseline",
            "--check",
            "avg<=baseline+1ms",
        ]);
        let again = dir.path().join(format!("{what}-again.json"));
        let (code, summary, err) = summarize(&args, &again);
        assert_eq!(code, Some(0), "{what}: {err}");
        assert_eq!(summary["verdict"], "passed", "{what}");
        let mut compared = 0;
        for c in summary["checks"].as_array().unwrap() {
            assert_eq!(c["passed"], true, "{what}: {c}");
            for o in c["outcomes"].as_array().unwrap() {
                assert_eq!(o["status"], "pass", "{what}: {o}");
                assert!(o["note"].is_null(), "{what}: nothing is new or gone: {o}");
                if o["leaf"] == "regression<5%" {
                    assert_eq!(o["value"].as_f64(), Some(0.0), "{what}: {o}");
                    compared += 1;
                } else {
                    assert!(o["baseline"].as_f64().is_some(), "{what}: {o}");
                }
            }
        }
        assert_eq!(compared, endpoints.len(), "{what}: every endpoint compared");
        assert!(err.contains("PASSED"), "{err}");
    }
}

#[test]
fn new_and_gone_endpoints_are_reported_and_the_markdown_leads_with_regressions() {
    let dir = tempfile::tempdir().unwrap();
    // The baseline without /login; this run without /home.
    let keep = |kind: &str, drop: &str| -> PathBuf {
        let text = std::fs::read_to_string(events("04", kind)).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains(&format!("\"name\":\"{drop}\"")))
            .collect();
        let p = dir.path().join(format!("{kind}.jsonl"));
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    };
    let a = keep("a", "/login");
    let b = keep("b", "/home");
    let base = dir.path().join("a.json");
    summarize(&["--events", &a.display().to_string()], &base);
    let md = dir.path().join("b.md");
    let junit = dir.path().join("b.xml");
    let (code, summary, err) = summarize(
        &[
            "--events",
            &b.display().to_string(),
            "--baseline",
            &base.display().to_string(),
            "--check",
            "regression<5%",
            "--check.warn",
            "p95{name=~\".*\"}<1.01*baseline",
            "--summary.file",
            &md.display().to_string(),
            "--junit.file",
            &junit.display().to_string(),
        ],
        &dir.path().join("b.json"),
    );
    assert_eq!(code, Some(99), "{err}");
    let notes: BTreeMap<String, String> = summary["checks"][0]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| {
            Some((
                o["name"].as_str()?.to_owned(),
                o["note"].as_str()?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(
        notes.get("/login").map(String::as_str),
        Some("new in this run: not in the baseline")
    );
    assert_eq!(
        notes.get("/home").map(String::as_str),
        Some("gone from this run: only in the baseline")
    );
    let md = std::fs::read_to_string(md).unwrap();
    let table_at = md.find("### Worse than the baseline").unwrap_or(usize::MAX);
    let details_at = md.find("<details>").unwrap_or(0);
    assert!(table_at < details_at, "{md}");
    assert!(
        md.contains("| locust GET /cart | `regression<5%` | p50 "),
        "{md}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains(r#"name="regression&lt;5% · locust GET /cart""#) && xml.contains("<failure"),
        "{xml}"
    );
    assert!(xml.contains("locust.checks.warn"), "{xml}");
    assert!(err.contains("gone from this run"), "{err}");
}

#[test]
fn unreadable_baselines_and_missing_flags_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ev = events("01", "a");
    let missing = dir.path().join("nope.json").display().to_string();
    let (code, _, err) = run(
        &[
            "--once",
            "--events",
            &ev,
            "--baseline",
            &missing,
            "--check",
            "regression<5%",
        ],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("--baseline {missing}")), "{err}");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format\": 3").unwrap();
    let g = garbage.display().to_string();
    let (code, _, err) = run(
        &[
            "--once",
            "--events",
            &ev,
            "--baseline",
            &g,
            "--check",
            "p95<baseline",
        ],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("not a locust-exporter summary JSON") && err.contains(&g),
        "{err}"
    );
    let (code, _, err) = run(
        &["--once", "--events", &ev, "--check", "regression<5%"],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("give --baseline"), "{err}");
    let store = format!("http://{}/", free_addr());
    let (code, _, err) = run(
        &[
            "--once",
            "--events",
            &ev,
            "--baseline",
            &store,
            "--check",
            "regression<5%",
        ],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--baseline.run"), "{err}");
    let dead = format!("http://{}", free_addr());
    let (code, _, err) = run(
        &[
            "--once",
            "--events",
            &ev,
            "--baseline",
            &dead,
            "--baseline.run",
            "x",
            "--check",
            "regression<5%",
        ],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is unreachable"), "{err}");
    let (code, _, err) = run(&["--once", "--events", &ev, "--check", "promql:up<1"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--check.prometheus.url"), "{err}");
}

/// The regression rows of run `b` of round `r` against `baseline` (a file or a store).
fn judged_against(dir: &Path, r: &str, baseline: &[&str], tag: &str) -> (Option<i32>, Vec<Row>) {
    let ev = events(r, "b");
    let mut args = vec!["--events", ev.as_str()];
    args.extend_from_slice(baseline);
    args.extend(["--check", "regression<5%"]);
    let (code, summary, err) = summarize(&args, &dir.join(format!("{tag}.json")));
    assert!(matches!(code, Some(0 | 99)), "{tag}: {err}");
    (code, regression_rows(&summary))
}

#[test]
fn a_baseline_from_prometheus_and_victoriametrics_gives_the_files_verdict() {
    let test = "a_baseline_from_prometheus_and_victoriametrics_gives_the_files_verdict";
    let Some(sid) = sid_bin(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let prom = Receiver::prometheus(&sid, free_addr(), &dir.path().join("prom"));
    let vm = Receiver::victoria_metrics(&sid, free_addr(), &dir.path().join("vm"));
    let r = "07";
    let file = dir.path().join("a.json");
    let (code, _, err) = summarize(
        &[
            "--events",
            &events(r, "a"),
            "--metrics",
            "native",
            "--run.id",
            "base-07",
            "--remote-write.url",
            &prom.write_url(),
            "--remote-write.url",
            &vm.write_url(),
        ],
        &file,
    );
    assert_eq!(code, Some(0), "{err}");
    // VictoriaMetrics makes a write searchable within a second or two. (The run's series
    // end with stale markers: only a range reads them.)
    let written = "sum(last_over_time(locust_requests_total{run=\"base-07\"}[1h]))";
    vm.wait_query(30, written, |v| v.is_some_and(|v| v > 2000.0));
    prom.wait_query(30, written, |v| v.is_some_and(|v| v > 2000.0));
    let file_s = file.display().to_string();
    let (from_file_code, from_file) =
        judged_against(dir.path(), r, &["--baseline", &file_s], "file");
    let prom_url = format!("http://{}", prom.addr);
    let vm_url = format!("http://{}", vm.addr);
    let (prom_code, from_prom) = judged_against(
        dir.path(),
        r,
        &["--baseline", &prom_url, "--baseline.run", "base-07"],
        "prom",
    );
    let (vm_code, from_vm) = judged_against(
        dir.path(),
        r,
        &["--baseline", &vm_url, "--baseline.run", "base-07"],
        "vm",
    );
    eprintln!("file: {from_file:?}\nPrometheus 3.5: {from_prom:?}\nVictoriaMetrics: {from_vm:?}");
    assert_eq!(from_file_code, Some(99), "the slowed /cart is flagged");
    assert_eq!((prom_code, vm_code), (from_file_code, from_file_code));
    for (f, (p, v)) in from_file.iter().zip(from_prom.iter().zip(&from_vm)) {
        // The same verdict per endpoint.
        assert_eq!((&p.status, &v.status), (&f.status, &f.status), "{}", f.name);
        // Prometheus keeps the native histogram: the same figures.
        assert!((p.effect - f.effect).abs() < 1e-6, "{f:?} {p:?}");
        assert!(
            (p.baseline_median / f.baseline_median - 1.0).abs() < 1e-9,
            "{f:?} {p:?}"
        );
        // VictoriaMetrics keeps the classic buckets and the quantiles: within their
        // precision (the served quantiles are within 0.55 % of the times; between them,
        // the buckets are as coarse as they are).
        assert!(
            (v.baseline_median / f.baseline_median - 1.0).abs() < 0.01,
            "{f:?} {v:?}"
        );
        assert!((v.effect - f.effect).abs() < 0.02, "{f:?} {v:?}");
    }
}

/// Runs Locust (the plugin writing events to a file) against a target started with `env`,
/// scraped by a real Prometheus, then judges `check` against that Prometheus: the exit code
/// and stderr.
fn promql_run(bin: &Path, env: &[(&str, &str)], check: &str) -> (Option<i32>, String, f64) {
    let target = Target::start_env(bin, env);
    let target_addr = target.url.trim_start_matches("http://").to_owned();
    let prom = Prometheus::start_raw(
        "promql_checks_judge_the_system_under_test",
        &format!("  - job_name: target\n    static_configs:\n      - targets: ['{target_addr}']\n"),
        &[],
    )
    .expect("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let locustfile = format!(
        "{},{}",
        root().join("contrib/locust_exporter_plugin.py").display(),
        fixture("record/regression_locustfile.py").display()
    );
    // The target is scraped before the run starts (a Prometheus just started scrapes a
    // few seconds later: a run before that has no samples in its window).
    prom.wait_query(30, "max(up{job=\"target\"})", |v| v == Some(1.0));
    let mut child = locust_headless(bin, &locustfile, &target, 6, 10)
        .args(["--exporter-events", &events.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_child(&mut child, 60);
    // Prometheus' own clock: the run is over by then.
    let done = prom
        .query("vector(time())")
        .expect("Prometheus answers time()");
    // Prometheus has scraped past the run's end.
    prom.wait_query(30, "max(timestamp(target_requests_total))", |v| {
        v.is_some_and(|t| t > done + 1.0)
    });
    let url = format!("http://{}", prom.addr);
    let junit = dir.path().join("junit.xml");
    let started = Instant::now();
    let (code, out, err) = run(
        &[
            "--once",
            "--events",
            &events.display().to_string(),
            "--check.prometheus.url",
            &url,
            "--check",
            check,
            "--junit.file",
            &junit.display().to_string(),
        ],
        None,
    );
    eprintln!("promql check judged in {:?}", started.elapsed());
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    assert!(xml.contains("promql:"), "{xml}");
    let value = out
        .lines()
        .find(|l| l.starts_with("locust_check_value{") && l.contains("promql:"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    (code, err, value)
}

#[test]
fn promql_checks_judge_the_system_under_test() {
    let test = "promql_checks_judge_the_system_under_test";
    let Some(bin) = venv_bin(test) else { return };
    if !have(test, "prometheus", "REQUIRE_PROMETHEUS", "prometheus") {
        return;
    }
    let check = "promql: sum(rate(target_requests_total{code=\"500\"}[3s])) or vector(0) < 1";
    let (code, err, value) = promql_run(&bin, &[], check);
    assert_eq!(code, Some(0), "healthy target: {err}");
    assert_eq!(value, 0.0, "{err}");
    assert!(err.contains("PASS"), "{err}");
    let (code, err, value) = promql_run(&bin, &[("TARGET_FAIL_AFTER", "2")], check);
    assert_eq!(code, Some(99), "a target failing from 2 s: {err}");
    assert!(value > 10.0, "500s per second at the worst: {value}: {err}");
    assert!(err.contains("FAIL"), "{err}");
    // An API nobody answers: the check fails, saying why.
    let dead = format!("http://{}", free_addr());
    let ev = fixture(&format!("{PAIRS}/01-a.jsonl"))
        .display()
        .to_string();
    let (code, _, err) = run(
        &[
            "--once",
            "--events",
            &ev,
            "--check.prometheus.url",
            &dead,
            "--check",
            "promql:up<1",
        ],
        None,
    );
    assert_eq!(code, Some(99), "{err}");
    assert!(
        err.contains("NO DATA") && err.contains("is unreachable"),
        "{err}"
    );
}
