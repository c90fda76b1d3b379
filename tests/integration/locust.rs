//! Real Locust (pip, in the venv `.ci/run` makes at `.venv/`, or `$LOCUST_VENV`) against the
//! local target server, writing real CSV files and real events while the exporter follows
//! them. Without the venv these tests skip with a loud message, unless `REQUIRE_LOCUST=1`
//! (set by `.ci/run`), where a missing venv fails them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// The venv's `bin/` directory, or None (after saying so loudly).
pub fn venv_bin(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("LOCUST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let bin = venv.join("bin");
    if bin.join("locust").exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("REQUIRE_LOCUST").is_none(),
        "{test}: REQUIRE_LOCUST is set but there is no Locust at {}",
        bin.display()
    );
    eprintln!(
        "\n*** SKIPPED {test}: no Locust venv at {} (run .ci/run, or set LOCUST_VENV) ***\n",
        venv.display()
    );
    None
}

/// The local target server (killed on drop).
pub struct Target {
    child: Child,
    pub url: String,
}

impl Target {
    pub fn start(bin: &Path) -> Target {
        let mut child = Command::new(bin.join("python"))
            .arg(fixture("record/target_server.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Target {
            child,
            url: format!("http://127.0.0.1:{}", line.trim()),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Locust headless for `secs` seconds with `extra` arguments; waits (bounded) for it.
pub fn run_locust(bin: &Path, target: &Target, secs: u32, extra: &[&str], stdout: Stdio) -> Child {
    Command::new(bin.join("locust"))
        .args(["-f", fixture("record/locustfile.py").to_str().unwrap()])
        .args([
            "--headless",
            "-u",
            "10",
            "-r",
            "5",
            "-t",
            &format!("{secs}s"),
            "-H",
            &target.url,
            "--only-summary",
        ])
        .args(extra)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub fn wait_child(child: &mut Child, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("locust did not finish in {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn real_locust_csv_values_equal_the_final_files() {
    let Some(bin) = venv_bin("real_locust_csv_values_equal_the_final_files") else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("out").join("run");
    let spec = format!("checkout={}", prefix.display());
    let ex = Exporter::spawn(&["--csv", &spec]);
    let mut locust = run_locust(
        &bin,
        &target,
        10,
        &["--csv", prefix.to_str().unwrap()],
        Stdio::null(),
    );

    // While it runs: counters only grow, and the state goes through spawning/running.
    let mut last = 0.0;
    let mut states = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while locust.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "locust ran too long");
        let m = ex.scrape();
        if let Some(v) = m.get("locust_stats_num_requests", &[("path", "Aggregated")]) {
            assert!(v >= last, "counter went down mid-run: {last} → {v}");
            last = v;
        }
        for s in m.find("locust_state", &[("service", "checkout")]) {
            states.insert(s.labels["state"].clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_child(&mut locust, 30);
    assert!(states.contains("running"), "states seen: {states:?}");

    let stats = PathBuf::from(format!("{}_stats.csv", prefix.display()));
    let failures = PathBuf::from(format!("{}_failures.csv", prefix.display()));
    let (h, rows) = read_csv(&stats);
    let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
    assert!(total > 50.0, "the run made requests ({total})");
    let m = ex.wait_for(10, "the final snapshot", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(total)
    });
    assert_stats_match(&m, "checkout", &stats);
    assert_failures_match(&m, "checkout", &failures);
    let weird = [("path", "/weird,name \"quoted\""), ("method", "GET")];
    assert!(
        m.get("locust_stats_num_requests", &weird).unwrap() > 0.0,
        "the name with a comma and quotes is served"
    );
    assert_promtool_clean(&m.text);
    let m = ex.wait_for(10, "stopped", |m| {
        m.get("locust_state", &[("state", "stopped")]) == Some(1.0)
    });
    assert_stats_match(&m, "checkout", &stats);
}
