//! Self-metrics: build info, and per source whether it is up, lines read and parse errors
//! by reason; endpoints folded by the cardinality guard.

use prometheus::proto::{MetricFamily, MetricType};

use super::{family, push_value};
use crate::model::snapshot::Snapshot;

/// `locust_exporter_build_info{version}` 1.
pub const BUILD_INFO: &str = "locust_exporter_build_info";
/// `locust_exporter_source_up{source}`.
pub const SOURCE_UP: &str = "locust_exporter_source_up";
/// `locust_exporter_lines_total{source}`.
pub const LINES: &str = "locust_exporter_lines_total";
/// `locust_exporter_parse_errors_total{source,reason}`.
pub const PARSE_ERRORS: &str = "locust_exporter_parse_errors_total";
/// `locust_exporter_unknown_events_total{source}`.
pub const UNKNOWN_EVENTS: &str = "locust_exporter_unknown_events_total";
/// `locust_exporter_endpoints_dropped_total{service}`.
pub const ENDPOINTS_DROPPED: &str = "locust_exporter_endpoints_dropped_total";

/// Appends the self-metric families for `snap`.
pub fn families(snap: &Snapshot, out: &mut Vec<MetricFamily>) {
    let mut build = family(
        BUILD_INFO,
        "A metric with a constant '1' value labeled by the exporter's version.",
        MetricType::GAUGE,
    );
    push_value(&mut build, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    let mut up = family(
        SOURCE_UP,
        "1 if the source is present and its last read parsed, else 0.",
        MetricType::GAUGE,
    );
    let mut lines = family(
        LINES,
        "CSV records or JSON lines read and parsed from the source.",
        MetricType::COUNTER,
    );
    let mut errors = family(
        PARSE_ERRORS,
        "Reads or lines rejected, by reason (incomplete: a torn snapshot, read again).",
        MetricType::COUNTER,
    );
    let mut unknown = family(
        UNKNOWN_EVENTS,
        "Events of a kind this version does not know, skipped.",
        MetricType::COUNTER,
    );
    let mut dropped = family(
        ENDPOINTS_DROPPED,
        "Distinct endpoints folded into name __other__ by --max-endpoints.",
        MetricType::COUNTER,
    );
    for s in &snap.sources {
        let source = [("source", s.source.as_str())];
        push_value(&mut up, &source, if s.up { 1.0 } else { 0.0 });
        push_value(&mut lines, &source, s.lines as f64);
        for (reason, n) in &s.parse_errors {
            push_value(
                &mut errors,
                &[("source", s.source.as_str()), ("reason", reason)],
                *n as f64,
            );
        }
        if s.unknown_events > 0 {
            push_value(&mut unknown, &source, s.unknown_events as f64);
        }
    }
    for s in &snap.services {
        push_value(
            &mut dropped,
            &[("service", &*s.name)],
            s.endpoints_dropped as f64,
        );
    }
    out.extend([build, up, lines, errors, unknown, dropped]);
}
