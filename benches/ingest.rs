#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! JSON-lines events: parse + apply to the model, per second on one core (SPEC §7 target:
//! ≥ 2 M events/s). Lines follow the plugin's format for the fixture's endpoints.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use locust_exporter::ingest::Ingest;
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::source::lines::LineBatch;
use locust_exporter::source::lines::LineFramer;
use locust_exporter::source::{Body, Chunk, FileRole, Origin};
use std::sync::Arc;

/// `n` request lines over 100 endpoints, 5% failures.
pub fn lines(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        let exception = if i % 20 == 0 {
            "\"HTTPError('500 Server Error')\""
        } else {
            "null"
        };
        out.push_str(&format!(
            "{{\"event\":\"request\",\"time\":{:.3},\"request_type\":\"GET\",\"name\":\"/item/{}\",\"response_time\":{:.3},\"response_length\":{},\"exception\":{exception}}}\n",
            1795542100.0 + i as f64 / 1000.0,
            i % 100,
            1.0 + (i % 300) as f64 * 0.731,
            100 + i % 500
        ));
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let n = 100_000;
    let input = lines(n);
    let origin = Arc::new(Origin {
        service: "locust".into(),
        role: FileRole::Events,
        source: "bench".into(),
    });
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("json_events", |b| {
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
