//! Test harness: spawn the real binary on 127.0.0.1:0, scrape it over real HTTP, parse the
//! exposition, wait for conditions with bounded deadlines (never fixed sleeps).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_locust-exporter"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// A running exporter, killed on drop.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    pub stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Exporter {
    /// Starts the exporter with `args` plus `--web.listen-address 127.0.0.1:0`.
    pub fn spawn(args: &[&str]) -> Exporter {
        Self::spawn_inner(args, false)
    }

    /// Like [`spawn`], with a pipe on standard input.
    pub fn spawn_with_stdin(args: &[&str]) -> Exporter {
        Self::spawn_inner(args, true)
    }

    fn spawn_inner(args: &[&str], stdin: bool) -> Exporter {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() });
        Self::spawn_command(cmd)
    }

    /// Starts `cmd` (the binary with its arguments; it must listen on 127.0.0.1:0) with
    /// debug logs, and reads the address it reports.
    pub fn spawn_command(mut cmd: Command) -> Exporter {
        let mut child = cmd
            .args(["--log.level", "debug"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn exporter");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                // Text logs say `address=…`, JSON logs `"address":"…"`.
                if let Some(rest) = line.split("address=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                } else if let Some(rest) = line.split("\"address\":\"").nth(1) {
                    let addr = rest.split('"').next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "exporter did not report its address; stderr: {:?}",
                    stderr.lock().unwrap()
                )
            });
        let stdin = child.stdin.take();
        Exporter {
            child,
            addr: addr.parse().expect("address"),
            stdin,
            stderr,
        }
    }

    /// The exit code, if the process has exited.
    pub fn try_exit(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Waits (bounded) for the process to exit by itself: its code.
    pub fn wait_exit(mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(code) = self.try_exit() {
                return Some(code);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A scrape, or `None` if the exporter does not answer (e.g. it is exiting).
    pub fn try_scrape(&self) -> Option<Metrics> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200")
            .then(|| Metrics::parse(body))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the exporter, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Sends SIGTERM and returns how long the process took to exit, and its code (`None`
    /// if it did not exit within `secs`).
    pub fn terminate_timed(mut self, secs: u64) -> (Duration, Option<i32>) {
        let start = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = start + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (start.elapsed(), status.code());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (start.elapsed(), None)
    }

    /// A raw TCP connection to the exporter.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Everything the exporter logged so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// GET `path`: (status, headers, body).
    pub fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.addr, path, None)
    }

    /// The metrics.
    pub fn scrape(&self) -> Metrics {
        let (status, _, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        Metrics::parse(&body)
    }

    /// Scrapes until `cond` holds, at most `secs` seconds; panics with the last scrape.
    pub fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.scrape();
            if cond(&m) {
                return m;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last scrape:\n{}\nstderr: {:?}",
                    m.text,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bounded HTTP/1.1 GET over loopback; `auth` is the Authorization header value.
pub fn http_get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let headers = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let (status, head, body) = http_request(addr, "GET", path, &headers);
    (
        status,
        head,
        String::from_utf8(body).expect("utf-8 response"),
    )
}

/// A bounded HTTP/1.1 request over loopback with extra header lines (each ending in
/// `\r\n`): (status, head, body bytes).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("utf-8 head");
    let mut body = raw[split + 4..].to_vec();
    if header_value(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// The value of header `name` (case-insensitive) in a response head.
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// A JSON-lines file with one request to each of `endpoints` distinct names (and a
/// failure for every tenth), for large expositions.
pub fn many_endpoints_events(path: &Path, endpoints: usize) {
    let mut out = String::new();
    for i in 0..endpoints {
        let exception = if i % 10 == 0 {
            "\"HTTPError('500')\""
        } else {
            "null"
        };
        out.push_str(&format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"GET\",\"name\":\"/api/v1/items/{i}\",\"response_time\":12.5,\"response_length\":100,\"exception\":{exception}}}\n"));
    }
    std::fs::write(path, out).unwrap();
}

/// One sample of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Metrics {
    /// Parses the text format (label values unescaped).
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, rest) = match line.find('{') {
                Some(i) => (&line[..i], &line[i..]),
                None => line.split_at(line.find(' ').unwrap()),
            };
            let mut labels = BTreeMap::new();
            let mut rest = rest;
            if rest.starts_with('{') {
                let mut chars = rest[1..].char_indices();
                let mut key = String::new();
                let mut end = 0;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '}' => {
                            end = i + 2;
                            break;
                        }
                        '=' => {
                            let mut value = String::new();
                            chars.next(); // opening quote
                            while let Some((_, c)) = chars.next() {
                                match c {
                                    '\\' => match chars.next().map(|x| x.1) {
                                        Some('n') => value.push('\n'),
                                        Some(o) => value.push(o),
                                        None => {}
                                    },
                                    '"' => break,
                                    c => value.push(c),
                                }
                            }
                            labels.insert(std::mem::take(&mut key), value);
                        }
                        ',' => {}
                        c => key.push(c),
                    }
                }
                rest = &rest[end..];
            }
            let value = match rest.trim() {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
        Metrics {
            samples,
            text: text.to_owned(),
        }
    }

    /// The value of `name` whose labels include all of `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).first().map(|s| s.value)
    }

    /// Every sample of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }
}

/// Runs `promtool check metrics` on `text`. Returns the problems it printed; panics if
/// promtool is missing (CI installs it) or reports a parse error (exit 1).
pub fn promtool_check(text: &str) -> Vec<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install the Debian package `prometheus` (.ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(3)),
        "promtool failed ({code:?}):\n{printed}"
    );
    printed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The lint findings promtool reports on the seed set's fixed names (kept for compatibility
/// with the Python collector; see COMPARISON.md). Any other finding is a bug.
pub const SEED_LINTS: [&str; 5] = [
    "locust_slave_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_stats_current_fail_per_sec metric names should not contain abbreviated units",
    "locust_stats_num_failures counter metrics should have \"_total\" suffix",
    "locust_stats_num_requests counter metrics should have \"_total\" suffix",
    "locust_user_count non-histogram and non-summary metrics should not have \"_count\" suffix",
];

/// Asserts promtool finds nothing but the known seed-name lints.
pub fn assert_promtool_clean(text: &str) {
    assert_promtool_clean_except(text, &SEED_LINTS);
}

/// The lint findings promtool reports on the Go exporter's names, kept for its dashboards
/// (see COMPARISON.md). Any other finding is a bug.
pub const CONTAINERSOLUTIONS_LINTS: [&str; 5] = [
    "locust_requests_current_fail_per_sec metric names should not contain abbreviated units",
    "locust_workers_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_hatching_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_missing_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_running_count non-histogram and non-summary metrics should not have \"_count\" suffix",
];

/// Asserts promtool finds no error and no lint but `allowed`.
pub fn assert_promtool_clean_except(text: &str, allowed: &[&str]) {
    for problem in promtool_check(text) {
        assert!(allowed.contains(&problem.as_str()), "promtool: {problem}");
    }
}

/// Runs the binary to completion with `args` in the repository root (bounded), returning
/// (code, stdout, stderr).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin())
        .current_dir(root())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads a Locust CSV with the `csv` crate (independently of the exporter's parser):
/// header and rows as strings.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Column index by name.
pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// Parses a CSV number the way a reader of the file would (`N/A` → Locust's 0).
pub fn num(s: &str) -> f64 {
    if s == "N/A" {
        0.0
    } else {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
    }
}

/// Asserts that every `locust_stats_*` series of `service` equals the `_stats.csv` at
/// `stats` exactly (f64 equality of the parsed text), that there is one series per row, and
/// that `locust_fail_ratio` is the total's failures over requests.
pub fn assert_stats_match(m: &Metrics, service: &str, stats: &Path) {
    let (h, rows) = read_csv(stats);
    assert!(!rows.is_empty(), "{} has no rows", stats.display());
    let columns = [
        ("locust_stats_num_requests", "Request Count"),
        ("locust_stats_num_failures", "Failure Count"),
        ("locust_stats_median_response_time", "Median Response Time"),
        ("locust_stats_avg_response_time", "Average Response Time"),
        ("locust_stats_min_response_time", "Min Response Time"),
        ("locust_stats_max_response_time", "Max Response Time"),
        ("locust_stats_avg_content_length", "Average Content Size"),
        ("locust_stats_ninetieth_response_time", "90%"),
    ];
    let (t, n) = (col(&h, "Type"), col(&h, "Name"));
    for (i, row) in rows.iter().enumerate() {
        let total = i == rows.len() - 1 && row[t].is_empty() && row[n] == "Aggregated";
        let method = if total { "Aggregated" } else { row[t].as_str() };
        let labels = [
            ("service", service),
            ("path", row[n].as_str()),
            ("method", method),
        ];
        for (metric, column) in columns {
            let want = num(&row[col(&h, column)]);
            let got = m
                .get(metric, &labels)
                .unwrap_or_else(|| panic!("no {metric}{labels:?} in\n{}", m.text));
            assert_eq!(
                got,
                want,
                "{metric}{labels:?}: served {got}, file says {}",
                row[col(&h, column)]
            );
        }
    }
    assert_eq!(
        m.find("locust_stats_num_requests", &[("service", service)])
            .len(),
        rows.len(),
        "one series per row of {}",
        stats.display()
    );
    let total = rows.last().unwrap();
    let (req, fail) = (
        num(&total[col(&h, "Request Count")]),
        num(&total[col(&h, "Failure Count")]),
    );
    let ratio = if req > 0.0 { fail / req } else { 0.0 };
    assert_eq!(
        m.get("locust_fail_ratio", &[("service", service)]),
        Some(ratio)
    );
}

/// Asserts that `locust_errors` of `service` equals the `_failures.csv` at `failures`.
pub fn assert_failures_match(m: &Metrics, service: &str, failures: &Path) {
    let (h, rows) = read_csv(failures);
    let (me, na, er, oc) = (
        col(&h, "Method"),
        col(&h, "Name"),
        col(&h, "Error"),
        col(&h, "Occurrences"),
    );
    for row in &rows {
        let labels = [
            ("service", service),
            ("path", row[na].as_str()),
            ("method", row[me].as_str()),
            ("error", row[er].as_str()),
        ];
        assert_eq!(
            m.get("locust_errors", &labels),
            Some(num(&row[oc])),
            "locust_errors{labels:?}"
        );
        let native = [
            ("service", service),
            ("name", row[na].as_str()),
            ("method", row[me].as_str()),
            ("error", row[er].as_str()),
        ];
        assert_eq!(
            m.get("locust_failures_total", &native),
            Some(num(&row[oc])),
            "locust_failures_total{native:?}"
        );
    }
    assert_eq!(
        m.find("locust_errors", &[("service", service)]).len(),
        rows.len()
    );
}

/// A background server process, killed on drop.
pub struct Daemon(pub Child);

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
        if !have(test, "prometheus", "REQUIRE_PROMETHEUS", "prometheus") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, targets, honor) in jobs {
            let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            config.push_str(&format!(
                "  - job_name: {job}\n    honor_labels: {honor}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ));
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let addr = free_addr();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon(child);
        wait_listening(addr, 30);
        Some(Prometheus {
            _daemon: daemon,
            _dir: dir,
            addr,
        })
    }

    /// Every result of an instant query: (labels, value).
    pub fn query_all(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, _, body) =
            http_get(self.addr, &format!("/api/v1/query?query={encoded}"), None);
        if status != 200 {
            return Vec::new();
        }
        let v: serde_json::Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return Vec::new(),
        };
        v["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|r| {
                        let labels = r["metric"]
                            .as_object()?
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                            .collect();
                        let value = r["value"][1].as_str()?.parse().ok()?;
                        Some((labels, value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of an instant query's first result, if any.
    pub fn query(&self, promql: &str) -> Option<f64> {
        self.query_all(promql).first().map(|r| r.1)
    }

    /// Queries until `cond` holds of the value, at most `secs`; the last value.
    pub fn wait_query(
        &self,
        secs: u64,
        promql: &str,
        cond: impl Fn(Option<f64>) -> bool,
    ) -> Option<f64> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.query(promql);
            if cond(v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{promql}: last value {v:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
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
        if !have(
            test,
            "prometheus-pushgateway",
            "REQUIRE_PUSHGATEWAY",
            "prometheus-pushgateway",
        ) {
            return None;
        }
        let addr = free_addr();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address={addr}"))
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon(child);
        wait_listening(addr, 30);
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

/// How a [`FakeWebUi`] answers.
#[derive(Debug, Clone)]
pub enum WebUiMode {
    /// The recorded files of a directory (`requests.json`, `requests.csv`, …).
    Files(PathBuf),
    /// An HTML error page with this status.
    Html(u16),
    /// The files, after this long (beyond the exporter's timeout).
    Slow(PathBuf, Duration),
    /// A redirect to a login form (Locust's `--web-login`).
    LoginRedirect,
    /// The files, behind basic auth with this `user:password`.
    BasicAuth(PathBuf, String),
}

/// A stand-in for a Locust web UI on 127.0.0.1, serving recorded answers (a real HTTP
/// server, one connection at a time, closed after each answer).
pub struct FakeWebUi {
    pub addr: SocketAddr,
    mode: Arc<Mutex<WebUiMode>>,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeWebUi {
    pub fn start(mode: WebUiMode) -> FakeWebUi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (m, n) = (mode.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mode = m.lock().unwrap().clone();
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                        match s.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let file = |dir: &Path| {
                        let name = match path.as_str() {
                            "/stats/requests" => "requests.json",
                            "/stats/requests/csv" => "requests.csv",
                            "/stats/failures/csv" => "failures.csv",
                            "/exceptions/csv" => "exceptions.csv",
                            _ => "",
                        };
                        std::fs::read(dir.join(name)).ok()
                    };
                    let (status, extra, body) = match &mode {
                        WebUiMode::Files(dir) => match file(dir) {
                            Some(b) => (200, String::new(), b),
                            None => (404, String::new(), b"not found".to_vec()),
                        },
                        WebUiMode::Html(code) => (
                            *code,
                            String::new(),
                            b"<!doctype html><title>Error</title><p>boom</p>".to_vec(),
                        ),
                        WebUiMode::Slow(dir, wait) => {
                            std::thread::sleep(*wait);
                            (200, String::new(), file(dir).unwrap_or_default())
                        }
                        WebUiMode::LoginRedirect => {
                            (302, "Location: /login?next=%2F\r\n".to_owned(), Vec::new())
                        }
                        WebUiMode::BasicAuth(dir, userpass) => {
                            let want = format!(
                                "authorization: basic {}",
                                base64::Engine::encode(
                                    &base64::engine::general_purpose::STANDARD,
                                    userpass
                                )
                            );
                            if head.to_lowercase().contains(&want.to_lowercase()) {
                                (200, String::new(), file(dir).unwrap_or_default())
                            } else {
                                (
                                    401,
                                    "WWW-Authenticate: Basic realm=\"Locust\"\r\n".to_owned(),
                                    Vec::new(),
                                )
                            }
                        }
                    };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                });
            }
        });
        FakeWebUi {
            addr,
            mode,
            requests,
        }
    }

    /// Answers the next requests this way.
    pub fn set(&self, mode: WebUiMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
