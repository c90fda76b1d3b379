//! Snapshot → Prometheus exposition. Pure: no locks, no I/O, so golden tests and benches
//! call it directly.
//!
//! [`families`] builds `prometheus` metric families from a [`Snapshot`]; [`render`] encodes
//! them, plus any `extra` families (the process collector's), with the text encoder.

pub mod meta;
pub mod native;
pub mod seed;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::model::snapshot::Snapshot;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which metric sets to serve (`--metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    /// The seed Python collector's names (`locust_stats_*`, …).
    pub seed: bool,
    /// The native, convention-following set.
    pub native: bool,
}

impl Default for Sets {
    fn default() -> Self {
        Sets {
            seed: true,
            native: true,
        }
    }
}

/// All families for `snap` (self-metrics always included).
pub fn families(snap: &Snapshot, sets: Sets) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    if sets.seed {
        seed::families(snap, &mut out);
    }
    if sets.native {
        native::families(snap, &mut out);
    }
    meta::families(snap, &mut out);
    out.retain(|f| !f.get_metric().is_empty());
    out
}

/// The text exposition of `snap` followed by `extra`.
pub fn render(snap: &Snapshot, sets: Sets, extra: &[MetricFamily]) -> String {
    let mut fams = families(snap, sets);
    fams.extend(extra.iter().filter(|f| !f.get_metric().is_empty()).cloned());
    let mut buf = Vec::with_capacity(256 * fams.len());
    // Cannot fail: every family has a name and at least one metric.
    let _ = TextEncoder::new().encode(&fams, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// A family with no metrics yet.
pub(crate) fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(help.to_owned());
    f.set_field_type(kind);
    f
}

/// Label pairs in the given order.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_owned());
            l.set_value((*v).to_owned());
            l
        })
        .collect()
}

/// Adds a gauge or counter sample (by the family's type) to `f`.
pub(crate) fn push_value(f: &mut MetricFamily, pairs: &[(&str, &str)], value: f64) {
    let mut m = Metric::from_label(labels(pairs));
    match f.get_field_type() {
        MetricType::COUNTER => {
            let mut c = prometheus::proto::Counter::default();
            c.set_value(value);
            m.set_counter(c);
        }
        _ => {
            let mut g = prometheus::proto::Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
    }
    f.mut_metric().push(m);
}

/// Prometheus cannot read `inf` as Rust prints it; no input should produce one, but a
/// served value is never non-finite except NaN (an unknown quantile).
pub(crate) fn finite(v: f64) -> f64 {
    if v.is_infinite() {
        if v > 0.0 {
            f64::MAX
        } else {
            f64::MIN
        }
    } else {
        v
    }
}
