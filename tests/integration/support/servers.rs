//! Real servers beside the exporter: Prometheus and the Pushgateway, started on free
//! loopback ports and stopped when dropped; how a test finds (or, loudly, skips) a tool.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A background server process, killed on drop.
pub struct Daemon(pub Child);

impl Daemon {
    /// Starts `cmd` (output discarded) and waits (bounded) until it listens on `addr`.
    pub fn listening(mut cmd: Command, addr: SocketAddr) -> Daemon {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let daemon = Daemon(child);
        wait_listening(addr, 30);
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// True if `cmd` runs; otherwise says loudly that `test` is skipped (or fails it when
/// `require` is set in the environment, as test.sh --install sets it).
pub fn have(test: &str, cmd: &str, require: &str, package: &str) -> bool {
    if Command::new(cmd).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os(require).is_none(),
        "{test}: {require} is set but there is no `{cmd}` (Debian package {package})"
    );
    eprintln!("\n*** SKIPPED {test}: no `{cmd}` (Debian package {package}; ./test.sh --install installs it) ***\n");
    false
}

/// Waits (bounded) until something listens on `addr`.
pub fn wait_listening(addr: SocketAddr, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real Prometheus server (Debian's `prometheus`) scraping targets every second.
pub struct Prometheus {
    _daemon: Daemon,
    _dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Starts one scraping `(job, target, honor_labels)`s; `None` (after saying so) when
    /// there is no `prometheus` binary.
    pub fn start(test: &str, targets: &[(&str, SocketAddr, bool)]) -> Option<Prometheus> {
        Self::start_with(test, targets, &[])
    }

    /// Like [`Prometheus::start`], with extra command-line flags.
    pub fn start_with(
        test: &str,
        targets: &[(&str, SocketAddr, bool)],
        flags: &[&str],
    ) -> Option<Prometheus> {
        let jobs: Vec<(&str, Vec<SocketAddr>, bool)> = targets
            .iter()
            .map(|(job, target, honor)| (*job, vec![*target], *honor))
            .collect();
        Self::start_jobs(test, &jobs, flags)
    }

    /// Starts one scraping each `(job, targets, honor_labels)`, with extra flags.
    pub fn start_jobs(
        test: &str,
        jobs: &[(&str, Vec<SocketAddr>, bool)],
        flags: &[&str],
    ) -> Option<Prometheus> {
        let mut scrape_configs = String::new();
        for (job, targets, honor) in jobs {
            let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            scrape_configs.push_str(&format!(
                "  - job_name: {job}\n    honor_labels: {honor}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ));
        }
        Self::start_raw(test, &scrape_configs, flags)
    }

    /// Starts one with `scrape_configs` (YAML list items, indented two spaces), scraping
    /// every second.
    pub fn start_raw(test: &str, scrape_configs: &str, flags: &[&str]) -> Option<Prometheus> {
        Self::start_with_rules(test, scrape_configs, None, flags)
    }

    /// Like [`Prometheus::start_raw`], evaluating the rule file `rules` (its text) every
    /// second.
    pub fn start_with_rules(
        test: &str,
        scrape_configs: &str,
        rules: Option<&str>,
        flags: &[&str],
    ) -> Option<Prometheus> {
        if !have(test, "prometheus", "REQUIRE_PROMETHEUS", "prometheus") {
            return None;
        }
        Some(Self::launch(
            PathBuf::from("prometheus"),
            scrape_configs,
            rules,
            flags,
        ))
    }

    /// Prometheus 3.5 (the `sid` download) with `scrape_configs` and native histograms on;
    /// `None` (after saying so) without it.
    pub fn start_v3(test: &str, scrape_configs: &str, flags: &[&str]) -> Option<Prometheus> {
        let bin = sid_bin(test)?.join("prometheus");
        let mut all = vec!["--enable-feature=native-histograms"];
        all.extend_from_slice(flags);
        Some(Self::launch(bin, scrape_configs, None, &all))
    }

    fn launch(
        bin: PathBuf,
        scrape_configs: &str,
        rules: Option<&str>,
        flags: &[&str],
    ) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        if let Some(rules) = rules {
            let path = dir.path().join("rules.yml");
            std::fs::write(&path, rules).unwrap();
            config.push_str(&format!("rule_files: ['{}']\n", path.display()));
        }
        config.push_str("scrape_configs:\n");
        config.push_str(scrape_configs);
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let addr = free_addr();
        let mut cmd = Command::new(bin);
        cmd.arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .args(flags);
        let daemon = Daemon::listening(cmd, addr);
        Prometheus {
            _daemon: daemon,
            _dir: dir,
            addr,
        }
    }
}

impl PromQl for Prometheus {
    fn api(&self) -> SocketAddr {
        self.addr
    }
}

/// A real Pushgateway (Debian's `prometheus-pushgateway`).
pub struct Pushgateway {
    _daemon: Daemon,
    pub addr: SocketAddr,
}

impl Pushgateway {
    /// Starts one; `None` (after saying so) when the binary is missing.
    pub fn start(test: &str) -> Option<Pushgateway> {
        Pushgateway::start_with(test, &[])
    }

    /// Starts one with extra arguments (`--web.config.file=…`).
    pub fn start_with(test: &str, args: &[&str]) -> Option<Pushgateway> {
        if !have(
            test,
            "prometheus-pushgateway",
            "REQUIRE_PUSHGATEWAY",
            "prometheus-pushgateway",
        ) {
            return None;
        }
        let addr = free_addr();
        let mut cmd = Command::new("prometheus-pushgateway");
        cmd.arg(format!("--web.listen-address={addr}"))
            .arg("--persistence.file=")
            .args(args);
        let daemon = Daemon::listening(cmd, addr);
        Some(Pushgateway {
            _daemon: daemon,
            addr,
        })
    }

    /// The URL to give `--push.url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it serves now.
    pub fn metrics(&self) -> Metrics {
        let (status, _, body) = http_get(self.addr, "/metrics", None);
        assert_eq!(status, 200);
        Metrics::parse(&body)
    }
}
