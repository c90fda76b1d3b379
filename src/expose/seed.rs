//! The seed set: names, types, help texts, labels and units exactly as the original Python
//! collector (Locust's `prometheus_exporter.py` example), plus the `service` label.
//! Response times in milliseconds, sizes in bytes, rates per second. The `Aggregated` row
//! carries `path="Aggregated"` and `method="Aggregated"`.

use prometheus::proto::{MetricFamily, MetricType};

use super::{family, finite, push_value};
use crate::model::snapshot::{EndpointSnapshot, Snapshot};

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
/// The method label value of the total row.
pub const AGGREGATED: &str = "Aggregated";

/// `(metric suffix, type, value)` of each `locust_stats_*` family, in the seed's order.
type StatFn = fn(&EndpointSnapshot) -> f64;
const STATS: [(&str, MetricType, StatFn); 10] = [
    ("avg_content_length", MetricType::GAUGE, |e| {
        e.avg_content_bytes
    }),
    ("avg_response_time", MetricType::GAUGE, |e| e.avg_ms),
    ("current_rps", MetricType::GAUGE, |e| e.current_rps),
    ("current_fail_per_sec", MetricType::GAUGE, |e| {
        e.current_fail_per_sec
    }),
    ("max_response_time", MetricType::GAUGE, |e| e.max_ms),
    ("ninetieth_response_time", MetricType::GAUGE, |e| {
        // Locust's get_response_time_percentile(0.9) is 0 with no requests.
        e.quantile_ms(0.9).filter(|v| !v.is_nan()).unwrap_or(0.0)
    }),
    ("median_response_time", MetricType::GAUGE, |e| e.median_ms),
    ("min_response_time", MetricType::GAUGE, |e| e.min_ms),
    ("num_failures", MetricType::COUNTER, |e| e.failures as f64),
    ("num_requests", MetricType::COUNTER, |e| e.requests as f64),
];

/// Appends the seed families for `snap`.
pub fn families(snap: &Snapshot, out: &mut Vec<MetricFamily>) {
    let mut user_count = family(USER_COUNT, "Swarmed users", MetricType::GAUGE);
    let mut errors = family(ERRORS, "Locust requests errors", MetricType::GAUGE);
    let mut slaves = family(SLAVE_COUNT, "Locust number of slaves", MetricType::GAUGE);
    let mut fail_ratio = family(FAIL_RATIO, "Locust failure ratio", MetricType::GAUGE);
    let mut state = family(STATE, "State of the locust swarm", MetricType::GAUGE);
    let mut stats: Vec<MetricFamily> = STATS
        .iter()
        .map(|(suffix, kind, _)| {
            family(
                &format!("locust_stats_{suffix}"),
                &format!("Locust stats {suffix}"),
                *kind,
            )
        })
        .collect();
    for s in &snap.services {
        let service = &*s.name;
        if let Some(users) = s.users {
            push_value(&mut user_count, &[("service", service)], users as f64);
        }
        for e in &s.errors {
            let pairs = [
                ("service", service),
                ("path", &*e.name),
                ("method", &*e.method),
                ("error", &*e.error),
            ];
            push_value(&mut errors, &pairs, e.occurrences as f64);
        }
        if let Some(workers) = s.workers {
            push_value(&mut slaves, &[("service", service)], workers as f64);
        }
        if let Some(total) = &s.total {
            push_value(&mut fail_ratio, &[("service", service)], total.fail_ratio());
        }
        push_value(
            &mut state,
            &[("service", service), ("state", s.state.as_str())],
            1.0,
        );
        let rows = s.endpoints.iter().map(|e| (e, &*e.name, &*e.method));
        let total = s.total.iter().map(|t| (t, AGGREGATED, AGGREGATED));
        for (e, path, method) in rows.chain(total) {
            let pairs = [("service", service), ("path", path), ("method", method)];
            for (f, (_, _, value)) in stats.iter_mut().zip(STATS.iter()) {
                push_value(f, &pairs, finite(value(e)));
            }
        }
    }
    out.extend([user_count, errors, slaves, fail_ratio, state]);
    out.extend(stats);
}
