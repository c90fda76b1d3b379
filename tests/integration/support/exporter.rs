//! The real binary: spawned on 127.0.0.1:0, scraped over real HTTP, waited for with bounded
//! deadlines (never fixed sleeps), or run to its end (`run`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

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
        cmd.args(["--log.level", "debug"]);
        Exporter::spawn_as_is(cmd)
    }

    /// Spawns `cmd` with no argument added but, when neither it nor its environment says
    /// where to listen, `--web.listen-address 127.0.0.1:0` (no test binds a fixed port, the
    /// default `:9646` included). It must log at info level or below, to announce its
    /// address.
    pub fn spawn_as_is(mut cmd: Command) -> Exporter {
        let says_where = cmd.get_args().any(|a| a == "--web.listen-address")
            || cmd
                .get_envs()
                .any(|(k, v)| k == "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS" && v.is_some());
        if !says_where {
            cmd.args(["--web.listen-address", "127.0.0.1:0"]);
        }
        let mut child = cmd
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
                let addr = if let Some(rest) = line.split("address=").nth(1) {
                    rest.split_whitespace().next().map(str::to_owned)
                } else if let Some(rest) = line.split("\"address\":\"").nth(1) {
                    rest.split('"').next().map(str::to_owned)
                } else {
                    None
                };
                // The line is kept before the address is announced: a test that reads the
                // log once the exporter is up finds the line that said so.
                lines.lock().unwrap().push(line);
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
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

    /// The most resident memory the exporter has had (its high-water mark), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
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

    /// Waits up to `secs` for the process to exit on its own; its exit code (`None`: still
    /// running) and everything it logged.
    pub fn wait_exit_logged(self, secs: u64) -> (Option<i32>, Vec<String>) {
        let log = self.stderr.clone();
        let code = self.wait_exit(secs);
        std::thread::sleep(Duration::from_millis(200));
        let lines = log.lock().unwrap().clone();
        (code, lines)
    }

    /// Sends SIGTERM, waits (bounded) for the exit code, and returns it with everything the
    /// process logged.
    pub fn terminate_logged(self) -> (Option<i32>, Vec<String>) {
        let log = self.stderr.clone();
        let code = self.terminate();
        // The reader thread takes the last lines once the pipe closes.
        std::thread::sleep(Duration::from_millis(200));
        let lines = log.lock().unwrap().clone();
        (code, lines)
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

/// Runs the binary to completion with `args` in the repository root (bounded), returning
/// (code, stdout, stderr).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    // A run that serves listens on an ephemeral port, never the default :9646.
    let serves = !args.iter().any(|a| {
        matches!(
            *a,
            "--once" | "--version" | "--help" | "--web.listen-address"
        )
    });
    let listen: &[&str] = if serves {
        &["--web.listen-address", "127.0.0.1:0"]
    } else {
        &[]
    };
    let mut child = Command::new(bin())
        .current_dir(root())
        .args(args)
        .args(listen)
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
    // Read both pipes while waiting: an exposition larger than a pipe's buffer would
    // otherwise block the child on its write.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.code(), out.join().unwrap(), err.join().unwrap())
}
