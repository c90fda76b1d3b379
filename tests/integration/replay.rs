//! Replays real recordings into a temp dir exactly as Locust writes them: `open(O_TRUNC)`
//! (0-byte files), header, then every tick `seek(data_start)`, one `write()`, `ftruncate()`;
//! the history appended in bursts that end in the middle of a line; torn states held open
//! while scraping; a same-prefix restart. Values are asserted through real HTTP.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// Writes the four files the way Locust's `StatsCSVFileWriter` does.
struct LocustWriter {
    prefix: PathBuf,
    stats: File,
    data_start: u64,
    history: File,
}

fn split_header(content: &[u8]) -> (&[u8], &[u8]) {
    let i = content.iter().position(|&b| b == b'\n').unwrap() + 1;
    content.split_at(i)
}

impl LocustWriter {
    /// `open(..., "w")` on all four files: they exist and are 0 bytes.
    fn open(prefix: &Path) -> LocustWriter {
        let f = |suffix: &str| File::create(format!("{}{suffix}", prefix.display())).unwrap();
        let (stats, history) = (f("_stats.csv"), f("_stats_history.csv"));
        f("_failures.csv");
        f("_exceptions.csv");
        LocustWriter {
            prefix: prefix.to_owned(),
            stats,
            data_start: 0,
            history,
        }
    }

    fn write_stats_header(&mut self, header: &[u8]) {
        self.stats.write_all(header).unwrap();
        self.data_start = header.len() as u64;
    }

    /// One tick: seek, write all rows, truncate.
    fn rewrite_stats(&mut self, rows: &[u8]) {
        self.torn_stats(rows);
        self.stats
            .set_len(self.data_start + rows.len() as u64)
            .unwrap();
    }

    /// The first half of a tick: seek and write, no truncate yet.
    fn torn_stats(&mut self, rows: &[u8]) {
        self.stats.seek(SeekFrom::Start(self.data_start)).unwrap();
        self.stats.write_all(rows).unwrap();
    }

    fn append_history(&mut self, bytes: &[u8]) {
        self.history.write_all(bytes).unwrap();
    }

    /// Rewrites a failures/exceptions file in place (whole content).
    fn rewrite(&self, suffix: &str, content: &[u8]) {
        let mut f = OpenOptions::new()
            .write(true)
            .open(format!("{}{suffix}", self.prefix.display()))
            .unwrap();
        f.write_all(content).unwrap();
        f.set_len(content.len() as u64).unwrap();
    }
}

fn rewrites(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn history_sizes(dir: &Path) -> Vec<usize> {
    std::fs::read_to_string(dir.join("history-sizes.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect()
}

fn total_requests(stats: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(stats);
    let last = text.trim_end().lines().last().unwrap().to_owned();
    last.split(',').nth(2).unwrap().parse().unwrap()
}

const AGG: [(&str, &str); 2] = [("path", "Aggregated"), ("method", "Aggregated")];

#[test]
fn standalone_run_replayed_tick_by_tick() {
    let src = fixture("locust-2.47.0/standalone-full-history");
    let ticks = rewrites(&src.join("rewrites"));
    let sizes = history_sizes(&src.join("rewrites"));
    let history = std::fs::read(src.join("run_stats_history.csv")).unwrap();
    assert!(ticks.len() >= 10, "the fixture has {} ticks", ticks.len());

    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let prefix_arg = format!("api={}", prefix.display());
    let ex = Exporter::spawn(&["--csv", &prefix_arg, "--poll-interval", "200ms"]);

    // Before Locust starts: the service is known and missing, nothing else.
    let m = ex.wait_for(5, "state missing", |m| {
        m.get("locust_state", &[("state", "missing")]) == Some(1.0)
    });
    assert!(m.find("locust_stats_num_requests", &[]).is_empty());

    // open(O_TRUNC): four 0-byte files, then the header alone. Neither is data.
    let mut w = LocustWriter::open(&prefix);
    let (header, _) = split_header(&ticks[0]);
    w.write_stats_header(header);
    let m = ex.wait_for(5, "files seen", |m| {
        m.get(
            "locust_exporter_source_up",
            &[("source", &format!("{}_stats.csv", prefix.display()))],
        ) == Some(1.0)
            || m.get(
                "locust_exporter_parse_errors_total",
                &[("reason", "incomplete")],
            )
            .is_some()
    });
    assert!(
        m.find("locust_stats_num_requests", &[]).is_empty(),
        "a header-only file is not a snapshot"
    );
    assert_eq!(m.get("locust_state", &[("state", "missing")]), Some(1.0));

    let mut written_history = 0usize;
    for (i, tick) in ticks.iter().enumerate() {
        let (_, rows) = split_header(tick);
        if i == ticks.len() / 2 {
            // A real torn state: new rows, then stale bytes of a longer old version, no
            // truncate yet. Held for 300 ms; scrapes must keep the previous snapshot.
            let before = total_requests(&ticks[i - 1]);
            let mut torn = rows.to_vec();
            torn.extend_from_slice(b"260,260,260,260\r\n");
            w.torn_stats(&torn);
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                assert_eq!(
                    ex.scrape().get("locust_stats_num_requests", &AGG),
                    Some(before),
                    "a torn snapshot was served"
                );
            }
        }
        w.rewrite_stats(rows);
        // History: burst up to what existed then, cut 7 bytes short so the last line is split.
        let target = sizes[i]
            .min(history.len())
            .saturating_sub(7)
            .max(written_history);
        w.append_history(&history[written_history..target]);
        written_history = target;
        let want = total_requests(tick);
        ex.wait_for(5, &format!("tick {i}: {want} requests"), |m| {
            m.get("locust_stats_num_requests", &AGG) == Some(want)
        });
    }
    w.append_history(&history[written_history..]);
    w.rewrite(
        "_failures.csv",
        &std::fs::read(src.join("run_failures.csv")).unwrap(),
    );
    w.rewrite(
        "_exceptions.csv",
        &std::fs::read(src.join("run_exceptions.csv")).unwrap(),
    );

    let (h, rows) = read_csv(&src.join("run_stats_history.csv"));
    let users = num(&rows.last().unwrap()[col(&h, "User Count")]);
    let last_rps = num(&rows.last().unwrap()[col(&h, "Requests/s")]);
    let m = ex.wait_for(5, "final history and failures", |m| {
        m.get("locust_stats_current_rps", &AGG) == Some(last_rps)
            && m.find("locust_errors", &[]).len() == read_csv(&src.join("run_failures.csv")).1.len()
    });
    assert_eq!(
        m.get("locust_user_count", &[("service", "api")]),
        Some(users)
    );
    assert_stats_match(
        &m,
        "api",
        Path::new(&format!("{}_stats.csv", prefix.display())),
    );
    assert_failures_match(&m, "api", &src.join("run_failures.csv"));
    let (eh, erows) = read_csv(&src.join("run_exceptions.csv"));
    let message = &erows[0][col(&eh, "Message")];
    assert_eq!(
        m.get("locust_exceptions_total", &[("message", message)]),
        Some(num(&erows[0][col(&eh, "Count")]))
    );
    assert!(
        m.get(
            "locust_exporter_parse_errors_total",
            &[("reason", "incomplete")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "the torn read was seen and counted"
    );
    for s in m.find("locust_exporter_parse_errors_total", &[]) {
        assert_eq!(
            s.labels["reason"], "incomplete",
            "only torn reads were rejected: {:?}",
            s
        );
    }
    assert_promtool_clean(&m.text);

    // After the run: the final values stay served and the state goes to stopped.
    let m = ex.wait_for(5, "stopped", |m| {
        m.get("locust_state", &[("state", "stopped")]) == Some(1.0)
    });
    assert_stats_match(
        &m,
        "api",
        Path::new(&format!("{}_stats.csv", prefix.display())),
    );
}

#[test]
fn same_prefix_restart_resets_counters_exactly_once() {
    let src = fixture("locust-2.47.0/restart-same-prefix");
    let ticks = rewrites(&src.join("rewrites"));
    let history = std::fs::read(src.join("run_stats_history.csv")).unwrap();
    let drops = ticks
        .windows(2)
        .filter(|w| total_requests(&w[1]) < total_requests(&w[0]))
        .count();
    assert_eq!(drops, 1, "the fixture holds one restart");

    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let ex = Exporter::spawn(&["--csv", dir.path().to_str().unwrap()]);
    let (hist_header, hist_rows) = split_header(&history);

    // A scraper records every Aggregated count it sees, in order.
    let seen = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = ex.addr;
    let scraper = {
        let (seen, stop) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let (_, _, body) = http_get(addr, "/metrics", None);
                if let Some(v) = Metrics::parse(&body).get("locust_stats_num_requests", &AGG) {
                    let mut s = seen.lock().unwrap();
                    if s.last() != Some(&v) {
                        s.push(v);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let mut w = LocustWriter::open(&prefix);
    let mut previous = None;
    for tick in &ticks {
        let (header, rows) = split_header(tick);
        let want = total_requests(tick);
        if previous.is_none_or(|p| want < p) {
            // A new run: Locust reopens every file with O_TRUNC (same inode), then writes.
            w = LocustWriter::open(&prefix);
            w.write_stats_header(header);
            w.append_history(hist_header);
            // Three complete history rows of this run.
            let end = hist_rows
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .nth(2)
                .map_or(0, |(i, _)| i + 1);
            w.append_history(&hist_rows[..end]);
        }
        w.rewrite_stats(rows);
        previous = Some(want);
        ex.wait_for(5, &format!("{want} requests"), |m| {
            m.get("locust_stats_num_requests", &AGG) == Some(want)
        });
    }
    stop.store(true, Ordering::Relaxed);
    scraper.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    let decreases = seen.windows(2).filter(|w| w[1] < w[0]).count();
    assert_eq!(
        decreases, 1,
        "counters must reset exactly once; saw {seen:?}"
    );
    let m = ex.scrape();
    assert_stats_match(&m, "run", &src.join("run_stats.csv"));
    for s in m.find("locust_exporter_parse_errors_total", &[]) {
        assert_eq!(
            s.labels["reason"], "incomplete",
            "only torn reads were rejected: {s:?}"
        );
    }
}
