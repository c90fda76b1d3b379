//! The seam between the metric sets and the exposition formats.
//!
//! The metric sets (`crate::expose::sets`) and the self-metrics say *what* is served: families and
//! their samples, through [`Encoder::family`]. An [`Encoder`] says *how*: text format
//! 0.0.4 and OpenMetrics 1.0 ([`super::text::TextEncoder`]) and the Prometheus protobuf
//! format ([`super::protobuf::ProtobufEncoder`]). Each format renders a row's label set
//! once ([`Encoder::labels`]) and reuses it for every family of that row.
//!
//! A new format is one more `Encoder`; a new family is one more `family(…)` call in a set,
//! and every format serves it.

use crate::model::exemplar::Exemplar;
use crate::model::native_histogram::NativeBuckets;

pub use crate::support::report::Kind;

/// A family's name, help, type and unit.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// The metric name (for counters, with its `_total` where it has one).
    pub name: &'a str,
    /// The help text.
    pub help: &'a str,
    /// The type.
    pub kind: Kind,
    /// The unit (OpenMetrics `# UNIT`), a suffix of the name.
    pub unit: Option<&'a str>,
}

/// One summary's values.
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// `(quantile, value)` pairs, ascending; each value is divided by `divisor`.
    pub quantiles: &'a [(f64, f64)],
    /// Divides each quantile value (`1000`: milliseconds served as seconds, exactly as
    /// `ms / 1000.0` everywhere else).
    pub divisor: f64,
    /// `_sum`.
    pub sum: f64,
    /// `_count`.
    pub count: u64,
    /// Unix seconds since when it counts (`_created`), where known.
    pub created: Option<f64>,
}

/// One histogram's values.
#[derive(Debug, Clone, Copy)]
pub struct Histogram<'a> {
    /// Cumulative classic buckets `(upper bound, count)`, ascending, without `+Inf`.
    pub buckets: &'a [(f64, u64)],
    /// `_count` (and the `+Inf` bucket).
    pub count: u64,
    /// `_sum`.
    pub sum: f64,
    /// The native histogram, for formats that carry one.
    pub native: Option<&'a NativeBuckets>,
    /// Unix seconds since when it counts (`_created`), where known.
    pub created: Option<f64>,
    /// Traced requests, by value ascending, for formats that carry exemplars: each classic
    /// bucket shows the slowest within it, a native histogram the slowest few
    /// (`crate::model::exemplar`).
    pub exemplars: &'a [Exemplar],
}

/// An exposition format being written.
pub trait Encoder {
    /// A label set, rendered once for every family that uses it.
    type Labels;

    /// Renders `name, value` pairs (names are valid label names; values are escaped here).
    fn labels(pairs: &[(&str, &str)]) -> Self::Labels;

    /// A label every series written from now on carries besides its own (`--run.id`'s
    /// `run`); called before the first family.
    fn label_every_series(&mut self, name: &str, value: &str);

    /// A family starts (called before its first sample); the previous one, if any, ends.
    fn header(&mut self, meta: &Meta<'_>);

    /// One counter, gauge or untyped sample.
    fn value(&mut self, meta: &Meta<'_>, labels: &Self::Labels, value: f64, created: Option<f64>);

    /// One counter sample with the exemplar of a traced request it counts; formats without
    /// exemplars write the sample alone.
    fn traced(
        &mut self,
        meta: &Meta<'_>,
        labels: &Self::Labels,
        value: f64,
        created: Option<f64>,
        exemplar: &Exemplar,
    ) {
        let _ = exemplar;
        self.value(meta, labels, value, created);
    }

    /// One summary.
    fn summary(&mut self, meta: &Meta<'_>, labels: &Self::Labels, summary: &Summary<'_>);

    /// One histogram.
    fn histogram(&mut self, meta: &Meta<'_>, labels: &Self::Labels, histogram: &Histogram<'_>);

    /// The exposition's bytes (the last family ends).
    fn finish(self) -> Vec<u8>;

    /// Starts family `name`: written with its first sample, not at all without one.
    fn family<'a>(&'a mut self, name: &'a str, help: &'a str, kind: Kind) -> Family<'a, Self>
    where
        Self: Sized,
    {
        Family {
            out: self,
            meta: Meta {
                name,
                help,
                kind,
                unit: None,
            },
            started: false,
        }
    }
}

/// One family being written; it ends when the next one starts, or with the exposition.
pub struct Family<'a, E: Encoder> {
    out: &'a mut E,
    meta: Meta<'a>,
    started: bool,
}

impl<'a, E: Encoder> Family<'a, E> {
    /// Declares the family's unit (a suffix of its name: `seconds`, `bytes`).
    pub fn unit(mut self, unit: &'a str) -> Self {
        self.meta.unit = Some(unit);
        self
    }

    fn start(&mut self) {
        if !self.started {
            self.started = true;
            self.out.header(&self.meta);
        }
    }

    /// One counter, gauge or untyped sample.
    pub fn sample(&mut self, labels: &E::Labels, value: f64) {
        self.start();
        self.out.value(&self.meta, labels, value, None);
    }

    /// One counter sample that counts since `created` (Unix seconds), where known.
    pub fn sample_since(&mut self, labels: &E::Labels, value: f64, created: Option<f64>) {
        self.start();
        self.out.value(&self.meta, labels, value, created);
    }

    /// One counter sample that counts since `created`, with the exemplar of a traced request
    /// it counts, where there is one (OpenMetrics allows one on a counter's `_total`).
    pub fn sample_traced(
        &mut self,
        labels: &E::Labels,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        self.start();
        match exemplar {
            Some(e) => self.out.traced(&self.meta, labels, value, created, e),
            None => self.out.value(&self.meta, labels, value, created),
        }
    }

    /// One summary.
    pub fn summary(&mut self, labels: &E::Labels, summary: &Summary<'_>) {
        self.start();
        self.out.summary(&self.meta, labels, summary);
    }

    /// One histogram.
    pub fn histogram(&mut self, labels: &E::Labels, histogram: &Histogram<'_>) {
        self.start();
        self.out.histogram(&self.meta, labels, histogram);
    }
}

/// An encoder that writes only the families a scrape asked for (`?name[]=…`, as
/// prometheus_client's `restricted_registry`): a family is kept when a name asked for is its
/// name or one of its sample names (`_total`, `_count`, `_sum`, `_bucket`, `_created`).
pub struct Only<E> {
    inner: E,
    names: Vec<String>,
}

impl<E: Encoder> Only<E> {
    /// Writes through `inner` the families `names` ask for.
    pub fn new(inner: E, names: Vec<String>) -> Self {
        Only { inner, names }
    }

    /// True if family `name` was asked for.
    pub fn keeps(names: &[String], name: &str) -> bool {
        names.iter().any(|n| {
            n == name
                || n.strip_prefix(name).is_some_and(|suffix| {
                    ["_total", "_count", "_sum", "_bucket", "_created"].contains(&suffix)
                })
                || name.strip_suffix("_total") == Some(n.as_str())
        })
    }
}

impl<E: Encoder> Encoder for Only<E> {
    type Labels = E::Labels;

    fn labels(pairs: &[(&str, &str)]) -> Self::Labels {
        E::labels(pairs)
    }

    fn label_every_series(&mut self, name: &str, value: &str) {
        self.inner.label_every_series(name, value);
    }

    fn header(&mut self, meta: &Meta<'_>) {
        if Self::keeps(&self.names, meta.name) {
            self.inner.header(meta);
        }
    }

    fn value(&mut self, meta: &Meta<'_>, labels: &Self::Labels, value: f64, created: Option<f64>) {
        if Self::keeps(&self.names, meta.name) {
            self.inner.value(meta, labels, value, created);
        }
    }

    fn traced(
        &mut self,
        meta: &Meta<'_>,
        labels: &Self::Labels,
        value: f64,
        created: Option<f64>,
        exemplar: &Exemplar,
    ) {
        if Self::keeps(&self.names, meta.name) {
            self.inner.traced(meta, labels, value, created, exemplar);
        }
    }

    fn summary(&mut self, meta: &Meta<'_>, labels: &Self::Labels, summary: &Summary<'_>) {
        if Self::keeps(&self.names, meta.name) {
            self.inner.summary(meta, labels, summary);
        }
    }

    fn histogram(&mut self, meta: &Meta<'_>, labels: &Self::Labels, histogram: &Histogram<'_>) {
        if Self::keeps(&self.names, meta.name) {
            self.inner.histogram(meta, labels, histogram);
        }
    }

    fn finish(self) -> Vec<u8> {
        self.inner.finish()
    }
}
