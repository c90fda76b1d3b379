//! The seed set: names, types, help texts, labels and units exactly as the original Python
//! collector (Locust's `prometheus_exporter.py` example), plus the `service` label.
//! Response times in milliseconds, sizes in bytes, rates per second. The `Aggregated` row
//! carries `path="Aggregated"` and `method="Aggregated"`.

use super::{endpoint_rows, MetricSet, RowLabels, Sets};
use crate::expose::format::encoder::{Encoder, Kind};
use crate::model::snapshot::{EndpointStats, Role, Snapshot};
use crate::model::update::AGGREGATED;

/// `locust_state{state}` 1.
pub const STATE: &str = "locust_state";
/// `locust_user_count`.
pub const USER_COUNT: &str = "locust_user_count";
/// `locust_errors{path,method,error}`.
pub const ERRORS: &str = "locust_errors";
/// `locust_slave_count`.
pub const SLAVE_COUNT: &str = "locust_slave_count";
/// `locust_fail_ratio`.
pub const FAIL_RATIO: &str = "locust_fail_ratio";
type StatFn = fn(&EndpointStats) -> f64;

/// `(name, help, type, value)` of each `locust_stats_*` family, in the seed's order.
const STATS: [(&str, &str, Kind, StatFn); 10] = [
    (
        "locust_stats_avg_content_length",
        "Locust stats avg_content_length",
        Kind::Gauge,
        |e| e.avg_content_bytes,
    ),
    (
        "locust_stats_avg_response_time",
        "Locust stats avg_response_time",
        Kind::Gauge,
        |e| e.avg_ms,
    ),
    (
        "locust_stats_current_rps",
        "Locust stats current_rps",
        Kind::Gauge,
        |e| e.current_rps,
    ),
    (
        "locust_stats_current_fail_per_sec",
        "Locust stats current_fail_per_sec",
        Kind::Gauge,
        |e| e.current_fail_per_sec,
    ),
    (
        "locust_stats_max_response_time",
        "Locust stats max_response_time",
        Kind::Gauge,
        |e| e.max_ms,
    ),
    (
        "locust_stats_ninetieth_response_time",
        "Locust stats ninetieth_response_time",
        Kind::Gauge,
        |e| {
            // Locust's get_response_time_percentile(0.9) is 0 with no requests.
            e.quantile_ms(0.9).filter(|v| !v.is_nan()).unwrap_or(0.0)
        },
    ),
    (
        "locust_stats_median_response_time",
        "Locust stats median_response_time",
        Kind::Gauge,
        |e| e.median_ms,
    ),
    (
        "locust_stats_min_response_time",
        "Locust stats min_response_time",
        Kind::Gauge,
        |e| e.min_ms,
    ),
    (
        "locust_stats_num_failures",
        "Locust stats num_failures",
        Kind::Counter,
        |e| e.failures as f64,
    ),
    (
        "locust_stats_num_requests",
        "Locust stats num_requests",
        Kind::Counter,
        |e| e.requests as f64,
    ),
];

/// The seed set (`--metrics seed`).
#[derive(Debug, Clone, Copy)]
pub struct Seed;

impl MetricSet for Seed {
    const NAME: &'static str = "seed";
    const ABOUT: &'static str = "the Python collector's names";
    const FAMILIES: &'static [&'static str] = &[
        STATE,
        USER_COUNT,
        ERRORS,
        SLAVE_COUNT,
        FAIL_RATIO,
        "locust_stats_avg_content_length",
        "locust_stats_avg_response_time",
        "locust_stats_current_rps",
        "locust_stats_current_fail_per_sec",
        "locust_stats_max_response_time",
        "locust_stats_ninetieth_response_time",
        "locust_stats_median_response_time",
        "locust_stats_min_response_time",
        "locust_stats_num_failures",
        "locust_stats_num_requests",
    ];

    /// Writes the seed families for `snap`.
    fn write<E: Encoder>(snap: &Snapshot, served: Sets, out: &mut E) {
        let _ = served;
        let services: Vec<E::Labels> = snap
            .services
            .iter()
            .map(|s| E::labels(&[("service", &s.name)]))
            .collect();
        let mut f = out.family(USER_COUNT, "Swarmed users", Kind::Gauge);
        for (s, l) in snap.services.iter().zip(&services) {
            if let Some(users) = s.users {
                f.sample(l, users as f64);
            }
        }
        let mut f = out.family(ERRORS, "Locust requests errors", Kind::Gauge);
        for s in &snap.services {
            for e in &s.errors {
                let l = E::labels(&[
                    ("service", &s.name),
                    ("path", &e.name),
                    ("method", &e.method),
                    ("error", &e.error),
                ]);
                f.sample(&l, e.occurrences as f64);
            }
        }
        let mut f = out.family(SLAVE_COUNT, "Locust number of slaves", Kind::Gauge);
        for (s, l) in snap.services.iter().zip(&services) {
            // The seed counts every client of the master (its web UI's list), else what the
            // event stream reported.
            // Only for a master, as the seed (`MasterRunner` only): the input says so, or
            // (an older plugin) reports workers.
            let master = match s.role {
                Some(role) => role == Role::Master,
                None => s.workers.is_some_and(|n| n > 0),
            };
            let count = if s.worker_list.is_empty() {
                s.workers
            } else {
                Some(s.worker_list.len() as u64)
            };
            if let Some(workers) = count.filter(|_| master) {
                f.sample(l, workers as f64);
            }
        }
        let mut f = out.family(FAIL_RATIO, "Locust failure ratio", Kind::Gauge);
        for (s, l) in snap.services.iter().zip(&services) {
            if let Some(total) = &s.total {
                f.sample(l, total.fail_ratio());
            }
        }
        let mut f = out.family(STATE, "State of the locust swarm", Kind::Gauge);
        for s in &snap.services {
            f.sample(
                &E::labels(&[("service", &s.name), ("state", s.state.as_str())]),
                1.0,
            );
        }
        // The seed's total row: `Aggregated` as both path and method.
        let rows = endpoint_rows::<E>(
            snap,
            RowLabels::PathMethod,
            Some(|_| (AGGREGATED, AGGREGATED)),
        );
        for (name, help, kind, value) in STATS {
            let mut f = out.family(name, help, kind);
            for (l, e) in &rows {
                f.sample(l, value(e));
            }
        }
    }
}
