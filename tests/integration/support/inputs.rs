//! Input made for a test (where no recording will do: sizes, counts).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::fixture;

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

/// A thread appending one request event per millisecond to `path` until `stop`, so a new
/// snapshot is published every few milliseconds.
pub fn keep_writing(path: &Path, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (path, stop) = (path.to_owned(), stop.clone());
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            writeln!(f, "{{\"event\":\"request\",\"time\":2.5,\"request_type\":\"GET\",\"name\":\"/api/v1/items/{}\",\"response_time\":7.0,\"response_length\":10,\"exception\":null}}", i % 2000).unwrap();
            i += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// Copies the bundled 2.47.0 recording's final files into `dir` as `PREFIX_*.csv`.
pub fn copy_recording(dir: &Path, prefix: &str) {
    let src = fixture("locust-2.47.0/standalone-full-history");
    for suffix in [
        "_stats.csv",
        "_stats_history.csv",
        "_failures.csv",
        "_exceptions.csv",
    ] {
        std::fs::copy(
            src.join(format!("run{suffix}")),
            dir.join(format!("{prefix}{suffix}")),
        )
        .unwrap();
    }
}
