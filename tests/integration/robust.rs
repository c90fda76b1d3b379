//! Bad input gets a clear error and loses nothing: torn and garbage snapshots, an unknown
//! header, a 10 MB line, a row that is not UTF-8 (read lossily), a truncated file, a deleted directory. The process
//! keeps serving the last good state and counts what it rejected.

use std::io::Write;
use std::path::Path;

use std::time::Duration;

use crate::support::*;

const AGG: [(&str, &str); 2] = [("path", "Aggregated"), ("method", "Aggregated")];

fn good_stats() -> Vec<u8> {
    std::fs::read(fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ))
    .unwrap()
}

fn good_total() -> f64 {
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ));
    num(&rows.last().unwrap()[col(&h, "Request Count")])
}

/// Parse errors counted for `reason` (`any`: all reasons) across sources.
fn errors(m: &Metrics, reason: &str) -> f64 {
    m.find("locust_exporter_parse_errors_total", &[])
        .iter()
        .filter(|s| reason == "any" || s.labels["reason"] == reason)
        .map(|s| s.value)
        .sum()
}

fn replace(path: &Path, content: &[u8]) {
    // In place, like Locust: the same inode, rewritten and truncated.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    f.write_all(content).unwrap();
    f.set_len(content.len() as u64).unwrap();
}

/// An exporter following a prefix whose `_stats.csv` holds the good recording.
fn following_good_stats() -> (tempfile::TempDir, std::path::PathBuf, Exporter) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("run_stats.csv");
    replace(&stats, &good_stats());
    let ex = Exporter::spawn(&["--csv", dir.path().join("run").to_str().unwrap()]);
    let total = good_total();
    ex.wait_for(5, "first snapshot", |m| {
        m.get("locust_stats_num_requests", &AGG) == Some(total)
    });
    (dir, stats, ex)
}

/// A real torn read of Locust 2.47.0's `_stats.csv` (stale bytes after the Aggregated row),
/// caught by `fixtures/record/torn.py`.
fn torn() -> Vec<u8> {
    let dir = fixture("torn");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("2.47.0-standalone-full-history.stats.ragged_rows."))
        .collect();
    names.sort();
    std::fs::read(dir.join(names.first().expect("a recorded torn read"))).unwrap()
}

/// Rewrites `_stats.csv` with `content`, waits until the rejection is counted under
/// `reason`, and checks the last good snapshot is still what is served.
fn bad_snapshot_keeps_the_last_good_one(reason: &str, content: &[u8]) {
    let (_dir, stats, ex) = following_good_stats();
    let before = errors(&ex.scrape(), reason);
    replace(&stats, content);
    let m = ex.wait_for(5, &format!("{reason} counted"), |m| {
        errors(m, reason) > before
    });
    assert_stats_match(
        &m,
        "locust",
        &fixture("locust-2.47.0/standalone-full-history/run_stats.csv"),
    );
}

#[test]
fn torn_snapshot_keeps_the_last_good_one() {
    bad_snapshot_keeps_the_last_good_one("incomplete", &torn());
}

#[test]
fn garbage_snapshot_keeps_the_last_good_one() {
    bad_snapshot_keeps_the_last_good_one("any", b"\x00\x01garbage\xff\"\"\r\n\x02\x03,,,\n");
}

#[test]
fn unknown_header_keeps_the_last_good_one() {
    bad_snapshot_keeps_the_last_good_one("unknown_header", b"Foo,Bar\r\n,Aggregated\r\n");
}

#[test]
fn bad_number_keeps_the_last_good_one() {
    let content =
        String::from_utf8(good_stats())
            .unwrap()
            .replacen(",Aggregated,", ",Aggregated,x", 1);
    bad_snapshot_keeps_the_last_good_one("bad_number", content.as_bytes());
}

/// A row that is not UTF-8 is read lossily (U+FFFD for the bad byte), not refused: refusing it
/// froze the file's numbers for the rest of the run. Nothing is counted as a parse
/// error, and every other row keeps its values.
#[test]
fn a_non_utf8_snapshot_row_is_read_lossily() {
    let (_dir, stats, ex) = following_good_stats();
    let mut content = good_stats();
    let at = content.windows(4).position(|w| w == b"/big").unwrap();
    content[at + 1] = 0xff;
    replace(&stats, &content);
    let m = ex.wait_for(5, "the lossy name served", |m| {
        m.find("locust_stats_num_requests", &[]).iter().any(|s| {
            s.labels
                .get("path")
                .is_some_and(|p| p.starts_with("/\u{fffd}ig"))
        })
    });
    assert_eq!(errors(&m, "any"), 0.0, "nothing refused");
    assert_eq!(m.get("locust_stats_num_requests", &AGG), Some(good_total()));
    let lossy = m
        .find("locust_stats_num_requests", &[])
        .into_iter()
        .filter(|s| {
            s.labels
                .get("path")
                .is_some_and(|p| p.starts_with("/\u{fffd}ig"))
        })
        .count();
    assert_eq!(lossy, 1, "one row renamed");
}

#[test]
fn rejected_snapshot_takes_the_source_down_until_one_parses() {
    let (_dir, stats, ex) = following_good_stats();
    let source = stats.display().to_string();
    replace(&stats, b"Foo,Bar\r\n,Aggregated\r\n");
    ex.wait_for(5, "down", |m| {
        m.get("locust_exporter_source_up", &[("source", &source)]) == Some(0.0)
    });
    replace(&stats, &good_stats());
    ex.wait_for(5, "back up", |m| {
        m.get("locust_exporter_source_up", &[("source", &source)]) == Some(1.0)
    });
}

#[test]
fn torn_snapshot_leaves_the_source_up() {
    let (_dir, stats, ex) = following_good_stats();
    let source = stats.display().to_string();
    replace(&stats, &torn());
    let m = ex.wait_for(5, "torn read counted", |m| errors(m, "incomplete") > 0.0);
    assert_eq!(
        m.get("locust_exporter_source_up", &[("source", &source)]),
        Some(1.0)
    );
}

#[test]
fn a_rejected_snapshot_is_logged_once_naming_file_and_line() {
    let (_dir, stats, ex) = following_good_stats();
    let source = stats.display().to_string();
    for (i, content) in [&b"Foo,Bar\r\n,Aggregated\r\n"[..], &good_stats()]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        replace(&stats, content);
        // Each rewrite is read (the bad ones counted) before the next.
        let want = (i / 2 + 1) as f64;
        if i % 2 == 0 {
            ex.wait_for(5, "rejected", |m| errors(m, "unknown_header") >= want);
        } else {
            ex.wait_for(5, "accepted", |m| {
                m.get("locust_exporter_source_up", &[("source", &source)]) == Some(1.0)
            });
        }
    }
    let logged: Vec<String> = ex
        .stderr()
        .into_iter()
        .filter(|l| l.contains("unknown header") && l.contains("WARN"))
        .collect();
    assert_eq!(
        logged.len(),
        1,
        "logged once, not on every read: {logged:?}"
    );
    assert!(
        logged[0].contains(&source) && logged[0].contains("line 1"),
        "the log names the file and line: {logged:?}"
    );
}

#[test]
fn ten_megabyte_line_and_garbage_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("run_stats_history.csv");
    let fixture_history = std::fs::read(fixture(
        "locust-2.47.0/standalone-full-history/run_stats_history.csv",
    ))
    .unwrap();
    let text = String::from_utf8(fixture_history).unwrap();
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut content = header.as_bytes().to_vec();
    content.extend_from_slice(rows[0].as_bytes());
    content.extend(std::iter::repeat_n(b'x', 10 << 20));
    content.extend_from_slice(b"\r\nnot,a,history,row\r\n");
    content.extend_from_slice(rows.last().unwrap().as_bytes());
    std::fs::write(&history, &content).unwrap();
    let ex = Exporter::spawn(&["--csv", dir.path().join("run").to_str().unwrap()]);
    let last = rows
        .last()
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    let m = ex.wait_for(10, "the row after the long line", |m| {
        m.get("locust_user_count", &[]) == Some(last)
    });
    assert_eq!(errors(&m, "line_too_long"), 1.0);
    assert_eq!(errors(&m, "malformed"), 1.0);
    let source = history.display().to_string();
    assert_eq!(
        m.get("locust_exporter_lines_total", &[("source", &source)]),
        Some(3.0),
        "header and two rows"
    );
    assert!(
        ex.stderr()
            .iter()
            .any(|l| l.contains("line 3") && l.contains("longer than 1048576 bytes")),
        "{:?}",
        ex.stderr()
    );
}

/// A copy of the recording in a directory, followed as `--csv DIR/`.
fn following_a_directory() -> (tempfile::TempDir, std::path::PathBuf, Exporter, f64) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let src = fixture("locust-2.47.0/standalone-full-history");
    for f in [
        "run_stats.csv",
        "run_stats_history.csv",
        "run_failures.csv",
        "run_exceptions.csv",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let ex = Exporter::spawn(&["--csv", &format!("{}/", dir.display())]);
    let total = good_total();
    ex.wait_for(5, "data", |m| {
        m.get(
            "locust_stats_num_requests",
            &[("service", "run"), ("path", "Aggregated")],
        ) == Some(total)
    });

    (root, dir, ex, total)
}

#[test]
fn truncated_history_is_read_again_from_its_start() {
    let (_root, dir, ex, total) = following_a_directory();
    // The history truncated to the middle of a line: a restart of the history, no crash.
    let history = dir.join("run_stats_history.csv");
    let h = std::fs::read(&history).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&history)
        .unwrap()
        .set_len(h.len() as u64 / 3)
        .unwrap();
    let kept = &h[..h.len() / 3];
    let complete = &kept[..kept.iter().rposition(|&b| b == b'\n').unwrap()];
    let last_line = String::from_utf8_lossy(complete)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let users: f64 = last_line.split(',').nth(1).unwrap().parse().unwrap();
    let lines_before = ex
        .scrape()
        .get(
            "locust_exporter_lines_total",
            &[("source", history.to_str().unwrap())],
        )
        .unwrap();
    let m = ex.wait_for(5, "history re-read from the start", |m| {
        m.get("locust_user_count", &[]) == Some(users)
            && m.get(
                "locust_exporter_lines_total",
                &[("source", history.to_str().unwrap())],
            ) > Some(lines_before)
    });
    assert_eq!(
        errors(&m, "malformed"),
        0.0,
        "the cut line is held, not parsed"
    );
    assert_eq!(
        m.get(
            "locust_stats_num_requests",
            &[("service", "run"), ("path", "Aggregated")]
        ),
        Some(total)
    );
}

#[test]
fn deleted_directory_keeps_the_last_state_and_is_followed_when_it_returns() {
    let (_root, dir, ex, total) = following_a_directory();
    let src = fixture("locust-2.47.0/standalone-full-history");
    // The whole directory deleted: the last good state stays, the sources go down.
    std::fs::remove_dir_all(&dir).unwrap();
    let m = ex.wait_for(5, "sources down", |m| {
        m.find("locust_exporter_source_up", &[])
            .iter()
            .all(|s| s.value == 0.0)
    });
    assert_eq!(
        m.get(
            "locust_stats_num_requests",
            &[("service", "run"), ("path", "Aggregated")]
        ),
        Some(total)
    );
    assert_stats_match(&m, "run", &src.join("run_stats.csv"));

    // It comes back with a new run: followed again.
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("run_stats.csv"),
        std::fs::read(fixture("locust-2.47.0/restart-same-prefix/run_stats.csv")).unwrap(),
    )
    .unwrap();
    let (hh, rows) = read_csv(&fixture("locust-2.47.0/restart-same-prefix/run_stats.csv"));
    let new_total = num(&rows.last().unwrap()[col(&hh, "Request Count")]);
    ex.wait_for(5, "new run", |m| {
        m.get(
            "locust_stats_num_requests",
            &[("service", "run"), ("path", "Aggregated")],
        ) == Some(new_total)
    });
}

#[test]
fn files_that_appear_later_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Exporter::spawn(&["--csv", dir.path().to_str().unwrap()]);
    let m = ex.scrape();
    assert!(
        m.find("locust_state", &[]).is_empty(),
        "an empty directory has no service yet"
    );
    std::fs::write(dir.path().join("later_stats.csv"), good_stats()).unwrap();
    ex.wait_for(5, "a prefix appearing later", |m| {
        m.get(
            "locust_stats_num_requests",
            &[("service", "later"), ("path", "Aggregated")],
        ) == Some(good_total())
    });
}

/// Two FIFOs as `--events`, and `_stats.csv` a symlink to `/dev/zero`: none is opened (a
/// FIFO's open would block a worker, a device never ends), each is reported down naming
/// why, HTTP answers and SIGTERM ends the process at once.
#[test]
fn fifos_and_devices_are_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifos: Vec<std::path::PathBuf> =
        (1..=2).map(|i| dir.path().join(format!("f{i}"))).collect();
    for f in &fifos {
        let ok = std::process::Command::new("mkfifo")
            .arg(f)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("run_stats.csv")).unwrap();
    let prefix = dir.path().join("run");
    let ex = Exporter::spawn(&[
        "--events",
        fifos[0].to_str().unwrap(),
        "--events",
        fifos[1].to_str().unwrap(),
        "--csv",
        prefix.to_str().unwrap(),
    ]);
    let stats = format!("{}_stats.csv", prefix.display());
    let m = ex.wait_for(10, "every source reported", |m| {
        fifos.iter().all(|f| {
            m.get(
                "locust_exporter_source_up",
                &[("source", f.to_str().unwrap())],
            ) == Some(0.0)
        }) && m.get("locust_exporter_source_up", &[("source", &stats)]) == Some(0.0)
    });
    assert_eq!(m.get("locust_state", &[("state", "running")]), None);
    let log = ex.stderr().join("\n");
    assert!(log.contains("is a FIFO"), "{log}");
    assert!(log.contains("not a regular file"), "{log}");
    let (took, code) = ex.terminate_timed(10);
    assert_eq!(code, Some(0));
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

/// Locust's per-request CSV with a 1.5 MB row whose quote never closes (a traceback cut
/// off), then 1,000 valid rows: the bad row costs itself alone (once, it swallowed every row
/// after it), is counted and named, and a row left open at the end is reported too.
#[test]
fn a_broken_request_csv_row_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.csv");
    let mut text = String::from(
        "timestamp,request_type,name,response_time_ms,response_length,status_code,exception\n",
    );
    text.push_str("1764000000.0,GET,/bad,1,0,500,\"Traceback (most recent call last):\n");
    text.push_str(&format!("{}\n", "x".repeat(99)).repeat(15_000));
    for i in 0..1000 {
        text.push_str(&format!("{}.5,GET,/a,1.5,3,200,\n", 1_764_000_001 + i));
    }
    text.push_str("1764009999.0,GET,/b,1,0,500,\"open at the end");
    std::fs::write(&path, &text).unwrap();
    let p = path.display().to_string();
    let (code, out, err) = run(&["--once", "--events", &p], None);
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    assert_eq!(
        m.get(
            "locust_requests_total",
            &[("method", "GET"), ("name", "/a")]
        ),
        Some(1000.0)
    );
    assert_eq!(m.get("locust_requests_total", &[("name", "/bad")]), None);
    let malformed = m.get_one(
        "locust_exporter_parse_errors_total",
        &[("source", &p), ("reason", "malformed")],
    );
    assert_eq!(
        malformed, 2.0,
        "the over-long row and the one open at the end"
    );
}

/// A `--csv` directory of 9 prefixes, each with three 250 MB (sparse) snapshot files:
/// every file is refused with an error naming it and `--max-file-size`, and resident memory
/// stays under 100 MB (it used to grow by 330 MB a second, past 6 GB).
#[test]
fn a_csv_directory_of_huge_snapshot_files_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    for p in 0..9 {
        for suffix in ["_stats.csv", "_failures.csv", "_exceptions.csv"] {
            let f = std::fs::File::create(dir.path().join(format!("run{p}{suffix}"))).unwrap();
            f.set_len(250 << 20).unwrap();
        }
    }
    let ex = Exporter::spawn(&["--csv", &format!("{}/", dir.path().display())]);
    std::thread::sleep(Duration::from_secs(3));
    let rss = ex.rss_kib();
    let m = ex.scrape();
    let logged = ex
        .stderr()
        .iter()
        .filter(|l| l.contains("over --max-file-size"))
        .count();
    eprintln!("27 files of 250 MB: RSS {rss} KiB, {logged} errors logged");
    assert!(rss < 100 * 1024, "RSS {rss} KiB");
    assert_eq!(logged, 27, "one error per file: {:?}", ex.stderr());
    let down = m
        .find_some("locust_exporter_source_up", &[])
        .iter()
        .filter(|s| s.value == 0.0)
        .count();
    assert!(down >= 9, "{down}");
}

/// Endpoints whose labels are a total row's (method and name `Aggregated`, the seed's;
/// method `""` and name `Aggregated`, the containersolutions set's): no set serves two series
/// with the same labels (a Pushgateway refused every push), and the totals stay the true 3.
#[test]
fn an_endpoint_named_like_a_total_row_is_no_duplicate_series() {
    let lines = [
        ("Aggregated", "Aggregated"),
        ("", "Aggregated"),
        ("GET", "/real"),
    ]
    .iter()
    .map(|(m, n)| format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"{m}\",\"name\":\"{n}\",\"response_time\":5.0,\"response_length\":1,\"exception\":null}}\n"))
    .collect::<String>();
    for sets in ["seed,native", "native,containersolutions"] {
        let (code, out, err) = run(
            &["--events", "-", "--once", "--metrics", sets],
            Some(lines.as_bytes()),
        );
        assert_eq!(code, Some(0), "{err}");
        let mut seen = std::collections::HashSet::new();
        for line in out.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
            assert!(
                seen.insert(series.to_owned()),
                "{sets}: a duplicate series {series}"
            );
        }
        let m = Metrics::parse(&out);
        if sets.starts_with("seed") {
            assert_eq!(
                m.get_one(
                    "locust_stats_num_requests",
                    &[("path", "Aggregated"), ("method", "Aggregated")]
                ),
                3.0
            );
            assert_eq!(
                m.get_one(
                    "locust_stats_num_requests",
                    &[("path", "Aggregated (endpoint)"), ("method", "Aggregated")]
                ),
                1.0
            );
        } else {
            assert_eq!(
                m.get_one(
                    "locust_requests_num_requests",
                    &[("method", ""), ("name", "Aggregated")]
                ),
                3.0
            );
        }
    }
}
