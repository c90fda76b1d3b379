//! The rule pack (`contrib/prometheus/`): its promtool unit tests, and its rules loaded into a
//! real Prometheus that scrapes the exporter following a real Locust run whose target starts
//! failing: the error-ratio alert goes pending, then firing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn rules_dir() -> PathBuf {
    root().join("contrib/prometheus")
}

/// `promtool test rules` of Prometheus 3.5 (the native histogram series notation is newer
/// than Debian's 2.42) passes, and `promtool check rules` of both versions accepts the file.
#[test]
fn the_rule_pack_passes_its_promtool_unit_tests() {
    let Some(sid) = sid_bin("the_rule_pack_passes_its_promtool_unit_tests") else {
        return;
    };
    let promtool = sid.join("promtool");
    assert!(
        promtool.exists(),
        "{} (contrib/ci/sid-servers.sh)",
        promtool.display()
    );
    let tests: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_test.yml"))
        .collect();
    assert!(!tests.is_empty(), "no *_test.yml in contrib/prometheus");
    for test in &tests {
        let out = Command::new(&promtool)
            .arg("test")
            .arg("rules")
            .arg(test)
            .current_dir(rules_dir())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{}:\n{text}", test.display());
        assert!(text.contains("SUCCESS"), "{text}");
    }
    for tool in [promtool, PathBuf::from("promtool")] {
        let out = Command::new(&tool)
            .args(["check", "rules"])
            .arg(rules_dir().join("locust-rules.yml"))
            .output();
        let Ok(out) = out else {
            assert!(
                std::env::var_os("REQUIRE_PROMETHEUS").is_none(),
                "no {}",
                tool.display()
            );
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {text}", tool.display());
        assert!(text.contains("SUCCESS: 21 rules found"), "{text}");
    }
}

/// The alert's state in `ALERTS` (`pending`, `firing`), if it is active.
fn alert_state(prom: &Prometheus, name: &str) -> Option<String> {
    prom.query_all(&format!("ALERTS{{alertname=\"{name}\"}}"))
        .into_iter()
        .find_map(|(labels, _)| labels.get("alertstate").cloned())
}

#[test]
fn the_error_ratio_alert_fires_when_a_real_target_starts_failing() {
    let test = "the_error_ratio_alert_fires_when_a_real_target_starts_failing";
    let Some(bin) = venv_bin(test) else { return };
    // The pack's rules as shipped, but for 5 s instead of 2 m (the test's only change).
    let rules = std::fs::read_to_string(rules_dir().join("locust-rules.yml")).unwrap();
    let alert = rules
        .find("alert: LocustErrorRatioHigh")
        .expect("the pack has LocustErrorRatioHigh");
    let for_at = alert + rules[alert..].find("for: 2m").expect("its for: 2m");
    let rules = format!(
        "{}for: 5s{}",
        &rules[..for_at],
        &rules[for_at + "for: 2m".len()..]
    );
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let ex = Exporter::spawn(&["--csv", &format!("shop={}", prefix.display())]);
    let scrape = format!(
        "  - job_name: locust\n    static_configs:\n      - targets: ['{}']\n",
        ex.addr
    );
    let Some(prom) = Prometheus::start_with_rules(test, &scrape, Some(&rules), &[]) else {
        return;
    };
    let target = Target::start(&bin);
    let fail_after = 15;
    let mut locust = Command::new(bin.join("locust"))
        .args(["-f"])
        .arg(fixture("record/degrading_locustfile.py"))
        .args([
            "--headless",
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "60s",
            "-H",
            &target.url,
        ])
        .args(["--only-summary", "--csv"])
        .arg(&prefix)
        .env("FAIL_AFTER", fail_after.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Healthy first: requests flow, the error ratio is 0 and the alert is inactive.
    let ok = prom.wait_query(30, "service:locust_error_ratio:ratio_rate1m", |v| {
        v == Some(0.0)
    });
    assert_eq!(ok, Some(0.0));
    let rate = prom.wait_query(
        10,
        "service:locust_requests:rate1m{service=\"shop\"}",
        |v| v.is_some_and(|r| r > 5.0),
    );
    assert!(
        rate.is_some_and(|r| r > 5.0),
        "requests are counted: {rate:?}"
    );
    assert_eq!(
        alert_state(&prom, "LocustErrorRatioHigh"),
        None,
        "inactive while healthy"
    );
    assert!(
        started.elapsed() < Duration::from_secs(fail_after),
        "still in the healthy phase"
    );
    // Then failing: pending first, firing 5 s later.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let state = alert_state(&prom, "LocustErrorRatioHigh");
        if let Some(s) = &state {
            if seen.last() != Some(s) {
                seen.push(s.clone());
            }
        }
        if state.as_deref() == Some("firing") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen, ["pending", "firing"], "the alert's states, in order");
    let became = started.elapsed();
    assert!(
        became > Duration::from_secs(fail_after + 5),
        "fired {became:?} after the start: not before the target failed and 5 s passed"
    );
    let ratio = prom
        .query("service:locust_error_ratio:ratio_rate1m{service=\"shop\"}")
        .unwrap();
    assert!(ratio > 0.05, "firing at an error ratio of {ratio}");
    let _ = locust.kill();
    wait_child(&mut locust, 10);
}
