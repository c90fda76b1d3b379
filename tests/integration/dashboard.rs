//! The Grafana dashboard (`contrib/grafana/locust-exporter.json`): every panel's query, run
//! against a real Prometheus that scrapes the exporter during a real Locust run, for both
//! inputs (CSV files, and events from the plugin). Each returns data; the totals equal
//! Locust's own once the last scrape is in.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

/// Every (panel title, target expression) of the dashboard, with its variables filled in as
/// Grafana would for "All" services and runs, a 1 m rate interval and a 1 h range.
fn queries() -> Vec<(String, String)> {
    queries_for(".*", ".*")
}

/// Every (panel title, target expression), for the runs `run` and `compare_run`.
fn queries_for(run: &str, compare_run: &str) -> Vec<(String, String)> {
    targets(run, compare_run, false)
}

/// The (panel title, target expression) of the targets that ask Grafana for exemplars, for
/// every service and run (the exemplar tests run them against Prometheus' exemplar API).
pub fn exemplar_queries() -> Vec<(String, String)> {
    targets(".*", ".*", true)
}

/// The dashboard's targets, all or only those with `"exemplar": true`.
fn targets(run: &str, compare_run: &str, exemplars_only: bool) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(root().join("contrib/grafana/locust-exporter.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            if exemplars_only && target["exemplar"] != serde_json::Value::Bool(true) {
                continue;
            }
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$service", ".*")
                .replace("$compare_run", compare_run)
                .replace("$run", run)
                .replace("$__rate_interval", "1m")
                .replace("$__range", "1h");
            out.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    out
}

/// Every panel query's results: (title, expr) → [(labels, value)].
type Answers = BTreeMap<(String, String), Vec<(BTreeMap<String, String>, f64)>>;

/// Which input feeds the exporter.
#[derive(Clone, Copy, PartialEq)]
enum Input {
    Csv,
    Events,
    /// A Locust with its web UI (`--autostart`), polled through `--locust.uri`.
    WebUi,
}

/// One real run with Prometheus scraping the exporter, shared by the tests of one input.
struct DashRun {
    /// Results of every query while Locust ran at full load: (title, expr) → results.
    during: Answers,
    /// Locust's final totals: (requests, failures), and its failure rows.
    locust_totals: (f64, f64),
    locust_error_rows: usize,
    /// The CSV's Aggregated 95 % in seconds (CSV input).
    locust_p95: f64,
    /// Results of every query once the final values were scraped.
    after: Answers,
    /// Classic `_bucket` series Prometheus stored (none where it kept native histograms).
    classic_buckets: usize,
    _dir: tempfile::TempDir,
}

static CSV_DASH: std::sync::OnceLock<Option<DashRun>> = std::sync::OnceLock::new();
static EVENTS_DASH: std::sync::OnceLock<Option<DashRun>> = std::sync::OnceLock::new();
static WEBUI_DASH: std::sync::OnceLock<Option<DashRun>> = std::sync::OnceLock::new();

fn dash_run(test: &str, input: Input) -> Option<&'static DashRun> {
    let bin = venv_bin(test)?;
    let cell = match input {
        Input::Csv => &CSV_DASH,
        Input::Events => &EVENTS_DASH,
        Input::WebUi => &WEBUI_DASH,
    };
    cell.get_or_init(|| {
        let target = Target::start(&bin);
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("run");
        let json = dir.path().join("final");
        let web = free_addr();
        let mut ex = match input {
            Input::Csv => {
                let spec = format!("load={}", prefix.display());
                Exporter::spawn(&["--csv", &spec])
            }
            Input::WebUi => Exporter::spawn(&[
                "--locust.uri",
                &format!("load=http://{web}"),
                "--poll-interval",
                "500ms",
            ]),
            Input::Events => Exporter::spawn_with_stdin(&["--events", "load=-"]),
        };
        // Native histograms on, as the dashboard expects where Prometheus can store them.
        let prometheus = Prometheus::start_with(
            test,
            &[("locust", ex.addr, false)],
            &["--enable-feature=native-histograms"],
        )?;
        let mut command = locust_command(&bin, &target, 12, input == Input::Events);
        if input == Input::WebUi {
            // The same run with its web UI: started at once, quit 3 s after it stops (time
            // for the last polls).
            command = web_ui_command(command, web);
        }
        let mut locust = command
            .args([
                "--csv",
                prefix.to_str().unwrap(),
                "--json-file",
                json.to_str().unwrap(),
            ])
            .stdout(if input == Input::Events {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let pump = (input == Input::Events).then(|| {
            let mut from = locust.stdout.take().unwrap();
            let mut to = ex.stdin.take().unwrap();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
        });
        let run = |p: &Prometheus| {
            queries()
                .into_iter()
                .map(|q| {
                    let r = p.query_all(&q.1);
                    (q, r)
                })
                .collect::<BTreeMap<_, _>>()
        };
        // While Locust runs at full load (10 users from 2 s on), query every panel each
        // second; keep each query's first answer with a non-zero value (else its last
        // answer: a first scrape can catch users still at 0).
        std::thread::sleep(Duration::from_secs(5));
        let mut during = run(&prometheus);
        while locust.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_secs(1));
            for (q, r) in run(&prometheus) {
                if during
                    .get(&q)
                    .is_none_or(|r| r.iter().all(|(_, v)| *v == 0.0))
                {
                    during.insert(q, r);
                }
            }
        }
        wait_child(&mut locust, 60);
        if let Some(p) = pump {
            p.join().unwrap();
        }
        let json = PathBuf::from(format!("{}.json", json.display()));
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let (h, rows) = read_csv(&PathBuf::from(format!("{}_stats.csv", prefix.display())));
        let total = rows.last().unwrap();
        let (requests, failures) = match input {
            // The CSV files are what the exporter reads; their last write can lag the end.
            Input::Csv => (
                num(&total[col(&h, "Request Count")]),
                num(&total[col(&h, "Failure Count")]),
            ),
            // The events are every request, and a web UI polled after the run stopped has
            // every request too: Locust's exact totals.
            Input::Events | Input::WebUi => entries.iter().fold((0.0, 0.0), |(r, f), e| {
                (
                    r + e["num_requests"].as_f64().unwrap(),
                    f + e["num_failures"].as_f64().unwrap(),
                )
            }),
        };
        let (_, frows) = read_csv(&PathBuf::from(format!("{}_failures.csv", prefix.display())));
        let p95 = num(&total[col(&h, "95%")]) / 1000.0;
        // Wait (bounded) for the final values to be scraped, and the run to be stopped.
        prometheus.wait_query(20, r#"sum(locust_requests_total{service="load"})"#, |v| {
            v == Some(requests)
        });
        prometheus.wait_query(20, r#"sum(locust_users{service="load"})"#, |v| {
            v == Some(0.0)
        });
        let after = run(&prometheus);
        let classic_buckets = prometheus
            .query_all("locust_request_duration_seconds_bucket")
            .len();
        drop(ex);
        Some(DashRun {
            during,
            locust_totals: (requests, failures),
            locust_error_rows: frows.len(),
            locust_p95: p95,
            after,
            classic_buckets,
            _dir: dir,
        })
    })
    .as_ref()
}

/// `command` (a headless run) run with its web UI on `web` instead, started at once.
fn web_ui_command(
    command: std::process::Command,
    web: std::net::SocketAddr,
) -> std::process::Command {
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--headless" && a != "--only-summary")
        .collect();
    let mut web_ui = std::process::Command::new(command.get_program());
    web_ui
        .args(args)
        .args(["--autostart", "--autoquit", "3", "--web-host", "127.0.0.1"])
        .args(["--web-port", &web.port().to_string()])
        .stderr(Stdio::null());
    web_ui
}

fn value(results: &Answers, title: &str) -> f64 {
    let (_, r) = results
        .iter()
        .find(|((t, _), _)| t == title)
        .unwrap_or_else(|| panic!("no panel {title}"));
    assert_eq!(r.len(), 1, "{title}: one series: {r:?}");
    r[0].1
}

fn every_query_returns_data(run: &DashRun, input: Input) {
    let mut empty = Vec::new();
    for ((title, expr), results) in &run.during {
        // CSV files do not say how many workers there are (README, metric table), nor does a
        // standalone Locust's web UI.
        if input != Input::Events && expr.contains("locust_workers") {
            continue;
        }
        // These runs have no --check: the checks' panel and threshold lines are empty
        // (verdict::the_dashboard_shows_checks_and_compares_two_runs fills them).
        if expr.contains("locust_check_") {
            continue;
        }
        if results.is_empty() {
            empty.push(format!("{title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data during the run:\n{}",
        empty.join("\n")
    );
    for ((title, expr), results) in &run.during {
        eprintln!(
            "dashboard: {title}: {expr} → {} series, e.g. {:?}",
            results.len(),
            results.first().map(|r| r.1)
        );
    }
}

fn totals_equal_locusts(run: &DashRun) {
    let (requests, failures) = run.locust_totals;
    assert_eq!(value(&run.after, "Requests"), requests);
    assert_eq!(value(&run.after, "Failures"), failures);
    assert!((value(&run.after, "Failure ratio") - failures / requests).abs() < 1e-12);
    let errors = run
        .after
        .iter()
        .find(|((t, _), _)| t == "Errors")
        .map(|(_, r)| r.len())
        .unwrap();
    assert!(
        errors >= run.locust_error_rows && run.locust_error_rows > 0,
        "error rows: {errors} served, {} in _failures.csv",
        run.locust_error_rows
    );
    let users = run
        .during
        .iter()
        .find(|((t, _), _)| t == "Users")
        .map(|(_, r)| r[0].1)
        .unwrap();
    assert!(users > 0.0 && users <= 10.0, "users while running: {users}");
    assert_eq!(value(&run.after, "Users"), 0.0, "none once the run stopped");
}

#[test]
fn dashboard_every_query_returns_data_with_csv_input() {
    let Some(run) = dash_run(
        "dashboard_every_query_returns_data_with_csv_input",
        Input::Csv,
    ) else {
        return;
    };
    every_query_returns_data(run, Input::Csv);
}

#[test]
fn dashboard_every_query_returns_data_with_event_input() {
    let Some(run) = dash_run(
        "dashboard_every_query_returns_data_with_event_input",
        Input::Events,
    ) else {
        return;
    };
    every_query_returns_data(run, Input::Events);
}

#[test]
fn dashboard_totals_equal_locusts_with_csv_input() {
    let Some(run) = dash_run("dashboard_totals_equal_locusts_with_csv_input", Input::Csv) else {
        return;
    };
    totals_equal_locusts(run);
    // The run-wide p95 is Locust's own Aggregated 95 % column.
    let p95 = run
        .after
        .iter()
        .find(|((t, e), _)| t == "Response time, all requests" && e.contains("0.95"))
        .map(|(_, r)| r[0].1)
        .unwrap();
    assert_eq!(p95, run.locust_p95);
}

#[test]
fn dashboard_totals_equal_locusts_with_event_input() {
    let Some(run) = dash_run(
        "dashboard_totals_equal_locusts_with_event_input",
        Input::Events,
    ) else {
        return;
    };
    totals_equal_locusts(run);
    // The percentiles came from native histograms: Prometheus kept no classic bucket, and
    // every percentile panel answered while the run went on.
    assert_eq!(
        run.classic_buckets, 0,
        "Prometheus stored native histograms only"
    );
    for ((title, expr), r) in &run.during {
        // (The threshold lines are empty: this run has no --check.)
        if (title.starts_with("Response time") || title.starts_with("p95"))
            && !expr.contains("locust_check_")
        {
            assert!(
                !r.is_empty() && r.iter().all(|(_, v)| *v > 0.0 && *v < 60.0),
                "{title}: {expr} → {r:?}"
            );
        }
    }
    let workers = value(&run.during, "Workers");
    assert_eq!(workers, 0.0, "a standalone run has no workers");
}

/// Two runs told apart by `--run.id` (two exporters replaying two recorded runs, scraped by
/// one Prometheus): the comparison panel's queries, for run r1 against r2, return both runs,
/// each with its own values; the checks' panel and threshold lines return each run's checks.
#[test]
fn dashboard_compares_two_runs_told_apart_by_run_id() {
    let test = "dashboard_compares_two_runs_told_apart_by_run_id";
    let runs = [
        ("r1", "fixtures/events/locust-2.47.0-standalone.jsonl"),
        ("r2", "fixtures/events/locust-2.47.0-heavy-20s.jsonl"),
    ];
    let exporters: Vec<Exporter> = runs
        .iter()
        .map(|(id, events)| {
            Exporter::spawn(&[
                "--events",
                &format!("shop={}", root().join(events).display()),
                "--run.id",
                id,
                "--check",
                "p95<10s",
            ])
        })
        .collect();
    let targets: Vec<std::net::SocketAddr> = exporters.iter().map(|e| e.addr).collect();
    let Some(prom) = Prometheus::start_jobs(test, &[("locust", targets, false)], &[]) else {
        return;
    };
    let comparison: Vec<(String, String)> = queries_for("r1", "r2")
        .into_iter()
        .filter(|(title, _)| title == "Run comparison")
        .collect();
    assert_eq!(comparison.len(), 3, "p95, rps and failures");
    let expected: Vec<(&str, f64)> = runs
        .iter()
        .map(|(id, events)| {
            let totals = json_totals(&root().join(events.replace(".jsonl", "_final.json")));
            (*id, totals.values().map(|t| t.1).sum::<f64>())
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answers: Vec<Vec<(BTreeMap<String, String>, f64)>> =
            comparison.iter().map(|(_, q)| prom.query_all(q)).collect();
        let complete = answers.iter().all(|a| a.len() == 2);
        if complete {
            for ((_, q), a) in comparison.iter().zip(&answers) {
                let mut ids: Vec<&str> = a.iter().map(|(l, _)| l["run"].as_str()).collect();
                ids.sort_unstable();
                assert_eq!(ids, ["r1", "r2"], "{q}");
                assert!(
                    a.iter().all(|(_, v)| v.is_finite() && *v > 0.0),
                    "{q}: {a:?}"
                );
            }
            // The failures column is each run's own total.
            let failures = &answers[2];
            for (id, total) in &expected {
                let got = failures.iter().find(|(l, _)| l["run"] == *id).map(|r| r.1);
                assert_eq!(got, Some(*total), "failures of run {id}");
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "comparison incomplete: {answers:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for (title, q) in queries_for("r1", "r1") {
        if q.contains("locust_check_") {
            let a = prom.query_all(&q);
            assert!(!a.is_empty(), "{title}: {q}");
            assert!(
                a.iter()
                    .all(|(l, _)| l.get("run").is_none_or(|r| r == "r1")),
                "{title}: {a:?}"
            );
        }
    }
}

#[test]
fn dashboard_has_a_service_variable_and_only_native_names_but_state() {
    let text =
        std::fs::read_to_string(root().join("contrib/grafana/locust-exporter.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vars: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for var in ["service", "run", "compare_run", "trace_url"] {
        assert!(vars.contains(&var), "{vars:?}");
    }
    // The latency panels ask for exemplars, and link a trace id to $trace_url.
    let titles: Vec<String> = exemplar_queries().into_iter().map(|(t, _)| t).collect();
    for title in ["Response time, all requests", "p95 by endpoint"] {
        assert!(
            titles.iter().any(|t| t == title),
            "{title}: no exemplars asked for"
        );
        let panel = dash["panels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["title"] == title)
            .unwrap();
        let links = panel["fieldConfig"]["overrides"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["matcher"]["options"] == "trace_id")
            .map(|o| o["properties"][0]["value"][0]["url"].clone());
        assert_eq!(
            links,
            Some(serde_json::json!("${trace_url}${__value.raw}")),
            "{title}"
        );
    }
    for (title, expr) in queries() {
        assert!(
            !expr.contains("locust_stats_"),
            "{title}: a seed name in {expr}"
        );
        // A check's threshold belongs to no service.
        if expr.contains("locust_check_threshold") {
            assert!(
                expr.contains(r#"run=~".*""#),
                "{title}: not filtered by run: {expr}"
            );
            continue;
        }
        assert!(
            expr.contains(r#"service=~".*""#),
            "{title}: not filtered by service: {expr}"
        );
        assert!(
            expr.contains(r#"run=~".*""#) || expr.contains(r#"run=~".*|.*""#),
            "{title}: not filtered by run: {expr}"
        );
    }
}

#[test]
fn dashboard_every_query_returns_data_with_web_ui_input() {
    let Some(run) = dash_run(
        "dashboard_every_query_returns_data_with_web_ui_input",
        Input::WebUi,
    ) else {
        return;
    };
    every_query_returns_data(run, Input::WebUi);
}

#[test]
fn dashboard_totals_equal_locusts_with_web_ui_input() {
    let Some(run) = dash_run(
        "dashboard_totals_equal_locusts_with_web_ui_input",
        Input::WebUi,
    ) else {
        return;
    };
    totals_equal_locusts(run);
}
