//! Real Locust for the tests: the venv (skipping loudly without it, unless `REQUIRE_LOCUST`),
//! the local target server, headless and distributed runs with the recording's locustfile
//! (and the plugin), and Locust's own `--json-file` totals with the one check that served
//! counts equal them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

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
        Target::start_env(bin, &[])
    }

    /// The target with environment variables (`TARGET_FAIL_AFTER`, `LATENCY_MS`, …).
    pub fn start_env(bin: &Path, env: &[(&str, &str)]) -> Target {
        let mut child = Command::new(bin.join("python"))
            .arg(fixture("record/target_server.py"))
            .envs(env.iter().copied())
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

/// `locust` headless against `target` for `secs` seconds, 10 users, with the recording's
/// locustfile (and the plugin, if asked); callers add their own options.
pub fn locust_command(bin: &Path, target: &Target, secs: u32, plugin: bool) -> Command {
    locust_command_with(bin, target, secs, plugin, &[])
}

/// [`locust_command`] with more files in `-f` after the locustfile.
pub fn locust_command_with(
    bin: &Path,
    target: &Target,
    secs: u32,
    plugin: bool,
    more: &[PathBuf],
) -> Command {
    // The plugin first, as README says: it takes stdout before the locustfile is imported.
    let mut locustfile = fixture("record/locustfile.py").display().to_string();
    for file in more {
        locustfile = format!("{locustfile},{}", file.display());
    }
    if plugin {
        locustfile = format!(
            "{},{locustfile}",
            root().join("contrib/locust_exporter_plugin.py").display()
        );
    }
    let mut cmd = locust_headless(bin, &locustfile, target, secs, 5);
    cmd.stderr(Stdio::null());
    cmd
}

/// `locust -f LOCUSTFILE` headless against `target` for `secs` seconds, 10 users spawned at
/// `rate` a second, only the summary printed.
pub fn locust_headless(
    bin: &Path,
    locustfile: &str,
    target: &Target,
    secs: u32,
    rate: u32,
) -> Command {
    let mut cmd = Command::new(bin.join("locust"));
    cmd.args(["-f", locustfile, "--headless", "-u", "10"])
        .args(["-r", &rate.to_string(), "-t", &format!("{secs}s")])
        .args(["-H", &target.url, "--only-summary"]);
    cmd
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

/// Locust's `--json-file` output: one entry per (method, name), the exact totals written at
/// shutdown. (serde_json reads floats exactly with its `float_roundtrip` feature, which the
/// crate enables.)
pub fn json_entries(path: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Locust's final totals: per (method, name), (requests, failures).
pub type Totals = BTreeMap<(String, String), (f64, f64)>;

/// Per (method, name): (num_requests, num_failures) from Locust's `--json-file` output.
pub fn json_totals(path: &Path) -> Totals {
    json_entries(path)
        .iter()
        .map(|e| {
            let key = (
                e["method"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            );
            (
                key,
                (
                    e["num_requests"].as_f64().unwrap(),
                    e["num_failures"].as_f64().unwrap(),
                ),
            )
        })
        .collect()
}

/// How an endpoint's series are picked from its key: by method and name (events, CSV,
/// the web UI), or by name alone (OTLP, whose metric has no method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    MethodAndName,
    Name,
}

/// Per endpoint, served requests and failures equal Locust's final totals exactly (each
/// lookup finds its one series: `Metrics::get` is `None` for none and panics for several).
pub fn assert_totals(m: &Metrics, totals: &Totals, key: Key) {
    assert_totals_labelled(m, totals, key, &[]);
}

/// [`assert_totals`] on the series that also carry `extra` labels (`service`).
pub fn assert_totals_labelled(m: &Metrics, totals: &Totals, key: Key, extra: &[(&str, &str)]) {
    assert!(!totals.is_empty(), "no totals to compare");
    for ((method, name), (requests, failures)) in totals {
        let mut labels = extra.to_vec();
        if key == Key::MethodAndName {
            labels.push(("method", method.as_str()));
        }
        labels.push(("name", name.as_str()));
        assert_eq!(
            m.get("locust_requests_total", &labels),
            Some(*requests),
            "{labels:?}"
        );
        assert_eq!(
            m.get("locust_request_failures_total", &labels),
            Some(*failures),
            "{labels:?}"
        );
    }
}

/// A distributed run of 8 s: a master (`--expect-workers 2`, `--json-file json`) and two
/// workers, each with the plugin writing its stream to `dir` (`master.jsonl`,
/// `worker0.jsonl`, `worker1.jsonl`); the workers also load `worker_files`, and each process
/// (`"master"`, `"worker0"`, …) gets the variables `env(name)` gives.
pub fn start_distributed(
    bin: &Path,
    target: &Target,
    dir: &Path,
    json: &Path,
    worker_files: &[&Path],
    env: impl Fn(&str) -> Vec<(&'static str, String)>,
) -> (Child, Vec<Child>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let stream = |name: &str| dir.join(format!("{name}.jsonl")).display().to_string();
    let mut master = locust_command(bin, target, 8, true);
    master
        .args(["--master", "--expect-workers", "2"])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
        ])
        .args(["--json-file", json.to_str().unwrap()])
        .args(["--exporter-events", &stream("master")])
        .stdout(Stdio::null());
    master.envs(env("master"));
    let master = master.spawn().unwrap();
    let workers = (0..2)
        .map(|i| {
            let name = format!("worker{i}");
            let mut files = vec![
                fixture("record/locustfile.py"),
                root().join("contrib/locust_exporter_plugin.py"),
            ];
            files.extend(worker_files.iter().map(|f| f.to_path_buf()));
            let locustfile: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let mut worker = Command::new(bin.join("locust"));
            worker
                .args(["-f", &locustfile.join(","), "--worker"])
                .args(["--master-host", "127.0.0.1", "--master-port", &port])
                .args(["--exporter-events", &stream(&name)])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            worker.envs(env(&name));
            worker.spawn().unwrap()
        })
        .collect();
    (master, workers)
}
