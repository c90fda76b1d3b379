#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! OTLP ingest (`--otlp.listen-address`): export requests decoded, mapped and applied to the
//! model through [`Ingest`] as the receiver hands them over, on one core (single-threaded,
//! no I/O: the time is CPU time). Throughput is counted in data points (metrics) or spans
//! (traces):
//! * `metrics_protobuf`: 20 cumulative exports of 100 endpoints' `locust.client.duration`
//!   exponential points (scale 5, 40 buckets each), as the Python SDK sends them;
//! * `metrics_json`: the same exports as OTLP/JSON;
//! * `metrics_recorded`: every metrics body of `fixtures/otlp/locust-2.47.0-exponential`
//!   (a real `locust --otel` run: duration points among the instrumentations' own);
//! * `spans_protobuf`: 20 exports of 500 HTTP client spans each with
//!   `--otlp.requests-from spans` (5 % failed);
//! * `spans_recorded`: every traces body of the same recording.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use locust_exporter::ingest::Ingest;
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::parse::otlp::proto::*;
use locust_exporter::parse::otlp::{Encoding, Options, Receiving, RequestsFrom, Signal};
use locust_exporter::source::otlp;
use prost::Message;
use std::path::Path;

/// Exports per variant, endpoints per export, buckets per point, spans per export.
const EXPORTS: usize = 20;
const ENDPOINTS: usize = 100;
const BUCKETS: usize = 40;
const SPANS: usize = 500;
/// 2025-12-01T00:00:00Z in ns.
const T0: u64 = 1_764_547_200_000_000_000;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

/// Export `k` (0-based) of the synthetic metrics: cumulative, so each point holds k + 1
/// times the first one's counts.
fn metrics_export(k: usize) -> ExportMetricsServiceRequest {
    let times = k as u64 + 1;
    let points = (0..ENDPOINTS)
        .map(|e| {
            let counts: Vec<u64> = (0..BUCKETS).map(|i| (1 + i as u64 % 7) * times).collect();
            let count = counts.iter().sum();
            ExponentialHistogramDataPoint {
                attributes: vec![kv("name", Value::StringValue(format!("/item/{e}")))],
                start_time_unix_nano: T0,
                time_unix_nano: T0 + times * 1_000_000_000,
                count,
                sum: Some(count as f64 * 0.05),
                scale: 5,
                positive: Some(Buckets {
                    offset: -160,
                    bucket_counts: counts,
                }),
                min: Some(0.031),
                max: Some(0.074),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("locust".into()))],
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "locust.client.duration".into(),
                    unit: "s".into(),
                    data: Some(MetricData::ExponentialHistogram(ExponentialHistogram {
                        data_points: points,
                        aggregation_temporality: TEMPORALITY_CUMULATIVE,
                    })),
                }],
            }],
        }],
    }
}

/// The same export as OTLP/JSON (integers as strings, as the spec's JSON mapping writes them).
fn metrics_json(k: usize) -> Vec<u8> {
    let m = metrics_export(k);
    let Some(MetricData::ExponentialHistogram(h)) =
        &m.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        unreachable!()
    };
    let points: Vec<String> = h
        .data_points
        .iter()
        .map(|p| {
            let Some(Value::StringValue(name)) = &p.attributes[0].value.as_ref().unwrap().value
            else {
                unreachable!()
            };
            let b = p.positive.as_ref().unwrap();
            let counts: Vec<String> = b.bucket_counts.iter().map(|c| format!("\"{c}\"")).collect();
            format!(
                r#"{{"attributes":[{{"key":"name","value":{{"stringValue":"{name}"}}}}],"startTimeUnixNano":"{}","timeUnixNano":"{}","count":"{}","sum":{:?},"scale":5,"zeroCount":"0","positive":{{"offset":{},"bucketCounts":[{}]}},"min":0.031,"max":0.074}}"#,
                p.start_time_unix_nano,
                p.time_unix_nano,
                p.count,
                p.sum.unwrap(),
                b.offset,
                counts.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"locust"}}}}]}},"scopeMetrics":[{{"metrics":[{{"name":"locust.client.duration","unit":"s","exponentialHistogram":{{"aggregationTemporality":2,"dataPoints":[{}]}}}}]}}]}}]}}"#,
        points.join(",")
    )
    .into_bytes()
}

/// Export `k` of the synthetic traces: `SPANS` client spans, as Locust's hook names them.
fn spans_export(k: usize) -> ExportTraceServiceRequest {
    let spans = (0..SPANS)
        .map(|i| {
            let start = T0 + (k * SPANS + i) as u64 * 1_000_000;
            let failed = i % 20 == 0;
            // Every span has its ids, as real ones do (the exporter keeps some as exemplars).
            let id = (k * SPANS + i + 1) as u64;
            Span {
                trace_id: [id.to_le_bytes(), id.to_be_bytes()].concat(),
                span_id: id.to_be_bytes().to_vec(),
                name: format!("GET /item/{}", i % ENDPOINTS),
                kind: SPAN_KIND_CLIENT,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 3_000_000 + (i as u64 % 300) * 731_000,
                attributes: vec![
                    kv("http.method", Value::StringValue("GET".into())),
                    kv(
                        "http.url",
                        Value::StringValue(format!("http://127.0.0.1:8089/item/{}", i % 1000)),
                    ),
                    kv(
                        "http.status_code",
                        Value::IntValue(if failed { 500 } else { 200 }),
                    ),
                ],
                status: failed.then(|| Status {
                    message: String::new(),
                    code: STATUS_CODE_ERROR,
                }),
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans { spans }],
        }],
    }
}

/// The bodies of `signal` in a recording, in the order Locust sent them.
fn recorded(signal: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/otlp/locust-2.47.0-exponential");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&format!(".{signal}.pb")))
        })
        .collect();
    files.sort();
    let bodies: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(
        !bodies.is_empty(),
        "no {signal} bodies in {}",
        dir.display()
    );
    bodies
}

/// Data points or spans in `bodies` (every one read: used, ignored or rejected).
fn items(signal: Signal, encoding: Encoding, bodies: &[Vec<u8>], options: &Options) -> u64 {
    let mut r = Receiving::new(options.clone());
    bodies
        .iter()
        .map(|b| {
            let e = r.export(signal, encoding, b, 1_764_547_300.0).unwrap();
            e.accepted + e.ignored + e.rejected
        })
        .sum()
}

/// Every body mapped and through a fresh ingest, as the receiver hands them over.
fn ingest_all(signal: Signal, encoding: Encoding, bodies: &[Bytes], options: &Options) -> Ingest {
    let mut receiving = Receiving::new(options.clone());
    let mut ingest = Ingest::new(Model::new(ModelConfig::default()));
    for body in bodies {
        let export = receiving
            .export(signal, encoding, body, 1_764_547_300.0)
            .unwrap();
        for chunk in otlp::chunks(otlp::SOURCE, export) {
            ingest.apply(chunk, 1_764_547_300.0);
        }
    }
    ingest
}

/// A variant: its name, what its bodies carry and how, the bodies, the receiver's options.
type Variant<'a> = (&'a str, Signal, Encoding, Vec<Vec<u8>>, &'a Options);

fn bench(c: &mut Criterion) {
    let metrics = Options::default();
    let spans = Options {
        requests_from: RequestsFrom::Spans,
        ..Options::default()
    };
    let variants: Vec<Variant> = vec![
        (
            "metrics_protobuf",
            Signal::Metrics,
            Encoding::Protobuf,
            (0..EXPORTS)
                .map(|k| metrics_export(k).encode_to_vec())
                .collect(),
            &metrics,
        ),
        (
            "metrics_json",
            Signal::Metrics,
            Encoding::Json,
            (0..EXPORTS).map(metrics_json).collect(),
            &metrics,
        ),
        (
            "metrics_recorded",
            Signal::Metrics,
            Encoding::Protobuf,
            recorded("metrics"),
            &metrics,
        ),
        (
            "spans_protobuf",
            Signal::Traces,
            Encoding::Protobuf,
            (0..EXPORTS)
                .map(|k| spans_export(k).encode_to_vec())
                .collect(),
            &spans,
        ),
        (
            "spans_recorded",
            Signal::Traces,
            Encoding::Protobuf,
            recorded("traces"),
            &spans,
        ),
    ];
    let mut group = c.benchmark_group("otlp");
    group.sample_size(10);
    for (name, signal, encoding, bodies, options) in variants {
        let n = items(signal, encoding, &bodies, options);
        assert!(n > 0, "{name}: nothing read");
        group.throughput(Throughput::Elements(n));
        let bodies: Vec<Bytes> = bodies.into_iter().map(Bytes::from).collect();
        group.bench_function(name, |b| {
            b.iter(|| ingest_all(signal, encoding, &bodies, options))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
