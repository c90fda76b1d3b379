#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! Remote write's encoding of one interval (`output::remote_write::series`): what `/metrics`
//! serves for 1,000 and 10,000 endpoints (CSV-fed and event-fed, the render bench's
//! snapshots), collected, encoded as 1.0 and 2.0 requests of at most 1 MiB and compressed
//! with Snappy (`events-exemplars`: with four exemplars an endpoint). Prints the series and the compressed bytes per interval of each protocol;
//! `benches/remote_write.sh` measures the whole process against a real Prometheus 3.5.

#[path = "support/snapshot.rs"]
mod snapshot;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use locust_exporter::expose::{self, Sets};
use locust_exporter::model::snapshot::Snapshot;
use locust_exporter::output::remote_write::collector::Collector;
use locust_exporter::output::remote_write::series::{Batch, Protocol, Tracker};
use snapshot::{snapshot, with_exemplars};

fn interval(snap: &Snapshot, protocol: Protocol, tracker: &mut Tracker) -> (usize, Batch) {
    let mut c = Collector::new(false);
    expose::sets::write(snap, Sets::default(), &mut c);
    let series = c.len();
    (
        series,
        Batch::encode(c, protocol, 1_795_542_000_000, 1 << 20, &[], tracker),
    )
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_write");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        for (kind, events, traced) in [
            ("csv", false, false),
            ("events", true, false),
            ("events-exemplars", true, true),
        ] {
            let mut snap = snapshot(n, events);
            if traced {
                with_exemplars(&mut snap);
            }
            for protocol in [Protocol::V1, Protocol::V2] {
                let mut tracker = Tracker::default();
                let (series, batch) = interval(&snap, protocol, &mut tracker);
                let bytes: usize = batch.requests.iter().map(|r| r.body.len()).sum();
                eprintln!(
                    "remote_write {kind} {n} {}: {series} series, {} requests, {bytes} bytes compressed ({:.1} bytes a series)",
                    protocol.name(),
                    batch.requests.len(),
                    bytes as f64 / series as f64
                );
                let id = format!("{kind}-{}", protocol.name());
                group.bench_with_input(BenchmarkId::new(id, n), &snap, |b, s| {
                    b.iter(|| interval(s, protocol, &mut tracker))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
