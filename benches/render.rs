#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! `expose::render_as` for 1,000 and 10,000 endpoints (targets in `docs/performance.md`: < 5 ms and < 50 ms),
//! for CSV-fed endpoints (11 percentile columns) and event-fed ones (classic buckets and a
//! native histogram of ~170 buckets, times 50–300 ms, too), in each format: `csv/N` and
//! `events/N` are text 0.0.4, `*-openmetrics/N` and `*-protobuf/N` the others. Endpoint
//! names and values follow the real fixture's rows.

#[path = "support/snapshot.rs"]
mod snapshot;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use locust_exporter::expose::{render_as, Format, Sets};
use snapshot::snapshot;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    for n in [1_000, 10_000] {
        for (kind, events) in [("csv", false), ("events", true)] {
            let snap = snapshot(n, events);
            for format in Format::ALL {
                let id = match format {
                    Format::Text => kind.to_owned(),
                    other => format!("{kind}-{}", other.name()),
                };
                let bytes = render_as(format, &snap, Sets::default(), &[]).len();
                eprintln!("render {id} {n}: {bytes} bytes of exposition");
                group.bench_with_input(BenchmarkId::new(id, n), &snap, |b, s| {
                    b.iter(|| render_as(format, s, Sets::default(), &[]))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
