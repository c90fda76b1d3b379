//! A real Prometheus server (Debian's `prometheus`, installed by `test.sh`) scrapes the
//! exporter over loopback; PromQL over what it stored gives the fixture's values, and the
//! histogram of event input works with `histogram_quantile`. Skips loudly without the
//! binary, unless `REQUIRE_PROMETHEUS=1` (set by `test.sh`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant query's first result, if any.
fn query(addr: std::net::SocketAddr, promql: &str) -> Option<f64> {
    let (status, _, body) = http_get(
        addr,
        &format!("/api/v1/query?query={}", encode(promql)),
        None,
    );
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_and_queries() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("REQUIRE_PROMETHEUS").is_none(),
            "REQUIRE_PROMETHEUS is set but there is no prometheus binary"
        );
        eprintln!("\n*** SKIPPED prometheus_scrapes_and_queries: no `prometheus` binary (Debian package prometheus; test.sh installs it) ***\n");
        return;
    }
    let events = fixture("events/locust-2.47.0-standalone.jsonl");
    let spec = format!("shop={}", events.display());
    let ex = Exporter::spawn(&[
        "--csv",
        "fixtures/locust-2.47.0/standalone-full-history/run",
        "--events",
        &spec,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: locust\n    static_configs:\n      - targets: ['{}']\n", ex.addr),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr: std::net::SocketAddr = web.parse().unwrap();
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ));
    let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
    let promql = r#"locust_stats_num_requests{service="locust",path="Aggregated"}"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let connected =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        if connected && query(addr, promql) == Some(total) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never stored {promql} = {total}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(query(addr, r#"up{job="locust"}"#), Some(1.0));
    let requests = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"request\""))
        .count() as f64;
    assert_eq!(
        query(addr, r#"sum(locust_requests_total{service="shop"})"#),
        Some(requests)
    );
    let p95 = query(addr, r#"histogram_quantile(0.95, sum by (le) (locust_request_duration_seconds_bucket{service="shop"}))"#).unwrap();
    assert!(p95 > 0.0 && p95 < 1.0, "p95 from the histogram: {p95} s");
}
