//! The native set: Prometheus naming (base units, `_total` counters), one series per
//! endpoint and no `Aggregated` row (sum in PromQL instead), a summary of response times and,
//! for event-fed endpoints, a histogram that aggregates across load generators.

use super::{endpoint_rows, MetricSet, RowLabels, Sets};
use crate::expose::format::encoder::{Encoder, Histogram, Kind, Summary};
use crate::model::percentile::Precision;
use crate::model::snapshot::{EndpointStats, RunState, ServiceSnapshot, Snapshot};

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
/// `locust_runner_state{locust_runner_state}`: a state set.
pub const RUNNER_STATE: &str = "locust_runner_state";
/// `locust_up` (web UI input).
pub const UP: &str = "locust_up";
/// `locust_exceptions_total{message}`.
pub const EXCEPTIONS: &str = "locust_exceptions_total";
/// `locust_last_update_timestamp_seconds`.
pub const LAST_UPDATE: &str = "locust_last_update_timestamp_seconds";

/// Whether the histograms of `rows` are written with their native buckets: one kind for the
/// whole family, because Prometheus reads a protobuf family's histograms as the kind of its
/// first (a classic one after a native one reads as native with no observations, and the
/// whole scrape is refused). Native when some row's native histogram is exact (not spread
/// over a producer's classic buckets) and every row's accounts for its count; else classic.
fn natives_written<'a>(rows: impl Iterator<Item = &'a EndpointStats> + Clone) -> bool {
    let histograms = rows.filter(|e| e.buckets.is_some());
    histograms
        .clone()
        .any(|e| e.native.is_some() && e.precision != Precision::Spread)
        && histograms
            .into_iter()
            .all(|e| e.native.as_ref().is_some_and(|n| n.count() == e.timed))
}

/// The native set (`--metrics native`).
#[derive(Debug, Clone, Copy)]
pub struct Native;

impl MetricSet for Native {
    const NAME: &'static str = "native";
    const ABOUT: &'static str = "names after Prometheus' conventions, with native histograms";
    const FAMILIES: &'static [&'static str] = &[
        REQUESTS,
        REQUEST_FAILURES,
        FAILURES,
        RESPONSE_BYTES,
        RESPONSE_TIME,
        RUN_RESPONSE_TIME,
        REQUEST_DURATION,
        USERS,
        WORKERS,
        WORKER_STATES,
        RUNNER_STATE,
        UP,
        EXCEPTIONS,
        LAST_UPDATE,
    ];
    const DEFERS: &'static [(&'static str, &'static str)] = &[(UP, "containersolutions")];
    /// Writes the native families for `snap`; with `compat_up`, `locust_up` is left to the
    /// containersolutions set (which writes it for every input).
    fn write<E: Encoder>(snap: &Snapshot, served: Sets, out: &mut E) {
        let compat_up = served.deferred(Self::NAME, UP);
        let rows = endpoint_rows::<E>(snap, RowLabels::MethodName, None);
        let mut f = out.family(
            REQUESTS,
            "Requests made, failed ones included.",
            Kind::Counter,
        );
        for (l, e) in &rows {
            // The newest traced request is the counter's exemplar.
            let newest = e.exemplars.iter().max_by(|a, b| a.time.total_cmp(&b.time));
            f.sample_traced(l, e.requests as f64, e.created, newest);
        }
        let mut f = out.family(REQUEST_FAILURES, "Requests that failed.", Kind::Counter);
        for (l, e) in &rows {
            f.sample_since(l, e.failures as f64, e.created);
        }
        let mut f = out.family(FAILURES, "Failed requests by error.", Kind::Counter);
        for s in &snap.services {
            for e in &s.errors {
                let l = E::labels(&[
                    ("service", &s.name),
                    ("method", &e.method),
                    ("name", &e.name),
                    ("error", &e.error),
                ]);
                f.sample(&l, e.occurrences as f64);
            }
        }
        let mut f = out
            .family(RESPONSE_BYTES, "Response bytes received.", Kind::Counter)
            .unit("bytes");
        for (l, e) in &rows {
            f.sample_since(l, e.content_bytes_total, e.created);
        }
        let mut f = out
        .family(
            RESPONSE_TIME,
            "Response time quantiles since the test started (Locust's percentiles for CSV input; for events, at Locust's rank: exact while few, else from the native histogram).",
            Kind::Summary,
        )
        .unit("seconds");
        for (l, e) in &rows {
            f.summary(l, &summary(e));
        }
        let mut f = out
        .family(
            RUN_RESPONSE_TIME,
            "Response time quantiles of every request of the run, all endpoints together (Locust's Aggregated row for CSV input; for events, at Locust's rank: exact while few, else from the native histogram).",
            Kind::Summary,
        )
        .unit("seconds");
        for s in &snap.services {
            if let Some(total) = &s.total {
                f.summary(&E::labels(&[("service", &s.name)]), &summary(total));
            }
        }
        let mut f = out
        .family(
            REQUEST_DURATION,
            "Response time distribution (event input): classic buckets, and a native histogram (schema 6, ≤ 1.09 % error) in the protobuf format.",
            Kind::Histogram,
        )
        .unit("seconds");
        let natives = natives_written(rows.iter().map(|(_, e)| *e));
        for (l, e) in &rows {
            let Some(buckets) = &e.buckets else { continue };
            f.histogram(
                l,
                &Histogram {
                    buckets,
                    count: e.timed,
                    sum: e.duration_sum_ms / 1000.0,
                    native: e.native.as_ref().filter(|_| natives),
                    created: e.created,
                    exemplars: &e.exemplars,
                },
            );
        }
        let mut f = out.family(USERS, "Running users.", Kind::Gauge);
        // A web UI that does not answer: how many users it runs now is unknown, unless its
        // last answer said the run had stopped (none then, as a Locust that quit after its
        // run: `--autoquit`, the operator's Job).
        let known = |s: &&ServiceSnapshot| s.up != Some(false) || s.state == RunState::Stopped;
        for s in snap.services.iter().filter(known) {
            if let Some(n) = s.users {
                f.sample(&E::labels(&[("service", &s.name)]), n as f64);
            }
        }
        let mut f = out.family(WORKERS, "Connected workers.", Kind::Gauge);
        for s in &snap.services {
            if let Some(n) = s.workers {
                f.sample(&E::labels(&[("service", &s.name)]), n as f64);
            }
        }
        let mut f = out.family(
            WORKER_STATES,
            "Workers of a master by their state, as its web UI lists them.",
            Kind::Gauge,
        );
        for s in &snap.services {
            let mut by_state: std::collections::BTreeMap<&str, u64> = Default::default();
            for w in &s.worker_list {
                *by_state.entry(w.state.as_str()).or_default() += 1;
            }
            for (state, n) in by_state {
                f.sample(
                    &E::labels(&[("service", &s.name), ("state", state)]),
                    n as f64,
                );
            }
        }
        let mut f = out.family(
            RUNNER_STATE,
            "The run's state, one of missing, ready, spawning, running, stopping, stopped, cleanup: Locust's runner's (web UI), else as the input shows it.",
            Kind::StateSet,
        );
        for s in &snap.services {
            for state in RunState::ALL {
                f.sample(
                    &E::labels(&[("service", &s.name), (RUNNER_STATE, state.as_str())]),
                    if s.state == state { 1.0 } else { 0.0 },
                );
            }
        }
        let mut f = out.family(
            UP,
            "1 if the last poll of the service's Locust web UI worked, else 0.",
            Kind::Gauge,
        );
        for s in snap.services.iter().filter(|_| !compat_up) {
            if let Some(up) = s.up {
                f.sample(
                    &E::labels(&[("service", &s.name)]),
                    if up { 1.0 } else { 0.0 },
                );
            }
        }
        let mut f = out.family(
            EXCEPTIONS,
            "Exceptions raised in tasks, by message (cut to 200 characters).",
            Kind::Counter,
        );
        for s in &snap.services {
            for e in &s.exceptions {
                f.sample(
                    &E::labels(&[("service", &s.name), ("message", &*e.message)]),
                    e.count as f64,
                );
            }
        }
        let mut f = out.family(
            LAST_UPDATE,
            "Unix time when data for this service last arrived.",
            Kind::Gauge,
        );
        for s in &snap.services {
            if let Some(t) = s.last_update {
                f.sample(&E::labels(&[("service", &s.name)]), t);
            }
        }
    }
}

/// One endpoint's summary: quantiles in seconds, `_sum`, and `_count` of the requests with
/// a response time (the ones the quantiles and the sum cover).
fn summary(e: &EndpointStats) -> Summary<'_> {
    Summary {
        quantiles: &e.quantiles,
        divisor: 1000.0,
        sum: e.duration_sum_ms / 1000.0,
        count: e.timed,
        created: e.created,
    }
}
