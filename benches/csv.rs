#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a failed run
//! Parsing a `_stats.csv` snapshot with 1,000 endpoints, and history-row throughput.
//! Rows are the real fixture's rows with generated names.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use locust_exporter::parse::history::HistoryParser;
use locust_exporter::parse::stats::parse_stats;

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{rel}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let real = fixture("locust-2.47.0/standalone-full-history/run_stats.csv");
    let mut lines = real.split_inclusive('\n');
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let (body, total) = rows.split_at(rows.len().saturating_sub(1));
    let mut big = header.to_owned();
    for i in 0..1000 {
        let row = body[i % body.len().max(1)];
        let (method, rest) = row.split_once(',').unwrap_or(("GET", row));
        let rest = rest.split_once(',').map_or(rest, |r| r.1);
        big.push_str(&format!("{method},/generated/{i},{rest}"));
    }
    big.push_str(total.first().copied().unwrap_or_default());
    let mut group = c.benchmark_group("csv");
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("stats_1000_endpoints", |b| {
        b.iter(|| parse_stats(big.as_bytes()))
    });

    let history = fixture("locust-2.47.0/standalone-full-history/run_stats_history.csv");
    let hlines: Vec<&str> = history.lines().collect();
    group.throughput(Throughput::Elements(hlines.len() as u64));
    group.bench_function("history_rows", |b| {
        b.iter(|| {
            let mut p = HistoryParser::default();
            for (n, l) in hlines.iter().enumerate() {
                let _ = p.line(l.as_bytes(), n as u64 + 1);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
