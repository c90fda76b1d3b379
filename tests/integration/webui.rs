//! The web UI input (`--locust.uri`), replayed from recordings of real Locust web UIs
//! (`fixtures/webui/`, four versions, standalone and master) through a stand-in HTTP server:
//! exact values from the CSV endpoints, Locust's runner state, users and workers from the
//! JSON, the containersolutions set, and what happens when Locust is down, answers HTML, a
//! 500, too slowly, or wants a login.

use std::time::Duration;

use crate::support::*;

const VERSIONS: [&str; 4] = ["1.6.0", "2.8.6", "2.20.1", "2.47.0"];

fn recording(version: &str, mode: &str, phase: &str) -> std::path::PathBuf {
    fixture(&format!("webui/locust-{version}-{mode}/{phase}"))
}

fn running_values_equal_the_recording(version: &str, mode: &str) {
    let dir = recording(version, mode, "running");
    let ui = FakeWebUi::start(WebUiMode::Files(dir.clone()));
    let spec = format!("load={}", ui.url());
    let ex = Exporter::spawn(&["--locust.uri", &spec, "--poll-interval", "200ms"]);
    let m = ex.wait_for(10, "the first poll", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
            && m.get("locust_up", &[]).is_some()
    });
    let what = format!("{version} {mode}");
    assert_stats_match(&m, "load", &dir.join("requests.csv"));
    assert_failures_match(&m, "load", &dir.join("failures.csv"));
    assert_eq!(
        m.get("locust_up", &[("service", "load")]),
        Some(1.0),
        "{what}"
    );
    assert_eq!(
        m.get("locust_state", &[("service", "load"), ("state", "running")]),
        Some(1.0),
        "{what}: Locust's own state"
    );
    assert_eq!(m.get("locust_user_count", &[]), Some(10.0), "{what}");
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("requests.json")).unwrap()).unwrap();
    // Current rates are Locust's own, per endpoint.
    for s in status["stats"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let method = s["method"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("Aggregated");
        let expected = s["current_rps"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: no current_rps for {method} {name}"));
        assert_eq!(
            m.get_one(
                "locust_stats_current_rps",
                &[("path", name), ("method", method)]
            ),
            expected,
            "{what}: {method} {name}"
        );
    }
    if mode == "master" {
        assert_eq!(m.get("locust_slave_count", &[]), Some(2.0), "{what}");
        assert_eq!(m.get("locust_workers", &[]), Some(2.0), "{what}");
        assert_eq!(
            m.get("locust_worker_states", &[("state", "running")]),
            Some(2.0),
            "{what}"
        );
    } else {
        assert_eq!(m.get("locust_slave_count", &[]), None, "{what}: standalone");
    }
    assert_promtool_clean(&m.text);
}

#[test]
fn locust_1_6_0_standalone_replayed() {
    running_values_equal_the_recording("1.6.0", "standalone");
}
#[test]
fn locust_1_6_0_master_replayed() {
    running_values_equal_the_recording("1.6.0", "master");
}
#[test]
fn locust_2_8_6_standalone_replayed() {
    running_values_equal_the_recording("2.8.6", "standalone");
}
#[test]
fn locust_2_8_6_master_replayed() {
    running_values_equal_the_recording("2.8.6", "master");
}
#[test]
fn locust_2_20_1_standalone_replayed() {
    running_values_equal_the_recording("2.20.1", "standalone");
}
#[test]
fn locust_2_20_1_master_replayed() {
    running_values_equal_the_recording("2.20.1", "master");
}
#[test]
fn locust_2_47_0_standalone_replayed() {
    running_values_equal_the_recording("2.47.0", "standalone");
}
#[test]
fn locust_2_47_0_master_replayed() {
    running_values_equal_the_recording("2.47.0", "master");
}

/// The containersolutions set from a replayed master: the Go exporter's names, the total
/// row as `{method="", name="Aggregated"}`, workers by state, real current percentiles.
#[test]
fn containersolutions_set_from_a_web_ui() {
    for version in VERSIONS {
        let dir = recording(version, "master", "running");
        let ui = FakeWebUi::start(WebUiMode::Files(dir.clone()));
        let ex = Exporter::spawn(&[
            "--locust.uri",
            &ui.url(),
            "--metrics",
            "containersolutions",
            "--poll-interval",
            "200ms",
        ]);
        let m = ex.wait_for(10, "the first poll", |m| {
            m.get("locust_requests_num_requests", &[("name", "Aggregated")])
                .is_some()
        });
        let (h, rows) = read_csv(&dir.join("requests.csv"));
        let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
        assert_eq!(
            m.get(
                "locust_requests_num_requests",
                &[("method", ""), ("name", "Aggregated")]
            ),
            Some(total),
            "{version}"
        );
        assert_eq!(m.get("locust_up", &[]), Some(1.0));
        assert_eq!(m.get("locust_running", &[]), Some(2.0));
        assert_eq!(m.get("locust_users", &[]), Some(10.0));
        assert_eq!(m.get("locust_workers_count", &[]), Some(2.0));
        assert_eq!(m.get("locust_workers_running_count", &[]), Some(2.0));
        assert_eq!(m.get("locust_workers_missing_count", &[]), Some(0.0));
        assert_eq!(m.find("locust_worker_detail", &[]).len(), 2);
        let status: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("requests.json")).unwrap()).unwrap();
        let p95 = status["current_response_time_percentiles"]["response_time_percentile_0.95"]
            .as_f64()
            .or(status["current_response_time_percentile_95"].as_f64())
            .or(status["current_response_time_percentile_2"].as_f64())
            .unwrap();
        assert_eq!(
            m.get("locust_requests_current_response_time_percentile_95", &[]),
            Some(p95),
            "{version}: the real current p95, not 0"
        );
        assert!(
            !m.find("locust_errors", &[("method", "GET")]).is_empty(),
            "failures of GET endpoints"
        );
        assert!(
            m.find("locust_stats_num_requests", &[]).is_empty(),
            "only the asked set"
        );
        assert_promtool_clean_except(&m.text, &CONTAINERSOLUTIONS_LINTS);
    }
}

/// Locust down, answering HTML, a 500, or too slowly: `locust_up` 0, the last values stay,
/// no crash, one warning a minute.
#[test]
fn a_web_ui_that_fails_keeps_the_last_values() {
    let dir = recording("2.47.0", "standalone", "running");
    let ui = FakeWebUi::start(WebUiMode::Files(dir.clone()));
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &format!("load={}", ui.url()),
        "--poll-interval",
        "200ms",
        "--locust.timeout",
        "500ms",
    ]);
    ex.wait_for(10, "up", |m| m.get("locust_up", &[]) == Some(1.0));
    for (what, mode) in [
        ("HTML", WebUiMode::Html(200)),
        ("a 500", WebUiMode::Html(500)),
        (
            "too slow",
            WebUiMode::Slow(dir.clone(), Duration::from_secs(2)),
        ),
    ] {
        ui.set(mode);
        let m = ex.wait_for(10, what, |m| m.get("locust_up", &[]) == Some(0.0));
        assert_stats_match(&m, "load", &dir.join("requests.csv"));
        ui.set(WebUiMode::Files(dir.clone()));
        ex.wait_for(10, "back up", |m| m.get("locust_up", &[]) == Some(1.0));
    }
    drop(ui);
    // Each kind of failure logged once (a minute), however many polls failed that way: an
    // answer that is not the status (HTML with a 200), and an answer that is no answer.
    let stderr = ex.stderr();
    let count = |text: &str| {
        stderr
            .iter()
            .filter(|l| l.contains("WARN") && l.contains(text))
            .count()
    };
    assert_eq!(
        count("not the JSON of Locust's /stats/requests"),
        1,
        "{stderr:?}"
    );
    assert_eq!(count("did not answer as expected"), 1, "{stderr:?}");
}

#[test]
fn a_web_ui_that_is_down_from_the_start_is_missing_and_down() {
    let addr = free_addr();
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &format!("http://{addr}"),
        "--poll-interval",
        "200ms",
    ]);
    let m = ex.wait_for(10, "a failed poll", |m| {
        m.get("locust_up", &[]) == Some(0.0)
    });
    assert_eq!(m.get("locust_state", &[("state", "missing")]), Some(1.0));
}

/// Locust's `--web-auth` (basic auth), from `--locust.config.file`.
#[test]
fn basic_auth_from_the_config_file() {
    let dir = recording("2.47.0", "standalone", "running");
    let ui = FakeWebUi::start(WebUiMode::BasicAuth(dir.clone(), "locust:s3cret".into()));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("locust.yml");
    std::fs::write(
        &cfg,
        "basic_auth:\n  username: locust\n  password: s3cret\n",
    )
    .unwrap();
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &ui.url(),
        "--locust.config.file",
        cfg.to_str().unwrap(),
        "--poll-interval",
        "200ms",
    ]);
    let m = ex.wait_for(10, "authenticated polls", |m| {
        m.get("locust_up", &[]) == Some(1.0)
    });
    assert_stats_match(&m, "locust", &dir.join("requests.csv"));
    // Without the file: 401, and the log says what to do.
    let ex = Exporter::spawn(&["--locust.uri", &ui.url(), "--poll-interval", "200ms"]);
    ex.wait_for(10, "down", |m| m.get("locust_up", &[]) == Some(0.0));
    wait_logged(&ex, "--locust.config.file");
}

#[test]
fn a_login_form_is_refused_with_a_clear_message() {
    let ui = FakeWebUi::start(WebUiMode::LoginRedirect);
    let ex = Exporter::spawn(&["--locust.uri", &ui.url(), "--poll-interval", "200ms"]);
    ex.wait_for(10, "down", |m| m.get("locust_up", &[]) == Some(0.0));
    wait_logged(&ex, "login form (--web-login)");
}

#[test]
fn once_polls_a_web_ui_and_fails_naming_it_when_down() {
    let dir = recording("2.8.6", "master", "stopped");
    let ui = FakeWebUi::start(WebUiMode::Files(dir.clone()));
    let (code, out, err) = run(&["--once", "--locust.uri", &ui.url()], None);
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    assert_stats_match(&m, "locust", &dir.join("requests.csv"));
    assert_eq!(m.get("locust_state", &[("state", "stopped")]), Some(1.0));
    assert_eq!(
        m.get("locust_slave_count", &[]),
        Some(2.0),
        "still connected"
    );
    let down = format!("http://{}", free_addr());
    let (code, _, err) = run(&["--once", "--locust.uri", &down], None);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("nothing to read at {down}")), "{err}");
}

/// Waits (bounded) for a log line containing `text`.
fn wait_logged(ex: &Exporter, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ex.stderr().iter().any(|l| l.contains(text)) {
        assert!(
            std::time::Instant::now() < deadline,
            "never logged {text:?}: {:?}",
            ex.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The web UI is polled once per `--poll-interval`, however often the exporter is scraped.
#[test]
fn polls_once_per_interval_never_per_scrape() {
    let dir = recording("2.47.0", "standalone", "running");
    let ui = FakeWebUi::start(WebUiMode::Files(dir));
    let ex = Exporter::spawn(&["--locust.uri", &ui.url(), "--poll-interval", "2s"]);
    ex.wait_for(10, "the first poll", |m| {
        m.get("locust_up", &[]) == Some(1.0)
    });
    let before = ui.requests.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..100 {
        ex.scrape();
    }
    let after = ui.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        after - before <= 8,
        "100 scrapes made {} requests to Locust (4 per poll)",
        after - before
    );
}

/// A web UI listing a worker id of 5,000,000 bytes and the same id twice: the id served is
/// cut to the 1 KiB label limit, each worker once (duplicate `locust_worker_detail` series
/// made a scrape invalid).
#[test]
fn hostile_worker_lists_from_a_web_ui_are_cut_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("webui/locust-2.47.0-master/running");
    for f in ["requests.csv", "failures.csv", "exceptions.csv"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(src.join("requests.json")).unwrap();
    let mut status: serde_json::Value = serde_json::from_str(&text).unwrap();
    let huge = "w".repeat(5_000_000);
    status["workers"] = serde_json::json!([
        {"id": huge, "state": "running", "user_count": 5},
        {"id": "twin", "state": "running", "user_count": 5},
        {"id": "twin", "state": "stopped", "user_count": 0},
    ]);
    std::fs::write(dir.path().join("requests.json"), status.to_string()).unwrap();
    let ui = FakeWebUi::start(WebUiMode::Files(dir.path().to_owned()));
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &format!("http://{}", ui.addr),
        "--metrics",
        "native,containersolutions",
    ]);
    let m = ex.wait_for(20, "the workers", |m| {
        !m.find("locust_worker_detail", &[]).is_empty()
    });
    let ids: Vec<usize> = m
        .find("locust_worker_detail", &[])
        .iter()
        .filter_map(|s| s.labels.get("id").map(String::len))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|n| *n <= 1024), "{ids:?}");
    assert!(
        m.text.len() < 200_000,
        "an exposition of {} bytes",
        m.text.len()
    );
    assert_eq!(
        m.get_one(
            "locust_worker_detail",
            &[("id", "twin"), ("state", "running")]
        ),
        5.0,
        "the first entry of a repeated id (its users)"
    );
}
