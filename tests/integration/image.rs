//! The container image: built from the repository alone (`contrib/docker/build.sh`, FROM
//! scratch, no pulls), run with a mounted recording. It serves the seed set, runs as a
//! non-root user, and resolves host names with no C library (an `--add-host` name as its
//! listen address). Needs a Docker engine; skips loudly without one, unless
//! `REQUIRE_DOCKER=1` (set by `test.sh --install`, which starts `dockerd`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const TAG: &str = "locust-exporter:test";

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[test]
fn the_image_serves_a_mounted_recording_as_nobody_and_resolves_names() {
    let test = "the_image_serves_a_mounted_recording_as_nobody_and_resolves_names";
    let engine = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !engine {
        assert!(
            std::env::var_os("REQUIRE_DOCKER").is_none(),
            "{test}: REQUIRE_DOCKER is set but no Docker engine answers"
        );
        eprintln!("\n*** SKIPPED {test}: no Docker engine (start dockerd; ./test.sh --install does) ***\n");
        return;
    }
    let build = Command::new(root().join("contrib/docker/build.sh"))
        .arg(TAG)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let (_, size) = docker(&["image", "inspect", TAG, "--format", "{{.Size}}"]);
    let binary = std::fs::metadata(root().join("target/image/locust-exporter"))
        .unwrap()
        .len();
    let data = fixture("locust-2.47.0/standalone-full-history");
    let start = Instant::now();
    let (ok, id) = docker(&[
        "run",
        "-d",
        "-p",
        "127.0.0.1::9646",
        "--add-host",
        "exporter.test:0.0.0.0",
        "-v",
        &format!("{}:/data:ro", data.display()),
        TAG,
        "--csv",
        "/data/run",
        "--web.listen-address",
        "exporter.test:9646",
    ]);
    assert!(ok, "docker run: {id}");
    let container = Container(id.trim().to_owned());
    let (_, port) = docker(&["port", &container.0, "9646/tcp"]);
    let addr: std::net::SocketAddr = port.lines().next().unwrap().trim().parse().unwrap();
    let deadline = start + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && http_get(addr, "/-/ready", None).0 == 200
        {
            break;
        }
        if Instant::now() > deadline {
            let (_, logs) = docker(&["logs", &container.0]);
            panic!("never ready; logs:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "image: {} bytes; binary {binary} bytes; docker run to first ready answer: {:?}",
        size.trim(),
        start.elapsed()
    );
    let (status, _, body) = http_get(addr, "/metrics", None);
    assert_eq!(status, 200);
    assert_stats_match(
        &Metrics::parse(&body),
        "locust",
        &data.join("run_stats.csv"),
    );
    let (_, top) = docker(&["top", &container.0, "-o", "uid,pid"]);
    let uids: Vec<&str> = top
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(uids, ["65534"], "runs as nobody, not root: {top}");
}
