//! The three exposition formats: what each answer looks like, gzip, and a real Prometheus
//! 2.42 (`--enable-feature=native-histograms`) storing the same series and values whichever
//! format it negotiated.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::support::*;

const PROTOBUF: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";
/// What Prometheus 2.42 asks for with `--enable-feature=native-histograms`.
const PROMETHEUS_NATIVE: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

fn inputs() -> Vec<String> {
    let events = fixture("events/locust-2.47.0-standalone.jsonl");
    vec![
        "--csv".into(),
        fixture("locust-2.47.0/standalone-full-history/run")
            .display()
            .to_string(),
        "--events".into(),
        format!("shop={}", events.display()),
    ]
}

/// (method, name) → the time of its first request in the events fixture.
fn first_request_times() -> BTreeMap<(String, String), f64> {
    let text = std::fs::read_to_string(fixture("events/locust-2.47.0-standalone.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "request" {
            let key = (
                v["request_type"].as_str().unwrap().to_owned(),
                v["name"].as_str().unwrap().to_owned(),
            );
            out.entry(key).or_insert(v["time"].as_f64().unwrap());
        }
    }
    out
}

fn spawn(extra: &[&str]) -> Exporter {
    let mut args: Vec<String> = inputs();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ex = Exporter::spawn(&args);
    // Ready: the first snapshot is published (whatever format the exporter offers).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http_get(ex.addr, "/-/ready", None).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ex
}

fn get(ex: &Exporter, accept: Option<&str>, gzip: bool) -> (String, Vec<u8>) {
    let mut headers = String::new();
    if let Some(a) = accept {
        headers.push_str(&format!("Accept: {a}\r\n"));
    }
    if gzip {
        headers.push_str("Accept-Encoding: gzip\r\n");
    }
    let (status, head, body) = http_request(ex.addr, "GET", "/metrics", &headers);
    assert_eq!(status, 200, "{head}");
    (head, body)
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Each Accept header gets its format and content type; gzip of every format decompresses to
/// the very bytes of the identity answer (one snapshot: the inputs are static).
#[test]
fn each_format_negotiated_and_gzipped() {
    let ex = spawn(&[]);
    // Let the run go stopped, so nothing changes between the answers compared.
    ex.wait_for(20, "stopped", |m| {
        m.get("locust_state", &[("service", "shop"), ("state", "stopped")]) == Some(1.0)
    });
    let cases = [
        (None, "text/plain; version=0.0.4"),
        (Some("text/plain"), "text/plain; version=0.0.4"),
        (
            Some(OPENMETRICS),
            "application/openmetrics-text; version=1.0.0",
        ),
        (Some(PROTOBUF), "application/vnd.google.protobuf"),
        (Some(PROMETHEUS_NATIVE), "application/vnd.google.protobuf"),
    ];
    for (accept, want) in cases {
        let (head, plain) = get(&ex, accept, false);
        let content_type = header_value(&head, "content-type").unwrap();
        assert!(content_type.starts_with(want), "{accept:?}: {content_type}");
        assert!(header_value(&head, "vary").unwrap().contains("Accept"));
        let (head, zipped) = get(&ex, accept, true);
        assert_eq!(
            header_value(&head, "content-encoding").as_deref(),
            Some("gzip")
        );
        assert!(
            zipped.len() < plain.len() / 3,
            "{accept:?}: gzip compresses"
        );
        assert_eq!(gunzip(&zipped), plain, "{accept:?}: gzip is the same bytes");
    }
    // OpenMetrics: units, counters' family names without _total, the seed's counters kept
    // by name as `unknown`, _created for event counters, # EOF last.
    let (_, om) = get(&ex, Some(OPENMETRICS), false);
    let om = String::from_utf8(om).unwrap();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE locust_requests counter\n"));
    assert!(om.contains("# TYPE locust_stats_num_requests unknown\n"));
    assert!(om.contains("# UNIT locust_response_time_seconds seconds\n"));
    assert!(om.contains("# UNIT locust_response_bytes bytes\n"));
    assert!(om.contains("locust_requests_created{service=\"shop\",method=\"GET\",name=\"/\"}"));
    // The same samples as text, but for the _created lines.
    let (_, text) = get(&ex, None, false);
    let text = String::from_utf8(text).unwrap();
    let samples = |s: &str| -> BTreeSet<String> {
        s.lines()
            .filter(|l| {
                !l.starts_with('#') && !l.contains("_created{") && !l.starts_with("process_")
            })
            .filter(|l| {
                !l.starts_with("locust_exporter_http") && !l.starts_with("locust_last_update")
            })
            .map(str::to_owned)
            .collect()
    };
    let (text_samples, om_samples) = (samples(&text), samples(&om));
    let only_text: Vec<_> = text_samples.difference(&om_samples).collect();
    let only_om: Vec<_> = om_samples.difference(&text_samples).collect();
    assert!(
        only_text.is_empty() && only_om.is_empty(),
        "text only: {only_text:#?}\nOpenMetrics only: {only_om:#?}"
    );
    assert_promtool_clean(&text);
}

/// `--web.formats` limits what is offered; a scraper that asks for nothing offered gets text
/// (or the first listed).
#[test]
fn web_formats_limits_the_offer() {
    let ex = spawn(&["--web.formats", "text,openmetrics"]);
    let (head, _) = get(&ex, Some(PROMETHEUS_NATIVE), false);
    assert!(header_value(&head, "content-type")
        .unwrap()
        .starts_with("text/plain"));
    drop(ex);
    let ex = spawn(&["--web.formats", "protobuf"]);
    let (head, _) = get(&ex, Some("text/plain"), false);
    assert!(header_value(&head, "content-type")
        .unwrap()
        .starts_with("application/vnd.google.protobuf"));
    let (code, _, err) = run(&["--events", "-", "--web.formats", "json"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--web.formats") && err.contains("json"),
        "{err}"
    );
}

/// One Prometheus 2.42 with native histograms on, three scrape jobs of the same inputs, one
/// exporter each offering only text, OpenMetrics or protobuf: the seed and native sets are
/// stored as the same series with the same values. With protobuf, Prometheus 2.42 keeps the
/// native histogram of `locust_request_duration_seconds` instead of its classic series (it
/// reads one or the other); its count and sum equal the classic `_count` and `_sum`.
#[test]
fn prometheus_stores_the_same_series_from_every_format() {
    let exporters: Vec<(&str, Exporter)> = ["text", "openmetrics", "protobuf"]
        .into_iter()
        .map(|f| (f, spawn(&["--web.formats", f])))
        .collect();
    let jobs: Vec<(&str, Vec<std::net::SocketAddr>, bool)> = exporters
        .iter()
        .map(|(f, ex)| (*f, vec![ex.addr], false))
        .collect();
    let Some(prometheus) = Prometheus::start_jobs(
        "prometheus_stores_the_same_series_from_every_format",
        &jobs,
        &["--enable-feature=native-histograms"],
    ) else {
        return;
    };
    // Every job scraped once all three exporters' runs went stopped.
    for (job, _) in &exporters {
        prometheus.wait_query(
            60,
            &format!(r#"sum(locust_state{{job="{job}",state="stopped"}})"#),
            |v| v == Some(2.0),
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stored = |job: &str| -> BTreeMap<String, f64> {
        prometheus
            .query_all(&format!(
                r#"{{job="{job}",__name__=~"locust_.+",__name__!~"locust_exporter_.+"}}"#
            ))
            .into_iter()
            .map(|(mut labels, v)| {
                labels.remove("job");
                labels.remove("instance");
                (format!("{labels:?}"), v)
            })
            .collect()
    };
    let text = stored("text");
    assert!(text.len() > 300, "{} series", text.len());
    let same_values = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, job: &str| {
        for (k, v) in a {
            // Arrival times differ between the exporters by design.
            if k.contains("locust_last_update_timestamp_seconds") {
                continue;
            }
            assert_eq!(b.get(k), Some(v), "{job}: {k}");
        }
    };
    let mut om = stored("openmetrics");
    // OpenMetrics adds the event counters' `_created` (Prometheus 2.42 stores each as a
    // series): exactly those, each the time of the endpoint's first request.
    let created: BTreeMap<String, f64> = om
        .iter()
        .filter(|(k, _)| k.contains("_created\""))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    om.retain(|k, _| !created.contains_key(k));
    let first_seen = first_request_times();
    assert_eq!(created.len(), 3 * first_seen.len(), "{created:#?}");
    for (k, v) in &created {
        assert!(
            [
                "locust_requests_created",
                "locust_request_failures_created",
                "locust_response_bytes_created"
            ]
            .iter()
            .any(|n| k.contains(&format!("\"{n}\""))),
            "{k}"
        );
        assert!(
            k.contains("\"service\": \"shop\""),
            "only event input knows: {k}"
        );
        let t = first_seen
            .iter()
            .find(|((m, n), _)| {
                k.contains(&format!("\"method\": {m:?}")) && k.contains(&format!("\"name\": {n:?}"))
            })
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("{k}"));
        assert_eq!(*v, t, "{k}");
    }
    let only = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>| -> Vec<String> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    assert!(
        only(&text, &om).is_empty() && only(&om, &text).is_empty(),
        "OpenMetrics: the same series; text only: {:#?}\nOpenMetrics only: {:#?}",
        only(&text, &om),
        only(&om, &text)
    );
    same_values(&text, &om, "openmetrics");
    let proto = stored("protobuf");
    let classic = |k: &String| k.contains("\"locust_request_duration_seconds_");
    let text_rest: Vec<_> = text.keys().filter(|k| !classic(k)).collect();
    let proto_rest: Vec<_> = proto.keys().filter(|k| !classic(k)).collect();
    assert_eq!(
        text_rest, proto_rest,
        "protobuf: the same series but the histogram"
    );
    same_values(
        &text
            .iter()
            .filter(|(k, _)| !classic(k))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        &proto,
        "protobuf",
    );
    assert!(
        !proto.keys().any(classic),
        "2.42 keeps the native histogram"
    );
    let count =
        prometheus.query_all(r#"histogram_count(locust_request_duration_seconds{job="protobuf"})"#);
    assert!(
        count.len() >= 5,
        "a native histogram per endpoint: {count:?}"
    );
    for (mut labels, n) in count {
        let name = labels.remove("name").unwrap();
        let method = labels.remove("method").unwrap();
        let q = |metric: &str| {
            prometheus.query(&format!(
                r#"{metric}{{job="text",service="shop",method="{method}",name="{}"}}"#,
                name.replace('\\', "\\\\").replace('"', "\\\"")
            ))
        };
        assert_eq!(
            Some(n),
            q("locust_request_duration_seconds_count"),
            "{method} {name}"
        );
        let sum = prometheus
            .query(&format!(
                r#"histogram_sum(locust_request_duration_seconds{{job="protobuf",service="shop",method="{method}",name="{}"}})"#,
                name.replace('\\', "\\\\").replace('"', "\\\"")
            ))
            .unwrap();
        let want = q("locust_request_duration_seconds_sum").unwrap();
        assert!(
            (sum - want).abs() <= want * 1e-12,
            "{method} {name}: {sum} ≠ {want}"
        );
    }
}
