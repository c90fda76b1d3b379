//! Self-metrics: build info, and per source whether it is up, lines read and parse errors
//! by reason, unknown events skipped; endpoints folded by the cardinality guard ([`write()`],
//! from the snapshot). Every other part that counts something about itself — an output,
//! the HTTP server, the process — implements [`SelfMetrics`] and is handed to the HTTP
//! layer as a `dyn SelfMetrics`: the HTTP layer renders them after the sets and knows none
//! of them by name.

use prometheus::core::Collector;
use prometheus::process_collector::ProcessCollector;
use prometheus::proto::MetricType;

use crate::expose::format::encoder::{Encoder, Kind, Meta};
use crate::model::snapshot::{Snapshot, SourceStatus, TimelineShape};

use crate::support::report::{Report, SelfMetrics};

/// [`Report`] over an [`Encoder`].
struct Reporter<'a, E: Encoder> {
    out: &'a mut E,
    family: Option<(String, String, Kind)>,
    started: bool,
}

impl<E: Encoder> Report for Reporter<'_, E> {
    fn family(&mut self, name: &str, help: &str, kind: Kind) {
        self.family = Some((name.to_owned(), help.to_owned(), kind));
        self.started = false;
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let Some((name, help, kind)) = &self.family else {
            return;
        };
        let meta = Meta {
            name,
            help,
            kind: *kind,
            unit: None,
        };
        if !self.started {
            self.started = true;
            self.out.header(&meta);
        }
        self.out.value(&meta, &E::labels(labels), value, None);
    }
}

/// Writes each part's self-metrics through `out`, in order.
pub fn write_parts<E: Encoder>(parts: &[std::sync::Arc<dyn SelfMetrics>], out: &mut E) {
    for part in parts {
        part.report(&mut Reporter {
            out: &mut *out,
            family: None,
            started: false,
        });
    }
}

/// The process metrics of this process (`process_*`), where `/proc` has them.
pub struct ProcessMetrics(ProcessCollector);

impl ProcessMetrics {
    /// The collector of this process.
    pub fn for_self() -> Self {
        ProcessMetrics(ProcessCollector::for_self())
    }
}

impl SelfMetrics for ProcessMetrics {
    fn report(&self, out: &mut dyn Report) {
        for mf in self.0.collect() {
            let kind = match mf.get_field_type() {
                MetricType::COUNTER => Kind::Counter,
                MetricType::GAUGE => Kind::Gauge,
                // The process collector writes only counters and gauges.
                _ => continue,
            };
            out.family(mf.name(), mf.help(), kind);
            for m in mf.get_metric() {
                let labels: Vec<(&str, &str)> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                let value = match kind {
                    Kind::Counter => m.get_counter().get_value(),
                    _ => m.get_gauge().get_value(),
                };
                out.sample(&labels, value);
            }
        }
    }
}

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
/// `locust_exporter_preamble_lines_total{source}`.
pub const PREAMBLE: &str = "locust_exporter_preamble_lines_total";
/// `locust_exporter_events_time_clamped_total{source}`.
pub const CLAMPED: &str = "locust_exporter_events_time_clamped_total";
/// `locust_exporter_run_interrupted{service}`.
pub const INTERRUPTED: &str = "locust_exporter_run_interrupted";
/// `locust_exporter_endpoints_dropped_total{service}`.
pub const ENDPOINTS_DROPPED: &str = "locust_exporter_endpoints_dropped_total";
/// `locust_exporter_errors_dropped_total{service}`.
pub const ERRORS_DROPPED: &str = "locust_exporter_errors_dropped_total";
/// `locust_exporter_exceptions_dropped_total{service}`.
pub const EXCEPTIONS_DROPPED: &str = "locust_exporter_exceptions_dropped_total";

/// `locust_exporter_report_history_bytes{service}`.
pub const REPORT_HISTORY_BYTES: &str = "locust_exporter_report_history_bytes";
/// `locust_exporter_report_history_merges_total{service}`.
pub const REPORT_HISTORY_MERGES: &str = "locust_exporter_report_history_merges_total";
/// `locust_exporter_report_history_cuts_total{service}`.
pub const REPORT_HISTORY_CUTS: &str = "locust_exporter_report_history_cuts_total";

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
    type SourceCount = fn(&SourceStatus) -> u64;
    // Counters written only for the sources where they are not 0.
    let rare: [(&str, &str, SourceCount); 4] = [
        (
            UNKNOWN_EVENTS,
            "Events of a kind this version does not know, skipped.",
            |s| s.unknown_events,
        ),
        (
            RESETS,
            "Times an appended input started over: truncated, replaced or rewritten in place (read again from its start).",
            |s| s.resets,
        ),
        (
            PREAMBLE,
            "Lines before a stream's first event that were no event (text printed before the plugin took standard output), skipped.",
            |s| s.preamble,
        ),
        (
            CLAMPED,
            "Events whose time was more than 10 s ahead of their arrival, taken as their arrival time.",
            |s| s.clamped,
        ),
    ];
    for (name, help, value) in rare {
        let mut f = out.family(name, help, Kind::Counter);
        for (s, l) in snap.sources.iter().zip(&sources) {
            let n = value(s);
            if n > 0 {
                f.sample(l, n as f64);
            }
        }
    }
    let mut f = out.family(
        INTERRUPTED,
        "1 for a service whose run was still live when the exporter stopped: its final values are partial (written only then).",
        Kind::Gauge,
    );
    for s in snap.services.iter().filter(|s| s.interrupted) {
        f.sample(&E::labels(&[("service", &s.name)]), 1.0);
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
    type Of = fn(&TimelineShape) -> f64;
    let history: [(&str, &str, Kind, Of); 3] = [
        (
            REPORT_HISTORY_BYTES,
            "Bytes the run report's history holds (--report.max-bytes bounds its intervals).",
            Kind::Gauge,
            |t| t.bytes as f64,
        ),
        (
            REPORT_HISTORY_MERGES,
            "Times the run report's history merged its older half (--report.max-intervals or --report.max-bytes reached).",
            Kind::Counter,
            |t| t.merges as f64,
        ),
        (
            REPORT_HISTORY_CUTS,
            "Old intervals of the run report's history cut to their totals (--report.max-bytes still exceeded after merging).",
            Kind::Counter,
            |t| t.trimmed as f64,
        ),
    ];
    for (name, help, kind, value) in history {
        let mut f = out.family(name, help, kind);
        for s in &snap.services {
            f.sample(
                &E::labels(&[("service", &s.name)]),
                value(&s.timeline_shape),
            );
        }
    }
}
