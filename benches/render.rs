#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! `expose::render_as` for 1,000 and 10,000 endpoints (targets in `docs/performance.md`: < 5 ms and < 50 ms),
//! for CSV-fed endpoints (11 percentile columns) and event-fed ones (classic buckets and a
//! native histogram of ~170 buckets, times 50–300 ms, too), in each format: `csv/N` and
//! `events/N` are text 0.0.4, `*-openmetrics/N` and `*-protobuf/N` the others. Endpoint
//! names and values follow the real fixture's rows. `judge/*` is what `--check` adds to every
//! snapshot: four checks (a total's p95 and fail ratio, a regex selector's p95 on every
//! endpoint, a p97 from the native histograms) judged over the same endpoints, and
//! `render/events-run/N` the text exposition with a `run` label on every series;
//! `render/events-exemplars-*/N` OpenMetrics and protobuf with four exemplars an endpoint.

#[path = "support/snapshot.rs"]
mod snapshot;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;

use locust_exporter::expose::{render_as, Format, Sets};
use locust_exporter::model::check::Check;
use locust_exporter::model::judge::evaluate;
use snapshot::{snapshot, with_exemplars};

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
    // Traced requests: four exemplars an endpoint, in the formats that carry them.
    for n in [1_000, 10_000] {
        let mut snap = snapshot(n, true);
        with_exemplars(&mut snap);
        for format in [Format::OpenMetrics, Format::Protobuf] {
            let id = format!("events-exemplars-{}", format.name());
            let bytes = render_as(format, &snap, Sets::default(), &[]).len();
            eprintln!("render {id} {n}: {bytes} bytes of exposition");
            group.bench_with_input(BenchmarkId::new(id, n), &snap, |b, s| {
                b.iter(|| render_as(format, s, Sets::default(), &[]))
            });
        }
    }
    for n in [1_000, 10_000] {
        let mut snap = snapshot(n, true);
        snap.run = Some(Arc::from("20261202T183647Z"));
        group.bench_with_input(BenchmarkId::new("events-run", n), &snap, |b, s| {
            b.iter(|| render_as(Format::Text, s, Sets::default(), &[]))
        });
    }
    group.finish();
    let checks: Vec<Check> = [
        "p95<500ms",
        "fail_ratio<1%",
        r#"p95{name=~"/item/.*"}<300ms"#,
        "p97<1s",
    ]
    .iter()
    .map(|t| Check::parse(t).unwrap())
    .collect();
    let mut group = c.benchmark_group("judge");
    group.sample_size(20);
    for n in [1_000, 10_000] {
        for (kind, events) in [("csv", false), ("events", true)] {
            let snap = snapshot(n, events);
            let outcomes = evaluate(&checks, &snap.services, None).len();
            eprintln!("judge {kind} {n}: {outcomes} outcomes");
            group.bench_with_input(BenchmarkId::new(kind, n), &snap, |b, s| {
                b.iter(|| evaluate(&checks, &s.services, None))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
