//! JSON-lines events (`docs/events.md`) through stdin and files.

use std::io::Write;

use std::time::Duration;
use std::time::Instant;

use crate::support::*;

fn request(time: f64, method: &str, name: &str, ms: f64, len: u64, error: Option<&str>) -> String {
    let exception = error.map_or("null".to_owned(), |e| format!("{e:?}"));
    format!(
        "{{\"event\":\"request\",\"time\":{time},\"request_type\":\"{method}\",\"name\":{name:?},\"response_time\":{ms},\"response_length\":{len},\"exception\":{exception}}}\n"
    )
}

/// The scenario the stdin tests share: lifecycle events, 100 requests to a name with a
/// comma and quotes, a failed and a slow POST, an unknown event, two bad lines and an
/// exception, written to `--events shop=-`. Returns the exporter (stdin still open) and the
/// scrape once everything was applied.
fn stdin_scenario() -> (Exporter, Metrics) {
    let mut ex = Exporter::spawn_with_stdin(&["--events", "shop=-", "--buckets", "0.01,0.1,1"]);
    let mut input = String::new();
    input.push_str("{\"event\":\"test_start\"}\n{\"event\":\"users\",\"user_count\":10}\n{\"event\":\"workers\",\"count\":4}\n");
    // Spawning while the count rises; the same count again (spawning complete): running.
    input.push_str(
        "{\"event\":\"users\",\"user_count\":20}\n{\"event\":\"users\",\"user_count\":20}\n",
    );
    for i in 0..100 {
        let t = 1000.0 + f64::from(i) * 0.1;
        input.push_str(&request(t, "GET", "/a,\"b\"", f64::from(i % 50), 100, None));
    }
    input.push_str(&request(
        1010.0,
        "POST",
        "/p",
        500.0,
        7,
        Some("HTTPError('500')"),
    ));
    input.push_str(&request(1010.0, "POST", "/p", 2000.0, 7, None));
    input.push_str("{\"event\":\"brand_new_kind\"}\nnot json at all\n{\"request_type\":\"GET\"}\n");
    input.push_str("{\"event\":\"exception\",\"message\":\"boom, bang\",\"traceback\":\"t\"}\n");
    let stdin = ex.stdin.as_mut().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let m = ex.wait_for(5, "events applied", |m| {
        m.get("locust_requests_total", &GET) == Some(100.0)
            && m.get("locust_exceptions_total", &[]).is_some()
    });
    (ex, m)
}

const GET: [(&str, &str); 3] = [("service", "shop"), ("method", "GET"), ("name", "/a,\"b\"")];
const POST: [(&str, &str); 3] = [("service", "shop"), ("method", "POST"), ("name", "/p")];

#[test]
fn events_count_requests_and_failures_per_endpoint() {
    let (_ex, m) = stdin_scenario();
    assert_eq!(m.get("locust_requests_total", &POST), Some(2.0));
    assert_eq!(m.get("locust_request_failures_total", &POST), Some(1.0));
    assert_eq!(
        m.get(
            "locust_failures_total",
            &[("name", "/p"), ("error", "HTTPError('500')")]
        ),
        Some(1.0)
    );
}

#[test]
fn events_sum_bytes_and_fill_histogram_buckets() {
    let (_ex, m) = stdin_scenario();
    assert_eq!(m.get("locust_response_bytes_total", &GET), Some(10000.0));
    // Times 0..49 ms twice: ≤10 ms: 0..=10 → 22; ≤100 ms: all 100.
    let bucket = |le: &str| {
        m.get(
            "locust_request_duration_seconds_bucket",
            &[("name", "/a,\"b\""), ("le", le)],
        )
    };
    assert_eq!(
        (bucket("0.01"), bucket("0.1"), bucket("1.0"), bucket("+Inf")),
        (Some(22.0), Some(100.0), Some(100.0), Some(100.0))
    );
    let sum: f64 = (0..100).map(|i| f64::from(i % 50)).sum::<f64>() / 1000.0;
    assert!((m.get("locust_request_duration_seconds_sum", &GET).unwrap() - sum).abs() < 1e-9);
    assert_eq!(
        m.get("locust_request_duration_seconds_count", &GET),
        Some(100.0)
    );
}

#[test]
fn events_users_workers_and_running_state() {
    let (_ex, m) = stdin_scenario();
    assert_eq!(m.get("locust_users", &[("service", "shop")]), Some(20.0));
    assert_eq!(m.get("locust_workers", &[("service", "shop")]), Some(4.0));
    assert_eq!(
        m.get("locust_slave_count", &[("service", "shop")]),
        Some(4.0)
    );
    assert_eq!(m.get("locust_state", &[("state", "running")]), Some(1.0));
}

#[test]
fn events_exceptions_counted_by_message() {
    let (_ex, m) = stdin_scenario();
    assert_eq!(
        m.get("locust_exceptions_total", &[("message", "boom, bang")]),
        Some(1.0)
    );
}

#[test]
fn events_feed_the_seed_set() {
    let (_ex, m) = stdin_scenario();
    let seed = [("service", "shop"), ("path", "/p"), ("method", "POST")];
    assert_eq!(m.get("locust_stats_num_requests", &seed), Some(2.0));
    assert_eq!(m.get("locust_stats_max_response_time", &seed), Some(2000.0));
    assert_eq!(m.get("locust_stats_avg_response_time", &seed), Some(1250.0));
    assert_eq!(
        m.get(
            "locust_stats_num_requests",
            &[("path", "Aggregated"), ("method", "Aggregated")]
        ),
        Some(102.0)
    );
    assert_eq!(
        m.get("locust_errors", &[("path", "/p"), ("method", "POST")]),
        Some(1.0)
    );
}

#[test]
fn events_bad_lines_and_unknown_events_are_counted_and_skipped() {
    let (_ex, m) = stdin_scenario();
    assert_eq!(
        m.get(
            "locust_exporter_parse_errors_total",
            &[("source", "stdin"), ("reason", "bad_event")]
        ),
        Some(2.0)
    );
    assert_eq!(
        m.get(
            "locust_exporter_unknown_events_total",
            &[("source", "stdin")]
        ),
        Some(1.0)
    );
}

#[test]
fn stdin_eof_stops_the_service_and_keeps_its_values() {
    let (mut ex, _) = stdin_scenario();
    drop(ex.stdin.take());
    let m = ex.wait_for(5, "stopped at EOF", |m| {
        m.get("locust_state", &[("service", "shop"), ("state", "stopped")]) == Some(1.0)
    });
    assert_eq!(m.get("locust_requests_total", &GET), Some(100.0));
}

#[test]
fn events_exposition_passes_promtool() {
    let (_ex, m) = stdin_scenario();
    assert_promtool_clean(&m.text);
}

#[test]
fn events_file_followed_like_tail_f() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let ex = Exporter::spawn(&["--events", path.to_str().unwrap()]);
    let name = [("name", "/x")];
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..10 {
        f.write_all(request(1.0, "GET", "/x", 5.0, 1, None).as_bytes())
            .unwrap();
    }
    // A partial line is held until its newline.
    let line = request(1.0, "GET", "/x", 5.0, 1, None);
    f.write_all(&line.as_bytes()[..20]).unwrap();
    ex.wait_for(5, "10 requests", |m| {
        m.get("locust_requests_total", &name) == Some(10.0)
    });
    f.write_all(&line.as_bytes()[20..]).unwrap();
    ex.wait_for(5, "11 requests", |m| {
        m.get("locust_requests_total", &name) == Some(11.0)
    });
    // Replaced by a new file: read from its start.
    drop(f);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, request(2.0, "GET", "/y", 5.0, 1, None)).unwrap();
    let m = ex.wait_for(5, "the new file", |m| {
        m.get("locust_requests_total", &[("name", "/y")]) == Some(1.0)
    });
    assert_eq!(
        m.get("locust_requests_total", &name),
        Some(11.0),
        "nothing lost, nothing counted twice"
    );
}

#[test]
fn csv_history_piped_into_events_gives_users_and_rates() {
    let history = std::fs::read(fixture(
        "locust-2.47.0/standalone-full-history/run_stats_history.csv",
    ))
    .unwrap();
    let (h, rows) = read_csv(&fixture(
        "locust-2.47.0/standalone-full-history/run_stats_history.csv",
    ));
    let users = num(&rows.last().unwrap()[col(&h, "User Count")]);
    let mut ex = Exporter::spawn_with_stdin(&["--events", "-"]);
    ex.stdin.as_mut().unwrap().write_all(&history).unwrap();
    let m = ex.wait_for(5, "the piped history", |m| {
        m.get("locust_exporter_lines_total", &[("source", "stdin")])
            == Some(rows.len() as f64 + 1.0)
    });
    assert_eq!(m.get("locust_user_count", &[]), Some(users));
    assert_eq!(m.get("locust_exporter_parse_errors_total", &[]), None);
}

#[test]
fn csv_stats_piped_into_events_gives_the_seed_set() {
    let stats = std::fs::read(fixture(
        "locust-2.47.0/standalone-full-history/run_stats.csv",
    ))
    .unwrap();
    let (code, out, err) = run(&["--once", "--events", "-"], Some(&stats));
    assert_eq!(code, Some(0), "{err}");
    assert_stats_match(
        &Metrics::parse(&out),
        "locust",
        &fixture("locust-2.47.0/standalone-full-history/run_stats.csv"),
    );
}

/// Two exporters each fed half the events of a real run: their histogram buckets, counts and
/// sums add up to those of one exporter fed everything, so
/// `histogram_quantile(0.95, sum by (le) (rate(locust_request_duration_seconds_bucket[1m])))`
/// over many load generators is the quantile of all their requests.
#[test]
fn histograms_aggregate_across_generators() {
    let all = std::fs::read_to_string(fixture("events/locust-2.47.0-standalone.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (String::new(), String::new());
    for (i, line) in all.lines().enumerate() {
        let half = if i % 2 == 0 { &mut a } else { &mut b };
        half.push_str(line);
        half.push('\n');
    }
    let paths = [
        dir.path().join("a.jsonl"),
        dir.path().join("b.jsonl"),
        fixture("events/locust-2.47.0-standalone.jsonl"),
    ];
    std::fs::write(&paths[0], a).unwrap();
    std::fs::write(&paths[1], b).unwrap();
    let scrape = |p: &std::path::Path| {
        let (code, out, err) = run(&["--once", "--events", p.to_str().unwrap()], None);
        assert_eq!(code, Some(0), "{err}");
        Metrics::parse(&out)
    };
    let (ma, mb, whole) = (scrape(&paths[0]), scrape(&paths[1]), scrape(&paths[2]));
    assert!(
        whole
            .find("locust_request_duration_seconds_bucket", &[])
            .len()
            > 20,
        "the fixture has histograms"
    );
    // Counts add up exactly; sums of floats to rounding.
    for (name, tolerance) in [
        ("locust_request_duration_seconds_bucket", 0.0),
        ("locust_request_duration_seconds_count", 0.0),
        ("locust_requests_total", 0.0),
        ("locust_request_failures_total", 0.0),
        ("locust_request_duration_seconds_sum", 1e-9),
    ] {
        for s in whole.find_some(name, &[]) {
            let labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let part = |m: &Metrics| m.get(name, &labels).unwrap_or(0.0);
            let sum = part(&ma) + part(&mb);
            assert!(
                (sum - s.value).abs() <= tolerance,
                "{name}{labels:?}: {sum} ≠ {}",
                s.value
            );
        }
    }
}

/// The recorded plugin stream against the same run's final `_stats.csv`: every endpoint's
/// count is at least the CSV's (the CSV can lag the last second) and the total matches the
/// events exactly.
#[test]
fn recorded_plugin_stream_matches_its_run() {
    let (code, out, err) = run(
        &[
            "--once",
            "--events",
            "fixtures/events/locust-2.47.0-standalone.jsonl",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    let text = std::fs::read_to_string(fixture("events/locust-2.47.0-standalone.jsonl")).unwrap();
    let requests = text
        .lines()
        .filter(|l| l.contains("\"event\":\"request\""))
        .count() as f64;
    assert_eq!(
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]),
        Some(requests)
    );
    let (h, rows) = read_csv(&fixture("events/locust-2.47.0-standalone_stats.csv"));
    for row in &rows[..rows.len() - 1] {
        let labels = [
            ("method", row[col(&h, "Type")].as_str()),
            ("name", row[col(&h, "Name")].as_str()),
        ];
        assert!(
            m.get("locust_requests_total", &labels).unwrap() >= num(&row[col(&h, "Request Count")]),
            "{labels:?}"
        );
    }
    assert_eq!(
        m.get("locust_exporter_parse_errors_total", &[]),
        None,
        "a real stream parses cleanly"
    );
    assert_promtool_clean(&out);
}

#[test]
fn huge_and_invalid_lines_on_stdin_are_skipped() {
    let mut input = Vec::new();
    input.extend_from_slice(request(1.0, "GET", "/ok", 1.0, 0, None).as_bytes());
    input.extend(std::iter::repeat_n(b'x', 3 << 20));
    input.push(b'\n');
    input.extend_from_slice(
        b"{\"request_type\":\"GET\",\"name\":\"/bad\xff\",\"response_time\":1}\n",
    );
    input.extend_from_slice(request(2.0, "GET", "/ok", 1.0, 0, None).as_bytes());
    input.extend_from_slice(
        b"{\"request_type\":\"GET\",\"name\":\"/no-newline-at-eof\",\"response_time\":1}",
    );
    let (code, out, err) = run(&["--once", "--events", "-"], Some(&input));
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/ok")]),
        Some(2.0)
    );
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/no-newline-at-eof")]),
        Some(1.0),
        "the last line without a newline still counts at EOF"
    );
    let reason = |r: &str| m.get("locust_exporter_parse_errors_total", &[("reason", r)]);
    assert_eq!(
        (reason("line_too_long"), reason("invalid_utf8")),
        (Some(1.0), Some(1.0))
    );
    assert!(
        err.contains("line 2") && err.contains("line 3"),
        "errors name their lines: {err}"
    );
}

#[test]
fn cardinality_guard_folds_warns_once_and_counts() {
    let mut input = String::new();
    for i in 0..50 {
        input.push_str(&request(1.0, "GET", &format!("/user/{i}"), 1.0, 0, None));
    }
    let mut ex = Exporter::spawn_with_stdin(&["--events", "-", "--max-endpoints", "10"]);
    ex.stdin
        .as_mut()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let m = ex.wait_for(5, "all requests", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(50.0)
    });
    assert_eq!(
        m.find("locust_requests_total", &[]).len(),
        11,
        "10 endpoints and __other__"
    );
    assert_eq!(
        m.get("locust_requests_total", &[("name", "__other__")]),
        Some(40.0)
    );
    assert_eq!(
        m.get("locust_exporter_endpoints_dropped_total", &[]),
        Some(40.0)
    );
    let warnings = |ex: &Exporter| {
        ex.stderr()
            .iter()
            .filter(|l| l.contains("--max-endpoints"))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while warnings(&ex) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning: {:?}",
            ex.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // More snapshots are published (one a second); none of them warns again.
    ex.stdin
        .as_mut()
        .unwrap()
        .write_all(request(2.0, "GET", "/user/99", 1.0, 0, None).as_bytes())
        .unwrap();
    ex.wait_for(5, "a later snapshot", |m| {
        m.get("locust_requests_total", &[("name", "__other__")]) == Some(41.0)
    });
    assert_eq!(warnings(&ex), 1, "warned once: {:?}", ex.stderr());
}

/// An events file truncated and written past its old length between two polls (the
/// writer reopened it with O_TRUNC): the new content is read whole from its start, the old
/// counts stay, and one reset is counted.
#[test]
fn events_file_rewritten_in_place_is_read_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let old: String = (0..5000)
        .map(|i| request(f64::from(i), "GET", "/old", 1.0, 1, None))
        .collect();
    std::fs::write(&path, &old).unwrap();
    let ex = Exporter::spawn(&["--events", path.to_str().unwrap()]);
    ex.wait_for(10, "the first file", |m| {
        m.get("locust_requests_total", &[("name", "/old")]) == Some(5000.0)
    });
    let new: String = (0..6000)
        .map(|i| request(f64::from(i), "GET", "/new", 1.0, 1, None))
        .collect();
    std::fs::write(&path, &new).unwrap(); // O_TRUNC, then one write past the old end
    let source = path.display().to_string();
    let m = ex.wait_for(10, "the rewritten file", |m| {
        m.get("locust_requests_total", &[("name", "/new")]) == Some(6000.0)
    });
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/old")]),
        Some(5000.0)
    );
    assert_eq!(
        m.get("locust_exporter_resets_total", &[("source", &source)]),
        Some(1.0)
    );
    assert_eq!(m.get("locust_exporter_parse_errors_total", &[]), None);
}

/// The plugin's aggregated stream of a real run (`fixtures/events/…-batches.jsonl`), read
/// with `--once`: per endpoint, requests and failures equal Locust's own `--json-file`
/// totals exactly, min and max to the bit, averages within 1e-12 relative; and the same
/// holds for the per-request recording of another real run. Both layouts stay readable.
#[test]
fn recorded_streams_equal_locusts_final_totals() {
    for name in [
        "locust-2.47.0-standalone-batches",
        "locust-2.47.0-standalone",
    ] {
        let stream = fixture(&format!("events/{name}.jsonl"));
        let (code, out, err) = run(&["--once", "--events", stream.to_str().unwrap()], None);
        assert_eq!(code, Some(0), "{err}");
        let m = Metrics::parse(&out);
        let text = std::fs::read_to_string(fixture(&format!("events/{name}_final.json"))).unwrap();
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert!(entries.len() >= 5, "{name}: {} endpoints", entries.len());
        for e in &entries {
            let (method, path) = (e["method"].as_str().unwrap(), e["name"].as_str().unwrap());
            let labels = [("method", method), ("path", path)];
            let get = |metric: &str| m.get(metric, &labels).unwrap_or(f64::NAN);
            let num = |k: &str| e[k].as_f64().unwrap();
            assert_eq!(
                get("locust_stats_num_requests"),
                num("num_requests"),
                "{name} {labels:?}"
            );
            assert_eq!(
                get("locust_stats_num_failures"),
                num("num_failures"),
                "{name} {labels:?}"
            );
            let timed = num("num_requests") - num("num_none_requests");
            if timed == 0.0 {
                continue;
            }
            let avg = num("total_response_time") / timed;
            let got = get("locust_stats_avg_response_time");
            assert!(
                (got - avg).abs() <= avg * 1e-12,
                "{name} {labels:?}: avg {got} ≠ {avg}"
            );
            assert_eq!(
                get("locust_stats_min_response_time"),
                num("min_response_time"),
                "{name} {labels:?}"
            );
            assert_eq!(
                get("locust_stats_max_response_time"),
                num("max_response_time"),
                "{name} {labels:?}"
            );
        }
        let parse_errors: f64 = m
            .find("locust_exporter_parse_errors_total", &[])
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(parse_errors, 0.0, "{name}");
    }
}

/// One worker whose clock is 9.5 s ahead (events are accepted up to 10 s ahead) beside
/// honest ones, 210 requests a second in all: the service's current rate stays about 210 (it
/// fell to 32 when the window ended at the newest second seen).
#[test]
fn a_worker_clock_ahead_cannot_collapse_current_rates() {
    let mut ex = Exporter::spawn_with_stdin(&["--events", "-"]);
    let mut stdin = ex.stdin.take().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(13) {
        let mut lines = String::new();
        for i in 0..20 {
            lines.push_str(&format!("{{\"event\":\"request\",\"request_type\":\"GET\",\"name\":\"/honest\",\"response_time\":{i}.0,\"response_length\":1,\"exception\":null}}\n"));
        }
        let ahead = locust_exporter::ingest::wall_clock() + 9.5;
        lines.push_str(&format!("{{\"event\":\"request\",\"time\":{ahead},\"request_type\":\"GET\",\"name\":\"/skewed\",\"response_time\":1.0,\"response_length\":1,\"exception\":null}}\n"));
        stdin.write_all(lines.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = ex.scrape();
    let rps = m.get_one("locust_stats_current_rps", &[("path", "Aggregated")]);
    let skewed = m.get_one("locust_stats_current_rps", &[("path", "/skewed")]);
    eprintln!("current rps with one worker 9.5 s ahead: {rps:.1} in all, {skewed:.1} from it (true: ~210 and ~10)");
    assert!(rps > 150.0 && rps < 260.0, "{rps}");
    assert!(skewed > 5.0 && skewed < 15.0, "{skewed}");
    drop(stdin);
}
