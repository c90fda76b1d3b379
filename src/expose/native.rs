//! The native set: Prometheus naming (base units, `_total` counters), one series per
//! endpoint and no `Aggregated` row (sum in PromQL instead), a summary of response times and,
//! for event-fed endpoints, a histogram that aggregates across load generators.

use prometheus::proto::{Bucket, Histogram, Metric, MetricFamily, MetricType, Quantile, Summary};

use super::{family, finite, labels, push_value};
use crate::model::snapshot::Snapshot;
use crate::parse::event::{cut_chars, MAX_MESSAGE_CHARS};

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
/// `locust_request_duration_seconds` histogram.
pub const REQUEST_DURATION: &str = "locust_request_duration_seconds";
/// `locust_users`.
pub const USERS: &str = "locust_users";
/// `locust_workers`.
pub const WORKERS: &str = "locust_workers";
/// `locust_exceptions_total{message}`.
pub const EXCEPTIONS: &str = "locust_exceptions_total";
/// `locust_last_update_timestamp_seconds`.
pub const LAST_UPDATE: &str = "locust_last_update_timestamp_seconds";

/// Appends the native families for `snap`.
pub fn families(snap: &Snapshot, out: &mut Vec<MetricFamily>) {
    let mut requests = family(
        REQUESTS,
        "Requests made, failed ones included.",
        MetricType::COUNTER,
    );
    let mut req_failures = family(
        REQUEST_FAILURES,
        "Requests that failed.",
        MetricType::COUNTER,
    );
    let mut failures = family(FAILURES, "Failed requests by error.", MetricType::COUNTER);
    let mut bytes = family(
        RESPONSE_BYTES,
        "Response bytes received.",
        MetricType::COUNTER,
    );
    let mut summary = family(RESPONSE_TIME, "Response time quantiles since the test started (Locust's percentiles for CSV input, HDR histogram for events).", MetricType::SUMMARY);
    let mut histogram = family(
        REQUEST_DURATION,
        "Response time distribution (event input).",
        MetricType::HISTOGRAM,
    );
    let mut users = family(USERS, "Running users.", MetricType::GAUGE);
    let mut workers = family(WORKERS, "Connected workers.", MetricType::GAUGE);
    let mut exceptions = family(
        EXCEPTIONS,
        "Exceptions raised in tasks, by message (cut to 200 characters).",
        MetricType::COUNTER,
    );
    let mut last_update = family(
        LAST_UPDATE,
        "Unix time when data for this service last arrived.",
        MetricType::GAUGE,
    );
    for s in &snap.services {
        let service = &*s.name;
        for e in &s.endpoints {
            let pairs = [
                ("service", service),
                ("method", &*e.method),
                ("name", &*e.name),
            ];
            push_value(&mut requests, &pairs, e.requests as f64);
            push_value(&mut req_failures, &pairs, e.failures as f64);
            push_value(&mut bytes, &pairs, finite(e.content_bytes_total));
            let mut sm = Summary::default();
            sm.set_sample_count(e.requests);
            sm.set_sample_sum(finite(e.duration_sum_ms / 1000.0));
            sm.set_quantile(
                e.quantiles
                    .iter()
                    .map(|&(q, ms)| {
                        let mut qu = Quantile::default();
                        qu.set_quantile(q);
                        qu.set_value(finite(ms / 1000.0));
                        qu
                    })
                    .collect(),
            );
            let mut m = Metric::from_label(labels(&pairs));
            m.set_summary(sm);
            summary.mut_metric().push(m);
            if let Some(buckets) = &e.buckets {
                let mut h = Histogram::default();
                let timed = buckets.last().map_or(0, |b| b.1);
                h.set_sample_count(e.requests.max(timed));
                h.set_sample_sum(finite(e.duration_sum_ms / 1000.0));
                h.set_bucket(
                    buckets
                        .iter()
                        .map(|&(le, count)| {
                            let mut b = Bucket::default();
                            b.set_upper_bound(le);
                            b.set_cumulative_count(count);
                            b
                        })
                        .collect(),
                );
                let mut m = Metric::from_label(labels(&pairs));
                m.set_histogram(h);
                histogram.mut_metric().push(m);
            }
        }
        for e in &s.errors {
            let pairs = [
                ("service", service),
                ("method", &*e.method),
                ("name", &*e.name),
                ("error", &*e.error),
            ];
            push_value(&mut failures, &pairs, e.occurrences as f64);
        }
        for e in &s.exceptions {
            let message = cut_chars(&e.message, MAX_MESSAGE_CHARS);
            push_value(
                &mut exceptions,
                &[("service", service), ("message", message)],
                e.count as f64,
            );
        }
        if let Some(n) = s.users {
            push_value(&mut users, &[("service", service)], n as f64);
        }
        if let Some(n) = s.workers {
            push_value(&mut workers, &[("service", service)], n as f64);
        }
        if let Some(t) = s.last_update {
            push_value(&mut last_update, &[("service", service)], t);
        }
    }
    out.extend([
        requests,
        req_failures,
        failures,
        bytes,
        summary,
        histogram,
        users,
        workers,
        exceptions,
        last_update,
    ]);
}
