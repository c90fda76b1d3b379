//! The web UI input against a real Locust 2.47.0 with its web UI: the seed set equals the
//! seed collector's (run beside it in the same Locust) at a quiescent moment, the state
//! follows Locust's own through `/swarm` and `/stop`, a stats reset drops counters once,
//! workers of a master (one killed), and the ContainerSolutions dashboard's queries in a real
//! Prometheus.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A Locust with its web UI on 127.0.0.1 (killed on drop).
struct LiveLocust {
    children: Vec<Child>,
    web: std::net::SocketAddr,
    pause: PathBuf,
    _target: Target,
    _dir: tempfile::TempDir,
}

impl Drop for LiveLocust {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl LiveLocust {
    /// Standalone (`workers` 0) or a master with `workers` workers; `autostart` 10 users.
    fn start(bin: &Path, workers: usize, autostart: bool) -> LiveLocust {
        let target = Target::start(bin);
        let dir = tempfile::tempdir().unwrap();
        let pause = dir.path().join("pause");
        let web = free_addr();
        let locustfile = format!(
            "{},{}",
            fixture("record/pausable_locustfile.py").display(),
            fixture("record/seed_collector.py").display()
        );
        let mut cmd = Command::new(bin.join("locust"));
        cmd.env("LOCUST_PAUSE_FILE", &pause)
            .args(["-f", &locustfile, "-H", &target.url])
            .args([
                "--web-host",
                "127.0.0.1",
                "--web-port",
                &web.port().to_string(),
            ])
            .args(["-u", "10", "-r", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if autostart {
            cmd.arg("--autostart");
        }
        let master_port = free_addr().port().to_string();
        if workers > 0 {
            cmd.args(["--master", "--master-bind-host", "127.0.0.1"])
                .args(["--master-bind-port", &master_port]);
        }
        let mut children = vec![cmd.spawn().unwrap()];
        for _ in 0..workers {
            children.push(
                Command::new(bin.join("locust"))
                    .env("LOCUST_PAUSE_FILE", &pause)
                    .args(["-f", &locustfile, "--worker", "--master-host", "127.0.0.1"])
                    .args(["--master-port", &master_port])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
        wait_listening(web, 30);
        LiveLocust {
            children,
            web,
            pause,
            _target: target,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.web)
    }

    fn status(&self) -> serde_json::Value {
        let (status, _, body) = http_get(self.web, "/stats/requests", None);
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }

    fn pause(&self) {
        std::fs::write(&self.pause, b"").unwrap();
    }

    /// Paused, waits (bounded) until Locust's own totals have held still for longer than a
    /// worker's report interval (3 s): every request in flight is counted and every worker
    /// has reported. Returns that status.
    fn still(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let total = |s: &serde_json::Value| {
            s["stats"].as_array().unwrap().last().unwrap()["num_requests"].as_f64()
        };
        let mut status = self.status();
        let mut since = Instant::now();
        loop {
            assert!(
                Instant::now() < deadline,
                "Locust's numbers never held still"
            );
            std::thread::sleep(Duration::from_millis(500));
            let now = self.status();
            if total(&now) != total(&status) {
                status = now;
                since = Instant::now();
            } else if since.elapsed() > Duration::from_millis(3500) {
                return now;
            }
        }
    }

    fn resume(&self) {
        let _ = std::fs::remove_file(&self.pause);
    }

    fn post(&self, path: &str, form: &str) -> u16 {
        let headers = format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        );
        let mut s = std::net::TcpStream::connect(self.web).unwrap();
        std::io::Write::write_all(
            &mut s,
            format!("POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n{form}")
                .as_bytes(),
        )
        .unwrap();
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

fn samples_of(
    m: &Metrics,
    prefix: &str,
) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let mut v: Vec<_> = m
        .samples
        .iter()
        .filter(|s| s.name.starts_with(prefix))
        .map(|s| {
            let mut labels = s.labels.clone();
            labels.remove("service");
            (s.name.clone(), labels, s.value)
        })
        .collect();
    v.sort_by(|a, b| format!("{:?}", (&a.0, &a.1)).cmp(&format!("{:?}", (&b.0, &b.1))));
    v
}

/// Paused (counters still, current rates decayed to 0), the exporter polling the web UI
/// serves exactly the seed collector's seed set.
#[test]
fn live_seed_set_equals_the_seed_collector_at_a_quiescent_moment() {
    let Some(bin) = venv_bin("live_seed_set_equals_the_seed_collector_at_a_quiescent_moment")
    else {
        return;
    };
    let locust = LiveLocust::start(&bin, 0, true);
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &locust.url(),
        "--metrics",
        "seed",
        "--poll-interval",
        "500ms",
    ]);
    std::thread::sleep(Duration::from_secs(6));
    locust.pause();
    // Quiescent: no request in flight, the counters still for a second. (Locust's current
    // rates then hold still too: they are measured back from the last request.)
    let deadline = Instant::now() + Duration::from_secs(40);
    let total = |s: &serde_json::Value| {
        s["stats"].as_array().unwrap().last().unwrap()["num_requests"].as_f64()
    };
    let mut last = total(&locust.status());
    let (ours, seed) = loop {
        assert!(Instant::now() < deadline, "never quiescent");
        std::thread::sleep(Duration::from_secs(1));
        let now = total(&locust.status());
        if now != last {
            last = now;
            continue;
        }
        std::thread::sleep(Duration::from_millis(1500)); // the exporter polls again
        let (code, _, body) = http_get(locust.web, "/export/prometheus", None);
        assert_eq!(code, 200);
        break (ex.scrape(), Metrics::parse(&body));
    };
    locust.resume();
    for prefix in [
        "locust_stats_",
        "locust_errors",
        "locust_user_count",
        "locust_fail_ratio",
        "locust_state",
    ] {
        let (a, b) = (samples_of(&ours, prefix), samples_of(&seed, prefix));
        assert!(!b.is_empty(), "the seed collector served {prefix}");
        assert_eq!(
            a, b,
            "{prefix}: the exporter's values differ from the seed collector's"
        );
    }
    let n = samples_of(&ours, "locust_stats_num_requests").len();
    assert!(n >= 8, "compared {n} endpoints");
}

/// `locust_state` follows Locust's own runner through its web UI: ready, spawning, running,
/// stopped.
#[test]
fn live_state_follows_ready_spawning_running_stopped() {
    let Some(bin) = venv_bin("live_state_follows_ready_spawning_running_stopped") else {
        return;
    };
    let locust = LiveLocust::start(&bin, 0, false);
    let ex = Exporter::spawn(&["--locust.uri", &locust.url(), "--poll-interval", "100ms"]);
    let state = |m: &Metrics| {
        m.find("locust_state", &[])
            .first()
            .map(|s| s.labels["state"].clone())
    };
    ex.wait_for(10, "ready", |m| state(m).as_deref() == Some("ready"));
    let mut seen = vec!["ready".to_owned()];
    assert_eq!(locust.post("/swarm", "user_count=8&spawn_rate=2"), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.last().map(String::as_str) != Some("running") {
        assert!(Instant::now() < deadline, "seen: {seen:?}");
        if let Some(s) = state(&ex.scrape()) {
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(locust.post("/stop", ""), 200);
    let m = ex.wait_for(10, "stopped", |m| state(m).as_deref() == Some("stopped"));
    seen.push("stopped".into());
    assert_eq!(seen, ["ready", "spawning", "running", "stopped"]);
    assert_eq!(m.get("locust_user_count", &[]), Some(0.0));
}

/// `POST /stats/reset` mid-run: the counters drop exactly once, as a CSV restart does.
#[test]
fn live_stats_reset_drops_counters_once() {
    let Some(bin) = venv_bin("live_stats_reset_drops_counters_once") else {
        return;
    };
    let locust = LiveLocust::start(&bin, 0, true);
    let ex = Exporter::spawn(&["--locust.uri", &locust.url(), "--poll-interval", "200ms"]);
    let total = |m: &Metrics| m.get("locust_requests_total", &[("name", "/")]);
    ex.wait_for(15, "requests", |m| total(m) > Some(20.0));
    let mut counts = Vec::new();
    let start = Instant::now();
    let mut reset = false;
    while start.elapsed() < Duration::from_secs(6) {
        if !reset && start.elapsed() > Duration::from_secs(2) {
            assert_eq!(locust.post("/stats/reset", ""), 200);
            reset = true;
        }
        counts.extend(total(&ex.scrape()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let drops = counts.windows(2).filter(|w| w[1] < w[0]).count();
    assert_eq!(drops, 1, "{counts:?}");
}

/// A master with two workers: two workers, both running; one killed → Locust marks it
/// missing after its heartbeat timeout and the running count drops.
#[test]
fn live_master_workers_and_a_killed_worker() {
    let Some(bin) = venv_bin("live_master_workers_and_a_killed_worker") else {
        return;
    };
    let mut locust = LiveLocust::start(&bin, 2, false);
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &locust.url(),
        "--metrics",
        "native,containersolutions",
        "--poll-interval",
        "200ms",
    ]);
    ex.wait_for(20, "two workers", |m| {
        m.get("locust_workers_count", &[]) == Some(2.0)
    });
    assert_eq!(locust.post("/swarm", "user_count=6&spawn_rate=6"), 200);
    ex.wait_for(20, "both running", |m| {
        m.get("locust_workers_running_count", &[]) == Some(2.0)
    });
    let killed = Instant::now();
    let _ = locust.children[2].kill();
    let m = ex.wait_for(60, "one missing", |m| {
        m.get("locust_workers_missing_count", &[]) == Some(1.0)
    });
    eprintln!(
        "a killed worker was marked missing after {:?}",
        killed.elapsed()
    );
    assert_eq!(m.get("locust_workers_running_count", &[]), Some(1.0));
    assert_eq!(m.get("locust_workers", &[]), Some(1.0), "connected workers");
    assert_eq!(
        m.get("locust_worker_states", &[("state", "missing")]),
        Some(1.0)
    );
}

/// A real Prometheus scrapes `--metrics containersolutions` during a real run: every query
/// of the Go exporter's dashboard returns data, and (paused, so Locust's numbers hold
/// still) the per-endpoint and total counts equal Locust's own `/stats/requests`.
#[test]
fn live_containersolutions_dashboard_queries_in_prometheus() {
    let test = "live_containersolutions_dashboard_queries_in_prometheus";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let locust = LiveLocust::start(&bin, 1, true);
    let ex = Exporter::spawn(&[
        "--locust.uri",
        &locust.url(),
        "--metrics",
        "containersolutions",
        "--poll-interval",
        "500ms",
    ]);
    let Some(prometheus) = Prometheus::start(test, &[("locust", ex.addr, false)]) else {
        return;
    };
    let queries = go_dashboard_queries();
    // Data for every query while the run goes on (rate() needs two scrapes).
    std::thread::sleep(Duration::from_secs(8));
    let mut empty = Vec::new();
    for (panel, q) in &queries {
        let got = prometheus.query_all(q);
        eprintln!(
            "{panel}: {q} → {} series, e.g. {:?}",
            got.len(),
            got.first().map(|g| g.1)
        );
        if got.is_empty() {
            empty.push(format!("{panel}: {q}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    // Paused, and Locust's own numbers still (every worker reported): Prometheus's values
    // equal Locust's own after a poll and a scrape.
    locust.pause();
    let status = locust.still();
    std::thread::sleep(Duration::from_secs(3));
    for s in status["stats"].as_array().unwrap() {
        let (name, method) = (
            s["name"].as_str().unwrap(),
            s["method"].as_str().unwrap_or(""),
        );
        let q = format!(
            "locust_requests_num_requests{{method=\"{method}\",name=\"{}\"}}",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let expected = s["num_requests"]
            .as_f64()
            .expect("Locust gives num_requests");
        assert_eq!(prometheus.query(&q), Some(expected), "{q}");
    }
    assert_eq!(
        prometheus.query("locust_users"),
        status["user_count"].as_f64()
    );
    locust.resume();
}

/// The Go exporter's dashboard (11985): `(panel, PromQL)` of each of its 28 targets.
fn go_dashboard_queries() -> Vec<(String, String)> {
    let queries: Vec<(String, String)> =
        std::fs::read_to_string(fixture("compat/containersolutions-dashboard-queries.tsv"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(p, q)| (p.trim().to_owned(), q.trim().to_owned()))
            .collect();
    assert_eq!(queries.len(), 28);
    queries
}

/// Peak RSS (KiB) and CPU seconds of process `pid` so far.
fn rss_and_cpu(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    (hwm, ticks / 100.0)
}

/// The Kubernetes operator's sidecar, exactly: the exporter with the two variables the
/// operator sets (`LOCUST_EXPORTER_URI`, `LOCUST_EXPORTER_WEB_LISTEN_ADDRESS`) and no
/// argument, beside a real Locust master and worker started as the operator starts them
/// (`--autostart --autoquit`), 100 endpoints: a real Prometheus gets data for every query
/// of the Go exporter's dashboard, and the exporter exits 0 after Locust quits. Peak RSS and
/// CPU are printed (the operator's limits: 128 Mi, 250m).
#[test]
fn the_operators_sidecar_environment_serves_the_go_dashboard_and_ends_with_the_run() {
    let test = "the_operators_sidecar_environment_serves_the_go_dashboard_and_ends_with_the_run";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let locustfile = dir.path().join("locustfile.py");
    std::fs::write(
        &locustfile,
        "import random\nfrom locust import HttpUser, task, constant\n\nclass U(HttpUser):\n    wait_time = constant(0.02)\n\n    @task\n    def item(self):\n        i = random.randrange(100)\n        self.client.get(f\"/item/{i}\", name=f\"/item/{i}\")\n\n    @task\n    def missing(self):\n        self.client.get(\"/missing\")\n",
    )
    .unwrap();
    let web = free_addr();
    let master_port = free_addr().port().to_string();
    let lf = locustfile.to_str().unwrap();
    let mut master = Daemon(
        Command::new(bin.join("locust"))
            .args([
                "-f",
                lf,
                "-H",
                &target.url,
                "--master",
                "--master-bind-host",
                "127.0.0.1",
            ])
            .args(["--master-bind-port", &master_port, "--expect-workers", "1"])
            .args([
                "--autostart",
                "--autoquit",
                "2",
                "--only-summary",
                "-u",
                "10",
                "-r",
                "10",
                "-t",
                "20s",
            ])
            .args([
                "--web-host",
                "127.0.0.1",
                "--web-port",
                &web.port().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let worker = Daemon(
        Command::new(bin.join("locust"))
            .args([
                "-f",
                lf,
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                &master_port,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut cmd = Command::new(crate::support::bin());
    cmd.env("LOCUST_EXPORTER_URI", format!("http://{web}"))
        .env("LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "127.0.0.1:0");
    let mut ex = Exporter::spawn_as_is(cmd);
    assert!(
        ex.stderr()
            .iter()
            .any(|l| l.contains("Configured as the Go exporter")),
        "{:?}",
        ex.stderr()
    );
    let Some(prometheus) = Prometheus::start(test, &[("locust", ex.addr, false)]) else {
        return;
    };
    let queries = go_dashboard_queries();
    ex.wait_for(30, "the run", |m| {
        m.get("locust_running", &[]) == Some(2.0)
            && m.find("locust_requests_num_requests", &[]).len() > 90
    });
    std::thread::sleep(Duration::from_secs(6));
    let mut empty = Vec::new();
    for (panel, q) in &queries {
        if prometheus.query_all(q).is_empty() {
            empty.push(format!("{panel}: {q}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    let m = ex.scrape();
    assert!(m.get("locust_runner_state", &[("locust_runner_state", "running")]) == Some(1.0));
    let (mut peak, mut cpu) = rss_and_cpu(ex.pid());
    let pid = ex.pid();
    let start = Instant::now();
    let code = loop {
        if let Some(code) = ex.try_exit() {
            break Some(code);
        }
        if start.elapsed() > Duration::from_secs(90) {
            break None;
        }
        (peak, cpu) = {
            let (p, c) = rss_and_cpu(pid);
            (p.max(peak), if c > 0.0 { c } else { cpu })
        };
        std::thread::sleep(Duration::from_millis(200));
    };
    let locust_code = master.0.wait().unwrap().code();
    drop(worker);
    eprintln!(
        "operator sidecar: peak RSS {peak} KiB, {cpu:.2} s of CPU over the run; exited {code:?} after Locust ({locust_code:?}) quit"
    );
    assert_eq!(code, Some(0), "{:?}", ex.stderr());
    assert!(ex
        .stderr()
        .iter()
        .any(|l| l.contains("--exit-when-locust-quits")));
    assert!(peak < 128 * 1024, "peak RSS {peak} KiB");
}

/// Beside a real standalone Locust, then a master, then Locust killed, as the Go exporter
/// and the seed serve them: no `locust_slave_count` for a standalone Locust (the seed serves
/// it only for a master), worker counts 0 in the Go set; a master's `locust_slave_count`;
/// Locust gone after its stop: `locust_up 0`, no state or current rates, users 0 (the counts
/// stay).
#[test]
fn standalone_master_and_a_vanished_locust_as_the_seed_and_the_go_exporter_serve_them() {
    let Some(bin) = venv_bin("standalone_master_and_a_vanished_locust") else {
        return;
    };
    let standalone = LiveLocust::start(&bin, 0, true);
    let seed = Exporter::spawn(&[
        "--locust.uri",
        &standalone.url(),
        "--poll-interval",
        "300ms",
    ]);
    let go = Exporter::spawn(&[
        "--locust.uri",
        &standalone.url(),
        "--metrics",
        "native,containersolutions",
        "--poll-interval",
        "300ms",
    ]);
    let m = go.wait_for(30, "a running standalone Locust", |m| {
        m.get("locust_running", &[]) == Some(2.0)
    });
    for name in [
        "locust_workers_count",
        "locust_workers_running_count",
        "locust_workers_hatching_count",
        "locust_workers_missing_count",
    ] {
        assert_eq!(m.get(name, &[]), Some(0.0), "{name}");
    }
    let s = seed.wait_for(30, "the seed set", |m| {
        m.get("locust_user_count", &[]).is_some()
    });
    assert!(
        s.find("locust_slave_count", &[]).is_empty(),
        "standalone: no slave count"
    );
    // After a stop: what a stopped run is doing (Locust 2.47 keeps reporting its last
    // rates; the Go exporter passes them on: COMPARISON.md).
    assert_eq!(standalone.post("/stop", ""), 200);
    let m = go.wait_for(30, "stopped", |m| m.get("locust_running", &[]) == Some(0.0));
    for r in m.find_some("locust_requests_current_rps", &[]) {
        assert_eq!(r.value, 0.0, "{r:?}");
    }
    assert_eq!(m.get("locust_users", &[]), Some(0.0));
    assert_eq!(
        m.get("locust_runner_state", &[("locust_runner_state", "stopped")]),
        Some(1.0)
    );
    drop(standalone);
    let m = go.wait_for(30, "Locust gone", |m| m.get("locust_up", &[]) == Some(0.0));
    for name in ["locust_running", "locust_requests_current_rps"] {
        assert!(
            m.find(name, &[]).is_empty(),
            "{name} served for a Locust that is gone"
        );
    }
    // The run was seen to stop before Locust went: no users is known (the native set's
    // locust_users, which the Go set defers to; a Locust gone mid-run serves none).
    assert_eq!(m.get("locust_users", &[]), Some(0.0));
    assert!(
        !m.find("locust_requests_num_requests", &[]).is_empty(),
        "the counts stay"
    );
    let master = LiveLocust::start(&bin, 1, false);
    let seed = Exporter::spawn(&["--locust.uri", &master.url(), "--poll-interval", "300ms"]);
    seed.wait_for(30, "a master's slave count", |m| {
        m.get("locust_slave_count", &[]) == Some(1.0)
    });
}

/// `/metrics?name[]=…` (repeatable), from a real Prometheus's scrape config `params`: it
/// stores only those families (and its own `up` and `scrape_*`).
#[test]
fn name_parameters_in_a_prometheus_scrape_config_restrict_what_it_stores() {
    let test = "name_parameters_in_a_prometheus_scrape_config_restrict_what_it_stores";
    let run = fixture("locust-2.47.0/standalone-full-history/run");
    let ex = Exporter::spawn(&["--csv", run.to_str().unwrap()]);
    let config = format!(
        "  - job_name: only\n    params:\n      'name[]': [locust_requests_total, locust_stats_num_requests]\n    static_configs:\n      - targets: ['{}']\n",
        ex.addr
    );
    let Some(prometheus) = Prometheus::start_raw(test, &config, &[]) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let names = loop {
        let got = prometheus.query_all("count by (__name__) ({job=\"only\"})");
        if got
            .iter()
            .any(|(l, _)| l.get("__name__").map(String::as_str) == Some("locust_requests_total"))
        {
            break got;
        }
        assert!(Instant::now() < deadline, "nothing stored: {got:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let names: Vec<&str> = names
        .iter()
        .filter_map(|(l, _)| l.get("__name__").map(String::as_str))
        .collect();
    eprintln!("stored with name[]: {names:?}");
    for n in &names {
        assert!(
            ["locust_requests_total", "locust_stats_num_requests", "up"].contains(n)
                || n.starts_with("scrape_"),
            "{n} stored though not asked for"
        );
    }
    assert!(names.contains(&"locust_stats_num_requests"));
    // The full exposition is still served without the parameter.
    assert!(ex.scrape().text.contains("locust_exporter_build_info"));
}

/// What [`judged_web_ui_run`] found: Locust's own (length, rate), the exporter's, its exit
/// code and its log.
struct Judged {
    locust: (f64, f64),
    exporter: (f64, f64),
    code: Option<i32>,
    log: String,
}

/// A real web-UI run — a master with two workers, `--autostart --autoquit`, 10 users paced
/// at 5 requests/s each — read through its web UI (`drop_in`: as the operator's sidecar,
/// configured by the Go exporter's variables alone). Returns Locust's own (length, rate) from
/// its last `/stats/requests` and the exporter's, read from its summary, once both ended.
fn judged_web_ui_run(test: &str, drop_in: bool) -> Option<Judged> {
    let bin = venv_bin(test)?;
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let locustfile = dir.path().join("paced.py");
    std::fs::write(
        &locustfile,
        "from locust import HttpUser, task, constant_throughput\n\nclass U(HttpUser):\n    wait_time = constant_throughput(5)\n\n    @task\n    def fast(self):\n        self.client.get(\"/fast\")\n",
    )
    .unwrap();
    let web = free_addr();
    let master_port = free_addr().port().to_string();
    let lf = locustfile.display().to_string();
    let mut master = Daemon(
        Command::new(bin.join("locust"))
            .args([
                "-f",
                &lf,
                "-H",
                &target.url,
                "--master",
                "--master-bind-host",
                "127.0.0.1",
            ])
            .args(["--master-bind-port", &master_port, "--expect-workers", "2"])
            .args([
                "--autostart",
                "--autoquit",
                "4",
                "--only-summary",
                "-u",
                "10",
                "-r",
                "10",
                "-t",
                "15s",
            ])
            .args([
                "--web-host",
                "127.0.0.1",
                "--web-port",
                &web.port().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _workers: Vec<Daemon> = (0..2)
        .map(|_| {
            Daemon(
                Command::new(bin.join("locust"))
                    .args([
                        "-f",
                        &lf,
                        "--worker",
                        "--master-host",
                        "127.0.0.1",
                        "--master-port",
                        &master_port,
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let mut cmd = Command::new(crate::support::bin());
    let url = format!("http://{web}");
    if drop_in {
        cmd.env("LOCUST_EXPORTER_URI", &url)
            .env("LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "127.0.0.1:0")
            .env("LOCUST_EXPORTER_CHECK", "rps>=45");
    } else {
        cmd.args(["--locust.uri", &url, "--web.listen-address", "127.0.0.1:0"])
            .args([
                "--exit-when-locust-quits",
                "1s",
                "--check",
                "rps>=45",
                "--log.level",
                "info",
            ]);
    }
    let exporter = Exporter::spawn_as_is(cmd);
    // Locust's own numbers, as long as its web UI answers.
    wait_listening(web, 30);
    let mut last: Option<serde_json::Value> = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while master.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if let Some(s) = std::net::TcpStream::connect(web)
            .ok()
            .map(|_| http_get(web, "/stats/requests", None))
            .filter(|(status, _, _)| *status == 200)
            .and_then(|(_, _, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
        {
            last = Some(s);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let last = last.expect("Locust's web UI answered");
    let total = last["stats"].as_array().unwrap().last().unwrap().clone();
    let rate = total["total_rps"].as_f64().unwrap();
    let locust = (total["num_requests"].as_f64().unwrap() / rate, rate);
    let (code, log) = exporter.wait_exit_logged(60);
    let log = log.join("\n");
    let line = log
        .lines()
        .find(|l| l.starts_with("service locust ("))
        .unwrap_or_else(|| panic!("a summary: {log}"));
    let length: f64 = line
        .rsplit(", ")
        .next()
        .and_then(|t| t.trim_end_matches(" s)").parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let rps: f64 = log
        .lines()
        .find(|l| l.contains("rps>=45  locust total: "))
        .and_then(|l| l.split("locust total: ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the rps check: {log}"));
    Some(Judged {
        locust,
        exporter: (length, rps),
        code,
        log,
    })
}

/// The run's length is Locust's own within 1 s and its rate within 2 % of Locust's
/// `total_rps`, however long after Locust's stop the exporter polled or quit (a 15 s run
/// once read 43 s and failed a healthy `rps` check); `rps>=45` (10 % under the run's pace)
/// passes.
#[test]
fn a_web_ui_run_is_judged_on_locusts_own_length_and_rate() {
    let Some(Judged {
        locust: (l_len, l_rps),
        exporter: (len, rps),
        code,
        log,
    }) = judged_web_ui_run(
        "a_web_ui_run_is_judged_on_locusts_own_length_and_rate",
        false,
    )
    else {
        return;
    };
    eprintln!("web UI: Locust {l_len:.2} s, {l_rps:.2}/s; exporter {len:.1} s, {rps}/s");
    assert!(
        (len - l_len).abs() < 1.0,
        "length {len} against Locust's {l_len}\n{log}"
    );
    assert!(
        (rps - l_rps).abs() / l_rps < 0.02,
        "rps {rps} against Locust's {l_rps}\n{log}"
    );
    assert_eq!(code, Some(0), "a healthy run passes rps>=45:\n{log}");
}

/// The same as the operator's drop-in sidecar (`LOCUST_EXPORTER_URI`, the check from
/// `LOCUST_EXPORTER_CHECK`), which once failed a healthy 30 s run with exit 99.
#[test]
fn a_drop_in_run_is_judged_on_locusts_own_length_and_rate() {
    let Some(Judged {
        locust: (l_len, l_rps),
        exporter: (len, rps),
        code,
        log,
    }) = judged_web_ui_run(
        "a_drop_in_run_is_judged_on_locusts_own_length_and_rate",
        true,
    )
    else {
        return;
    };
    eprintln!("drop-in: Locust {l_len:.2} s, {l_rps:.2}/s; exporter {len:.1} s, {rps}/s");
    assert!(
        (len - l_len).abs() < 1.0,
        "length {len} against Locust's {l_len}\n{log}"
    );
    assert!(
        (rps - l_rps).abs() / l_rps < 0.02,
        "rps {rps} against Locust's {l_rps}\n{log}"
    );
    assert_eq!(code, Some(0), "a healthy run passes rps>=45:\n{log}");
}
