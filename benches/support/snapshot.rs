//! A snapshot of `n` endpoints fed by CSV (11 percentile columns) or by events (classic
//! buckets and a native histogram of ~170 buckets, times 50–300 ms), names and values after
//! the real fixture's rows: what the render and remote-write benches encode.

use std::sync::Arc;

use locust_exporter::model::endpoint::DEFAULT_BUCKETS;
use locust_exporter::model::native_histogram::{self, NativeBuckets};
use locust_exporter::model::snapshot::{
    EndpointStats, Failure, RunState, ServiceSnapshot, Snapshot,
};

const QUANTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

fn endpoint(i: usize, events: bool) -> EndpointStats {
    EndpointStats {
        method: Arc::from(if i % 4 == 0 { "POST" } else { "GET" }),
        // Realistic names, with a name that needs escaping every 100th endpoint.
        name: Arc::from(
            if i % 100 == 0 {
                format!("/weird,name \"quoted\"/{i}")
            } else {
                format!("/api/v1/items/{i}")
            }
            .as_str(),
        ),
        requests: 216 + i as u64,
        failures: (i % 7) as u64,
        avg_ms: 180.69732400927361,
        min_ms: 53.86000600083207,
        max_ms: 302.03665499902854,
        median_ms: 180.0,
        avg_content_bytes: 286.45871559633025,
        current_rps: 6.7,
        quantiles: QUANTILES.iter().map(|&q| (q, 100.0 + q * 200.0)).collect(),
        duration_sum_ms: 39248.33697100439,
        content_bytes_total: 1744.0,
        timed: 216 + i as u64,
        buckets: events.then(|| {
            DEFAULT_BUCKETS
                .iter()
                .enumerate()
                .map(|(k, &le)| (le, (k * 10) as u64))
                .collect()
        }),
        native: events.then(|| {
            let (lo, hi) = (
                native_histogram::bucket_index(0.05, native_histogram::SCHEMA),
                native_histogram::bucket_index(0.3, native_histogram::SCHEMA),
            );
            NativeBuckets {
                schema: native_histogram::SCHEMA,
                zero_count: 0,
                buckets: (lo..=hi)
                    .map(|k| (k, (k.unsigned_abs() % 13) as u64))
                    .filter(|&(_, n)| n > 0)
                    .collect(),
            }
        }),
        created: events.then_some(1795542000.0),
        // Fields a new Locust column adds need no edit here.
        ..EndpointStats::default()
    }
}

/// Gives every endpoint of `snap` exemplars in the buckets its times fill (60, 120, 270 and
/// 300 ms: four of the 0.1, 0.25 and 0.5 s buckets' slots), as traced requests leave them.
#[allow(dead_code)] // not every bench that includes this module uses it
pub fn with_exemplars(snap: &mut Snapshot) {
    use locust_exporter::model::exemplar::{Exemplar, TraceRef};
    for s in &mut snap.services {
        for (i, e) in s.endpoints.iter_mut().enumerate() {
            let id = i as u64 + 1;
            e.exemplars = [0.06, 0.12, 0.27, 0.3]
                .iter()
                .enumerate()
                .map(|(k, &seconds)| Exemplar {
                    trace: TraceRef {
                        trace_id: [id.to_le_bytes(), (k as u64 + 1).to_be_bytes()]
                            .concat()
                            .try_into()
                            .unwrap(),
                        span_id: (id * 16 + k as u64).to_be_bytes(),
                    },
                    seconds,
                    time: 1795542140.0 + k as f64,
                })
                .collect();
        }
    }
}

/// The snapshot of `n` endpoints.
pub fn snapshot(n: usize, events: bool) -> Snapshot {
    let endpoints: Vec<EndpointStats> = (0..n).map(|i| endpoint(i, events)).collect();
    let errors = (0..n / 10)
        .map(|i| Failure {
            method: Arc::from("GET"),
            name: Arc::from(format!("/item/{i}").as_str()),
            error: Arc::from(
                "HTTPError('500 Server Error: Internal Server Error for url: /flaky')",
            ),
            occurrences: i as u64,
        })
        .collect();
    Snapshot {
        services: vec![ServiceSnapshot {
            name: Arc::from("locust"),
            state: RunState::Running,
            users: Some(20),
            total: Some(endpoint(0, events)),
            endpoints,
            errors,
            last_update: Some(1795542142.0),
            started: Some(1795542100.0),
            ..ServiceSnapshot::default()
        }],
        sources: Vec::new(),
        seq: 1,
        closed: false,
        ..Snapshot::default()
    }
}
