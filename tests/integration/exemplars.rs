//! Exemplars end to end: real Locust runs whose requests carry W3C trace context (`locust
//! --otel`'s requests instrumentation; the plugin with `traceparent` headers the locustfile
//! sets), into the exporter, into a real Prometheus 3.5 with exemplar storage — scraped in
//! OpenMetrics and in protobuf (native histograms), and remote-written with 1.0 and 2.0.
//! Every exemplar Prometheus returns must be a request of its endpoint (its trace and span
//! ids those the request sent), and the one of the top bucket one of the slowest 1 % of that
//! endpoint's requests. And created timestamps: with Prometheus' created-timestamp ingestion,
//! `increase()` over a window that starts before the run is the run's exact total.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;

/// The flags every Prometheus of these tests runs with (native histograms are on already).
const FEATURES: &str = "--enable-feature=exemplar-storage,created-timestamp-zero-ingestion";

/// A scrape job of `target` in `protocol` (`OpenMetricsText1.0.0`, `PrometheusProto`), with
/// `extra` lines of YAML (indented four spaces).
fn job(name: &str, protocol: &str, extra: &str, target: SocketAddr) -> String {
    format!(
        "  - job_name: {name}\n    scrape_protocols: [{protocol}]\n{extra}    static_configs:\n      - targets: ['{target}']\n"
    )
}

/// A headless run of `locustfile` (`fixtures/record/traced_locustfile.py`, with the plugin
/// before it where asked) for `secs` against a fresh target, `setup` adding the run's own
/// flags and environment; waited for. Its request log, with more than 300 requests of /tail.
fn traced_run(bin: &Path, locustfile: &str, secs: u32, setup: impl FnOnce(&mut Command)) -> Traced {
    let target = Target::start(bin);
    let dir = tempfile::tempdir().unwrap();
    let requests = dir.path().join("traced.jsonl");
    let mut cmd = locust_headless(bin, locustfile, &target, secs, 10);
    cmd.env("TRACED_REQUESTS", &requests)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    setup(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    wait_child(&mut child, 90);
    let run = traced(&requests);
    let tail = run.times["/tail"].len();
    assert!(tail > 300, "only {tail} requests of /tail");
    run
}

/// The traced locustfile alone.
fn traced_locustfile() -> String {
    fixture("record/traced_locustfile.py").display().to_string()
}

/// Waits until `exporter` counts every request of /tail in `run` for `service`.
fn wait_every_tail(exporter: &Exporter, service: &str, run: &Traced) {
    let tail = run.times["/tail"].len() as f64;
    exporter.wait_for(30, "every /tail request", |m| {
        m.get(
            "locust_requests_total",
            &[("service", service), ("name", "/tail")],
        ) == Some(tail)
    });
}

/// Each request of a traced run, by (trace id, span id): (name, Locust's response time ms).
struct Traced {
    by_ids: HashMap<(String, String), (String, f64)>,
    /// Every response time of each name, ms.
    times: HashMap<String, Vec<f64>>,
}

impl Traced {
    /// The slowest of `name`'s requests, seconds.
    fn slowest_seconds(&self, name: &str) -> f64 {
        self.times[name].iter().copied().fold(0.0, f64::max) / 1000.0
    }
}

/// Reads `$TRACED_REQUESTS` (`fixtures/record/traced_locustfile.py`).
fn traced(path: &Path) -> Traced {
    let mut by_ids = HashMap::new();
    let mut times: HashMap<String, Vec<f64>> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = v[1].as_str().unwrap().to_owned();
        let Some(ms) = v[2].as_f64() else { continue };
        times.entry(name.clone()).or_default().push(ms);
        if let Some(parent) = v[3].as_str() {
            let parts: Vec<&str> = parent.split('-').collect();
            assert_eq!(parts.len(), 4, "{parent}");
            by_ids.insert((parts[1].to_owned(), parts[2].to_owned()), (name, ms));
        }
    }
    Traced { by_ids, times }
}

/// Wall time, Unix seconds: Prometheus' API and the events' `time` take it.
#[allow(clippy::disallowed_methods)] // a test's clock, not the model's
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// One exemplar as `/api/v1/query_exemplars` returns it: its series' labels, its ids,
/// value and timestamp.
#[derive(Debug, Clone)]
struct Stored {
    series: BTreeMap<String, String>,
    trace_id: String,
    span_id: String,
    value: f64,
    timestamp: f64,
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every exemplar of `selector` Prometheus on `addr` stores from `start` on.
fn query_exemplars(addr: SocketAddr, selector: &str, start: f64) -> Vec<Stored> {
    let path = format!(
        "/api/v1/query_exemplars?query={}&start={start}&end={}",
        percent_encode(selector),
        now() + 60.0
    );
    let (status, _, body) = http_get(addr, &path, None);
    assert_eq!(status, 200, "{path}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out = Vec::new();
    for series in v["data"].as_array().unwrap() {
        let labels: BTreeMap<String, String> = series["seriesLabels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        for e in series["exemplars"].as_array().unwrap() {
            out.push(Stored {
                series: labels.clone(),
                trace_id: e["labels"]["trace_id"].as_str().unwrap().to_owned(),
                span_id: e["labels"]["span_id"].as_str().unwrap().to_owned(),
                value: e["value"].as_str().unwrap().parse().unwrap(),
                timestamp: e["timestamp"].as_f64().unwrap(),
            });
        }
    }
    out
}

/// Waits (at most 60 s) until Prometheus stores exemplars of `selector` whose slowest is
/// at least `slowest` s; returns them all.
fn wait_exemplars(addr: SocketAddr, selector: &str, start: f64, slowest: f64) -> Vec<Stored> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = query_exemplars(addr, selector, start);
        if found.iter().any(|e| e.value >= slowest) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{selector}: no exemplar of at least {slowest} s in 60 s: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Checks exemplars of endpoint `name` as `what` stored them: there are some; each is a
/// request of that endpoint (its ids those the request sent), its value within 5 ms of
/// Locust's time for it; the slowest (the top bucket's) is one of the slowest 1 % of the
/// endpoint's requests. Says what it saw.
fn assert_exemplars_of(what: &str, found: &[Stored], run: &Traced, name: &str) {
    assert!(!found.is_empty(), "{what}: no exemplar");
    for e in found {
        let Some((n, ms)) = run.by_ids.get(&(e.trace_id.clone(), e.span_id.clone())) else {
            panic!("{what}: exemplar {e:?} is no request of the run")
        };
        assert_eq!(n, name, "{what}: {e:?} is a request of {n}");
        assert!(
            (e.value * 1000.0 - ms).abs() <= 5.0,
            "{what}: {e:?} says {} ms, Locust measured {ms} ms",
            e.value * 1000.0
        );
        assert_eq!(e.series.get("name").map(String::as_str), Some(name));
    }
    let top = found
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .unwrap();
    let (_, top_ms) = run.by_ids[&(top.trace_id.clone(), top.span_id.clone())];
    let times = &run.times[name];
    let slower = times.iter().filter(|&&t| t > top_ms).count();
    assert!(
        (slower as f64) < 0.01 * times.len() as f64,
        "{what}: the top exemplar ({top_ms} ms) has {slower} of {} requests slower than it",
        times.len()
    );
    eprintln!(
        "{what}: {} exemplars of {name}, all its requests; top {:.1} ms, {slower} of {} requests slower",
        found.len(),
        top.value * 1000.0,
        times.len()
    );
}

/// `locust --otel` (requests instrumentation on, exponential histograms, spans exported)
/// against the target's `/tail` (every 100th answer 400 ms) into an exporter reading
/// requests from the spans, scraped by Prometheus 3.5 with exemplar storage in OpenMetrics
/// (classic buckets) and in protobuf (native histograms).
#[test]
fn locust_otel_slow_requests_link_to_their_traces_in_openmetrics_and_protobuf() {
    let test = "locust_otel_slow_requests_link_to_their_traces_in_openmetrics_and_protobuf";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let exporter = Exporter::spawn(&[
        "--otlp.listen-address",
        "127.0.0.1:0",
        "--otlp.requests-from",
        "spans",
    ]);
    let config = job("om", "OpenMetricsText1.0.0", "", exporter.addr)
        + &job(
            "proto",
            "PrometheusProto",
            "    always_scrape_classic_histograms: true\n",
            exporter.addr,
        );
    // `always_scrape_classic_histograms`: Prometheus 3.5's protobuf parser takes native
    // exemplars of only the first histogram of a family otherwise (docs/exemplars.md).
    let Some(prom) = Prometheus::start_v3(test, &config, &[FEATURES]) else {
        return;
    };
    let started = now() - 5.0;
    let addr = otlp_addr(&exporter);
    let run = traced_run(&bin, &traced_locustfile(), 10, |cmd| {
        otel_to(cmd, addr, "grpc", true);
        cmd.env("OTEL_BSP_SCHEDULE_DELAY", "500");
    });
    // Every request of /tail came as a span (none lost on the way).
    wait_every_tail(&exporter, "locust", &run);
    let slowest = run.slowest_seconds("/tail");
    // The exemplar of the slowest request has a value of about its span's duration.
    let wanted = slowest * 0.98;
    let om = wait_exemplars(
        prom.addr,
        r#"locust_request_duration_seconds_bucket{job="om",name="/tail"}"#,
        started,
        wanted,
    );
    assert_exemplars_of("OpenMetrics scrape", &om, &run, "/tail");
    assert!(
        om.iter().all(|e| e.series.contains_key("le")),
        "classic bucket series"
    );
    let proto = wait_exemplars(
        prom.addr,
        r#"locust_request_duration_seconds{job="proto",name="/tail"}"#,
        started,
        wanted,
    );
    assert_exemplars_of("protobuf scrape (native histogram)", &proto, &run, "/tail");
    assert!(proto.iter().all(|e| e.timestamp > started));
    // The requests counter carries the newest traced request, in both formats.
    for job in ["om", "proto"] {
        let selector = format!(r#"locust_requests_total{{job="{job}",name="/tail"}}"#);
        let found = wait_exemplars(prom.addr, &selector, started, 0.0);
        for e in &found {
            let request = run.by_ids.get(&(e.trace_id.clone(), e.span_id.clone()));
            assert_eq!(
                request.map(|(n, _)| n.as_str()),
                Some("/tail"),
                "{job}: counter exemplar {e:?}"
            );
        }
        eprintln!(
            "{job}: {} exemplars on locust_requests_total of /tail",
            found.len()
        );
    }
    // What the dashboard's latency panels ask Grafana for finds them too.
    for (title, expr) in crate::dashboard::exemplar_queries() {
        let found: Vec<Stored> = query_exemplars(prom.addr, &expr, started)
            .into_iter()
            .filter(|e| e.series.get("name").map(String::as_str) == Some("/tail"))
            .collect();
        assert_exemplars_of(&format!("dashboard: {title}"), &found, &run, "/tail");
    }
}

/// `locust --otel` with each task in a span of its own: the SDK attaches exemplars to Locust's
/// `locust.client.duration` points, which the exporter reads as requests (the default).
/// Each exemplar Prometheus stores (OpenMetrics scrape) is a request of its endpoint: its trace
/// is the request's, its value Locust's time for it. (The SDK samples a point's exemplars at
/// random, so which of the slow ones is shown is its choice, not the exporter's.)
#[test]
fn locust_otel_point_exemplars_of_task_spans_reach_prometheus() {
    let test = "locust_otel_point_exemplars_of_task_spans_reach_prometheus";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let exporter = Exporter::spawn(&["--otlp.listen-address", "127.0.0.1:0"]);
    let config = job("om", "OpenMetricsText1.0.0", "", exporter.addr);
    let Some(prom) = Prometheus::start_v3(test, &config, &[FEATURES]) else {
        return;
    };
    let started = now() - 5.0;
    let addr = otlp_addr(&exporter);
    let run = traced_run(&bin, &traced_locustfile(), 8, |cmd| {
        otel_to(cmd, addr, "grpc", true);
        cmd.env("TASK_SPAN", "1");
    });
    wait_every_tail(&exporter, "locust", &run);
    let found = wait_exemplars(
        prom.addr,
        r#"locust_request_duration_seconds_bucket{job="om",name="/tail"}"#,
        started,
        0.0,
    );
    // By trace: the exemplar's span is the task's, the request's span its child.
    let traces: HashMap<&str, f64> = run
        .by_ids
        .iter()
        .filter(|(_, (name, _))| name == "/tail")
        .map(|((t, _), (_, ms))| (t.as_str(), *ms))
        .collect();
    for e in &found {
        let Some(ms) = traces.get(e.trace_id.as_str()) else {
            panic!("{e:?}: no request of /tail in that trace")
        };
        assert!(
            (e.value * 1000.0 - ms).abs() < 1e-6,
            "{e:?}: Locust measured {ms} ms"
        );
    }
    eprintln!(
        "SDK point exemplars: {} of /tail stored, each a request of it (exact values)",
        found.len()
    );
}

/// The plugin (`--exporter-events`), each request sending its own `traceparent`, followed by
/// two exporters remote-writing with 1.0 and 2.0 into one Prometheus 3.5, which also scrapes
/// one of them in OpenMetrics: exemplars in all three, each a request of its endpoint.
#[test]
fn plugin_traceparent_exemplars_reach_prometheus_through_remote_write_1_0_and_2_0() {
    let test = "plugin_traceparent_exemplars_reach_prometheus_through_remote_write_1_0_and_2_0";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let source = format!("load={}", events.display());
    let placeholder = free_addr();
    let config = job("om", "OpenMetricsText1.0.0", "", placeholder);
    // Prometheus first (its remote-write receiver on), then the exporters writing to it.
    let Some(prom) = Prometheus::start_v3(
        test,
        &config,
        &[
            FEATURES,
            "--web.enable-remote-write-receiver",
            "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
            "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request",
        ],
    ) else {
        return;
    };
    let url = format!("http://{}/api/v1/write", prom.addr);
    let listen = placeholder.to_string();
    let writers: Vec<Exporter> = ["1.0", "2.0"]
        .iter()
        .map(|protocol| {
            let label = format!("writer={protocol}");
            let mut args = vec![
                "--events",
                &source,
                "--remote-write.url",
                &url,
                "--remote-write.protocol",
                protocol,
                "--remote-write.interval",
                "1s",
                "--remote-write.label",
                &label,
            ];
            // The first one also listens where Prometheus scrapes.
            if *protocol == "1.0" {
                args.extend(["--web.listen-address", &listen]);
            }
            Exporter::spawn(&args)
        })
        .collect();
    let started = now() - 5.0;
    let files = format!(
        "{},{}",
        root().join("contrib/locust_exporter_plugin.py").display(),
        traced_locustfile()
    );
    let run = traced_run(&bin, &files, 10, |cmd| {
        cmd.args(["--exporter-events", &events.display().to_string()])
            .env("OWN_TRACEPARENT", "1");
    });
    for w in &writers {
        wait_every_tail(w, "load", &run);
    }
    let slowest = run.slowest_seconds("/tail");
    for (what, selector) in [
        (
            "remote write 1.0",
            r#"locust_request_duration_seconds_bucket{writer="1.0",name="/tail"}"#,
        ),
        (
            "remote write 1.0 (native histogram)",
            r#"locust_request_duration_seconds{writer="1.0",name="/tail"}"#,
        ),
        (
            "remote write 2.0",
            r#"locust_request_duration_seconds_bucket{writer="2.0",name="/tail"}"#,
        ),
        (
            "remote write 2.0 (native histogram)",
            r#"locust_request_duration_seconds{writer="2.0",name="/tail"}"#,
        ),
        (
            "OpenMetrics scrape",
            r#"locust_request_duration_seconds_bucket{job="om",name="/tail"}"#,
        ),
    ] {
        // The plugin's exemplars carry Locust's own times: the slowest one exactly.
        let found = wait_exemplars(prom.addr, selector, started, slowest * 0.999);
        assert_exemplars_of(what, &found, &run, "/tail");
    }
    drop(writers);
}

/// An instant query evaluated at `time`: its first value.
fn query_at(addr: SocketAddr, promql: &str, time: f64) -> Option<f64> {
    let path = format!("/api/v1/query?query={}&time={time}", percent_encode(promql));
    let (status, _, body) = http_get(addr, &path, None);
    assert_eq!(status, 200, "{path}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// With created-timestamp ingestion, a counter's first scrape adds a zero at its created
/// time: `increase()` over a window that starts before the run is the run's exact total,
/// in protobuf and in OpenMetrics (`_created`). Requests arrive in two bursts, the first
/// after Prometheus has scraped the exporter several times without them.
#[test]
fn increase_over_a_runs_start_is_exact_with_created_timestamps() {
    let test = "increase_over_a_runs_start_is_exact_with_created_timestamps";
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let source = format!("ct={}", events.display());
    let exporter = Exporter::spawn(&["--events", &source]);
    let config = format!(
        "  - job_name: proto\n    scrape_protocols: [PrometheusProto]\n    static_configs:\n      - targets: ['{0}']\n\
         \x20 - job_name: om\n    scrape_protocols: [OpenMetricsText1.0.0]\n    static_configs:\n      - targets: ['{0}']\n",
        exporter.addr
    );
    let Some(prom) = Prometheus::start_v3(test, &config, &[FEATURES]) else {
        return;
    };
    let window_start = now();
    // Scraped a few times with no requests yet.
    prom.wait_query(30, r#"count_over_time(up{job="proto"}[1m])"#, |v| {
        v.is_some_and(|n| n >= 3.0)
    });
    let burst = |n: usize| {
        use std::io::Write;
        let t = now();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&events)
            .unwrap();
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "{{\"event\":\"request\",\"time\":{t},\"request_type\":\"GET\",\"name\":\"/r\",\"response_time\":{},\"response_length\":1,\"exception\":null}}\n",
                i % 50
            ));
        }
        f.write_all(text.as_bytes()).unwrap();
    };
    burst(1234);
    exporter.wait_for(10, "the first burst", |m| {
        m.get("locust_requests_total", &[("name", "/r")]) == Some(1234.0)
    });
    let selector = |job: &str| format!(r#"locust_requests_total{{job="{job}",name="/r"}}"#);
    for job in ["proto", "om"] {
        prom.wait_query(30, &selector(job), |v| v == Some(1234.0));
    }
    burst(766);
    for job in ["proto", "om"] {
        prom.wait_query(30, &selector(job), |v| v == Some(2000.0));
        // Evaluated at the newest sample's own time (nothing to extrapolate at the end), over
        // a window from before the exporter had any request.
        let at = prom
            .query(&format!("timestamp({})", selector(job)))
            .unwrap();
        let window = (at - window_start + 5.0).ceil();
        let increase = query_at(
            prom.addr,
            &format!("increase({}[{window}s])", selector(job)),
            at,
        );
        let rate = query_at(
            prom.addr,
            &format!("rate({}[{window}s])", selector(job)),
            at,
        );
        eprintln!("{job}: increase over {window} s = {increase:?}, rate = {rate:?}");
        assert_eq!(
            increase,
            Some(2000.0),
            "{job}: increase() over the run's start"
        );
        let rate = rate.unwrap();
        assert!(
            (rate * window - 2000.0).abs() < 1e-6,
            "{job}: rate() × window = {}",
            rate * window
        );
    }
}
