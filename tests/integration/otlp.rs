//! The OTLP receiver (`--otlp.listen-address`) against real `locust --otel` runs, over gRPC
//! and over HTTP/protobuf, with exponential and with the SDK's default explicit buckets;
//! and against hostile requests over real HTTP/1.1 and HTTP/2 on loopback. And the other
//! plugin-free input: Locust's per-request CSV (`CsvRequestLogger`).

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// `locust --otel` (10 users, 8 s) against the local target, exporting to a fresh exporter
/// with `protocol` (`grpc`, `http/protobuf`); with the base-2 exponential aggregation
/// when `exponential`. A listener beside the locustfile writes every response time.
fn otel_run(test: &str, protocol: &str, exponential: bool) -> Option<OtelRun> {
    let bin = venv_bin(test)?;
    let target = Target::start(&bin);
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let addr = otlp_addr(&exporter);
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("requests.jsonl");
    let json = dir.path().join("final");
    let mut cmd = locust_command_with(&bin, &target, 8, false, &[fixture("record/per_request.py")]);
    otel_to(&mut cmd, addr, protocol, exponential);
    cmd.arg("--json-file")
        .arg(&json)
        .env("PER_REQUEST_EVENTS", &events)
        .env("PYTHONPATH", fixture("record"))
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let max_users = users_while(&exporter, &mut child);
    let totals = json_totals(&json.with_extension("json"));
    let all: f64 = totals.values().map(|(n, _)| n).sum();
    assert!(all > 100.0, "{test}: only {all} requests");
    let last = all_served(&exporter, all);
    drop(target);
    Some(OtelRun {
        last,
        totals,
        exact: exact_times(&events),
        max_users,
    })
}

/// The most users `exporter` served while `child` (Locust, or its master) ran; it is
/// waited for (at most 90 s).
fn users_while(exporter: &Exporter, child: &mut std::process::Child) -> f64 {
    let mut max_users: f64 = 0.0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if let Some(u) = exporter
            .try_scrape()
            .and_then(|m| m.get("locust_users", &[]))
        {
            max_users = max_users.max(u);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_child(child, 5);
    max_users
}

#[test]
fn otel_grpc_exponential_counts_are_exact_and_percentiles_within_2_percent() {
    let Some(run) = otel_run(
        "otel_grpc_exponential_counts_are_exact_and_percentiles_within_2_percent",
        "grpc",
        true,
    ) else {
        return;
    };
    assert_run(&run, 10.0);
    assert_percentiles_within_2_percent(&run);
}

#[test]
fn otel_http_protobuf_default_buckets_counts_are_exact() {
    let Some(run) = otel_run(
        "otel_http_protobuf_default_buckets_counts_are_exact",
        "http/protobuf",
        false,
    ) else {
        return;
    };
    assert_run(&run, 10.0);
    // The SDK's default bounds (0, 5, 10, 25 … s) put every answer in the first bucket:
    // the percentiles can only be spread between min and max; printed, for the docs.
    let worst = quantile_errors(&run);
    eprintln!(
        "default buckets: worst percentile error {:.1} %",
        worst * 100.0
    );
    assert_max_exact(&run);
}

#[test]
fn otel_master_and_two_workers_each_exporting_give_locusts_totals() {
    // `--otel` on the master (users, no requests) and on both workers (their requests:
    // resources alike, start times apart), all over gRPC into one receiver.
    let test = "otel_master_and_two_workers_each_exporting_give_locusts_totals";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let target = Target::start(&bin);
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let addr = otlp_addr(&exporter);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("final");
    let events = dir.path().join("requests.jsonl");
    let per_request = fixture("record/per_request.py");
    let env = |_: &str| {
        vec![
            ("LOCUST_ENABLE_OPENTELEMETRY", "true".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true".to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000".to_owned()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram".to_owned(),
            ),
            ("PER_REQUEST_EVENTS", events.display().to_string()),
        ]
    };
    let (mut master, mut workers) =
        start_distributed(&bin, &target, dir.path(), &json, &[&per_request], env);
    let max_users = users_while(&exporter, &mut master);
    for w in &mut workers {
        wait_child(w, 30);
    }
    let totals = json_totals(&json.with_extension("json"));
    let all: f64 = totals.values().map(|(n, _)| n).sum();
    assert!(all > 100.0, "only {all} requests");
    let last = all_served(&exporter, all);
    let run = OtelRun {
        last,
        totals,
        exact: exact_times(&events),
        max_users,
    };
    assert_run(&run, 10.0);
    assert_percentiles_within_2_percent(&run);
}

/// A JSON export with one exponential `locust.client.duration` point per `(name, sum)`.
fn json_export(points: &[(&str, &str)]) -> String {
    let points: Vec<String> = points
        .iter()
        .map(|(name, sum)| {
            format!(
                r#"{{"attributes":[{{"key":"name","value":{{"stringValue":"{name}"}}}}],"startTimeUnixNano":"1","timeUnixNano":"1800000000000000000","count":"3","sum":{sum},"scale":3,"zeroCount":"0","positive":{{"offset":-30,"bucketCounts":["1","0","2"]}},"min":0.07,"max":0.095}}"#
            )
        })
        .collect();
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},"scopeMetrics":[{{"metrics":[{{"name":"locust.client.duration","unit":"s","exponentialHistogram":{{"aggregationTemporality":1,"dataPoints":[{}]}}}}]}}]}}]}}"#,
        points.join(",")
    )
}

#[test]
fn otlp_http_bad_input_gets_otlp_errors_and_keeps_the_good_points() {
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let addr = otlp_addr(&exporter);
    let json = "Content-Type: application/json\r\n";
    // One good point and one with a NaN sum: 200, a partial success naming the bad one.
    let (status, _, body) = post(
        addr,
        "/v1/metrics",
        json,
        json_export(&[("/a", "0.25"), ("/b", "\"NaN\"")]).as_bytes(),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "1", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("sum is NaN"),
        "{v}"
    );
    // The same, gzipped.
    let gz = format!("{json}Content-Encoding: gzip\r\n");
    let (status, _, body) = post(
        addr,
        "/v1/metrics",
        &gz,
        &gzip(json_export(&[("/a", "0.25")]).as_bytes()),
    );
    assert_eq!((status, body.as_slice()), (200, &b"{}"[..]));
    let m = exporter.wait_for(5, "the good points", |m| {
        m.get(
            "locust_requests_total",
            &[("service", "shop"), ("name", "/a")],
        ) == Some(6.0)
    });
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/b")]),
        None,
        "the NaN point is not counted"
    );
    // Not protobuf: 400 with a google.rpc.Status; not JSON: 400.
    let proto = "Content-Type: application/x-protobuf\r\n";
    let (status, _, _) = post(addr, "/v1/metrics", proto, b"\xff\xff\xff\xff garbage");
    assert_eq!(status, 400);
    let (status, _, body) = post(addr, "/v1/traces", json, b"{\"resourceSpans\": 3}");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("\"code\":3"));
    // A gzip bomb: 1 GiB of zeros in about 1 MiB; refused at 16 MiB, memory untouched.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let (status, _, body) = post(
        addr,
        "/v1/metrics",
        &format!("{proto}Content-Encoding: gzip\r\n"),
        &bomb,
    );
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(
        exporter.rss_kib() < 200 * 1024,
        "RSS {} KiB after the bomb",
        exporter.rss_kib()
    );
    // Over 16 MiB on the wire: 413.
    let (status, _, _) = post(addr, "/v1/logs", proto, &vec![0u8; (16 << 20) + 1]);
    assert_eq!(status, 413);
    // Wrong content type, encoding, method, path.
    assert_eq!(
        post(addr, "/v1/metrics", "Content-Type: text/plain\r\n", b"x").0,
        415
    );
    assert_eq!(
        post(
            addr,
            "/v1/metrics",
            &format!("{proto}Content-Encoding: br\r\n"),
            b"x"
        )
        .0,
        415
    );
    assert_eq!(post(addr, "/v2/metrics", proto, b"").0, 404);
    // Logs are accepted and counted (an empty export is valid protobuf).
    assert_eq!(post(addr, "/v1/logs", proto, b"").0, 200);
    let m = exporter.wait_for(5, "the counts", |m| {
        m.get(
            "locust_exporter_otlp_requests_total",
            &[("signal", "logs"), ("outcome", "ok")],
        ) == Some(1.0)
    });
    let count = |signal: &str, outcome: &str| {
        m.get_one(
            "locust_exporter_otlp_requests_total",
            &[("signal", signal), ("outcome", outcome)],
        )
    };
    assert_eq!(count("metrics", "partial"), 1.0);
    assert_eq!(count("metrics", "invalid"), 1.0);
    assert_eq!(count("traces", "invalid"), 1.0);
    assert_eq!(count("metrics", "too_large"), 1.0);
    assert_eq!(count("logs", "too_large"), 1.0);
    assert_eq!(count("metrics", "unsupported"), 2.0);
    assert_eq!(
        m.get_one(
            "locust_exporter_otlp_items_total",
            &[("signal", "metrics"), ("outcome", "rejected")]
        ),
        1.0
    );
    let logged = exporter
        .stderr()
        .iter()
        .filter(|l| l.contains("OTLP metrics export"))
        .count();
    assert_eq!(logged, 1, "rate-limited: one warning a minute");
}

#[test]
fn otlp_twelve_thousand_attribute_sets_and_a_1_mb_name_stay_bounded() {
    // One cumulative export: a point named by a 1 MB string, then 12,000 points each of its
    // own name (12,000 streams). The receiver keeps 10,000 streams and rejects the rest
    // alone (partial success); the model folds endpoints past --max-endpoints into
    // __other__ and cuts the long name to 1024 bytes; every accepted request is served.
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let addr = otlp_addr(&exporter);
    let long = "x".repeat(1 << 20);
    let points: Vec<String> = std::iter::once(long.clone())
        .chain((0..12_000).map(|i| format!("/user/{i}")))
        .map(|name| {
            format!(
                r#"{{"attributes":[{{"key":"name","value":{{"stringValue":"{name}"}}}}],"startTimeUnixNano":"1","timeUnixNano":"1800000000000000000","count":"3","sum":0.25,"scale":3,"positive":{{"offset":-30,"bucketCounts":["1","0","2"]}}}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"locust.client.duration","unit":"s","exponentialHistogram":{{"aggregationTemporality":2,"dataPoints":[{}]}}}}]}}]}}]}}"#,
        points.join(",")
    );
    let (status, _, answer) = post(
        addr,
        "/v1/metrics",
        "Content-Type: application/json\r\n",
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "2001", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("more than 10000 cumulative streams"),
        "{v}"
    );
    let m = all_served(&exporter, 10_000.0 * 3.0);
    let endpoints = m.find("locust_requests_total", &[]);
    assert!(
        endpoints.len() <= 2001,
        "{} endpoints served",
        endpoints.len()
    );
    assert!(
        m.get("locust_requests_total", &[("name", "__other__")])
            .unwrap()
            > 0.0
    );
    let cut = endpoints
        .iter()
        .find_map(|s| s.labels.get("name").filter(|n| n.starts_with("xxx")))
        .expect("the long name is served, cut");
    assert_eq!(cut.len(), 1024);
    assert!(
        exporter.rss_kib() < 200 * 1024,
        "RSS {} KiB",
        exporter.rss_kib()
    );
}

#[test]
fn otlp_max_message_bytes_sets_the_limit_named_in_the_refusal() {
    let exporter = Exporter::spawn(&[
        "--otlp.listen-address",
        "127.0.0.1:0",
        "--otlp.max-message-bytes",
        "1KiB",
    ]);
    let addr = otlp_addr(&exporter);
    let json = "Content-Type: application/json\r\n";
    let small = json_export(&[("/a", "0.25")]);
    assert!(small.len() < 1024, "{}", small.len());
    assert_eq!(post(addr, "/v1/metrics", json, small.as_bytes()).0, 200);
    // Over 1 KiB on the wire, and a small gzip that inflates past it.
    let big = json_export(&[("/a", "0.25"); 4]);
    assert!(big.len() > 1024, "{}", big.len());
    let (status, _, body) = post(addr, "/v1/metrics", json, big.as_bytes());
    assert_eq!(status, 413);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("over 1024 bytes (--otlp.max-message-bytes)"),
        "{body}"
    );
    let gz = gzip(big.as_bytes());
    assert!(gz.len() < 1024, "{}", gz.len());
    let (status, _, _) = post(
        addr,
        "/v1/metrics",
        &format!("{json}Content-Encoding: gzip\r\n"),
        &gz,
    );
    assert_eq!(status, 413);
    let m = exporter.wait_for(5, "the small export", |m| {
        m.get("locust_requests_total", &[("name", "/a")]) == Some(3.0)
    });
    assert_eq!(
        m.get_one(
            "locust_exporter_otlp_requests_total",
            &[("signal", "metrics"), ("outcome", "too_large")]
        ),
        2.0
    );
}

/// An HTTP/2 gRPC call with prior knowledge (h2c), as grpcio makes it: (HTTP status,
/// grpc-status, grpc-message).
fn grpc_call(
    addr: SocketAddr,
    path: &str,
    frame: Vec<u8>,
    encoding: Option<&str>,
) -> (u16, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::post(format!("http://{addr}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(e) = encoding {
            req = req.header("grpc-encoding", e);
        }
        let (resp, mut send) = client.send_request(req.body(()).unwrap(), false).unwrap();
        send.send_data(bytes::Bytes::from(frame), true).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(10), resp)
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        let head = resp.headers().clone();
        let mut body = resp.into_body();
        while let Some(chunk) = body.data().await {
            let _ = chunk.unwrap();
        }
        let trailers = body.trailers().await.unwrap().unwrap_or_default();
        let field = |k: &str| {
            trailers
                .get(k)
                .or_else(|| head.get(k))
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        (status, field("grpc-status"), field("grpc-message"))
    })
}

fn frame(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut f = vec![u8::from(compressed)];
    f.extend_from_slice(&(message.len() as u32).to_be_bytes());
    f.extend_from_slice(message);
    f
}

#[test]
fn otlp_grpc_bad_input_gets_grpc_status_codes() {
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let addr = otlp_addr(&exporter);
    let metrics = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    // An empty export: OK.
    assert_eq!(grpc_call(addr, metrics, frame(false, b""), None).1, "0");
    // Garbage: INVALID_ARGUMENT, naming the decoder's complaint.
    let (_, code, message) = grpc_call(addr, metrics, frame(false, b"\xff\xff\xff"), None);
    assert_eq!(code, "3", "{message}");
    assert!(
        message.contains("not%20a%20valid%20OTLP%20metrics")
            || message.contains("not a valid OTLP metrics"),
        "{message}"
    );
    // A gzip bomb in a compressed frame: RESOURCE_EXHAUSTED at 16 MiB (gRPC's code for a
    // message over the limit).
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let (_, code, _) = grpc_call(addr, metrics, frame(true, &bomb), Some("gzip"));
    assert_eq!(code, "8");
    // gzip of a valid (empty) message: OK; an unknown compression: refused.
    assert_eq!(
        grpc_call(addr, metrics, frame(true, &gzip(b"")), Some("gzip")).1,
        "0"
    );
    assert_eq!(
        grpc_call(addr, metrics, frame(true, b"x"), Some("snappy")).1,
        "3"
    );
    // A frame that lies about its length; an unknown method.
    let mut short = frame(false, b"abc");
    short.truncate(6);
    assert_eq!(grpc_call(addr, metrics, short, None).1, "3");
    assert_eq!(grpc_call(addr, "/x.Y/Z", frame(false, b""), None).1, "12");
    assert!(
        exporter.rss_kib() < 200 * 1024,
        "RSS {} KiB",
        exporter.rss_kib()
    );
}

/// Locust's own per-request CSV (`CsvRequestLogger`) followed with `--events` while a real
/// run writes it: per-name requests and failures equal Locust's `--json-file` totals, and
/// errors by exception add up to the failures.
#[test]
fn csv_request_logger_counts_equal_locusts_totals() {
    let Some(bin) = venv_bin("csv_request_logger_counts_equal_locusts_totals") else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("requests.csv");
    std::fs::write(&csv, "").unwrap();
    let json = dir.path().join("final");
    let exporter = Exporter::spawn(&["--events", &format!("shop={}", csv.display())]);
    let mut cmd = locust_command_with(
        &bin,
        &target,
        6,
        false,
        &[fixture("record/request_logger.py")],
    );
    cmd.arg("--json-file")
        .arg(&json)
        .env("REQUEST_LOG_CSV", &csv)
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_child(&mut child, 60);
    let mut totals = json_totals(&json.with_extension("json"));
    totals.retain(|(_, name), _| name != "Aggregated");
    let all: f64 = totals.values().map(|(n, _)| n).sum();
    assert!(all > 50.0, "only {all} requests");
    let m = exporter.wait_for(20, "every row", |m| {
        m.find("locust_requests_total", &[("service", "shop")])
            .iter()
            .map(|s| s.value)
            .sum::<f64>()
            == all
    });
    assert_totals(&m, &totals, Key::MethodAndName);
    let failures: f64 = totals.values().map(|(_, f)| f).sum();
    let errors: f64 = m.find("locust_errors", &[]).iter().map(|s| s.value).sum();
    assert!(failures > 0.0);
    assert_eq!(errors, failures);
    assert!(
        m.get(
            "locust_request_duration_seconds_count",
            &[("name", "/slow")]
        )
        .unwrap_or(0.0)
            > 0.0
    );
}
