#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! Whole-process figures with the release binary:
//! * latency from an in-place `_stats.csv` rewrite (Locust's seek/write/truncate) to the new
//!   value in `/metrics`, over real HTTP (target in `docs/performance.md`: < 50 ms), measured by criterion;
//! * resident memory while following a `_stats.csv` with 1,000 endpoints (target < 20 MiB);
//! * CPU used while idle for 10 s (target: near zero).
//!
//! Printed figures are for notes, never asserted.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn spawn(prefix: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_locust-exporter"))
        .args(["--csv", prefix, "--web.listen-address", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("exporter exited").expect("read");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("addr")
                .parse()
                .expect("addr");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn get(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body
}

fn stats_file(endpoints: usize, total: u64) -> (String, String) {
    let header = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n".to_owned();
    let mut rows = String::new();
    for i in 0..endpoints {
        rows.push_str(&format!("GET,/api/v1/items/{i},216,3,180,180.69732400927361,53.86000600083207,302.03665499902854,8.0,5.657090496528406,0.0,180,230,250,260,280,290,300,300,300,300,300\r\n"));
    }
    rows.push_str(&format!(",Aggregated,{total},298,3,21.194124805710015,1.1312860006000847,302.03665499902854,1109.164934478084,57.95898735563594,7.804689666506783,3,4,5,6,20,180,260,280,300,300,300\r\n"));
    (header, rows)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// True when run by `cargo bench` (criterion gets `--bench`); under `cargo test` the long
/// measurements (10 s of idle CPU) are skipped and each benchmark runs once.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("run");
    let path = format!("{}_stats.csv", prefix.display());
    let (header, rows) = stats_file(1000, 1);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(header.as_bytes()).expect("header");
    file.write_all(rows.as_bytes()).expect("rows");
    let (mut child, addr) = spawn(prefix.to_str().expect("utf-8"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(addr).contains("path=\"Aggregated\",method=\"Aggregated\"} 1\n") {
        assert!(Instant::now() < deadline, "exporter never read the file");
        std::thread::sleep(Duration::from_millis(10));
    }
    if measuring() {
        eprintln!(
            "RSS following a _stats.csv with 1000 endpoints: {} KiB",
            rss_kib(child.id())
        );
        let before = cpu_ticks(child.id());
        std::thread::sleep(Duration::from_secs(10));
        let ticks = cpu_ticks(child.id()) - before;
        eprintln!(
            "CPU while idle for 10 s: {ticks} ticks of 10 ms ({:.2}% of one core)",
            ticks as f64 / 10.0
        );
    }

    let mut n = 1u64;
    c.bench_function("rewrite_to_scrape_1000_endpoints", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Locust rewrites once a second; leave the exporter idle between rewrites so
                // each one is measured from a quiet start, as in a real run.
                std::thread::sleep(Duration::from_millis(150));
                n += 1;
                let (_, rows) = stats_file(1000, n);
                let needle = format!("path=\"Aggregated\",method=\"Aggregated\"}} {n}\n");
                let start = Instant::now();
                // Locust's tick: seek to the data, one write, truncate.
                file.seek(SeekFrom::Start(header.len() as u64))
                    .expect("seek");
                file.write_all(rows.as_bytes()).expect("write");
                file.set_len((header.len() + rows.len()) as u64)
                    .expect("truncate");
                let deadline = Instant::now() + Duration::from_secs(5);
                while !get(addr).contains(&needle) {
                    assert!(Instant::now() < deadline, "rewrite never became visible");
                }
                total += start.elapsed();
            }
            total
        })
    });
    let _ = child.kill();
    let _ = child.wait();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
