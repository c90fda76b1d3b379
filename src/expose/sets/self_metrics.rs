//! Self-metrics: build info, and per source whether it is up, lines read and parse errors
//! by reason, unknown events skipped; endpoints folded by the cardinality guard.

use crate::expose::format::encoder::{Encoder, Kind};
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
/// `locust_exporter_resets_total{source}`.
pub const RESETS: &str = "locust_exporter_resets_total";
/// `locust_exporter_events_time_clamped_total{source}`.
pub const CLAMPED: &str = "locust_exporter_events_time_clamped_total";
/// `locust_exporter_endpoints_dropped_total{service}`.
pub const ENDPOINTS_DROPPED: &str = "locust_exporter_endpoints_dropped_total";
/// `locust_exporter_errors_dropped_total{service}`.
pub const ERRORS_DROPPED: &str = "locust_exporter_errors_dropped_total";
/// `locust_exporter_exceptions_dropped_total{service}`.
pub const EXCEPTIONS_DROPPED: &str = "locust_exporter_exceptions_dropped_total";

/// Writes the self-metric families for `snap`.
pub fn write<E: Encoder>(snap: &Snapshot, out: &mut E) {
    out.family(
        BUILD_INFO,
        "A metric with a constant '1' value labeled by the exporter's version.",
        Kind::Gauge,
    )
    .sample(&E::labels(&[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    let sources: Vec<E::Labels> = snap
        .sources
        .iter()
        .map(|s| E::labels(&[("source", &s.source)]))
        .collect();
    let mut f = out.family(
        SOURCE_UP,
        "1 if the source is present and its last read parsed, else 0.",
        Kind::Gauge,
    );
    for (s, l) in snap.sources.iter().zip(&sources) {
        f.sample(l, if s.up { 1.0 } else { 0.0 });
    }
    let mut f = out.family(
        LINES,
        "CSV records or JSON lines read and parsed from the source.",
        Kind::Counter,
    );
    for (s, l) in snap.sources.iter().zip(&sources) {
        f.sample(l, s.lines as f64);
    }
    let mut f = out.family(
        PARSE_ERRORS,
        "Reads or lines rejected, by reason (incomplete: a torn snapshot, read again).",
        Kind::Counter,
    );
    for s in &snap.sources {
        for (reason, n) in &s.parse_errors {
            f.sample(
                &E::labels(&[("source", &s.source), ("reason", reason)]),
                *n as f64,
            );
        }
    }
    let mut f = out.family(
        UNKNOWN_EVENTS,
        "Events of a kind this version does not know, skipped.",
        Kind::Counter,
    );
    for (s, l) in snap.sources.iter().zip(&sources) {
        if s.unknown_events > 0 {
            f.sample(l, s.unknown_events as f64);
        }
    }
    let mut f = out.family(
        RESETS,
        "Times an appended input started over: truncated, replaced or rewritten in place (read again from its start).",
        Kind::Counter,
    );
    for (s, l) in snap.sources.iter().zip(&sources) {
        if s.resets > 0 {
            f.sample(l, s.resets as f64);
        }
    }
    let mut f = out.family(
        CLAMPED,
        "Events whose time was more than 10 s ahead of their arrival, taken as their arrival time.",
        Kind::Counter,
    );
    for (s, l) in snap.sources.iter().zip(&sources) {
        if s.clamped > 0 {
            f.sample(l, s.clamped as f64);
        }
    }
    type Count = fn(&crate::model::snapshot::Folded) -> u64;
    let dropped: [(&str, &str, Count); 3] = [
        (
            ENDPOINTS_DROPPED,
            "Distinct endpoints folded into name __other__ by --max-endpoints.",
            |f| f.endpoints,
        ),
        (
            ERRORS_DROPPED,
            "Distinct error texts folded into error __other__ by --max-errors-per-endpoint.",
            |f| f.errors,
        ),
        (
            EXCEPTIONS_DROPPED,
            "Distinct exception messages folded into message __other__ by --max-exceptions.",
            |f| f.exceptions,
        ),
    ];
    for (name, help, value) in dropped {
        let mut f = out.family(name, help, Kind::Counter);
        for s in &snap.services {
            f.sample(&E::labels(&[("service", &s.name)]), value(&s.folded) as f64);
        }
    }
}
