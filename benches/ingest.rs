#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! JSON-lines events: parse + apply to the model, per second on one core (target in `docs/performance.md`:
//! ≥ 2 M events/s), for each way a line can be decoded:
//! * `plugin_layout`: the plugin's exact layout with millisecond-rounded times (the layout
//!   the fast template path reads; the figure compared across versions);
//! * `plugin_full_precision`: the same with response times at full precision, as the plugin
//!   writes them (17 significant digits: `str::parse` instead of the plain-decimal path);
//! * `other_key_order`: keys in another order with spaces (the flat scanner);
//! * `escaped_names`: names with JSON escapes (serde_json);
//! * `plugin_batches`: the plugin's aggregated `requests` lines, 100 requests per line
//!   (throughput counted in requests, as the others);
//! * `plugin_traced`: `plugin_layout` with each request's `trace_id` and `span_id` (the
//!   ids read and checked, the slowest of each bucket kept as exemplars).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use locust_exporter::ingest::Ingest;
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::parse::FileRole;
use locust_exporter::source::lines::{LineBatch, LineFramer};
use locust_exporter::source::{Body, Chunk, Origin};
use std::sync::Arc;

/// How the lines of a variant are written.
#[derive(Clone, Copy)]
enum Variant {
    PluginLayout,
    FullPrecision,
    OtherKeyOrder,
    EscapedNames,
    Batches,
    /// The plugin's layout with each request's `trace_id` and `span_id` (exemplars kept).
    Traced,
}

/// Requests per `requests` line in the batches variant.
const PER_BATCH: usize = 100;

/// `n / PER_BATCH` batch lines over 100 endpoints, as the plugin writes them: 100 requests
/// each, 5 failures, times spread over ~60 schema-7 buckets.
fn batches(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n / PER_BATCH {
        let time = 1795542100.0 + i as f64 / 10.0;
        let name = i % 100;
        let buckets: Vec<String> = (0..50)
            .map(|k| format!("[{},{}]", -900 + 3 * k, 2))
            .collect();
        let (lo, hi) = (
            (f64::from(-901) / 128.0).exp2() * 1000.0 * 1.001,
            (f64::from(-900 + 3 * 49) / 128.0).exp2() * 1000.0,
        );
        out.push_str(&format!(
            "{{\"event\":\"requests\",\"time\":{time:.3},\"request_type\":\"GET\",\"name\":\"/item/{name}\",\"requests\":{PER_BATCH},\"errors\":[[\"HTTPError('500 Server Error')\",5]],\"timed\":{PER_BATCH},\"response_time_sum\":{:?},\"response_time_min\":{lo:?},\"response_time_max\":{hi:?},\"response_length_sum\":31415,\"schema\":7,\"zero_count\":0,\"buckets\":[{}]}}\n",
            (lo + hi) / 2.0 * PER_BATCH as f64,
            buckets.join(",")
        ));
    }
    out.into_bytes()
}

/// `n` request lines over 100 endpoints, 5% failures.
fn lines(n: usize, variant: Variant) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        let exception = if i % 20 == 0 {
            "\"HTTPError('500 Server Error')\""
        } else {
            "null"
        };
        let time = 1795542100.0 + i as f64 / 1000.0;
        let ms = 1.0 + (i % 300) as f64 * 0.731;
        let (name, len) = (i % 100, 100 + i % 500);
        out.push_str(&match variant {
            Variant::PluginLayout => format!("{{\"event\":\"request\",\"time\":{time:.3},\"request_type\":\"GET\",\"name\":\"/item/{name}\",\"response_time\":{ms:.3},\"response_length\":{len},\"exception\":{exception}}}\n"),
            Variant::FullPrecision => format!("{{\"event\":\"request\",\"time\":{time:.3},\"request_type\":\"GET\",\"name\":\"/item/{name}\",\"response_time\":{:?},\"response_length\":{len},\"exception\":{exception}}}\n", ms + 1.0 / 3.0),
            Variant::OtherKeyOrder => format!("{{\"name\": \"/item/{name}\", \"request_type\": \"GET\", \"response_time\": {ms:.3}, \"response_length\": {len}, \"exception\": {exception}, \"time\": {time:.3}}}\n"),
            Variant::Batches => unreachable!("batches() writes those"),
            Variant::Traced => format!("{{\"event\":\"request\",\"time\":{time:.3},\"request_type\":\"GET\",\"name\":\"/item/{name}\",\"response_time\":{ms:.3},\"response_length\":{len},\"exception\":{exception},\"trace_id\":\"{:032x}\",\"span_id\":\"{:016x}\"}}\n", i + 1, i + 1),
            Variant::EscapedNames => format!("{{\"event\":\"request\",\"time\":{time:.3},\"request_type\":\"GET\",\"name\":\"/item/\\\"{name}\\\"\",\"response_time\":{ms:.3},\"response_length\":{len},\"exception\":{exception}}}\n"),
        });
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let n = 100_000;
    let origin = Arc::new(Origin {
        service: "locust".into(),
        role: FileRole::Events,
        source: "bench".into(),
    });
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    for (name, variant) in [
        ("plugin_layout", Variant::PluginLayout),
        ("plugin_full_precision", Variant::FullPrecision),
        ("other_key_order", Variant::OtherKeyOrder),
        ("escaped_names", Variant::EscapedNames),
        ("plugin_batches", Variant::Batches),
        ("plugin_traced", Variant::Traced),
    ] {
        let input = match variant {
            Variant::Batches => batches(n),
            _ => lines(n, variant),
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut ingest = Ingest::new(Model::new(ModelConfig::default()));
                let mut framer = LineFramer::default();
                for piece in input.chunks(256 << 10) {
                    let mut batch = LineBatch::default();
                    framer.push(piece, &mut batch);
                    ingest.apply(
                        Chunk {
                            origin: origin.clone(),
                            body: Body::Lines(batch),
                        },
                        1795542200.0,
                    );
                }
                ingest
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
