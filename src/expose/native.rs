//! The native set: Prometheus naming (base units, `_total` counters), one series per
//! endpoint and no `Aggregated` row (sum in PromQL instead), a summary of response times and,
//! for event-fed endpoints, a histogram that aggregates across load generators.

use super::text::{label_set, Family, Text};
use crate::model::snapshot::{EndpointStats, Snapshot};

/// `locust_requests_total{method,name}`.
pub const REQUESTS: &str = "locust_requests_total";
/// `locust_request_failures_total{method,name}`.
pub const REQUEST_FAILURES: &str = "locust_request_failures_total";
/// `locust_failures_total{method,name,error}`.
pub const FAILURES: &str = "locust_failures_total";
/// `locust_response_bytes_total{method,name}`.
pub const RESPONSE_BYTES: &str = "locust_response_bytes_total";
/// `locust_response_time_seconds{method,name,quantile}` summary.
pub const RESPONSE_TIME: &str = "locust_response_time_seconds";
/// `locust_run_response_time_seconds{quantile}` summary: every request of the run.
pub const RUN_RESPONSE_TIME: &str = "locust_run_response_time_seconds";
/// `locust_request_duration_seconds` histogram.
pub const REQUEST_DURATION: &str = "locust_request_duration_seconds";
/// `locust_users`.
pub const USERS: &str = "locust_users";
/// `locust_workers`.
pub const WORKERS: &str = "locust_workers";
/// `locust_worker_states{state}`.
pub const WORKER_STATES: &str = "locust_worker_states";
/// `locust_up` (web UI input).
pub const UP: &str = "locust_up";
/// `locust_exceptions_total{message}`.
pub const EXCEPTIONS: &str = "locust_exceptions_total";
/// `locust_last_update_timestamp_seconds`.
pub const LAST_UPDATE: &str = "locust_last_update_timestamp_seconds";

/// Writes the native families for `snap`; with `compat_up`, `locust_up` is left to the
/// containersolutions set (which writes it for every input).
pub fn write(snap: &Snapshot, out: &mut Text, compat_up: bool) {
    let rows: Vec<(String, &EndpointStats)> = snap
        .services
        .iter()
        .flat_map(|s| {
            s.endpoints.iter().map(move |e| {
                (
                    label_set(&[
                        ("service", &s.name),
                        ("method", &e.method),
                        ("name", &e.name),
                    ]),
                    e,
                )
            })
        })
        .collect();
    let mut f = out.family(REQUESTS, "Requests made, failed ones included.", "counter");
    for (l, e) in &rows {
        f.sample(l, e.requests as f64);
    }
    let mut f = out.family(REQUEST_FAILURES, "Requests that failed.", "counter");
    for (l, e) in &rows {
        f.sample(l, e.failures as f64);
    }
    let mut f = out.family(FAILURES, "Failed requests by error.", "counter");
    for s in &snap.services {
        for e in &s.errors {
            let l = label_set(&[
                ("service", &s.name),
                ("method", &e.method),
                ("name", &e.name),
                ("error", &e.error),
            ]);
            f.sample(&l, e.occurrences as f64);
        }
    }
    let mut f = out.family(RESPONSE_BYTES, "Response bytes received.", "counter");
    for (l, e) in &rows {
        f.sample(l, e.content_bytes_total);
    }
    let mut f = out.family(
        RESPONSE_TIME,
        "Response time quantiles since the test started (Locust's percentiles for CSV input, an HDR histogram for events).",
        "summary",
    );
    let mut labels = LabelCache::default();
    for (l, e) in &rows {
        summary(&mut f, l, e, &mut labels);
    }
    let mut f = out.family(
        RUN_RESPONSE_TIME,
        "Response time quantiles of every request of the run, all endpoints together (Locust's Aggregated row for CSV input, an HDR histogram for events).",
        "summary",
    );
    for s in &snap.services {
        if let Some(total) = &s.total {
            summary(
                &mut f,
                &label_set(&[("service", &s.name)]),
                total,
                &mut labels,
            );
        }
    }
    let mut f = out.family(
        REQUEST_DURATION,
        "Response time distribution (event input).",
        "histogram",
    );
    for (l, e) in &rows {
        let Some(buckets) = &e.buckets else { continue };
        for &(bound, count) in buckets {
            f.sample_with("_bucket", l, Some(("le", labels.get(bound))), count as f64);
        }
        f.sample_with("_bucket", l, Some(("le", "+Inf")), e.timed as f64);
        f.sample_with("_sum", l, None, e.duration_sum_ms / 1000.0);
        f.sample_with("_count", l, None, e.timed as f64);
    }
    let mut f = out.family(USERS, "Running users.", "gauge");
    for s in &snap.services {
        if let Some(n) = s.users {
            f.sample(&label_set(&[("service", &s.name)]), n as f64);
        }
    }
    let mut f = out.family(WORKERS, "Connected workers.", "gauge");
    for s in &snap.services {
        if let Some(n) = s.workers {
            f.sample(&label_set(&[("service", &s.name)]), n as f64);
        }
    }
    let mut f = out.family(
        WORKER_STATES,
        "Workers of a master by their state, as its web UI lists them.",
        "gauge",
    );
    for s in &snap.services {
        let mut by_state: std::collections::BTreeMap<&str, u64> = Default::default();
        for w in &s.worker_list {
            *by_state
                .entry(crate::model::snapshot::RunState::from(w.state).as_str())
                .or_default() += 1;
        }
        for (state, n) in by_state {
            f.sample(
                &label_set(&[("service", &s.name), ("state", state)]),
                n as f64,
            );
        }
    }
    let mut f = out.family(
        UP,
        "1 if the last poll of the service's Locust web UI worked, else 0.",
        "gauge",
    );
    for s in snap.services.iter().filter(|_| !compat_up) {
        if let Some(up) = s.up {
            f.sample(
                &label_set(&[("service", &s.name)]),
                if up { 1.0 } else { 0.0 },
            );
        }
    }
    let mut f = out.family(
        EXCEPTIONS,
        "Exceptions raised in tasks, by message (cut to 200 characters).",
        "counter",
    );
    for s in &snap.services {
        for e in &s.exceptions {
            f.sample(
                &label_set(&[("service", &s.name), ("message", &*e.message)]),
                e.count as f64,
            );
        }
    }
    let mut f = out.family(
        LAST_UPDATE,
        "Unix time when data for this service last arrived.",
        "gauge",
    );
    for s in &snap.services {
        if let Some(t) = s.last_update {
            f.sample(&label_set(&[("service", &s.name)]), t);
        }
    }
}

/// One summary's samples: quantiles in seconds, `_sum`, and `_count` of the requests with a
/// response time (the ones the quantiles and the sum cover).
fn summary(f: &mut Family<'_>, labels: &str, e: &EndpointStats, cache: &mut LabelCache) {
    for &(quantile, ms) in &e.quantiles {
        f.sample_with(
            "",
            labels,
            Some(("quantile", cache.get(quantile))),
            ms / 1000.0,
        );
    }
    f.sample_with("_sum", labels, None, e.duration_sum_ms / 1000.0);
    f.sample_with("_count", labels, None, e.timed as f64);
}

/// Formatted `quantile`/`le` label values: every endpoint shares the same few numbers.
#[derive(Default)]
struct LabelCache(Vec<(f64, String)>);

impl LabelCache {
    fn get(&mut self, v: f64) -> &str {
        let i = match self.0.iter().position(|(k, _)| k.to_bits() == v.to_bits()) {
            Some(i) => i,
            None => {
                let mut s = String::new();
                super::text::push_value(&mut s, v);
                self.0.push((v, s));
                self.0.len() - 1
            }
        };
        &self.0[i].1
    }
}
