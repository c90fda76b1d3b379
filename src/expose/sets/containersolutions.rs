//! The `containersolutions` set: the names, types, labels and total-row convention of the
//! ContainerSolutions Go exporter (`docs/migrating-from-go.md`), so its Grafana
//! dashboards (11985, 24526) work unchanged — with its bugs fixed where a dashboard cannot
//! tell: real current p50/p95 (the Go exporter reads keys Locust renamed and serves 0),
//! `spawning` counted as hatching, workers counted from Locust's worker list.
//!
//! Every family is a gauge, as the Go exporter's are. The total row is
//! `{method="", name="Aggregated"}` (the dashboard's `{method=~""}` panels select it); every
//! series also has `service`. Where an input cannot know a value (workers from CSV files),
//! the series is absent (README's metric table says which).

use super::{endpoint_rows, MetricSet, RowLabels, Sets};
use crate::expose::format::encoder::{Encoder, Kind};
use crate::model::snapshot::{
    EndpointStats, Role, RunState, ServiceSnapshot, Snapshot, WorkerState,
};

/// `locust_up`.
pub const UP: &str = "locust_up";
/// `locust_running`.
pub const RUNNING: &str = "locust_running";
/// `locust_users`.
pub const USERS: &str = "locust_users";
/// `locust_workers_count`.
pub const WORKERS_COUNT: &str = "locust_workers_count";
/// `locust_worker_detail{id,state}`.
pub const WORKER_DETAIL: &str = "locust_worker_detail";
/// `locust_requests_fail_ratio`.
pub const FAIL_RATIO: &str = "locust_requests_fail_ratio";
/// `locust_errors{method,name,error}`.
pub const ERRORS: &str = "locust_errors";

type StatFn = fn(&EndpointStats) -> f64;

/// `locust_requests_*{method,name}`: (name, help, value).
const REQUESTS: [(&str, &str, StatFn); 9] = [
    (
        "locust_requests_num_requests",
        "Requests made (the total row: method=\"\", name=\"Aggregated\").",
        |e| e.requests as f64,
    ),
    (
        "locust_requests_num_failures",
        "Requests that failed.",
        |e| e.failures as f64,
    ),
    (
        "locust_requests_avg_response_time",
        "Mean response time, ms.",
        |e| e.avg_ms,
    ),
    (
        "locust_requests_min_response_time",
        "Minimum response time, ms.",
        |e| e.min_ms,
    ),
    (
        "locust_requests_max_response_time",
        "Maximum response time, ms.",
        |e| e.max_ms,
    ),
    (
        "locust_requests_median_response_time",
        "Median response time, ms.",
        |e| e.median_ms,
    ),
    (
        "locust_requests_current_rps",
        "Current requests per second.",
        |e| e.current_rps,
    ),
    (
        "locust_requests_current_fail_per_sec",
        "Current failures per second.",
        |e| e.current_fail_per_sec,
    ),
    (
        "locust_requests_avg_content_length",
        "Mean response size, bytes.",
        |e| e.avg_content_bytes,
    ),
];

/// The Go exporter's `locust_running`: 1 spawning (its `hatching`), 2 running, else 0.
fn running(state: RunState) -> f64 {
    match state {
        RunState::Spawning => 1.0,
        RunState::Running => 2.0,
        _ => 0.0,
    }
}

/// `locust_up`: the last poll of a web UI worked; for files and events, data is arriving
/// (the run is spawning or running).
fn up(s: &ServiceSnapshot) -> f64 {
    let up = match s.up {
        Some(up) => up,
        None => matches!(s.state, RunState::Spawning | RunState::Running),
    };
    if up {
        1.0
    } else {
        0.0
    }
}

/// A web UI that did not answer its last poll: its state, users, workers and current values
/// are not served (the Go exporter serves only `locust_up 0` then).
fn down(s: &ServiceSnapshot) -> bool {
    s.up == Some(false)
}

/// The workers: the web UI's list, else what the event stream said; 0 for a standalone
/// Locust (as the Go exporter); unknown for a Locust that does not answer.
fn worker_count(s: &ServiceSnapshot) -> Option<u64> {
    if down(s) {
        None
    } else if !s.worker_list.is_empty() {
        Some(s.worker_list.len() as u64)
    } else if s.role == Some(Role::Standalone) {
        Some(0)
    } else {
        s.workers
    }
}

/// The current percentile `q` of all requests, ms: Locust's current window where the input
/// gives it, else the run's.
fn current_percentile(s: &ServiceSnapshot, q: f64) -> Option<f64> {
    s.current_percentiles
        .iter()
        .find(|(k, _)| (k - q).abs() < 1e-9)
        .map(|(_, v)| *v)
        .or_else(|| s.total.as_ref()?.quantile_ms(q))
        .filter(|v| !v.is_nan())
}

/// The ContainerSolutions set (`--metrics containersolutions`).
#[derive(Debug, Clone, Copy)]
pub struct ContainerSolutions;

impl MetricSet for ContainerSolutions {
    const NAME: &'static str = "containersolutions";
    const ABOUT: &'static str = "the Go exporter's names, for its dashboards";
    const FAMILIES: &'static [&'static str] = &[
        UP,
        RUNNING,
        USERS,
        WORKERS_COUNT,
        WORKER_DETAIL,
        FAIL_RATIO,
        ERRORS,
        "locust_requests_num_requests",
        "locust_requests_num_failures",
        "locust_requests_avg_response_time",
        "locust_requests_min_response_time",
        "locust_requests_max_response_time",
        "locust_requests_median_response_time",
        "locust_requests_current_rps",
        "locust_requests_current_fail_per_sec",
        "locust_requests_avg_content_length",
        "locust_workers_running_count",
        "locust_workers_hatching_count",
        "locust_workers_missing_count",
        "locust_requests_current_response_time_percentile_50",
        "locust_requests_current_response_time_percentile_95",
    ];
    const DEFERS: &'static [(&'static str, &'static str)] = &[(USERS, "native")];
    /// Writes the set; `skip_users` leaves out `locust_users` (the native set writes it, with
    /// the same meaning, when both are served).
    fn write<E: Encoder>(snap: &Snapshot, served: Sets, out: &mut E) {
        let skip_users = served.deferred(Self::NAME, USERS);
        let services: Vec<E::Labels> = snap
            .services
            .iter()
            .map(|s| E::labels(&[("service", &s.name)]))
            .collect();
        {
            let mut f = out.family(
            UP,
            "1 if Locust answered its last poll (web UI), or its data is arriving (files, events).",
            Kind::Gauge,
        );
            for (s, l) in snap.services.iter().zip(&services) {
                f.sample(l, up(s));
            }
        }
        let mut f = out.family(
            RUNNING,
            "0 stopped or idle, 1 spawning (hatching), 2 running.",
            Kind::Gauge,
        );
        for (s, l) in snap.services.iter().zip(&services) {
            if !down(s) {
                f.sample(l, running(s.state));
            }
        }
        if !skip_users {
            let mut f = out.family(USERS, "Running users.", Kind::Gauge);
            for (s, l) in snap.services.iter().zip(&services) {
                if down(s) {
                    continue;
                }
                if let Some(u) = s.users {
                    f.sample(l, u as f64);
                }
            }
        }
        let mut f = out.family(
            WORKERS_COUNT,
            "Workers of the master (its web UI's list, or its event stream).",
            Kind::Gauge,
        );
        for (s, l) in snap.services.iter().zip(&services) {
            if let Some(n) = worker_count(s) {
                f.sample(l, n as f64);
            }
        }
        for (name, help, state) in [
            (
                "locust_workers_running_count",
                "Workers running.",
                WorkerState::Run(RunState::Running),
            ),
            (
                "locust_workers_hatching_count",
                "Workers spawning users (hatching).",
                WorkerState::Run(RunState::Spawning),
            ),
            (
                "locust_workers_missing_count",
                "Workers Locust marks missing (no heartbeat).",
                WorkerState::Missing,
            ),
        ] {
            let mut f = out.family(name, help, Kind::Gauge);
            for (s, l) in snap.services.iter().zip(&services) {
                if down(s) {
                    continue;
                }
                if !s.worker_list.is_empty() {
                    let n = s.worker_list.iter().filter(|w| w.state == state).count();
                    f.sample(l, n as f64);
                } else if s.role == Some(Role::Standalone) {
                    // As the Go exporter: a standalone Locust has no workers.
                    f.sample(l, 0.0);
                }
            }
        }
        let mut f = out.family(
            WORKER_DETAIL,
            "Each worker's users, by id and state.",
            Kind::Gauge,
        );
        for s in snap.services.iter().filter(|s| !down(s)) {
            for w in &s.worker_list {
                let state = w.state.as_str();
                f.sample(
                    &E::labels(&[("service", &s.name), ("id", &w.id), ("state", state)]),
                    w.user_count as f64,
                );
            }
        }
        let rows = endpoint_rows::<E>(snap, RowLabels::MethodName, Some(|t| ("", &t.name)));
        // Whether each row's service is down (rows come service by service).
        let rows_down: Vec<bool> = snap
            .services
            .iter()
            .flat_map(|s| {
                let n = s.endpoints.len() + usize::from(s.total.is_some());
                std::iter::repeat_n(down(s), n)
            })
            .collect();
        for (name, help, value) in REQUESTS {
            // What a Locust that does not answer is doing now is unknown: its current
            // rates are not served (its counters and totals stay).
            let current = name.contains("_current_");
            let mut f = out.family(name, help, Kind::Gauge);
            for ((l, e), down) in rows.iter().zip(&rows_down) {
                if !(current && *down) {
                    f.sample(l, value(e));
                }
            }
        }
        let mut f = out.family(
            FAIL_RATIO,
            "Failures over requests, the whole run.",
            Kind::Gauge,
        );
        for (s, l) in snap.services.iter().zip(&services) {
            if let Some(t) = &s.total {
                f.sample(l, t.fail_ratio());
            }
        }
        for (name, q) in [
            ("locust_requests_current_response_time_percentile_50", 0.5),
            ("locust_requests_current_response_time_percentile_95", 0.95),
        ] {
            let mut f = out.family(
            name,
            "Response time percentile of all requests, ms: Locust's current ≈10 s window where the input gives it (web UI, full-history CSV), else the whole run's.",
            Kind::Gauge,
        );
            for (s, l) in snap.services.iter().zip(&services) {
                if down(s) {
                    continue;
                }
                if let Some(v) = current_percentile(s, q) {
                    f.sample(l, v);
                }
            }
        }
        let mut f = out.family(ERRORS, "Failures by method, name and error.", Kind::Gauge);
        for s in &snap.services {
            for e in &s.errors {
                f.sample(
                    &E::labels(&[
                        ("service", &s.name),
                        ("method", &e.method),
                        ("name", &e.name),
                        ("error", &e.error),
                    ]),
                    e.occurrences as f64,
                );
            }
        }
    }
}
