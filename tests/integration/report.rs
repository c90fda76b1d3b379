//! The run report (`--report.file`, `/report`) of real Locust runs, opened in a real headless
//! Chromium: it loads with no request outside the file and no console message, and the
//! figures it shows (read from the DOM) equal Locust's own. Screenshots of each section are
//! kept under `target/artefacts/report/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::locust::plugin_run;
use crate::support::browser::{self, attr_of_id, chromium, endpoint_rows, text_of_id};
use crate::support::*;

/// Where the screenshots go (CI keeps `target/artefacts/`).
fn artefacts() -> PathBuf {
    let dir = root().join("target/artefacts/report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the whole page and of each section alone (`?section=ID`).
fn screenshots(bin: &Path, page: &Path, name: &str) {
    let url = format!("file://{}", page.display());
    browser::screenshot(bin, &url, &artefacts().join(format!("{name}.png")), 3000);
    for section in [
        "run",
        "checks",
        "endpoints",
        "charts",
        "distribution",
        "errors",
    ] {
        let png = artefacts().join(format!("{name}-{section}.png"));
        browser::screenshot(bin, &format!("{url}?section={section}"), &png, 1100);
    }
}

/// The embedded chart data of a page (or a DOM).
fn data_of(page: &str) -> serde_json::Value {
    let start = page.find("id=\"report-data\">").expect("the data block") + 17;
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

/// The number a chart's caption carries in `attr` (its last point, in words and data).
fn caption(dom: &str, id: &str, attr: &str) -> f64 {
    attr_of_id(dom, id, attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number in {id}'s {attr}"))
}

/// Opens `page` in Chromium and checks what every report must: no console message, no
/// request outside the file, every endpoint's requests and failures equal Locust's
/// `--json-file`. Returns the DOM.
fn open_and_compare(bin: &Path, page: &Path, json: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    for own in browser::BROWSER_OWN {
        assert!(!html.contains(own), "the page names {own}");
    }
    let loaded = browser::load(bin, &format!("file://{}", page.display()));
    assert!(
        loaded.console.is_empty(),
        "console messages: {:?}",
        loaded.console
    );
    assert!(
        loaded.page_requests().is_empty(),
        "requests outside the file: {:?}",
        loaded.page_requests()
    );
    let dom = loaded.dom;
    assert!(dom.contains("id=\"chart-rates\""), "the DOM was dumped");
    let rows = endpoint_rows(&dom);
    let totals = json_totals(json);
    assert!(!totals.is_empty());
    for ((method, name), (requests, failures)) in &totals {
        let row = rows
            .iter()
            .find(|((_, m, n), _)| m == method && n == name)
            .map(|r| &r.1);
        let row = row.unwrap_or_else(|| panic!("no row for {method} {name} in {rows:?}"));
        assert_eq!(row[0], Some(*requests), "{method} {name} requests");
        assert_eq!(row[1], Some(*failures), "{method} {name} failures");
    }
    let all: f64 = totals.values().map(|v| v.0).sum();
    let total = rows
        .iter()
        .find(|((_, m, n), _)| m.is_empty() && n == "Aggregated")
        .expect("the total row");
    assert_eq!(total.1[0], Some(all), "total requests");
    assert_eq!(
        rows.len(),
        totals.len() + 1,
        "one row per endpoint and the total"
    );
    // The uPlot charts were drawn: a canvas per chart.
    assert!(dom.matches("<canvas").count() >= 3, "charts drawn");
    dom
}

/// The run's verdict and checks, as `--check`/`--check.warn` made them.
fn assert_verdict(dom: &str) {
    let verdict = text_of_id(dom, "verdict").expect("the verdict");
    assert!(verdict.starts_with("PASSED"), "{verdict}");
    assert!(verdict.contains("1 warning"), "{verdict}");
    assert!(
        dom.contains(">WARN (warn)<"),
        "the failing warn check is shown"
    );
}

fn run_report(args: &[&str], page: &Path) {
    let mut all = vec!["--once", "--report.file", page.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--check", "p95<60s", "--check.warn", "fail_ratio<0.01%"]);
    let (code, _, err) = run(&all, None);
    assert_eq!(code, Some(0), "{err}");
}

/// The report of a real run's CSV files: Locust's counts in the table, and the rates
/// chart's last point Locust's own last `Requests/s` of `_stats_history.csv`.
#[test]
fn report_of_a_real_csv_run_in_chromium() {
    let test = "report_of_a_real_csv_run_in_chromium";
    let Some(run) = plugin_run(test) else { return };
    let Some(bin) = chromium(test) else { return };
    // The run's files as CI keeps them: `--csv out/run --json-file out/run` (the report's
    // exact totals beside the CSV files, which lag the end by up to a second).
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    for suffix in [
        "_stats.csv",
        "_stats_history.csv",
        "_failures.csv",
        "_exceptions.csv",
    ] {
        std::fs::copy(run.file(suffix), format!("{}{suffix}", prefix.display())).unwrap();
    }
    std::fs::copy(&run.json, format!("{}.json", prefix.display())).unwrap();
    let page = dir.path().join("report.html");
    let prefix = prefix.to_str().unwrap().to_owned();
    run_report(&["--csv", &prefix, "--report.interval", "1s"], &page);
    let dom = open_and_compare(&bin, &page, &run.json);
    assert_verdict(&dom);
    let (h, rows) = read_csv(&run.file("_stats_history.csv"));
    let last = rows
        .iter()
        .rev()
        .find(|r| r[col(&h, "Name")] == "Aggregated")
        .expect("a total row");
    let locust_rps = num(&last[col(&h, "Requests/s")]);
    let shown = caption(&dom, "cap-rates", "data-rps"); // the rates chart's last point
    assert!(
        (shown - locust_rps).abs() < 0.0006,
        "chart {shown}, Locust {locust_rps}"
    );
    // The table says where its figures come from.
    assert!(
        dom.contains("figures from Locust's --json-file report"),
        "the table's source"
    );
    screenshots(&bin, &page, "csv");
}

/// The report of the same run's plugin stream: Locust's counts in the table, every request
/// in some interval of the charts, the last point the last interval's own rate.
#[test]
fn report_of_a_real_events_run_in_chromium() {
    let test = "report_of_a_real_events_run_in_chromium";
    let Some(run) = plugin_run(test) else { return };
    let Some(bin) = chromium(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("run.jsonl");
    std::fs::write(&events, &run.stream).unwrap();
    let page = dir.path().join("report.html");
    run_report(
        &[
            "--events",
            events.to_str().unwrap(),
            "--report.interval",
            "1s",
        ],
        &page,
    );
    let dom = open_and_compare(&bin, &page, &run.json);
    assert_verdict(&dom);
    let all: f64 = json_totals(&run.json).values().map(|v| v.0).sum();
    let in_intervals = caption(&dom, "cap-rates", "data-requests"); // the intervals' requests
    assert_eq!(in_intervals, all, "every request in some interval");
    let data = data_of(&dom);
    let s = &data["services"][0];
    let t: Vec<f64> = s["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(t.len() >= 5, "one interval a second over the run: {t:?}");
    let requests = s["series"]["Aggregated"]["requests"].as_array().unwrap();
    let n = t.len();
    let want = requests[n - 1].as_f64().unwrap() / (t[n - 1] - t[n - 2]);
    let shown = caption(&dom, "cap-rates", "data-rps"); // the rates chart's last point
    assert!(
        (shown - want).abs() <= want * 1e-3 + 1e-3,
        "chart {shown}, last interval {want}"
    );
    let users = caption(&dom, "cap-users", "data-last"); // the users chart (the plugin reports users)
    assert!((0.0..=10.0).contains(&users), "{users}");
    assert!(
        dom.contains("native histogram at Locust"),
        "the percentiles' source"
    );
    screenshots(&bin, &page, "events");
}

/// The detectors can fail: a page that asks the network and logs an error is caught.
#[test]
fn chromium_sees_a_pages_request_and_console_error() {
    let test = "chromium_sees_a_pages_request_and_console_error";
    let Some(bin) = chromium(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><img src=\"http://example.invalid/x.png\"><script>console.error('bad');</script></body></html>",
    )
    .unwrap();
    let loaded = browser::load(&bin, &format!("file://{}", page.display()));
    assert!(
        loaded
            .page_requests()
            .iter()
            .any(|r| r.contains("example.invalid")),
        "{:?}",
        loaded.requests
    );
    assert!(
        loaded.console.iter().any(|l| l.contains("bad")),
        "{:?}",
        loaded.console
    );
}

/// `/report` during a real run: behind basic auth (401 without it), and two reads a while
/// apart show later data; once Locust is done, its totals.
#[test]
fn live_report_follows_a_real_run_behind_basic_auth() {
    let test = "live_report_follows_a_real_run_behind_basic_auth";
    let Some(bin) = venv_bin(test) else { return };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("secret", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  viewer: '{hash}'\n")).unwrap();
    let events = dir.path().join("shop.jsonl");
    let json = dir.path().join("final");
    let out = std::fs::File::create(&events).unwrap();
    let spec = format!("shop={}", events.display());
    let ex = Exporter::spawn(&[
        "--events",
        &spec,
        "--web.config.file",
        web.to_str().unwrap(),
        "--report.interval",
        "1s",
    ]);
    let mut locust = locust_command(&bin, &target, 8, true)
        .args(["--json-file", json.to_str().unwrap()])
        .stdout(Stdio::from(out))
        .spawn()
        .unwrap();
    let auth = basic("viewer", "secret");
    let (status, _, _) = http_get(ex.addr, "/report", None);
    assert_eq!(status, 401, "no credentials, no report");
    let (status, _, _) = http_get(ex.addr, "/report", Some(&basic("viewer", "wrong")));
    assert_eq!(status, 401, "wrong credentials, no report");
    let read = || {
        let (status, head, body) = http_get(ex.addr, "/report", Some(&auth));
        assert_eq!(status, 200, "{head}");
        assert!(head.to_ascii_lowercase().contains("text/html"), "{head}");
        let data = data_of(&body);
        let s = &data["services"][0];
        let t = s["t"].as_array().map_or(0.0, |t| {
            t.last().and_then(serde_json::Value::as_f64).unwrap_or(0.0)
        });
        let requests: f64 = s["series"]["Aggregated"]["requests"]
            .as_array()
            .map_or(0.0, |r| {
                r.iter().filter_map(serde_json::Value::as_f64).sum()
            });
        (t, requests, body)
    };
    // The first read with an interval, then one with a later interval and more requests.
    let deadline = Instant::now() + Duration::from_secs(40);
    let first = loop {
        let r = read();
        if r.1 > 0.0 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no interval recorded: {}",
            r.2.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        first.2.contains("data-live=\"1\""),
        "the live page refreshes itself"
    );
    assert!(
        first.2.contains("LIVE:"),
        "the verdict is not judged while live"
    );
    // A later read: a later interval, more requests.
    loop {
        let r = read();
        if r.0 > first.0 && r.1 > first.1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the live report did not move: {:?} {:?}",
            (first.0, first.1),
            (r.0, r.1)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_child(&mut locust, 60);
    // Once the run is done, the table's total is Locust's own.
    let json = PathBuf::from(format!("{}.json", json.display()));
    let all: f64 = json_totals(&json).values().map(|v| v.0).sum();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = read().2;
        let rows = endpoint_rows(&body);
        let total = rows
            .iter()
            .find(|((_, m, n), _)| m.is_empty() && n == "Aggregated")
            .and_then(|r| r.1[0]);
        if total == Some(all) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the report's total {total:?}, Locust's {all}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The landing page links to it.
    let (_, _, landing) = http_get(ex.addr, "/", Some(&auth));
    assert!(landing.contains("href=\"report\""), "{landing}");
}
