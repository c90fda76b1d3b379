//! Remote-write receivers: a real Prometheus 3.5 (`--web.enable-remote-write-receiver`, both
//! protobuf messages, native histograms) and a real VictoriaMetrics, both from Debian's `sid`
//! suite (`contrib/ci/sid-servers.sh` downloads them; `LOCUST_EXPORTER_SID_BIN` or
//! `target/sid/bin`), and a fault-injecting proxy to put in front of one.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// The folder with the `sid` servers, or `None` after saying loudly that `test` is skipped
/// (a failure when `REQUIRE_SID` is set, as `test.sh --install` sets it).
pub fn sid_bin(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("LOCUST_EXPORTER_SID_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/sid/bin"));
    if ["prometheus", "promtool", "victoria-metrics"]
        .iter()
        .all(|b| dir.join(b).exists())
    {
        return Some(dir);
    }
    assert!(
        std::env::var_os("REQUIRE_SID").is_none(),
        "{test}: REQUIRE_SID is set but {} lacks prometheus, promtool or victoria-metrics (contrib/ci/sid-servers.sh)",
        dir.display()
    );
    eprintln!("\n*** SKIPPED {test}: no Prometheus 3.5 / VictoriaMetrics in {} (run contrib/ci/sid-servers.sh) ***\n", dir.display());
    None
}

/// A real Prometheus 3.5 taking remote write 1.0 and 2.0 on `addr`, its data in `data`
/// (kept across restarts).
pub struct Receiver {
    _daemon: Daemon,
    pub addr: SocketAddr,
}

impl Receiver {
    /// Starts Prometheus 3.5 from `bin` on `addr` with its TSDB in `data`.
    pub fn prometheus(bin: &Path, addr: SocketAddr, data: &Path) -> Receiver {
        std::fs::create_dir_all(data).unwrap();
        let config = data.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1s\n").unwrap();
        let mut cmd = Command::new(bin.join("prometheus"));
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.join("tsdb").display()))
            .arg(format!("--web.listen-address={addr}"))
            .args([
                "--web.enable-remote-write-receiver",
                "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
                "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request",
                "--enable-feature=native-histograms",
                "--query.lookback-delta=1m",
            ]);
        let r = Receiver {
            _daemon: Daemon::listening(cmd, addr),
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(addr, "/-/ready", None).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "Prometheus on {addr} never ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        r
    }

    /// Starts VictoriaMetrics from `bin` on `addr`, its data in `data`.
    pub fn victoria_metrics(bin: &Path, addr: SocketAddr, data: &Path) -> Receiver {
        let mut cmd = Command::new(bin.join("victoria-metrics"));
        cmd.arg(format!("-storageDataPath={}", data.display()))
            .arg(format!("-httpListenAddr={addr}"))
            .args(["-search.latencyOffset=0s", "-search.disableCache"]);
        Receiver {
            _daemon: Daemon::listening(cmd, addr),
            addr,
        }
    }

    /// The write URL (the same path on both).
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }
}

impl PromQl for Receiver {
    fn api(&self) -> SocketAddr {
        self.addr
    }
}

/// A server answering the Prometheus query API: instant queries, and waiting on one.
pub trait PromQl {
    /// Where its API listens.
    fn api(&self) -> SocketAddr;

    /// Every result of an instant query: (labels, value).
    fn query_all(&self, promql: &str) -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
        query_all_at(self.api(), promql)
    }

    /// The value of an instant query's first result, if any.
    fn query(&self, promql: &str) -> Option<f64> {
        self.query_all(promql).first().map(|r| r.1)
    }

    /// Queries until `cond` holds of the value, at most `secs`; the last value.
    fn wait_query(
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

/// What the proxy does with the next requests.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status and these headers, not passing the request on.
    Status(u16, Vec<(String, String)>),
    /// Waits this long, then passes the request on.
    Delay(Duration),
}

/// A fault-injecting HTTP/1.1 proxy in front of a real receiver: each request is passed on
/// (`Connection: close` both ways) unless a queued fault takes it.
pub struct FaultProxy {
    pub addr: SocketAddr,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Every request's arrival time and what was done (`forwarded`, or the status).
    pub log: Arc<Mutex<Vec<(Instant, String)>>>,
    in_flight: Arc<AtomicUsize>,
    /// The most requests in flight at once.
    pub most_in_flight: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = FaultProxy {
            addr,
            faults: Arc::default(),
            log: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
            stop: Arc::default(),
        };
        let (faults, log, in_flight, most, stop) = (
            proxy.faults.clone(),
            proxy.log.clone(),
            proxy.in_flight.clone(),
            proxy.most_in_flight.clone(),
            proxy.stop.clone(),
        );
        std::thread::spawn(move || {
            // Bounded: it ends when the proxy is dropped, or after ten minutes.
            let end = Instant::now() + Duration::from_secs(600);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (faults, log, in_flight, most) =
                    (faults.clone(), log.clone(), in_flight.clone(), most.clone());
                std::thread::spawn(move || {
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    let _ = serve(client, upstream, &faults, &log);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        proxy
    }

    /// The next requests meet `faults`, in order.
    pub fn push(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    /// Faults not yet met.
    pub fn pending(&self) -> usize {
        self.faults.lock().unwrap().len()
    }

    /// The write URL through the proxy.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// What happened to each request, in order.
    pub fn outcomes(&self) -> Vec<(Instant, String)> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (headers and a Content-Length body).
fn read_request(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    faults: &Mutex<VecDeque<Fault>>,
    log: &Mutex<Vec<(Instant, String)>>,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (head, body) = read_request(&mut client)?;
    let at = Instant::now();
    let fault = faults.lock().unwrap().pop_front();
    match fault {
        Some(Fault::Status(code, headers)) => {
            log.lock().unwrap().push((at, code.to_string()));
            let mut resp =
                format!("HTTP/1.1 {code} Injected\r\nContent-Length: 8\r\nConnection: close\r\n");
            for (k, v) in headers {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\ninjected");
            client.write_all(resp.as_bytes())?;
            return Ok(());
        }
        Some(Fault::Delay(d)) => {
            log.lock().unwrap().push((at, format!("delayed {d:?}")));
            std::thread::sleep(d);
        }
        None => log.lock().unwrap().push((at, "forwarded".into())),
    }
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request: String = head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    request.push_str("Connection: close\r\n\r\n");
    up.write_all(request.as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    client.write_all(&response)?;
    Ok(())
}

/// An instant query against a Prometheus-compatible API on `addr`.
pub fn query_all_at(
    addr: SocketAddr,
    promql: &str,
) -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, _, body) = http_get(addr, &format!("/api/v1/query?query={encoded}"), None);
    if status != 200 {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return Vec::new();
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
