//! Serving that holds: HEAD, gzip, the connection cap, the header/idle/send timeouts, a
//! bounded shutdown whatever clients do, and `http_server_config`.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::support::*;

const FIXTURE: &str = "fixtures/locust-2.47.0/standalone-full-history/run";

/// Waits (bounded) until the server closes `s`: reads return 0 (or an error).
fn closed_within(s: &mut std::net::TcpStream, secs: u64) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 65536];
    while start.elapsed() < Duration::from_secs(secs) {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn head_answers_like_get_without_a_body() {
    let ex = Exporter::spawn(&["--csv", FIXTURE]);
    ex.wait_for(5, "data", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
    });
    for path in ["/metrics", "/", "/-/healthy"] {
        let (status, head, body) = http_request(ex.addr, "HEAD", path, "");
        assert_eq!(status, 200, "{path}: {head}");
        assert!(body.is_empty(), "{path}: HEAD has no body");
        let length: usize = header_value(&head, "content-length")
            .unwrap_or_else(|| panic!("{path}: no length in {head}"))
            .parse()
            .unwrap();
        assert!(length > 0, "{path}: the GET body's length");
    }
    let (status, head, _) = http_request(ex.addr, "POST", "/metrics", "");
    assert_eq!(status, 405);
    assert_eq!(header_value(&head, "allow").as_deref(), Some("GET, HEAD"));
}

#[test]
fn gzip_when_asked_decompresses_to_the_exposition() {
    let ex = Exporter::spawn(&["--csv", FIXTURE]);
    ex.wait_for(5, "data", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
    });
    let (status, head, body) =
        http_request(ex.addr, "GET", "/metrics", "Accept-Encoding: gzip\r\n");
    assert_eq!(status, 200);
    assert_eq!(
        header_value(&head, "content-encoding").as_deref(),
        Some("gzip")
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    let m = Metrics::parse(&text);
    assert_stats_match(
        &m,
        "locust",
        &fixture("locust-2.47.0/standalone-full-history/run_stats.csv"),
    );
    assert!(
        body.len() * 4 < text.len(),
        "compressed: {} of {}",
        body.len(),
        text.len()
    );
    let (_, head, _) = http_request(ex.addr, "GET", "/metrics", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(
        header_value(&head, "content-encoding"),
        None,
        "q=0 refuses gzip"
    );
}

#[test]
fn over_the_connection_limit_answered_503_and_counted() {
    let ex = Exporter::spawn(&["--csv", FIXTURE, "--web.max-connections", "2"]);
    // Two connections in the middle of a request head take both slots: neither is idle nor
    // silent, so neither may be evicted (an idle or silent one would give up its slot).
    let held: Vec<_> = (0..2)
        .map(|_| {
            let mut c = ex.connect();
            c.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = ex.connect();
    let mut answer = String::new();
    let _ = third.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = http_get(ex.addr, "/metrics", None);
        if status == 200 {
            let m = Metrics::parse(&body);
            assert!(
                m.get(
                    "locust_exporter_http_client_errors_total",
                    &[("reason", "refused")]
                ) >= Some(1.0)
            );
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn slowloris_closed_after_the_header_timeout() {
    let ex = Exporter::spawn(&["--csv", FIXTURE, "--web.read-header-timeout", "1s"]);
    let mut s = ex.connect();
    // A header byte now and then, never the end of the head.
    let writer = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let mut w = writer;
        for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaa".iter() {
            if w.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let closed = closed_within(&mut s, 6).expect("a slowloris connection stays open");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    let _ = trickle.join();
    assert!(client_errors(&ex.scrape(), "header_timeout") >= 1.0);
}

#[test]
fn idle_kept_alive_connection_is_closed() {
    let ex = Exporter::spawn(&["--csv", FIXTURE, "--web.idle-timeout", "1s"]);
    let mut s = ex.connect();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = closed_within(&mut s, 6).expect("an idle connection stays open");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    assert!(client_errors(&ex.scrape(), "idle_timeout") >= 1.0);
}

#[test]
fn a_client_that_does_not_read_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    many_endpoints_events(&events, 10_000);
    let ex = Exporter::spawn(&[
        "--events",
        events.to_str().unwrap(),
        "--max-endpoints",
        "20000",
        "--web.send-timeout",
        "1s",
    ]);
    ex.wait_for(20, "10,000 endpoints", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(10_000.0)
    });
    // Ask for a ~45 MB exposition and never read it.
    let mut s = ex.connect();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client_errors(&ex.scrape(), "send_timeout") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the stuck client was never dropped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_exits_within_five_seconds_whatever_clients_do() {
    let ex = Exporter::spawn(&["--csv", FIXTURE]);
    ex.wait_for(5, "data", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
    });
    // One client mid-request, one that asked and does not read, one idle.
    let mut half = ex.connect();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost:").unwrap();
    let mut stuck = ex.connect();
    stuck
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _idle = ex.connect();
    let (took, code) = ex.terminate_timed(10);
    assert_eq!(code, Some(0), "a clean stop after {took:?}");
    assert!(took < Duration::from_secs(5), "exited after {took:?}");
}

#[test]
fn http_server_config_headers_on_every_response() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n",
    )
    .unwrap();
    let ex = Exporter::spawn(&["--csv", FIXTURE, "--web.config.file", web.to_str().unwrap()]);
    for path in ["/metrics", "/", "/nope"] {
        let (_, head, _) = http_request(ex.addr, "GET", path, "");
        assert_eq!(
            header_value(&head, "x-frame-options").as_deref(),
            Some("deny"),
            "{path}"
        );
        assert_eq!(
            header_value(&head, "strict-transport-security").as_deref(),
            Some("max-age=31536000")
        );
    }
}

/// 600 connections that send nothing and reconnect the moment they are closed (more than
/// the 512 slots): an honest scraper, which sends its request at once, gets in at least 12
/// times of 13 (once, 0 of 13: the flood kept every slot younger than the silence grace).
#[test]
fn silent_connections_that_reconnect_at_once_do_not_keep_scrapers_out() {
    use std::io::Read as _;
    let ex = Exporter::spawn(&["--csv", "nothing-here"]);
    let addr = ex.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let connect = || {
                let s = std::net::TcpStream::connect(addr).ok()?;
                s.set_nonblocking(true).ok()?;
                Some(s)
            };
            let mut conns: Vec<Option<std::net::TcpStream>> = (0..600).map(|_| connect()).collect();
            let mut reconnects = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for c in &mut conns {
                    let closed = match c {
                        None => true,
                        Some(s) => {
                            let mut buf = [0u8; 256];
                            match s.read(&mut buf) {
                                // A 503, or the end (0 bytes): closed either way.
                                Ok(n) => n <= buf.len(),
                                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                            }
                        }
                    };
                    if closed {
                        *c = connect();
                        reconnects += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            reconnects
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let mut ok = 0;
    for _ in 0..13 {
        let (status, _, _) = http_get(addr, "/-/healthy", None);
        ok += usize::from(status == 200);
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reconnects = flood.join().unwrap();
    eprintln!("honest scrapes during a flood of 600 silent connections: {ok}/13 ({reconnects} reconnects)");
    assert!(ok >= 12, "{ok}/13");
}

/// 505 HTTP/1.1 clients with 1 KiB receive buffers that never read, and 50 HTTP/2
/// connections whose streams have a zero window (8 each), while events flow and snapshots
/// change every few milliseconds on a multi-MB exposition: together they grow the
/// exporters' RSS by less than 100 MB (each client used to pin a rendered body of its own:
/// 1.84 GB and 2.43 GB); the stalled streams are dropped after `--web.send-timeout` and
/// counted; a fresh scrape is answered throughout. Alone: beside the parallel tests the
/// sends are slower, more bodies are in flight within the budget, and RSS varies by tens
/// of MB (+79 … +87 MB alone, +102 MB once in a loaded run).
#[test]
#[ignore = "measures RSS against a bound: test.sh runs it alone, after the parallel tests (cargo test -- --ignored --test-threads=1)"]
fn slow_readers_and_stalled_http2_streams_pin_at_most_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tls) = tls_config(dir.path()) else {
        return;
    };
    let events = dir.path().join("events.jsonl");
    many_endpoints_events(&events, 2000);
    let plain = Exporter::spawn(&["--events", events.to_str().unwrap()]);
    let secure = Exporter::spawn(&[
        "--events",
        events.to_str().unwrap(),
        "--web.config.file",
        tls.to_str().unwrap(),
        "--web.send-timeout",
        "8s",
    ]);
    let m = plain.wait_for(20, "2,000 endpoints", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(2000.0)
    });
    assert!(m.text.len() > 5_000_000, "{} bytes", m.text.len());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&events, &stop);
    std::thread::sleep(Duration::from_millis(500));
    let (plain_before, secure_before) = (plain.rss_kib(), secure.rss_kib());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (slow, stalled) = rt.block_on(async {
        let mut slow = Vec::new();
        for _ in 0..505 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(1024).unwrap();
            let mut s = socket.connect(plain.addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(
                &mut s,
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .await
            .unwrap();
            slow.push(s);
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        let mut stalled = Vec::new();
        for _ in 0..50 {
            stalled.push(
                stalled_h2(secure.addr, 8)
                    .await
                    .expect("an HTTP/2 connection"),
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (slow, stalled)
    });
    std::thread::sleep(Duration::from_secs(2));
    let (plain_after, secure_after) = (plain.rss_kib(), secure.rss_kib());
    let grown = (plain_after.saturating_sub(plain_before)
        + secure_after.saturating_sub(secure_before))
        / 1024;
    let held = plain
        .scrape()
        .get_one("locust_exporter_http_response_bytes", &[]);
    eprintln!(
        "505 non-reading clients: RSS {plain_before} → {plain_after} KiB; 50 zero-window HTTP/2 connections × 8 streams: {secure_before} → {secure_after} KiB; together +{grown} MB; response bytes held {held}"
    );
    assert!(grown < 100, "RSS grew by {grown} MB");
    assert!(
        held <= (16 << 20) as f64 + 4.0 * m.text.len() as f64,
        "{held}"
    );
    // The stalled streams write nothing and block no TCP write: their bodies are not
    // polled, and that is a send timeout.
    let deadline = Instant::now() + Duration::from_secs(20);
    let m = loop {
        let m = Metrics::parse(&curl_metrics(secure.addr));
        if client_errors(&m, "send_timeout") >= 50.0 {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled connections were never dropped"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        client_errors(&m, "header_timeout"),
        0.0,
        "HTTP/2 frames arm no header clock"
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop((slow, stalled, rt));
}

/// 512 keep-alive connections, each sending a request now and then (under the idle
/// timeout), hold every slot: honest scrapes still get in (20/20), each taking the slot of
/// the connection idle longest, counted as `evicted`.
#[test]
fn idle_keep_alives_cannot_hold_every_slot() {
    let ex = Exporter::spawn(&["--csv", "nothing-here", "--web.max-connections", "64"]);
    let mut held: Vec<_> = (0..64)
        .map(|_| {
            let mut s = ex.connect();
            s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut ok = 0;
    for _ in 0..20 {
        let (status, _, _) = http_get(ex.addr, "/-/healthy", None);
        ok += usize::from(status == 200);
    }
    let m = ex.scrape();
    eprintln!(
        "honest scrapes with every slot held by idle keep-alives: {ok}/20; evicted {}",
        client_errors(&m, "evicted")
    );
    assert_eq!(ok, 20);
    assert!(client_errors(&m, "evicted") >= 1.0);
    held.clear();
}

/// An HTTP/2 download at about 400 KB/s that lasts past `--web.read-header-timeout`, its
/// client sending WINDOW_UPDATE frames all along: it completes, and no header timeout is
/// counted (any client frame after a request used to arm the header clock: cut at 10.4 s).
#[test]
fn a_slow_http2_download_is_not_cut_by_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tls) = tls_config(dir.path()) else {
        return;
    };
    let events = dir.path().join("events.jsonl");
    many_endpoints_events(&events, 500);
    let ex = Exporter::spawn(&[
        "--events",
        events.to_str().unwrap(),
        "--web.config.file",
        tls.to_str().unwrap(),
        "--web.read-header-timeout",
        "1s",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !curl_metrics(ex.addr).contains("/api/v1/items/499") {
        assert!(Instant::now() < deadline, "events never read");
        std::thread::sleep(Duration::from_millis(200));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (bytes, took) = rt.block_on(async {
        let client = h2_client(ex.addr, 16 << 10, 0)
            .await
            .expect("an HTTP/2 connection");
        let mut client = client.ready().await.unwrap();
        let req = hyper::Request::get(format!("https://{}/metrics", ex.addr))
            .body(())
            .unwrap();
        let (response, _) = client.send_request(req, true).unwrap();
        let start = Instant::now();
        let mut body = response.await.unwrap().into_body();
        let mut got = 0usize;
        // A 16 KiB window, given back 40 ms after each chunk: about 400 KB/s.
        loop {
            tokio::time::sleep(Duration::from_millis(40)).await;
            match tokio::time::timeout(Duration::from_secs(5), body.data()).await {
                Ok(Some(Ok(chunk))) => {
                    got += chunk.len();
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                Ok(None) => break,
                other => panic!("the download broke after {got} bytes: {other:?}"),
            }
        }
        (got, start.elapsed())
    });
    eprintln!("HTTP/2 download: {bytes} bytes in {took:?}");
    assert!(
        took > Duration::from_secs(2),
        "slow enough to outlast the header timeout: {took:?}"
    );
    let m = Metrics::parse(&curl_metrics(ex.addr));
    assert!(m.text.len() > 1_000_000);
    assert!(bytes > 1_000_000, "{bytes}");
    assert_eq!(client_errors(&m, "header_timeout"), 0.0);
}
