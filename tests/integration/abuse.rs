//! Hostile and heavy clients, and hostile input: memory stays bounded, a password flood
//! slows neither ingestion nor honest scrapes, label cardinality stays within its limits.

use std::io::Write;
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::support::*;

/// 300 clients ask for a 2,000-endpoint event exposition (≈ 9 MB) and never read it: the
/// exporter's resident memory grows by less than 50 MB (every response shares one body).
#[test]
fn three_hundred_clients_that_never_read_grow_rss_under_50_mb() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    many_endpoints_events(&events, 2000);
    let ex = Exporter::spawn(&["--events", events.to_str().unwrap()]);
    let m = ex.wait_for(20, "2,000 endpoints", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(2000.0)
    });
    assert!(
        m.text.len() > 5_000_000,
        "a big exposition: {} bytes",
        m.text.len()
    );
    let before = ex.rss_kib();
    let clients: Vec<_> = (0..300)
        .map(|_| {
            let mut s = ex.connect();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    // Let the server write what the sockets take, then measure.
    std::thread::sleep(Duration::from_secs(3));
    let after = ex.rss_kib();
    eprintln!("300 clients that never read: RSS {before} KiB → {after} KiB");
    assert!(
        after < before + 50 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    drop(clients);
}

/// Seconds from moving `ready` (a prepared file of `n` request events) onto the followed
/// `path` until all its events are counted.
fn ingest_seconds(
    ex: &Exporter,
    path: &std::path::Path,
    ready: &std::path::Path,
    n: f64,
    auth: &str,
) -> f64 {
    let before = ex_requests(ex, auth);
    let start = Instant::now();
    std::fs::rename(ready, path).unwrap();
    let deadline = start + Duration::from_secs(60);
    while ex_requests(ex, auth) < before + n {
        assert!(Instant::now() < deadline, "ingest never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed().as_secs_f64()
}

fn ex_requests(ex: &Exporter, auth: &str) -> f64 {
    let (status, _, body) = http_get(ex.addr, "/metrics", Some(auth));
    assert_eq!(status, 200, "an honest authenticated scrape failed: {body}");
    Metrics::parse(&body)
        .get("locust_stats_num_requests", &[("path", "Aggregated")])
        .unwrap_or(0.0)
}

/// Four threads guessing passwords at `addr`'s `/metrics` until `stop`, each about 20
/// guesses a second when answered at once (a throttled guess is; a checked one waits for its
/// bcrypt); each returns how many guesses it made, every one refused (401 or 429).
fn start_guessers(
    addr: std::net::SocketAddr,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..4)
        .map(|g| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut attempts = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let who = if attempts % 2 == 0 {
                        "prometheus"
                    } else {
                        "mallory"
                    };
                    let guess = basic(who, &format!("guess{g}-{attempts}"));
                    let (status, _, _) = http_get(addr, "/metrics", Some(&guess));
                    assert!(
                        status == 401 || status == 429,
                        "a wrong password got {status}"
                    );
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                attempts
            })
        })
        .collect()
}

/// A wrong-password flood (≥ 50 attempts a second, cost-10 bcrypt hashes) while a fixed
/// event file is ingested: honest authenticated scrapes keep succeeding throughout, and the
/// time to ingest is printed beside a quiet run's (best of three each way, interleaved; a
/// quiet machine measured +0 … +9 %). Timing is reported, not asserted, but for the
/// regression this guards against: bcrypt on the ingest threads made ingestion 90 times
/// slower, so a flooded ingest slower than 5 times the quiet one, three times over, fails.
/// On a machine busy with other work the figures move by tens of percent; 5 times does not.
#[test]
#[ignore = "compares timings: test.sh runs it alone, after the parallel tests (cargo test -- --ignored --test-threads=1)"]
fn wrong_password_flood_slows_neither_ingestion_nor_honest_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("honest", 10).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    let events = dir.path().join("events.jsonl");
    let n = 1_000_000usize;
    // Run k's file of `n` events, flushed to disk; each run's events are later in time than
    // the last run's (as a live stream's are), 1,000 a second.
    let prepare = |k: usize| {
        let mut content = Vec::with_capacity(n * 150);
        for i in 0..n {
            writeln!(
                content,
                "{{\"event\":\"request\",\"time\":{}.5,\"request_type\":\"GET\",\"name\":\"/item/{}\",\"response_time\":{}.25,\"response_length\":100,\"exception\":null}}",
                1_700_000_000 + k * 2000 + i / 1000,
                i % 100,
                i % 300
            )
            .unwrap();
        }
        let p = dir.path().join(format!("run{k}.jsonl"));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(&content).unwrap();
        f.sync_all().unwrap();
        p
    };
    let ex = Exporter::spawn(&[
        "--events",
        events.to_str().unwrap(),
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    let honest = basic("prometheus", "honest");
    assert_eq!(
        ex_requests(&ex, &honest),
        0.0,
        "authenticated once, then cached"
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut k = 0;
    let mut compared = Vec::new();
    for _attempt in 0..3 {
        let (mut quiet, mut flooded) = (Vec::new(), Vec::new());
        for _run in 0..3 {
            // Both files of the pair written and flushed to disk first, so no run measures
            // the write-back of another's.
            let (calm, busy) = (prepare(k), prepare(k + 1));
            k += 2;
            quiet.push(ingest_seconds(&ex, &events, &calm, n as f64, &honest));
            let guessers = start_guessers(ex.addr, &stop);
            let flood_start = Instant::now();
            std::thread::sleep(Duration::from_millis(200));
            flooded.push(ingest_seconds(&ex, &events, &busy, n as f64, &honest));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let attempts: u64 = guessers.into_iter().map(|g| g.join().unwrap()).sum();
            let rate = attempts as f64 / flood_start.elapsed().as_secs_f64();
            stop.store(false, std::sync::atomic::Ordering::Relaxed);
            eprintln!("password flood: {rate:.0} attempts/s");
            assert!(rate >= 50.0, "the flood made only {rate:.0} attempts/s");
        }
        let (q, f) = (best(&quiet), best(&flooded));
        eprintln!(
            "ingest of {n} events: quiet {quiet:?} s, during a password flood {flooded:?} s: best {:+.1} %",
            (f / q - 1.0) * 100.0
        );
        if f <= q * 5.0 {
            return;
        }
        compared.push((q, f));
    }
    panic!("the flood slowed ingestion more than 5 times, three times over (best quiet, best flooded): {compared:?}: is bcrypt on the ingest threads?");
}

/// A million unique endpoint names and a million unique error texts: the series stay within
/// `--max-endpoints` and `--max-errors-per-endpoint`, the excess is folded into
/// `__other__`, counted, and resident memory stays under 200 MB.
#[test]
fn a_million_unique_names_and_errors_stay_bounded() {
    let mut ex = Exporter::spawn_with_stdin(&["--events", "-"]);
    let mut stdin = ex.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(1 << 20);
        for i in 0..1_000_000u32 {
            writeln!(chunk, "{{\"request_type\":\"GET\",\"name\":\"/user/{i}\",\"response_time\":1,\"time\":1.5}}").unwrap();
            writeln!(chunk, "{{\"request_type\":\"GET\",\"name\":\"/fail\",\"response_time\":1,\"time\":1.5,\"exception\":\"id {i} not found\"}}").unwrap();
            if chunk.len() > 1 << 20 {
                stdin.write_all(&chunk).unwrap();
                chunk.clear();
            }
        }
        stdin.write_all(&chunk).unwrap();
    });
    let m = ex.wait_for(120, "two million events", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(2_000_000.0)
    });
    writer.join().unwrap();
    let endpoints = m.find("locust_requests_total", &[]).len();
    assert_eq!(endpoints, 2001, "2,000 admitted and __other__");
    assert_eq!(
        m.get("locust_requests_total", &[("name", "__other__")]),
        Some(1_000_000.0 + 1.0 - 2000.0),
        "the excess names, folded ('/fail' was admitted among the first 2,000)"
    );
    let errors = m.find("locust_failures_total", &[("name", "/fail")]);
    assert_eq!(errors.len(), 21, "20 error texts and __other__");
    assert_eq!(
        m.get(
            "locust_failures_total",
            &[("name", "/fail"), ("error", "__other__")]
        ),
        Some(1_000_000.0 - 20.0)
    );
    assert_eq!(
        m.get("locust_exporter_endpoints_dropped_total", &[]),
        Some(1_000_000.0 + 1.0 - 2000.0)
    );
    assert_eq!(
        m.get("locust_exporter_errors_dropped_total", &[]),
        Some(1_000_000.0 - 20.0)
    );
    let rss = ex.rss_kib();
    eprintln!(
        "a million unique names and errors: RSS {rss} KiB, {} bytes of exposition",
        m.text.len()
    );
    assert!(rss < 200 * 1024, "RSS {rss} KiB");
    let warned = ex
        .stderr()
        .iter()
        .filter(|l| l.contains("--max-errors-per-endpoint"))
        .count();
    assert_eq!(warned, 1, "warned once");
}

/// Two valid `requests` lines whose counts fill one HDR bin past `u32::MAX` used to panic
/// the ingest task (a frozen snapshot, served forever): now they are counted exactly and
/// the percentiles stay those of the bin.
#[test]
fn a_histogram_bin_past_u32_max_is_counted_not_a_panic() {
    let full = r#"{"event":"requests","request_type":"GET","name":"/p","requests":4294967295,"timed":4294967295,"response_time_sum":42949672950.0,"response_time_min":10.0,"response_time_max":10.0,"schema":7,"zero_count":0,"buckets":[[-850,4294967295]]}"#;
    let one = r#"{"event":"requests","request_type":"GET","name":"/p","requests":1,"timed":1,"response_time_sum":10.0,"response_time_min":10.0,"response_time_max":10.0,"schema":7,"zero_count":0,"buckets":[[-850,1]]}"#;
    let input = format!("{full}\n{one}\n");
    let (code, out, err) = run(&["--once", "--events", "-"], Some(input.as_bytes()));
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    let p = [("method", "GET"), ("name", "/p")];
    assert_eq!(m.get_one("locust_requests_total", &p), 4_294_967_296.0);
    let median = [("method", "GET"), ("name", "/p"), ("quantile", "0.5")];
    assert_eq!(m.get_one("locust_response_time_seconds", &median), 0.01);
}

/// 50,000 events, each with a method of its own: past `--max-endpoints` the folded rows keep
/// at most a few methods (the rest are `__other__` too), so the series stay bounded.
#[test]
fn distinct_methods_cannot_outgrow_max_endpoints() {
    let input: String = (0..50_000)
        .map(|i| {
            format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"M{i}\",\"name\":\"/n\",\"response_time\":1.5}}\n")
        })
        .collect();
    let started = std::time::Instant::now();
    let (code, out, err) = run(
        &["--once", "--events", "-", "--max-endpoints", "100"],
        Some(input.as_bytes()),
    );
    eprintln!(
        "50,000 distinct methods: {:?} for --once",
        started.elapsed()
    );
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    let series = m.find_some("locust_requests_total", &[]).len();
    assert!(series <= 100 + 33, "{series} series");
    let total: f64 = m
        .find("locust_requests_total", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 50_000.0, "nothing lost in the folding");
}

/// A wrong-password flood (40 guesses a second, each a new password, against a known user
/// and unknown ones) and ten scrapers that have never authenticated, with the right
/// password, from the same address, one every 0.6 s: each gets in, nearly all at the first
/// try; the flood is
/// throttled. (The flood and a scraper of the same user from the same address cannot be
/// told apart: docs/operating.md.)
#[test]
fn a_fresh_user_gets_in_during_a_password_flood() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right", 4).unwrap();
    let mut users = String::from("basic_auth_users:\n");
    for u in 0..11 {
        users.push_str(&format!("  user{u}: '{hash}'\n"));
    }
    let web = dir.path().join("web.yml");
    std::fs::write(&web, users).unwrap();
    let ex = Exporter::spawn(&[
        "--csv",
        "nothing-here",
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = ex.addr;
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let who = if n % 2 == 0 {
                    "user0".to_owned()
                } else {
                    format!("mallory{n}")
                };
                let guess = basic(&who, &format!("guess{n}"));
                let (status, _, _) = http_get(addr, "/metrics", Some(&guess));
                assert!(status == 401 || status == 429, "{status}");
                n += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            n
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let mut first_try = 0;
    for u in 1..11 {
        let auth = basic(&format!("user{u}"), "right");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut tries = 0;
        loop {
            tries += 1;
            let (status, _, _) = http_get(addr, "/metrics", Some(&auth));
            if status == 200 {
                break;
            }
            assert_eq!(status, 429, "user{u}");
            assert!(
                Instant::now() < deadline,
                "user{u} never got in during the flood"
            );
            std::thread::sleep(Duration::from_millis(1100));
        }
        first_try += usize::from(tries == 1);
        // New scrapers arrive one every 0.6 s (the fresh budget's pace).
        std::thread::sleep(Duration::from_millis(600));
    }
    stop.store(true, Ordering::Relaxed);
    let guesses = flood.join().unwrap();
    let (status, _, body) = http_get(addr, "/metrics", Some(&basic("user1", "right")));
    assert_eq!(status, 200);
    let m = Metrics::parse(&body);
    eprintln!(
        "fresh users in during a flood of {guesses} guesses: 10/10 ({first_try} at the first try); throttled {}",
        client_errors(&m, "auth_throttled")
    );
    assert!(first_try >= 9, "{first_try}/10 at the first try");
}
