//! Every mix of inputs into one exporter, scraped by a real Prometheus 3.5 in protobuf,
//! OpenMetrics and text: `up` stays 1 and every service's series are there. Two `locust
//! --otel` runs into one service — one with the SDK's default (explicit) histograms, one with
//! exponential ones — once made a protobuf exposition Prometheus refused whole ("395
//! observations found in buckets, but the Count field is 770"): every series of every service
//! was lost.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Scrape jobs for each exporter address, one per exposition format.
fn jobs(exporters: &[(&str, std::net::SocketAddr)]) -> String {
    let mut out = String::new();
    for (name, addr) in exporters {
        for (format, protocol) in [
            ("protobuf", "PrometheusProto"),
            ("openmetrics", "OpenMetricsText1.0.0"),
            ("text", "PrometheusText0.0.4"),
        ] {
            out.push_str(&format!(
                "  - job_name: {name}-{format}\n    scrape_protocols: [{protocol}]\n    static_configs:\n      - targets: ['{addr}']\n"
            ));
        }
    }
    out
}

/// Replays the recorded bodies of `recordings` (of `fixtures/otlp/`), in order, into the
/// exporter's receiver: every body accepted.
fn replay(exporter: &Exporter, recordings: &[&str]) {
    let addr = otlp_addr(exporter);
    for rec in recordings {
        for (signal, body) in bodies(&fixture(&format!("otlp/{rec}"))) {
            let (status, _, _) = post(
                addr,
                &format!("/v1/{signal}"),
                "Content-Type: application/x-protobuf\r\n",
                &body,
            );
            assert_eq!(status, 200, "{rec} {signal}");
        }
    }
}

/// Waits (bounded) until every job has been scraped `n` more times than now, then checks
/// that every scrape of every job worked and that each service of `services` has series in
/// every job.
fn assert_every_scrape_works(p: &Prometheus, jobs: &[String], services: &[&str]) {
    let scrapes = |job: &str| {
        p.query(&format!(r#"count_over_time(up{{job="{job}"}}[10m])"#))
            .unwrap_or(0.0)
    };
    let start: Vec<f64> = jobs.iter().map(|j| scrapes(j)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while jobs.iter().zip(&start).any(|(j, s)| scrapes(j) < s + 4.0) {
        assert!(Instant::now() < deadline, "scrapes stalled");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, _, targets) = http_get(p.addr, "/api/v1/targets", None);
    for job in jobs {
        let worst = p.query(&format!(r#"min_over_time(up{{job="{job}"}}[10m])"#));
        let (_, _, ups) = http_get(
            p.addr,
            &format!("/api/v1/query?query=up%7Bjob%3D%22{job}%22%7D%5B10m%5D"),
            None,
        );
        assert_eq!(worst, Some(1.0), "{job}: a scrape failed: {targets}\n{ups}");
        for service in services {
            let n = p
                .query(&format!(
                    r#"count({{job="{job}",service="{service}",__name__=~"locust_.+"}})"#
                ))
                .unwrap_or(0.0);
            assert!(n > 10.0, "{job}: {n} series of {service}");
        }
    }
}

/// One exporter per way OTLP requests are read (duration metrics, or spans), each fed CSV
/// files, plugin batches, per-request events, and the explicit and exponential recordings
/// of `locust --otel` — into the same service (`locust`: both OTLP kinds and per-request
/// events; `both`: CSV files and batches) and into services of their own.
#[test]
fn every_mix_of_inputs_is_scraped_whole_in_every_format() {
    let test = "every_mix_of_inputs_is_scraped_whole_in_every_format";
    let csv = tempfile::tempdir().unwrap();
    for f in [
        "run_stats.csv",
        "run_stats_history.csv",
        "run_failures.csv",
        "run_exceptions.csv",
    ] {
        std::fs::copy(
            fixture(&format!("locust-2.47.0/standalone-full-history/{f}")),
            csv.path().join(f),
        )
        .unwrap();
    }
    let prefix = csv.path().join("run").display().to_string();
    let batches = fixture("events/locust-2.47.0-standalone-batches.jsonl")
        .display()
        .to_string();
    let requests = fixture("events/locust-2.47.0-standalone.jsonl")
        .display()
        .to_string();
    let inputs = [
        format!("csv={prefix}"),
        format!("both={prefix}"),
        format!("both={batches}"),
        format!("batches={batches}"),
        format!("locust={requests}"),
    ];
    let mut args: Vec<&str> = vec!["--otlp.listen-address", "127.0.0.1:0"];
    for (i, input) in inputs.iter().enumerate() {
        args.push(if i < 2 { "--csv" } else { "--events" });
        args.push(input);
    }
    let metrics = Exporter::spawn(&args);
    let mut spans_args = args.clone();
    spans_args.extend(["--otlp.requests-from", "spans"]);
    let spans = Exporter::spawn(&spans_args);
    let config = jobs(&[("metrics", metrics.addr), ("spans", spans.addr)]);
    let Some(p) = Prometheus::start_v3(test, &config, &[]) else {
        return;
    };
    let names: Vec<String> = ["metrics", "spans"]
        .iter()
        .flat_map(|e| ["protobuf", "openmetrics", "text"].map(|f| format!("{e}-{f}")))
        .collect();
    replay(
        &metrics,
        &["locust-2.47.0-explicit", "locust-2.47.0-exponential"],
    );
    replay(
        &spans,
        &["locust-2.47.0-exponential", "locust-2.47.0-explicit"],
    );
    // Both kinds of OTLP histogram on one endpoint, served as they add up.
    let m = metrics.scrape();
    let explicit = json_totals(&fixture("otlp/locust-2.47.0-explicit/final.json"));
    let exponential = json_totals(&fixture("otlp/locust-2.47.0-exponential/final.json"));
    let slash = |t: &std::collections::BTreeMap<(String, String), (f64, f64)>| {
        t.iter()
            .find(|((_, n), _)| n == "/")
            .map(|(_, v)| v.0)
            .unwrap()
    };
    assert_eq!(
        m.get(
            "locust_requests_total",
            &[("service", "locust"), ("method", ""), ("name", "/")]
        ),
        Some(slash(&explicit) + slash(&exponential))
    );
    assert_every_scrape_works(&p, &names, &["locust", "csv", "both", "batches"]);
}

/// Two real `locust --otel` runs into one exporter, one service: the SDK's default
/// (explicit) histograms, then exponential ones (and the reverse order), scraped by a real
/// Prometheus 3.5 in protobuf: `up` is 1 throughout and both runs' series are there, beside
/// another service's.
#[test]
fn two_otel_runs_explicit_and_exponential_keep_every_scrape_whole() {
    let test = "two_otel_runs_explicit_and_exponential_keep_every_scrape_whole";
    let Some(bin) = venv_bin(test) else {
        return;
    };
    for order in [[false, true], [true, false]] {
        let target = Target::start(&bin);
        let csv = fixture("locust-2.47.0/standalone-full-history/run")
            .display()
            .to_string();
        let exporter = Exporter::spawn(&[
            "--otlp.listen-address",
            "127.0.0.1:0",
            "--csv",
            &format!("csv={csv}"),
        ]);
        let addr = otlp_addr(&exporter);
        let config = format!(
            "  - job_name: proto\n    scrape_protocols: [PrometheusProto]\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        );
        let Some(p) = Prometheus::start_v3(test, &config, &[]) else {
            return;
        };
        let mut served = 0.0;
        for exponential in order {
            let mut cmd = locust_command(&bin, &target, 6, false);
            otel_to(&mut cmd, addr, "grpc", exponential);
            cmd.stdout(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            wait_child(&mut child, 60);
            // The run's last export served: the count of `/` grew.
            let m = exporter.wait_for(20, "the run's requests", |m| {
                m.get(
                    "locust_requests_total",
                    &[("service", "locust"), ("method", ""), ("name", "/")],
                )
                .is_some_and(|n| n > served)
            });
            served = m
                .get(
                    "locust_requests_total",
                    &[("service", "locust"), ("method", ""), ("name", "/")],
                )
                .unwrap();
        }
        assert_every_scrape_works(&p, &["proto".to_owned()], &["locust", "csv"]);
        let n = p
            .query(r#"count(locust_request_duration_seconds_count{job="proto",service="locust"})"#)
            .unwrap_or(0.0);
        assert!(n >= 5.0, "order {order:?}: {n} histograms of the two runs");
    }
}
